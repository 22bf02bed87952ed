-- Submission status per target period for registry ∪ everyone who ever submitted that period:
-- submitted (current version 1), resubmitted (current version > 1), missing (no current version).
WITH roster AS (
    SELECT t.period, r.branch_code, true AS in_registry FROM g_targets t CROSS JOIN registry r
    UNION
    SELECT s.period, s.branch_code, false AS in_registry
    FROM submissions s JOIN g_targets t USING (period)
    WHERE s.branch_code NOT IN (SELECT branch_code FROM registry)
),
latest_info AS (
    SELECT branch_code,
           arg_max(branch_name, submission_id) AS branch_name,
           arg_max(college, submission_id) AS college,
           arg_max(branch_type, submission_id) AS branch_type
    FROM raw_info
    GROUP BY ALL
),
final AS (
    SELECT r.period, r.branch_code,
           coalesce(reg.branch_name, i.branch_name) AS branch_name,
           coalesce(reg.college, i.college) AS college,
           coalesce(reg.branch_type, i.branch_type) AS branch_type,
           CASE WHEN s.submission_id IS NULL THEN 'missing'
                WHEN s.version > 1 THEN 'resubmitted'
                ELSE 'submitted' END AS status,
           s.version, s.uploaded_at, r.in_registry, s.file_name
    FROM roster r
    LEFT JOIN registry reg ON reg.branch_code = r.branch_code
    LEFT JOIN latest_info i ON i.branch_code = r.branch_code
    LEFT JOIN stg_submissions s ON s.period = r.period AND s.branch_code = r.branch_code
)
SELECT * FROM final
