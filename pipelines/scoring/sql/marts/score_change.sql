-- Change of the overall score against the previous quarter, split into each dimension's contribution:
-- contribution_k = weighted_k(now) − weighted_k(before), so Σ contributions = delta exactly.
WITH changed AS (
    SELECT b.period, b.branch_code, b.submission_id, b.prev_submission_id, m.overall, m.prev_overall, m.delta
    FROM branches b JOIN branch_scores m USING (submission_id)
    WHERE m.prev_overall IS NOT NULL
),
now_weighted AS (
    SELECT c.submission_id, d.dimension_id, d.weighted
    FROM changed c JOIN dimension_scores d ON d.submission_id = c.submission_id
),
before_weighted AS (
    SELECT c.submission_id, d.dimension_id, d.weighted
    FROM changed c JOIN dimension_scores d ON d.submission_id = c.prev_submission_id
),
contributions AS (
    SELECT coalesce(n.submission_id, p.submission_id) AS submission_id,
           coalesce(n.dimension_id, p.dimension_id) AS dimension_id,
           coalesce(n.weighted, 0) - coalesce(p.weighted, 0) AS contribution
    FROM now_weighted n
    FULL JOIN before_weighted p ON p.submission_id = n.submission_id AND p.dimension_id = n.dimension_id
),
wide AS (
    SELECT submission_id,
           coalesce(max(contribution) FILTER (WHERE dimension_id = 1), 0) AS c1,
           coalesce(max(contribution) FILTER (WHERE dimension_id = 2), 0) AS c2,
           coalesce(max(contribution) FILTER (WHERE dimension_id = 3), 0) AS c3,
           coalesce(max(contribution) FILTER (WHERE dimension_id = 4), 0) AS c4,
           coalesce(max(contribution) FILTER (WHERE dimension_id = 5), 0) AS c5,
           coalesce(max(contribution) FILTER (WHERE dimension_id = 6), 0) AS c6,
           coalesce(max(contribution) FILTER (WHERE dimension_id = 7), 0) AS c7,
           -- compared as shown (score_key: one decimal, half up, as ranks are), ties (e.g. several dimensions
           -- unchanged, or +3.3 twice) go to the first dimension, whatever the row order
           first(dimension_id ORDER BY score_key(contribution) DESC, dimension_id) AS up_dimension,
           first(dimension_id ORDER BY score_key(contribution), dimension_id) AS down_dimension
    FROM contributions
    GROUP BY ALL
),
final AS (
    SELECT c.period, c.branch_code, c.delta, w.c1, w.c2, w.c3, w.c4, w.c5, w.c6, w.c7,
           c.overall, c.prev_overall, w.up_dimension, w.down_dimension
    FROM changed c JOIN wide w USING (submission_id)
)
SELECT * FROM final
