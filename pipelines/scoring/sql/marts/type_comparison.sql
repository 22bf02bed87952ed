-- Teacher vs student branches per dimension: means, spread (population standard deviation) and the
-- difference (teacher − student). Branch type ids are the contract's column names.
WITH scores AS (
    SELECT b.period, d.dimension_id, d.score, b.branch_type
    FROM dimension_scores d JOIN branches b USING (submission_id)
),
final AS (
    SELECT s.period, s.dimension_id, g.name,
           avg(s.score) FILTER (WHERE s.branch_type = 'teacher') AS teacher_mean,
           avg(s.score) FILTER (WHERE s.branch_type = 'student') AS student_mean,
           stddev_pop(s.score) FILTER (WHERE s.branch_type = 'teacher') AS teacher_std,
           stddev_pop(s.score) FILTER (WHERE s.branch_type = 'student') AS student_std,
           teacher_mean - student_mean AS diff,
           count(*) FILTER (WHERE s.branch_type = 'teacher') AS teacher_n,
           count(*) FILTER (WHERE s.branch_type = 'student') AS student_n
    FROM scores s JOIN g_dimensions g USING (dimension_id)
    GROUP BY s.period, s.dimension_id, g.name
)
SELECT * FROM final
