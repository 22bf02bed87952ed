-- Ledger rows of current submissions, with the branch, the quarter and the activity's month.
SELECT s.branch_code, s.year, s.quarter, s.period, l.submission_id, l.source_file, l.sheet, l.row_no,
       l.date, month(l.date) AS month, l.activity_type, l.activity_raw, l.topic, l.expected, l.attended,
       l.hours, l.evidence
FROM raw_ledger l JOIN stg_submissions s USING (submission_id)
