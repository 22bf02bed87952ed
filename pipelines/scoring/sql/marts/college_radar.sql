-- A college against the school (二级党组织画像: the radar): the plain mean of d1..d7 and overall over the
-- college's scored branches (as college_scores averages them) and over every scored branch of the school.
-- who = college | school; a college without a scored branch has no college row. $college is its name.
WITH scored AS (
    SELECT b.period, s.college, s.overall, s.d1, s.d2, s.d3, s.d4, s.d5, s.d6, s.d7
    FROM branch_scores s JOIN branches b USING (submission_id)
),
college AS (
    SELECT period, 'college' AS who, count(*) AS branches, xavg(overall) AS overall,
           xavg(d1) AS d1, xavg(d2) AS d2, xavg(d3) AS d3, xavg(d4) AS d4, xavg(d5) AS d5, xavg(d6) AS d6, xavg(d7) AS d7
    FROM scored
    WHERE college = $college
    GROUP BY period
),
school AS (
    SELECT period, 'school' AS who, count(*) AS branches, xavg(overall) AS overall,
           xavg(d1) AS d1, xavg(d2) AS d2, xavg(d3) AS d3, xavg(d4) AS d4, xavg(d5) AS d5, xavg(d6) AS d6, xavg(d7) AS d7
    FROM scored
    GROUP BY period
),
final AS (
    SELECT * FROM college
    UNION ALL
    SELECT * FROM school
)
SELECT * FROM final
