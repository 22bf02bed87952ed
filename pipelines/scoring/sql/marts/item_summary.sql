-- Per item across branches, by branch type and for all ('all'): how many branches are judged on it,
-- the share that fully met it and the mean completion. Pending items are counted apart, not as zero.
WITH items AS (
    SELECT b.period, i.item_id, i.dimension_id, i.indicator_id, i.completion, i.pending, b.branch_type
    FROM item_scores i JOIN branches b USING (submission_id)
),
summary AS (
    SELECT period, item_id,
           coalesce(branch_type, 'all') AS branch_type,
           count(*) FILTER (WHERE NOT pending) AS branches,
           xavg(CASE WHEN NOT pending THEN CASE WHEN completion >= 1 - 1e-9 THEN 1.0 ELSE 0.0 END END) AS full_share,
           xavg(completion) AS mean_completion,
           count(*) FILTER (WHERE pending) AS pending,
           any_value(dimension_id) AS dimension_id,
           any_value(indicator_id) AS indicator_id
    FROM items
    GROUP BY GROUPING SETS ((period, item_id, branch_type), (period, item_id))
),
final AS (
    SELECT s.period, s.item_id, s.branch_type, s.branches, s.full_share, s.mean_completion, s.pending,
           s.dimension_id, s.indicator_id, o.item_order
    FROM summary s JOIN (SELECT DISTINCT item_id, item_order FROM g_items) o USING (item_id)
)
SELECT * FROM final
