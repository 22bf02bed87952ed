-- The source rows behind one branch's item in one period: ledger rows, count rows and self-assessment
-- rows, each with source_file, sheet and row_no. `counted` tells whether the row entered the score
-- (a ledger row dated outside its workbook's quarter, or a superseded/duplicate count, is shown but not counted).
WITH branch AS (
    SELECT * FROM branches WHERE branch_code = $branch_code
),
measures AS (
    SELECT * FROM g_measures WHERE item_id = $item_id
),
window_submissions AS (
    -- quarter-scoped kinds read this quarter's workbook; year-to-date kinds every workbook of the year so far
    SELECT m.measure_id, m.kind, m.activity, m.count_field, m.numerator, m.denominator, m.measure_order,
           s.submission_id, s.period, s.quarter AS sub_quarter
    FROM branch b
    CROSS JOIN measures m
    JOIN stg_submissions s
      ON s.branch_code = b.branch_code AND s.year = b.year
     AND (s.quarter = b.quarter
          OR (s.quarter < b.quarter AND m.kind IN ('semester', 'annual_count', 'hours', 'annual_coverage')))
),
ledger_rows AS (
    SELECT 'ledger' AS source, w.measure_id, w.measure_order, w.period, l.source_file, l.sheet, l.row_no,
           (year(l.date) = l.year AND quarter(l.date) = l.quarter) AS counted,
           l.date, l.activity_type, l.activity_raw, l.topic, l.expected, l.attended, l.hours, l.evidence
    FROM window_submissions w
    JOIN stg_ledger l ON l.submission_id = w.submission_id AND l.activity_type = w.activity
),
count_rows AS (
    SELECT 'counts' AS source, w.measure_id, w.measure_order, w.period, c.source_file, c.sheet, c.row_no,
           row_number() OVER (PARTITION BY w.measure_id, c.field
                              ORDER BY (c.value IS NULL), w.sub_quarter DESC, c.row_no) = 1 AS counted,
           c.field, c.value
    FROM window_submissions w
    JOIN stg_counts c
      ON c.submission_id = w.submission_id AND c.field IN (w.count_field, w.numerator, w.denominator)
),
self_measures AS (
    SELECT string_agg(measure_id, ', ' ORDER BY measure_order) AS measure_id, min(measure_order) AS measure_order
    FROM measures WHERE kind = 'self_assessed'
),
self_rows AS (
    SELECT 'self_assessment' AS source, m.measure_id, m.measure_order, b.period, a.source_file, a.sheet, a.row_no,
           row_number() OVER (ORDER BY (a.status IS NULL), a.row_no) = 1 AS counted,
           a.evidence, a.status AS status_id, ans.name AS status
    FROM branch b
    CROSS JOIN self_measures m
    JOIN stg_self_assessment a ON a.submission_id = b.submission_id AND a.item_id = $item_id
    LEFT JOIN g_answers ans ON ans.status = a.status
    WHERE m.measure_id IS NOT NULL
),
final AS (
    SELECT * FROM ledger_rows
    UNION ALL BY NAME SELECT * FROM count_rows
    UNION ALL BY NAME SELECT * FROM self_rows
)
SELECT source, period, measure_id, source_file, sheet, row_no, counted,
       date, activity_type, activity_raw, topic, expected, attended, hours, evidence,
       field, value, status, status_id
FROM final
ORDER BY measure_order, period, source, row_no
