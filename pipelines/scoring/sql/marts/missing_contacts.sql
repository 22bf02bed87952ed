-- 催报: the registry branches without a current submission in a quarter, with whom to call. The secretary is
-- the registry's 书记姓名, else the 书记 of the branch's latest workbook; the phone only comes from the registry.
-- registry_contacts (branch_code, secretary_name, phone) is the registry's optional columns (NULL on a
-- database written before they existed).
WITH submitted AS (
    SELECT DISTINCT branch_code FROM stg_submissions WHERE period = $period
),
latest_secretary AS (
    SELECT branch_code, arg_max(secretary, submission_id) AS secretary
    FROM raw_info
    WHERE nullif(trim(secretary), '') IS NOT NULL
    GROUP BY branch_code
),
final AS (
    SELECT $period AS period, r.branch_code, r.branch_name, r.college, r.branch_type,
           coalesce(nullif(trim(c.secretary_name), ''), l.secretary) AS secretary_name,
           nullif(trim(c.phone), '') AS phone,
           CASE WHEN nullif(trim(c.secretary_name), '') IS NOT NULL THEN 'registry'
                WHEN l.secretary IS NOT NULL THEN 'workbook' END AS secretary_source
    FROM registry r
    LEFT JOIN registry_contacts c USING (branch_code)
    LEFT JOIN latest_secretary l USING (branch_code)
    WHERE r.branch_code NOT IN (SELECT branch_code FROM submitted)
)
SELECT * FROM final
