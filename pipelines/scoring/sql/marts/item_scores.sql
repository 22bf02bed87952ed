-- Item completion: the weighted mean of its measures that are due; all pending → the item is pending.
-- verified (核实率, 0–1): the weight share of its due measures that are verified (measure_scores.sql).
-- (Keyed by the scored submission and item_order, integers, to keep grouping and joins cheap; the
-- self-assessment text is joined by item_detail.sql.)
WITH measures AS (
    SELECT * FROM measure_scores
),
by_item AS (
    SELECT submission_id, item_order,
           xsum(weight * completion) / nullif(xsum(CASE WHEN completion IS NOT NULL THEN weight END), 0) AS completion,
           bool_and(completion IS NULL) AS pending,
           xsum(CASE WHEN completion IS NOT NULL THEN weight * verified::DOUBLE END)
               / nullif(xsum(CASE WHEN completion IS NOT NULL THEN weight END), 0) AS verified,
           max(flag) AS flag  -- flagged when any measure is
    FROM measures
    GROUP BY ALL
),
guide_items AS (
    -- an item's place and weight do not depend on the branch type; applicability came with the measures
    SELECT DISTINCT item_order, item_id, indicator_id, dimension_id, weight, self_assessed FROM g_items
),
final AS (
    SELECT b.submission_id, i.item_id, i.indicator_id, i.dimension_id,
           b.completion, b.pending, b.flag IS NOT NULL AS flagged, b.flag, i.self_assessed, i.weight, b.item_order,
           b.verified
    FROM by_item b
    JOIN guide_items i USING (item_order)
)
SELECT * FROM final
