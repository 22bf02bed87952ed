-- Indicator score (0–100): weighted mean of its due items; pending items are left out (weights renormalised).
WITH items AS (
    SELECT * FROM item_scores WHERE NOT pending
),
final AS (
    SELECT i.submission_id, i.indicator_id, i.dimension_id,
           100 * sum(i.weight * i.completion) / sum(i.weight) AS score,
           count(*) AS items_due
    FROM items i
    GROUP BY ALL
)
SELECT * FROM final
