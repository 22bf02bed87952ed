-- The review (审核) queue of one quarter ($period): every answer of review_answers (review_answers.sql: the answer,
-- its support, last quarter's answer, its risk and gain — nothing a review changes) with its current review
-- (stg_reviews by the answer's fingerprint, this quarter's only). The queue's order is the reader's (scoring/review.py
-- `_ORDER`, applied after the filters): risk first (1 unsupported 完成, 2 需核实, 3 supported), within a risk the
-- largest gain over last quarter's answer first (none: after every gain), then college, branch and item order.
-- state: pending (no current review), sent_back ($sent_back), reviewed (any other decision).
WITH current_reviews AS (
    -- the filter on a partition key runs before stg_reviews' window: this quarter's reviews only
    SELECT * FROM stg_reviews WHERE period = $period
),
judged AS (
    SELECT a.*, rv.decision, rv.comment, rv.reviewer, rv.decided_at
    FROM review_answers a
    LEFT JOIN current_reviews rv ON rv.branch_code = a.branch_code AND rv.item_id = a.item_id
                                AND rv.answer_fp = a.answer_fp
),
final AS (
    SELECT period, branch_code, branch_name, college, branch_type, item_id, item_order, status, status_name,
           evidence, linked, evidence_rows, risk, supported, gain, prev_status, prev_status_name, prev_evidence,
           CASE WHEN decision IS NULL THEN 'pending'
                WHEN decision = $sent_back THEN 'sent_back'
                ELSE 'reviewed' END AS state,
           decision, comment, reviewer, decided_at, submission_id, row_no, answer_fp
    FROM judged
)
SELECT * FROM final
