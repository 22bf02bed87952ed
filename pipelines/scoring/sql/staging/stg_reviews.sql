-- The current review of each judged answer: the latest decision per branch, period, item and answer
-- fingerprint (earlier rows of the same key are its history).
SELECT review_id, branch_code, period, item_id, answer_fp, submission_id, decision, comment, reviewer, decided_at
FROM reviews
QUALIFY row_number() OVER (PARTITION BY branch_code, period, item_id, answer_fp
                           ORDER BY decided_at DESC, review_id DESC) = 1
