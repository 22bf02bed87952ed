-- College (二级党组织) aggregates: the plain mean of its scored branches, and the colleges' ranking.
-- branches = registry ∪ submitters of the college; submitted = branches with a current submission.
-- same_branches / overall_same / prev_same: the branches scored in this and the calendar quarter before, and
-- their means then and now — a college's change that does not move just because weak branches stopped
-- (or started) submitting.
WITH roster AS (
    SELECT t.period, r.branch_code, r.college FROM g_targets t CROSS JOIN registry r
    UNION
    SELECT period, branch_code, college FROM branches
),
per_college AS (
    SELECT r.period, r.college,
           count(DISTINCT r.branch_code) AS branches,
           count(m.submission_id) AS submitted,
           xavg(m.overall) AS overall,
           xavg(m.d1) AS d1, xavg(m.d2) AS d2, xavg(m.d3) AS d3, xavg(m.d4) AS d4,
           xavg(m.d5) AS d5, xavg(m.d6) AS d6, xavg(m.d7) AS d7,
           xstddev_pop(m.overall) AS overall_std,
           count(m.prev_overall) AS same_branches,
           xavg(CASE WHEN m.prev_overall IS NOT NULL THEN m.overall END) AS overall_same,
           xavg(m.prev_overall) AS prev_same
    FROM roster r
    LEFT JOIN branches b ON b.period = r.period AND b.branch_code = r.branch_code
    LEFT JOIN branch_scores m ON m.submission_id = b.submission_id
    GROUP BY ALL
),
ranked AS (
    SELECT c.*, t.prev_period,
           CASE WHEN c.overall IS NOT NULL THEN
               rank() OVER (PARTITION BY c.period
                            ORDER BY score_key(c.overall) DESC) END AS rank
    FROM per_college c JOIN g_targets t USING (period)
),
final AS (
    SELECT r.period, r.college, r.branches, r.submitted, r.overall,
           r.d1, r.d2, r.d3, r.d4, r.d5, r.d6, r.d7, r.rank,
           r.overall_std, p.overall AS prev_overall, p.rank AS prev_rank, p.rank - r.rank AS rank_change,
           r.same_branches, r.overall_same, r.prev_same
    FROM ranked r
    LEFT JOIN ranked p ON p.period = r.prev_period AND p.college = r.college
)
SELECT * FROM final
