-- Measure rows of one period as the API returns them: guide names joined back, the self-assessment answer
-- beside self-assessed measures.
WITH measures AS (
    SELECT * FROM mart_measures WHERE period = $period
),
final AS (
    SELECT m.period, m.branch_code, m.item_id, g.measure_id, g.measure_name, m.kind,
           m.actual, m.required, m.completion, m.status, m.weight, m.flagged, m.flag,
           CASE WHEN m.kind = 'self_assessed' THEN s.self_status END AS self_status,
           CASE WHEN m.kind = 'self_assessed' THEN coalesce(s.evidence, '') END AS evidence,
           m.measure_order
    FROM measures m
    JOIN g_measures g USING (measure_order)
    LEFT JOIN t_self s ON s.submission_id = m.submission_id AND s.item_id = m.item_id
)
SELECT * FROM final ORDER BY branch_code, measure_order
