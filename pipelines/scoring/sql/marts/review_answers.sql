-- The answers a review (审核) judges in one quarter ($period), with everything about them that no review changes:
-- the first answered row per self-assessed item of each current submission (as self_assessment.sql picks it), the
-- answer and its evidence text, its ledger support (evidence.sql), last quarter's answer of the same item, its risk
-- and its gain. review_queue.sql adds the current reviews; scoring/review.py keeps this per quarter until a
-- submission or the registry changes, so a decision re-reads only the reviews. It reads the evidence mart, not
-- the scored self_assessment mart: nothing here depends on scores.
-- Risk, highest first:
--   1 unsupported 完成: 完成 with blank evidence text, or whose evidence link finds no ledger or count rows;
--   2 需核实: 完成 on an item without an evidence link (review-only), or no answer at all;
--   3 supported: the answer stands on its own under the default policy (what 一键认定 may confirm).
-- gain: the answer's value now − last quarter's answer of the item (NULL when last quarter has no answer).
WITH items AS (
    SELECT DISTINCT item_id, item_order FROM g_items WHERE self_assessed
),
current_answers AS (
    SELECT b.period, b.branch_code, b.branch_name, b.college, b.branch_type, b.submission_id,
           w.submission_id AS prev_submission_id, a.item_id, k.item_order, a.row_no, a.status, a.evidence,
           a.answer_fp
    FROM branches b
    JOIN stg_self_assessment a ON a.submission_id = b.submission_id
    JOIN items k ON k.item_id = a.item_id
    LEFT JOIN stg_submissions w ON w.branch_code = b.branch_code AND w.period = b.prev_period
    WHERE b.period = $period
    QUALIFY row_number() OVER (PARTITION BY a.submission_id, a.item_id ORDER BY a.status IS NULL, a.row_no) = 1
),
previous_answers AS (
    -- last quarter's answer of each item: its first answered row, picked the same way (last quarter is not scored)
    SELECT a.submission_id, k.item_order, a.status, a.evidence
    FROM stg_self_assessment a
    JOIN items k USING (item_id)
    WHERE a.submission_id IN (SELECT prev_submission_id FROM current_answers)
    QUALIFY row_number() OVER (PARTITION BY a.submission_id, a.item_id ORDER BY a.status IS NULL, a.row_no) = 1
),
support AS (
    SELECT submission_id, item_order, count(*) AS evidence_rows FROM evidence GROUP BY ALL
),
linked AS (
    SELECT DISTINCT item_order FROM g_evidence
),
judged AS (
    SELECT c.*, ans.name AS status_name, ans.value AS self_value,
           l.item_order IS NOT NULL AS linked, coalesce(sp.evidence_rows, 0) AS evidence_rows,
           p.status AS prev_status, pans.name AS prev_status_name, p.evidence AS prev_evidence,
           pans.value AS prev_value, coalesce(c.status = cfg.done_status, false) AS done
    FROM current_answers c
    CROSS JOIN g_settings cfg
    LEFT JOIN g_answers ans ON ans.status = c.status
    LEFT JOIN linked l ON l.item_order = c.item_order
    LEFT JOIN support sp ON sp.submission_id = c.submission_id AND sp.item_order = c.item_order
    LEFT JOIN previous_answers p ON p.submission_id = c.prev_submission_id AND p.item_order = c.item_order
    LEFT JOIN g_answers pans ON pans.status = p.status
),
ranked AS (
    SELECT *,
           CASE WHEN done AND (evidence = '' OR (linked AND evidence_rows = 0)) THEN 1
                WHEN (done AND NOT linked) OR status IS NULL THEN 2
                ELSE 3 END AS risk,
           self_value - prev_value AS gain
    FROM judged
),
final AS (
    SELECT period, branch_code, branch_name, college, branch_type, item_id, item_order, status, status_name,
           evidence, linked, evidence_rows, risk, risk = 3 AS supported, gain, prev_status,
           prev_status_name, prev_evidence, submission_id, row_no, answer_fp
    FROM ranked
)
SELECT * FROM final
