-- 催报: each college's submission progress in a quarter against the registry. expected = its registry
-- branches, submitted = those with a current submission of the quarter, share = submitted / expected.
-- One more row for the whole school (scope = school, college NULL). No registry: no rows.
WITH expected AS (
    SELECT branch_code, college FROM registry
),
submitted AS (
    SELECT DISTINCT branch_code FROM stg_submissions WHERE period = $period
),
progress AS (
    SELECT e.college, grouping(e.college) AS is_school,
           count(*) AS expected, count(s.branch_code) AS submitted
    FROM expected e LEFT JOIN submitted s USING (branch_code)
    GROUP BY GROUPING SETS ((e.college), ())
),
final AS (
    SELECT $period AS period, CASE WHEN is_school = 1 THEN 'school' ELSE 'college' END AS scope,
           CASE WHEN is_school = 1 THEN NULL ELSE college END AS college,
           expected, submitted, expected - submitted AS missing, submitted / expected AS share
    FROM progress
)
SELECT * FROM final
