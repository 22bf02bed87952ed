-- Branches scored in each target period: the current submission of that quarter, and the submission of the
-- quarter before when that quarter is scored too (prev_submission_id: every comparison joins on it).
-- Names, college and type come from the registry when the branch is in it (the 组织部's list is
-- authoritative), else from the workbook's 支部信息; members always from the workbook of that quarter.
-- Every other mart of the chain is keyed by submission_id and joins period and names from here at the end.
WITH targets AS (
    SELECT period, year, quarter, prev_period FROM g_targets
),
scored AS (
    SELECT t.period, t.year, t.quarter, t.prev_period, s.branch_code, s.submission_id, s.version, s.uploaded_at,
           s.branch_name, s.college, s.branch_type, s.members
    FROM stg_submissions s
    JOIN targets t ON s.year = t.year AND s.quarter = t.quarter
),
final AS (
    SELECT c.period, c.year, c.quarter, c.prev_period,
           c.branch_code, c.submission_id, p.submission_id AS prev_submission_id, c.version, c.uploaded_at,
           coalesce(r.branch_name, c.branch_name) AS branch_name,
           coalesce(r.college, c.college)         AS college,
           coalesce(r.branch_type, c.branch_type) AS branch_type,
           c.members, r.members AS registry_members  -- scored on the workbook's; the registry's shown beside
    FROM scored c
    LEFT JOIN scored p ON p.period = c.prev_period AND p.branch_code = c.branch_code
    LEFT JOIN registry r ON r.branch_code = c.branch_code
)
SELECT * FROM final
