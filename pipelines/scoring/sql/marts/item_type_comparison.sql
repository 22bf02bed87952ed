-- Teacher vs student branches per item (due items only): means, spread and difference (teacher − student).
WITH items AS (
    SELECT b.period, i.item_id, i.completion, b.branch_type
    FROM item_scores i JOIN branches b USING (submission_id)
    WHERE NOT i.pending
),
final AS (
    SELECT period, item_id,
           avg(completion) FILTER (WHERE branch_type = 'teacher') AS teacher_mean,
           avg(completion) FILTER (WHERE branch_type = 'student') AS student_mean,
           teacher_mean - student_mean AS diff,
           stddev_pop(completion) FILTER (WHERE branch_type = 'teacher') AS teacher_std,
           stddev_pop(completion) FILTER (WHERE branch_type = 'student') AS student_std,
           count(*) FILTER (WHERE branch_type = 'teacher') AS teacher_n,
           count(*) FILTER (WHERE branch_type = 'student') AS student_n
    FROM items
    GROUP BY ALL
)
SELECT * FROM final
