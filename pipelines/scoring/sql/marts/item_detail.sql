-- Item rows of one period as the API returns them: period and branch joined back, the self-assessment
-- answer and its evidence beside self-assessed items, with its evidence link state (linked, evidence_rows:
-- the ledger or count rows found, evidence.sql) and its current review decision; by branch, in the guide's order.
WITH items AS (
    SELECT b.period, b.branch_code, i.*
    FROM item_scores i JOIN branches b USING (submission_id)
    WHERE b.period = $period
),
answers AS (
    -- the answers of this period only: the view over every scored period would join the text of the quarter
    -- before too (scored for ranks and changes) and drop it after
    SELECT * FROM self_assessment_detail
    WHERE submission_id IN (SELECT submission_id FROM branches WHERE period = $period)
),
final AS (
    SELECT i.period, i.branch_code, i.submission_id, i.item_id, i.indicator_id, i.dimension_id,
           i.completion, i.pending, i.flagged, i.flag,
           CASE WHEN i.self_assessed THEN a.self_status END AS self_status,
           CASE WHEN i.self_assessed THEN coalesce(a.evidence, '') END AS evidence,
           i.weight, i.item_order, i.verified,
           CASE WHEN i.self_assessed THEN a.linked END AS linked,
           CASE WHEN i.self_assessed THEN a.evidence_rows END AS evidence_rows,
           CASE WHEN i.self_assessed THEN a.decision END AS review_decision,
           fm.flag_message  -- the flag's message (g_flags), last
    FROM items i
    LEFT JOIN answers a ON a.submission_id = i.submission_id AND a.item_order = i.item_order
    LEFT JOIN g_flags fm ON fm.flag = i.flag
)
SELECT * FROM final ORDER BY branch_code, item_order
