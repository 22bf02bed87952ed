-- One row per scored submission (branch and period): the radar (d1 … d7), overall, grade, ranks and change.
-- d1 … d7 are the contract's column names for the seven dimensions (the guide enforces ids 1..7).
-- Period and branch code are joined from branches where the mart is read (scoring.py).
WITH wide AS (
    SELECT submission_id,
           max(score) FILTER (WHERE dimension_id = 1) AS d1,
           max(score) FILTER (WHERE dimension_id = 2) AS d2,
           max(score) FILTER (WHERE dimension_id = 3) AS d3,
           max(score) FILTER (WHERE dimension_id = 4) AS d4,
           max(score) FILTER (WHERE dimension_id = 5) AS d5,
           max(score) FILTER (WHERE dimension_id = 6) AS d6,
           max(score) FILTER (WHERE dimension_id = 7) AS d7
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
           b.year, b.quarter, b.uploaded_at, o.ranked_branches
    FROM branches b
    JOIN graded o USING (submission_id)
    JOIN wide w USING (submission_id)
    CROSS JOIN g_settings cfg
)
SELECT * FROM final
