-- Completion of every measure that applies to a branch, per scored submission (one row per submission ×
-- measure). Inputs: branches, self_assessment (scored answers), g_items (applicability), g_measures, staging
-- views. verified: the measure is computed from the workbook's ledger or counts, or is a reviewed answer
-- (核实率 sums the weight of these). Numbers only, keyed by integers (submission_id, item_order, measure_order): period, names, kind and
-- status are joined on output (measure_detail.sql), so the whole history stays lean.
WITH scored AS (
    SELECT * FROM branches
),
guide_due AS (
    -- the measures of each branch type (a few dozen rows)
    SELECT i.branch_type, m.kind, m.activity, m.required AS param_required,
           m.count_field, m.numerator, m.denominator, m.weight, m.measure_order, i.item_order
    FROM g_items i JOIN g_measures m ON m.item_id = i.item_id
),
due_measures AS NOT MATERIALIZED (
    -- items that do not apply to the branch's type have no row at all (left out, not zero). Not
    -- materialised: each kind below joins only its own measures, so the kind filter reaches the guide side
    SELECT b.year, b.quarter, b.submission_id, b.members,
           g.kind, g.activity, g.param_required, g.count_field, g.numerator, g.denominator,
           g.weight, g.measure_order, g.item_order
    FROM scored b
    JOIN guide_due g ON g.branch_type = b.branch_type
),
ytd_submissions AS (
    -- year to date: the current versions of the branch's submissions in the same year, quarter <= q
    SELECT b.submission_id AS target_submission_id, s.submission_id, s.quarter AS sub_quarter
    FROM scored b
    JOIN stg_submissions s ON s.branch_code = b.branch_code AND s.year = b.year AND s.quarter <= b.quarter
),
ledger AS (
    -- a ledger row counts only in the quarter of the workbook it is in, and only if dated inside it
    SELECT submission_id, activity_type, month, hours, attended
    FROM stg_ledger
    WHERE year(date) = year AND quarter(date) = quarter
      AND submission_id IN (SELECT submission_id FROM ytd_submissions)
),
ledger_quarter AS (
    -- keyed by the scored submission: (submission_id, activity)
    SELECT b.submission_id, l.activity_type AS activity,
           -- distinct months as bits of one integer: a count(DISTINCT) costs a second aggregation
           count(*) AS n, bit_count(bit_or(1::BIGINT << l.month)) AS months
    FROM scored b JOIN ledger l ON l.submission_id = b.submission_id
    GROUP BY ALL
),
ledger_ytd AS (
    SELECT y.target_submission_id AS submission_id, l.activity_type AS activity,
           count(*) AS n,
           xsum(coalesce(l.hours, 0) * coalesce(l.attended, 0)) AS person_hours
    FROM ytd_submissions y JOIN ledger l ON l.submission_id = y.submission_id
    GROUP BY ALL
),
counts_quarter AS (
    -- duplicates of a field: the first row wins
    SELECT c.submission_id, c.field, arg_min(c.value, c.row_no) AS value
    FROM scored b JOIN stg_counts c ON c.submission_id = b.submission_id
    GROUP BY ALL
),
counts_ytd AS (
    -- cumulative fields: the latest value reported this year (blank cells do not erase an earlier value)
    SELECT y.target_submission_id AS submission_id, c.field,
           arg_max(c.value, y.sub_quarter * 100000 - c.row_no) AS value
    FROM ytd_submissions y JOIN stg_counts c ON c.submission_id = y.submission_id
    WHERE c.value IS NOT NULL
    GROUP BY ALL
),
-- each kind joins only the source it reads (integer submission keys keep the joins cheap)
quarter_ledger_measures AS (
    SELECT d.*,
           CASE d.kind WHEN 'monthly' THEN coalesce(lq.months, 0) ELSE coalesce(lq.n, 0) END AS actual,
           CASE d.kind WHEN 'monthly' THEN 3 ELSE 1 END AS required   -- 3 months in a quarter
    FROM due_measures d
    LEFT JOIN ledger_quarter lq ON lq.submission_id = d.submission_id AND lq.activity = d.activity
    WHERE d.kind IN ('monthly', 'quarterly')
),
ytd_ledger_measures AS (
    SELECT d.*,
           CASE d.kind WHEN 'hours' THEN coalesce(ly.person_hours, 0) / nullif(d.members, 0)
                       ELSE coalesce(ly.n, 0) END AS actual,
           CASE d.kind WHEN 'semester' THEN CASE WHEN d.quarter <= 2 THEN 1 ELSE 2 END  -- due end Jan, end Jul
                       WHEN 'hours' THEN d.param_required * d.quarter / 4
                       ELSE d.param_required END AS required
    FROM due_measures d
    LEFT JOIN ledger_ytd ly ON ly.submission_id = d.submission_id AND ly.activity = d.activity
    WHERE d.kind IN ('semester', 'annual_count', 'hours')
),
coverage_measures AS (
    SELECT d.*, coalesce(cy.value, 0) AS actual, d.members AS required
    FROM due_measures d
    LEFT JOIN counts_ytd cy ON cy.submission_id = d.submission_id AND cy.field = d.count_field
    WHERE d.kind = 'annual_coverage'
),
ratio_measures AS (
    SELECT d.*, cn.value AS actual, cd.value AS required
    FROM due_measures d
    LEFT JOIN counts_quarter cn ON cn.submission_id = d.submission_id AND cn.field = d.numerator
    LEFT JOIN counts_quarter cd ON cd.submission_id = d.submission_id AND cd.field = d.denominator
    WHERE d.kind = 'ratio'
),
self_measures AS (
    SELECT d.*, coalesce(sa.value, 0) AS actual, 1 AS required,
           CASE WHEN sa.item_order IS NULL THEN 'blank_status' ELSE sa.flag END AS flag,
           coalesce(sa.verified, FALSE) AS reviewed
    FROM due_measures d
    LEFT JOIN self_assessment sa ON sa.submission_id = d.submission_id AND sa.item_order = d.item_order
    WHERE d.kind = 'self_assessed'
),
actuals AS (
    SELECT * FROM quarter_ledger_measures
    UNION ALL BY NAME SELECT * FROM ytd_ledger_measures
    UNION ALL BY NAME SELECT * FROM coverage_measures
    UNION ALL BY NAME SELECT * FROM ratio_measures
    UNION ALL BY NAME SELECT * FROM self_measures
),
completions AS (
    SELECT *,
           CASE
               WHEN kind = 'self_assessed' THEN actual
               WHEN kind = 'annual_count' THEN
                   CASE WHEN actual >= required THEN 1.0 WHEN quarter < 4 THEN NULL ELSE 0.0 END
               WHEN kind = 'annual_coverage' THEN
                   CASE WHEN coalesce(required, 0) <= 0 OR actual >= required THEN 1.0
                        WHEN quarter < 4 THEN NULL
                        ELSE actual / required END
               WHEN kind = 'hours' AND (coalesce(required, 0) <= 0 OR members <= 0) THEN 1.0
               WHEN kind = 'ratio' AND (actual IS NULL OR required IS NULL) THEN 0.0
               WHEN kind = 'ratio' AND required <= 0 THEN 1.0
               ELSE least(actual / required, 1.0)
           END AS completion
    FROM actuals
),
final AS (
    SELECT submission_id, item_order, measure_order,
           actual::DOUBLE AS actual, required::DOUBLE AS required, completion::DOUBLE AS completion,
           weight::DOUBLE AS weight, flag,
           coalesce(reviewed, kind <> 'self_assessed') AS verified  -- computed from the workbook, or reviewed
    FROM completions
)
SELECT * FROM final
