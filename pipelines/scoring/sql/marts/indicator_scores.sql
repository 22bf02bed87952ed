-- Indicator score (0–100): weighted mean of its due items; pending items are left out (weights renormalised).
-- verified (0–1): the same weighted mean of the items' verified shares.
WITH items AS (
    SELECT * FROM item_scores WHERE NOT pending
),
final AS (
    SELECT i.submission_id, i.indicator_id, i.dimension_id,
           100 * xsum(i.weight * i.completion) / xsum(i.weight) AS score,
           count(*) AS items_due,
           xsum(i.weight * i.verified) / xsum(i.weight) AS verified
    FROM items i
    GROUP BY ALL
)
SELECT * FROM final
