-- Dimension score (0–100) from its indicators, and each dimension's share of the overall score.
-- weight_share is the dimension weight renormalised over the dimensions that have a score, so
-- overall = Σ weighted and a change in overall splits exactly into the change of each `weighted`.
-- verified (0–1): the indicators' verified shares weighted as their scores are (核实率 of the dimension).
WITH indicators AS (
    SELECT s.*, g.weight
    FROM indicator_scores s JOIN g_indicators g USING (indicator_id)
),
dimensions AS (
    SELECT submission_id, dimension_id,
           xsum(weight * score) / xsum(weight) AS score,
           xsum(weight * verified) / xsum(weight) AS verified
    FROM indicators
    GROUP BY ALL
),
shares AS (
    SELECT d.*, g.weight / sum(g.weight::DECIMAL(18, 12)) OVER (PARTITION BY d.submission_id)::DOUBLE AS weight_share
    FROM dimensions d JOIN g_dimensions g USING (dimension_id)
),
final AS (
    SELECT submission_id, dimension_id, score, weight_share, weight_share * score AS weighted, verified
    FROM shares
)
SELECT * FROM final
