-- Self-assessment rows of current submissions, evidence trimmed ('' when blank); answer_fp fingerprints the
-- answer (status and trimmed evidence) so a review stays with the answer it judged (reviews.answer_fp).
SELECT s.branch_code, s.year, s.quarter, s.period, a.submission_id, a.source_file, a.sheet, a.row_no,
       a.item_id, a.status, trim(coalesce(a.evidence, '')) AS evidence,
       sha256(coalesce(a.status, '') || chr(31) || trim(coalesce(a.evidence, ''))) AS answer_fp
FROM raw_self_assessment a JOIN stg_submissions s USING (submission_id)
