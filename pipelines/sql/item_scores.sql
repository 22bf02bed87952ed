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
           max(self_status) AS self_status,
           max(evidence) AS evidence
    FROM measures
    GROUP BY ALL
),
final AS (
    SELECT b.period, b.branch_code, b.item_id, i.indicator_id, i.dimension_id,
           b.completion, b.pending, b.flagged, b.flag, b.self_status, b.evidence, i.weight, i.item_order
    FROM by_item b
    JOIN t_branches t ON t.period = b.period AND t.branch_code = b.branch_code
    JOIN g_items i ON i.item_id = b.item_id AND i.branch_type = t.branch_type
)
SELECT * FROM final
