-- Every score of a branch in long form (metric = overall | d1 … d7) with its ranks: school-wide, within
-- branch type, within college. Ranks compare the scores as shown (score_key, a macro of scoring.py: one
-- decimal, half up), ties share the smallest rank (1, 1, 3). rank_change = previous rank − rank
-- (positive = moved up).
WITH overall AS (
    SELECT period, branch_code, 0 AS dimension_id, 'overall' AS metric, sum(weighted) AS score
    FROM mart_dimensions
    GROUP BY ALL
),
dimensions AS (
    SELECT period, branch_code, dimension_id, 'd' || dimension_id AS metric, score
    FROM mart_dimensions
),
metrics AS (
    SELECT m.*, b.branch_type, b.college, b.prev_period,
           score_key(m.score) AS score_key
    FROM (SELECT * FROM overall UNION ALL BY NAME SELECT * FROM dimensions) m
    JOIN t_branches b USING (period, branch_code)
),
ranked AS (
    SELECT *,
           rank() OVER (PARTITION BY period, metric ORDER BY score_key DESC NULLS LAST) AS rank,
           rank() OVER (PARTITION BY period, metric, branch_type ORDER BY score_key DESC NULLS LAST) AS rank_in_type,
           rank() OVER (PARTITION BY period, metric, college ORDER BY score_key DESC NULLS LAST) AS rank_in_college,
           count(*) OVER (PARTITION BY period, metric) AS ranked_branches
    FROM metrics
),
final AS (
    SELECT r.period, r.branch_code, r.branch_type, r.college, r.metric, r.dimension_id, r.score, r.score_key,
           r.rank, r.rank_in_type, r.rank_in_college, r.ranked_branches,
           p.score AS prev_score, r.score - p.score AS delta,
           p.rank AS prev_rank, p.rank - r.rank AS rank_change,
           p.rank_in_type AS prev_rank_in_type, p.rank_in_type - r.rank_in_type AS rank_in_type_change,
           p.rank_in_college AS prev_rank_in_college,
           p.rank_in_college - r.rank_in_college AS rank_in_college_change
    FROM ranked r
    LEFT JOIN ranked p ON p.period = r.prev_period AND p.branch_code = r.branch_code AND p.metric = r.metric
)
SELECT * FROM final
