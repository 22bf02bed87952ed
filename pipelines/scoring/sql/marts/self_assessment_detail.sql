-- The text of each scored self-assessment answer (the answer's Chinese name and the evidence), for the
-- functions that show it (measure_detail.sql, item_detail.sql); kept out of the numeric chain. Also the
-- answer's evidence link state (linked, evidence_rows) and its current review (decision, review_id).
WITH answers AS (
    SELECT * FROM self_assessment
),
final AS (
    SELECT s.submission_id, s.item_order, ans.name AS self_status, a.evidence,
           s.linked, s.evidence_rows, s.decision, s.review_id
    FROM answers s
    JOIN stg_self_assessment a ON a.submission_id = s.submission_id AND a.row_no = s.row_no
    LEFT JOIN g_answers ans ON ans.status = s.status
)
SELECT * FROM final
