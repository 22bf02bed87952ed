-- Item completion: the weighted mean of its measures that are due; all pending → the item is pending.
WITH measures AS (
    SELECT * FROM mart_measures
),
by_item AS (
    SELECT period, branch_code, item_id,
           sum(weight * completion) / nullif(sum(weight) FILTER (WHERE completion IS NOT NULL), 0) AS completion,
           bool_and(completion IS NULL) AS pending,
           bool_or(flagged) AS flagged,
           max(flag) AS flag,
           any_value(submission_id) AS submission_id
    FROM measures
    GROUP BY ALL
),
final AS (
    SELECT b.period, b.branch_code, b.item_id, i.indicator_id, i.dimension_id,
           b.completion, b.pending, b.flagged, b.flag,
           CASE WHEN i.self_assessed THEN s.self_status END AS self_status,
           CASE WHEN i.self_assessed THEN coalesce(s.evidence, '') END AS evidence,
           i.weight, i.item_order
    FROM by_item b
    JOIN t_branches t ON t.period = b.period AND t.branch_code = b.branch_code
    JOIN g_items i ON i.item_id = b.item_id AND i.branch_type = t.branch_type
    LEFT JOIN t_self s ON s.submission_id = b.submission_id AND s.item_id = b.item_id
)
SELECT * FROM final
