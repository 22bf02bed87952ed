-- When each branch first uploaded its workbook of one quarter ($period), beside the quarter's deadline: the
-- alert late_submission. The first upload is the earliest version of the branch-quarter that was not
-- withdrawn, so a correction uploaded after the deadline does not make an on-time branch late, while a
-- withdrawn upload never counted as submitted. Only branch-quarters with a current version have a row.
WITH current_submissions AS (
    SELECT branch_code, period FROM stg_submissions WHERE period = $period
),
uploads AS (
    SELECT s.branch_code, s.period, min(s.uploaded_at) AS first_upload
    FROM submissions s
    JOIN current_submissions c ON c.branch_code = s.branch_code AND c.period = s.period
    WHERE s.status <> 'withdrawn'
    GROUP BY ALL
),
final AS (
    SELECT u.branch_code, u.first_upload, d.due_date
    FROM uploads u
    LEFT JOIN deadlines d ON d.period = u.period
)
SELECT * FROM final ORDER BY branch_code
