-- Item completion: the weighted mean of its measures that are due; all pending → the item is pending.
-- (Keyed by the scored submission and item_order, integers, to keep grouping and joins cheap.)
WITH measures AS (
    SELECT * FROM mart_measures
),
by_item AS (
    SELECT submission_id, item_order,
           sum(weight * completion) / nullif(sum(weight) FILTER (WHERE completion IS NOT NULL), 0) AS completion,
           bool_and(completion IS NULL) AS pending,
           bool_or(flagged) AS flagged,
           max(flag) AS flag,
           any_value(item_id) AS item_id
    FROM measures
    GROUP BY ALL
),
final AS (
    SELECT t.period, t.branch_code, b.submission_id, b.item_id, i.indicator_id, i.dimension_id,
           b.completion, b.pending, b.flagged, b.flag,
           CASE WHEN i.self_assessed THEN s.self_status END AS self_status,
           CASE WHEN i.self_assessed THEN coalesce(s.evidence, '') END AS evidence,
           i.weight, i.item_order
    FROM by_item b
    JOIN t_branches t ON t.submission_id = b.submission_id
    JOIN g_items i ON i.item_order = b.item_order AND i.branch_type = t.branch_type
    LEFT JOIN t_self s ON s.submission_id = b.submission_id AND s.item_order = b.item_order
)
SELECT * FROM final
