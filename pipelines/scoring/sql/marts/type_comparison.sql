-- Each branch type per dimension, in long form (one row per period, dimension and branch type): mean, spread
-- (population standard deviation) and the number of branches. No type is named here: the scoring API sets
-- the guide's branch types side by side (<type>_mean, <type>_std, <type>_n) with diff = first − second type.
WITH scores AS (
    SELECT b.period, d.dimension_id, d.score, b.branch_type
    FROM dimension_scores d JOIN branches b USING (submission_id)
),
final AS (
    SELECT s.period, s.dimension_id, g.name, s.branch_type,
           xavg(s.score) AS mean,
           xstddev_pop(s.score) AS std,
           count(*) AS n
    FROM scores s JOIN g_dimensions g USING (dimension_id)
    GROUP BY s.period, s.dimension_id, g.name, s.branch_type
)
SELECT * FROM final
