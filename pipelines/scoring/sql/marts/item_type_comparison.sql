-- Each branch type per item (due items only), in long form (one row per period, item and branch type): mean
-- completion, spread (population standard deviation) and the number of branches. No type is named here: the
-- scoring API sets the guide's branch types side by side with diff = first − second type.
WITH items AS (
    SELECT b.period, i.item_id, i.completion, b.branch_type
    FROM item_scores i JOIN branches b USING (submission_id)
    WHERE NOT i.pending
),
final AS (
    SELECT period, item_id, branch_type,
           xavg(completion) AS mean,
           xstddev_pop(completion) AS std,
           count(*) AS n
    FROM items
    GROUP BY ALL
)
SELECT * FROM final
