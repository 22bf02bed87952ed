-- Change of the overall score against the previous quarter, split into each dimension's contribution:
-- contribution_k = weighted_k(now) − weighted_k(before), so Σ contributions = delta exactly.
WITH branches AS (
    SELECT b.period, b.branch_code, b.prev_period, m.overall, m.prev_overall, m.delta
    FROM t_branches b JOIN mart_branches m USING (period, branch_code)
    WHERE m.prev_overall IS NOT NULL
),
now_weighted AS (
    SELECT b.period, b.branch_code, d.dimension_id, d.weighted
    FROM branches b JOIN mart_dimensions d ON d.period = b.period AND d.branch_code = b.branch_code
),
before_weighted AS (
    SELECT b.period, b.branch_code, d.dimension_id, d.weighted
    FROM branches b JOIN mart_dimensions d ON d.period = b.prev_period AND d.branch_code = b.branch_code
),
contributions AS (
    SELECT coalesce(n.period, p.period) AS period,
           coalesce(n.branch_code, p.branch_code) AS branch_code,
           coalesce(n.dimension_id, p.dimension_id) AS dimension_id,
           coalesce(n.weighted, 0) - coalesce(p.weighted, 0) AS contribution
    FROM now_weighted n
    FULL JOIN before_weighted p
           ON p.period = n.period AND p.branch_code = n.branch_code AND p.dimension_id = n.dimension_id
),
wide AS (
    SELECT period, branch_code,
           coalesce(max(contribution) FILTER (WHERE dimension_id = 1), 0) AS c1,
           coalesce(max(contribution) FILTER (WHERE dimension_id = 2), 0) AS c2,
           coalesce(max(contribution) FILTER (WHERE dimension_id = 3), 0) AS c3,
           coalesce(max(contribution) FILTER (WHERE dimension_id = 4), 0) AS c4,
           coalesce(max(contribution) FILTER (WHERE dimension_id = 5), 0) AS c5,
           coalesce(max(contribution) FILTER (WHERE dimension_id = 6), 0) AS c6,
           coalesce(max(contribution) FILTER (WHERE dimension_id = 7), 0) AS c7,
           arg_max(dimension_id, contribution) AS up_dimension,
           arg_min(dimension_id, contribution) AS down_dimension
    FROM contributions
    GROUP BY ALL
),
final AS (
    SELECT b.period, b.branch_code, b.delta, w.c1, w.c2, w.c3, w.c4, w.c5, w.c6, w.c7,
           b.overall, b.prev_overall, w.up_dimension, w.down_dimension
    FROM branches b JOIN wide w USING (period, branch_code)
)
SELECT * FROM final
