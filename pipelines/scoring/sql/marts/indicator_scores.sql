-- Indicator score (0–100): weighted mean of its due items; pending items are left out (weights renormalised).
-- verified (0–1): the same weighted mean of the items' verified shares.
WITH items AS (
    SELECT * FROM item_scores WHERE NOT pending
),
final AS (
    SELECT i.submission_id, i.indicator_id, i.dimension_id,
           100 * sum(i.weight * i.completion) / sum(i.weight) AS score,
           count(*) AS items_due,
           sum(i.weight * i.verified) / sum(i.weight) AS verified
    FROM items i
    GROUP BY ALL
)
SELECT * FROM final
