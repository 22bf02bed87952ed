-- Overall, d1 … d7 and school rank of every branch in every target period, in one lean pass for the trend
-- charts: measure_scores.sql (read as a view, so nothing per measure is materialised) and then the same
-- arithmetic as item_scores → indicator_scores → dimension_scores → rankings, keyed by the scored
-- submission, without flags, evidence, grades, type / college ranks or changes.
WITH measures AS (
    SELECT submission_id, item_order, weight, completion FROM mart_measures
),
items AS (
    -- as item_scores.sql: the weighted mean of the due measures; all pending → the item is left out
    SELECT submission_id, item_order,
           sum(weight * completion) / nullif(sum(weight) FILTER (WHERE completion IS NOT NULL), 0) AS completion,
           bool_and(completion IS NULL) AS pending
    FROM measures
    GROUP BY ALL
),
indicators AS (
    -- as indicator_scores.sql
    SELECT m.submission_id, i.indicator_id, i.dimension_id,
           100 * sum(i.weight * m.completion) / sum(i.weight) AS score
    FROM items m
    JOIN t_branches b USING (submission_id)
    JOIN g_items i ON i.item_order = m.item_order AND i.branch_type = b.branch_type
    WHERE NOT m.pending
    GROUP BY ALL
),
dimensions AS (
    -- as dimension_scores.sql
    SELECT s.submission_id, s.dimension_id, sum(g.weight * s.score) / sum(g.weight) AS score
    FROM indicators s JOIN g_indicators g USING (indicator_id)
    GROUP BY ALL
),
shares AS MATERIALIZED (
    SELECT d.*, g.weight / sum(g.weight) OVER (PARTITION BY d.submission_id) AS weight_share
    FROM dimensions d JOIN g_dimensions g USING (dimension_id)
),
wide AS (
    SELECT submission_id,
           sum(weight_share * score) AS overall,
           max(score) FILTER (WHERE dimension_id = 1) AS d1,
           max(score) FILTER (WHERE dimension_id = 2) AS d2,
           max(score) FILTER (WHERE dimension_id = 3) AS d3,
           max(score) FILTER (WHERE dimension_id = 4) AS d4,
           max(score) FILTER (WHERE dimension_id = 5) AS d5,
           max(score) FILTER (WHERE dimension_id = 6) AS d6,
           max(score) FILTER (WHERE dimension_id = 7) AS d7
    FROM shares
    GROUP BY ALL
),
final AS (
    -- rank as rankings.sql: the score as shown (score_key), ties share the smallest rank
    SELECT b.period, b.branch_code, b.branch_name, b.branch_type, b.college,
           w.d1, w.d2, w.d3, w.d4, w.d5, w.d6, w.d7, w.overall,
           rank() OVER (PARTITION BY b.period
                        ORDER BY score_key(w.overall) DESC NULLS LAST) AS rank,
           b.year, b.quarter
    FROM t_branches b JOIN wide w USING (submission_id)
)
SELECT * EXCLUDE (year, quarter) FROM final ORDER BY year, quarter, rank, branch_code
