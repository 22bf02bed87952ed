-- One college's items (二级党组织画像: its weakest items): per item, the college's branches judged on it, the share
-- that fully met it and their mean completion, beside the school's mean over every branch judged on it.
-- Pending items are not judged, as in item_summary. $college is the college's name.
WITH items AS (
    SELECT b.period, i.item_id, i.completion, i.pending, b.college
    FROM item_scores i JOIN branches b USING (submission_id)
),
school AS (
    SELECT period, item_id, xavg(completion) AS school_mean, count(*) AS school_branches
    FROM items
    WHERE NOT pending
    GROUP BY ALL
),
college AS (
    SELECT period, item_id,
           count(*) AS branches,
           xavg(CASE WHEN completion >= 1 - 1e-9 THEN 1.0 ELSE 0.0 END) AS full_share,
           xavg(completion) AS mean_completion
    FROM items
    WHERE NOT pending AND college = $college
    GROUP BY ALL
),
final AS (
    SELECT c.period, c.item_id, c.branches, c.full_share, c.mean_completion, s.school_mean,
           c.mean_completion - s.school_mean AS gap, s.school_branches, o.item_order
    FROM college c
    JOIN school s USING (period, item_id)
    JOIN (SELECT DISTINCT item_id, item_order FROM g_items) o USING (item_id)
)
SELECT * FROM final
