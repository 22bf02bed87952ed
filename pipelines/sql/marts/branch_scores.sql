-- One row per branch and period: the radar (d1 … d7), overall, grade, ranks and change.
-- d1 … d7 are the contract's column names for the seven dimensions (the guide enforces ids 1..7).
WITH metrics AS (
    SELECT * FROM mart_metrics
),
wide AS (
    SELECT period, branch_code,
           max(score) FILTER (WHERE metric = 'd1') AS d1,
           max(score) FILTER (WHERE metric = 'd2') AS d2,
           max(score) FILTER (WHERE metric = 'd3') AS d3,
           max(score) FILTER (WHERE metric = 'd4') AS d4,
           max(score) FILTER (WHERE metric = 'd5') AS d5,
           max(score) FILTER (WHERE metric = 'd6') AS d6,
           max(score) FILTER (WHERE metric = 'd7') AS d7
    FROM metrics
    GROUP BY ALL
),
overall AS (
    SELECT * FROM metrics WHERE metric = 'overall'
),
graded AS (
    SELECT o.*, g.name AS grade
    FROM overall o ASOF LEFT JOIN g_grades g ON shown(o.score) >= g.min  -- the score as shown
),
final AS (
    SELECT b.period, b.branch_code, b.branch_name, b.branch_type, b.college, b.members,
           w.d1, w.d2, w.d3, w.d4, w.d5, w.d6, w.d7,
           o.score AS overall, o.grade, o.rank, o.rank_in_type, o.rank_in_college,
           o.prev_score AS prev_overall, o.delta, o.prev_rank, o.rank_change,
           b.version, cfg.guide_version,
           b.year, b.quarter, b.uploaded_at, o.ranked_branches
    FROM t_branches b
    JOIN graded o USING (period, branch_code)
    JOIN wide w USING (period, branch_code)
    CROSS JOIN g_settings cfg
)
SELECT * FROM final
