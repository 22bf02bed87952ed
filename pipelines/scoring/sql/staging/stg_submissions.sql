-- Only the current version of each branch-quarter, with the workbook's branch information.
SELECT s.submission_id, s.branch_code, s.year, s.quarter, s.period, s.version, s.file_name,
       s.uploaded_at, i.branch_name, i.college, i.branch_type, i.members
FROM submissions s JOIN raw_info i USING (submission_id)
WHERE s.status = 'current'
