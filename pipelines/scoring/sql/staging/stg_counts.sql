-- Count rows (统计数据) of current submissions, with the branch and the quarter.
SELECT s.branch_code, s.year, s.quarter, s.period, c.submission_id, c.source_file, c.sheet, c.row_no,
       c.field, c.value
FROM raw_counts c JOIN stg_submissions s USING (submission_id)
