-- The workbook rows that evidence a self-assessed answer (the guide's evidence links, g_evidence), per scored
-- submission and item: a ledger row of a linked activity type dated inside its workbook's quarter, or a
-- linked count row above 0, in the link's scope (this quarter's workbook, or every workbook of the year so
-- far). One row per evidencing row; self_assessment.sql counts them, the branch page lists them.
WITH scored AS (
    SELECT submission_id, branch_code, branch_type, year, quarter FROM branches
),
links AS (
    SELECT s.submission_id, s.branch_code, s.year, s.quarter, e.item_order, e.activity, e.count_field, e.scope
    FROM scored s
    JOIN g_items i ON i.branch_type = s.branch_type
    JOIN g_evidence e ON e.item_order = i.item_order
),
sources AS (
    SELECT l.submission_id, l.item_order, l.activity, l.count_field, w.submission_id AS source_submission_id
    FROM links l
    JOIN stg_submissions w
      ON w.branch_code = l.branch_code AND w.year = l.year
     AND (w.quarter = l.quarter OR (l.scope = 'year_to_date' AND w.quarter < l.quarter))
),
ledger_rows AS (
    SELECT s.submission_id, s.item_order, s.source_submission_id, 'ledger' AS source, g.row_no
    FROM sources s
    JOIN stg_ledger g ON g.submission_id = s.source_submission_id AND g.activity_type = s.activity
    WHERE year(g.date) = g.year AND quarter(g.date) = g.quarter
      -- only rows of a linked activity reach the join (the join alone would probe every ledger row)
      AND g.activity_type IN (SELECT activity FROM g_evidence)
),
count_rows AS (
    SELECT s.submission_id, s.item_order, s.source_submission_id, 'counts' AS source, c.row_no
    FROM sources s
    JOIN stg_counts c ON c.submission_id = s.source_submission_id AND c.field = s.count_field
    WHERE c.value > 0 AND c.field IN (SELECT count_field FROM g_evidence)
),
final AS (
    SELECT * FROM ledger_rows
    UNION ALL SELECT * FROM count_rows
)
SELECT * FROM final
