-- The review (审核) queue of one quarter ($period): every scored self-assessment answer of a current submission
-- (self_assessment.sql: the first answered row per self-assessed item) with what a reviewer weighs beside it —
-- the answer and its evidence text, its ledger support (evidence.sql), last quarter's answer of the same item —
-- its current review (stg_reviews by the answer's fingerprint) and its place in the queue. Risk, highest first:
--   1 unsupported 完成: 完成 with blank evidence text, or whose evidence link finds no ledger or count rows;
--   2 需核实: 完成 on an item without an evidence link (review-only), or no answer at all;
--   3 supported: the answer stands on its own under the default policy (what 一键认定 may confirm).
-- Within a risk, the largest gain over last quarter's answer of the item first (answer value now − then; none
-- when last quarter has no answer: after every gain), then college, branch and the guide's item order.
-- state: pending (no current review), sent_back ($sent_back), reviewed (any other decision).
WITH items AS (
    SELECT DISTINCT item_id, item_order FROM g_items WHERE self_assessed
),
current_answers AS (
    SELECT b.period, b.branch_code, b.branch_name, b.college, b.branch_type, w.submission_id AS prev_submission_id,
           s.*
    FROM self_assessment s JOIN branches b USING (submission_id)
    LEFT JOIN stg_submissions w ON w.branch_code = b.branch_code AND w.period = b.prev_period
    WHERE b.period = $period
),
previous_answers AS (
    -- last quarter's answer of each item: its first answered row, as self_assessment.sql picks it (only the
    -- answer is read, so last quarter is not scored)
    SELECT a.submission_id, k.item_order, a.status, a.evidence
    FROM stg_self_assessment a
    JOIN items k USING (item_id)
    WHERE a.submission_id IN (SELECT prev_submission_id FROM current_answers)
    QUALIFY row_number() OVER (PARTITION BY a.submission_id, a.item_id ORDER BY a.status IS NULL, a.row_no) = 1
),
judged AS (
    SELECT c.*, k.item_id, a.evidence, ans.name AS status_name, ans.value AS self_value,
           p.status AS prev_status, pans.name AS prev_status_name, p.evidence AS prev_evidence,
           pans.value AS prev_value, coalesce(c.status = cfg.done_status, false) AS done,
           rv.comment, rv.reviewer, rv.decided_at
    FROM current_answers c
    JOIN items k USING (item_order)
    JOIN stg_self_assessment a ON a.submission_id = c.submission_id AND a.row_no = c.row_no
    CROSS JOIN g_settings cfg
    LEFT JOIN g_answers ans ON ans.status = c.status
    LEFT JOIN previous_answers p ON p.submission_id = c.prev_submission_id AND p.item_order = c.item_order
    LEFT JOIN g_answers pans ON pans.status = p.status
    LEFT JOIN reviews rv ON rv.review_id = c.review_id  -- the current review (self_assessment.sql found it)
),
ranked AS (
    SELECT *,
           CASE WHEN done AND (evidence = '' OR (linked AND evidence_rows = 0)) THEN 1
                WHEN (done AND NOT linked) OR status IS NULL THEN 2
                ELSE 3 END AS risk,
           self_value - prev_value AS gain,
           CASE WHEN decision IS NULL THEN 'pending'
                WHEN decision = $sent_back THEN 'sent_back'
                ELSE 'reviewed' END AS state
    FROM judged
),
final AS (
    SELECT period, branch_code, branch_name, college, branch_type, item_id, item_order, status, status_name,
           evidence, linked, evidence_rows, flag, risk, risk = 3 AS supported, gain, prev_status,
           prev_status_name, prev_evidence, state, decision, comment, reviewer, decided_at, submission_id,
           row_no, answer_fp
    FROM ranked
)
SELECT * FROM final
ORDER BY risk, gain DESC NULLS LAST, college, branch_code, item_order
