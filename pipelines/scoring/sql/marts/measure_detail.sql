-- Measure rows of one period as the API returns them: period, branch and the guide's names joined back,
-- the status of each completion, the self-assessment answer beside self-assessed measures.
WITH measures AS (
    SELECT b.period, b.branch_code, m.*
    FROM measure_scores m JOIN branches b USING (submission_id)
    WHERE b.period = $period
),
answers AS (
    -- the answers of this period only: the view over every scored period would join the text of the quarter
    -- before too (scored for ranks and changes) and drop it after
    SELECT * FROM self_assessment_detail
    WHERE submission_id IN (SELECT submission_id FROM branches WHERE period = $period)
),
final AS (
    SELECT m.period, m.branch_code, g.item_id, g.measure_id, g.measure_name, g.kind,
           m.actual, m.required, m.completion,
           CASE WHEN m.completion IS NULL THEN 'pending'
                WHEN m.completion >= 1 - 1e-9 THEN 'met'
                WHEN m.completion <= 0 THEN 'missed'
                ELSE 'partial' END AS status,
           m.weight, m.flag IS NOT NULL AS flagged, m.flag,
           CASE WHEN g.kind = 'self_assessed' THEN a.self_status END AS self_status,
           CASE WHEN g.kind = 'self_assessed' THEN coalesce(a.evidence, '') END AS evidence,
           m.measure_order, fm.flag_message  -- the flag's message (g_flags), last
    FROM measures m
    JOIN g_measures g USING (measure_order)
    LEFT JOIN answers a ON a.submission_id = m.submission_id AND a.item_order = m.item_order
    LEFT JOIN g_flags fm ON fm.flag = m.flag
)
SELECT * FROM final ORDER BY branch_code, measure_order
