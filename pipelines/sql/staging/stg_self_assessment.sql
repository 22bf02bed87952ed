-- Self-assessment rows of current submissions, evidence trimmed ('' when blank).
SELECT s.branch_code, s.year, s.quarter, s.period, a.submission_id, a.source_file, a.sheet, a.row_no,
       a.item_id, a.status, trim(coalesce(a.evidence, '')) AS evidence
FROM raw_self_assessment a JOIN stg_submissions s USING (submission_id)
