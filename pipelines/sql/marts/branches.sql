-- Branches scored in each target period: the current submission of that quarter.
-- Names, college and type come from the registry when the branch is in it (the 组织部's list is
-- authoritative), else from the workbook's 支部信息; members always from the workbook of that quarter.
WITH targets AS (
    SELECT period, year, quarter, prev_period FROM g_targets
),
current_submissions AS (
    SELECT s.*
    FROM stg_submissions s
    JOIN targets t ON s.year = t.year AND s.quarter = t.quarter
),
final AS (
    SELECT t.period, t.year, t.quarter, t.prev_period,
           c.branch_code, c.submission_id, c.version, c.uploaded_at,
           coalesce(r.branch_name, c.branch_name) AS branch_name,
           coalesce(r.college, c.college)         AS college,
           coalesce(r.branch_type, c.branch_type) AS branch_type,
           c.members
    FROM current_submissions c
    JOIN targets t ON c.year = t.year AND c.quarter = t.quarter
    LEFT JOIN registry r ON r.branch_code = c.branch_code
)
SELECT * FROM final
