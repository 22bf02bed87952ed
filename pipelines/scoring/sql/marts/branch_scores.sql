-- One row per scored submission (branch and period): the radar (d1 … d7), overall, grade, ranks and change.
-- d1 … d7 are the contract's column names for the seven dimensions (the guide enforces ids 1..7).
-- verified (核实率, 0–1) is the overall score's weight share from ledger-computed measures or reviewed
-- answers (each dimension's weighted by its share of the overall); v1 … v7 are the dimensions' own.
-- Period and branch code are joined from branches where the mart is read (scoring/shapes.py).
WITH wide AS (
    SELECT submission_id,
           max(score) FILTER (WHERE dimension_id = 1) AS d1,
           max(score) FILTER (WHERE dimension_id = 2) AS d2,
           max(score) FILTER (WHERE dimension_id = 3) AS d3,
           max(score) FILTER (WHERE dimension_id = 4) AS d4,
           max(score) FILTER (WHERE dimension_id = 5) AS d5,
           max(score) FILTER (WHERE dimension_id = 6) AS d6,
           max(score) FILTER (WHERE dimension_id = 7) AS d7,
           xsum(weight_share * verified) AS verified,
           max(verified) FILTER (WHERE dimension_id = 1) AS v1,
           max(verified) FILTER (WHERE dimension_id = 2) AS v2,
           max(verified) FILTER (WHERE dimension_id = 3) AS v3,
           max(verified) FILTER (WHERE dimension_id = 4) AS v4,
           max(verified) FILTER (WHERE dimension_id = 5) AS v5,
           max(verified) FILTER (WHERE dimension_id = 6) AS v6,
           max(verified) FILTER (WHERE dimension_id = 7) AS v7
    FROM dimension_scores
    GROUP BY ALL
),
overall AS (
    -- rankings is a view: only the overall metric's ranks are computed here
    SELECT * FROM rankings WHERE dimension_id = 0
),
graded AS (
    SELECT o.*, g.name AS grade
    FROM overall o ASOF LEFT JOIN g_grades g ON shown(o.score) >= g.min  -- the score as shown
),
final AS (
    SELECT b.submission_id, b.branch_name, b.branch_type, b.college, b.members,
           w.d1, w.d2, w.d3, w.d4, w.d5, w.d6, w.d7,
           o.score AS overall, o.grade, o.rank, o.rank_in_type, o.rank_in_college,
           o.prev_score AS prev_overall, o.delta, o.prev_rank, o.rank_change,
           b.version, cfg.guide_version,
           b.year, b.quarter, b.uploaded_at, o.ranked_branches,
           b.registry_members, w.verified, w.v1, w.v2, w.v3, w.v4, w.v5, w.v6, w.v7
    FROM branches b
    JOIN graded o USING (submission_id)
    JOIN wide w USING (submission_id)
    CROSS JOIN g_settings cfg
)
SELECT * FROM final
