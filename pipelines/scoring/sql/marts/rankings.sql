-- Every score of a branch in long form (metric = overall | d1 … d7) with its ranks: school-wide, within
-- branch type, within college. Ranks compare the scores as shown (score_key, a macro of scoring/rounding.py: one
-- decimal, half up), ties share the smallest rank (1, 1, 3). rank_change = previous rank − rank
-- (positive = moved up). Keyed by submission_id; the previous quarter's row is that of prev_submission_id.
WITH overall AS (
    SELECT submission_id, 0 AS dimension_id, 'overall' AS metric, xsum(weighted) AS score
    FROM dimension_scores
    GROUP BY ALL
),
dimensions AS (
    SELECT submission_id, dimension_id, 'd' || dimension_id AS metric, score
    FROM dimension_scores
),
metrics AS (
    SELECT m.*, b.year, b.quarter, b.branch_type, b.college, b.prev_submission_id,
           score_key(m.score) AS score_key
    FROM (SELECT * FROM overall UNION ALL BY NAME SELECT * FROM dimensions) m
    JOIN branches b USING (submission_id)
),
ranked AS (
    -- dimension_id stands for the metric (0 = overall): integer partitions
    SELECT *,
           rank() OVER (PARTITION BY year, quarter, dimension_id ORDER BY score_key DESC NULLS LAST) AS rank,
           rank() OVER (PARTITION BY year, quarter, dimension_id, branch_type
                        ORDER BY score_key DESC NULLS LAST) AS rank_in_type,
           rank() OVER (PARTITION BY year, quarter, dimension_id, college
                        ORDER BY score_key DESC NULLS LAST) AS rank_in_college,
           count(*) OVER (PARTITION BY year, quarter, dimension_id) AS ranked_branches
    FROM metrics
),
final AS (
    SELECT r.submission_id, r.branch_type, r.college, r.metric, r.dimension_id, r.score, r.score_key,
           r.rank, r.rank_in_type, r.rank_in_college, r.ranked_branches,
           p.score AS prev_score, r.score - p.score AS delta,
           p.rank AS prev_rank, p.rank - r.rank AS rank_change,
           p.rank_in_type AS prev_rank_in_type, p.rank_in_type - r.rank_in_type AS rank_in_type_change,
           p.rank_in_college AS prev_rank_in_college,
           p.rank_in_college - r.rank_in_college AS rank_in_college_change
    FROM ranked r
    LEFT JOIN ranked p ON p.submission_id = r.prev_submission_id AND p.dimension_id = r.dimension_id
)
SELECT * FROM final
