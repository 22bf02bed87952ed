-- Completion of every measure that applies to a branch, per target period (one row per branch × measure).
-- Inputs: t_branches, g_items (applicability), g_measures, g_answers, g_settings, staging views.
WITH branches AS (
    SELECT * FROM t_branches
),
due_measures AS (
    -- items that do not apply to the branch's type have no row at all (left out, not zero)
    SELECT b.period, b.year, b.quarter, b.branch_code, b.submission_id, b.members,
           m.item_id, m.measure_id, m.measure_name, m.kind, m.activity, m.required AS param_required,
           m.count_field, m.numerator, m.denominator, m.weight, m.measure_order
    FROM branches b
    JOIN g_items i ON i.branch_type = b.branch_type
    JOIN g_measures m ON m.item_id = i.item_id
),
ytd_submissions AS (
    -- year to date: the current versions of the branch's submissions in the same year, quarter <= q
    SELECT b.period, b.branch_code, s.submission_id, s.quarter AS sub_quarter
    FROM branches b
    JOIN stg_submissions s ON s.branch_code = b.branch_code AND s.year = b.year AND s.quarter <= b.quarter
),
ledger AS (
    -- a ledger row counts only in the quarter of the workbook it is in, and only if dated inside it
    SELECT submission_id, activity_type, month, hours, attended
    FROM stg_ledger
    WHERE year(date) = year AND quarter(date) = quarter
),
ledger_quarter AS (
    SELECT b.period, b.branch_code, l.activity_type,
           count(*) AS n, count(DISTINCT l.month) AS months
    FROM branches b JOIN ledger l ON l.submission_id = b.submission_id
    GROUP BY ALL
),
ledger_ytd AS (
    SELECT y.period, y.branch_code, l.activity_type,
           count(*) AS n,
           sum(coalesce(l.hours, 0) * coalesce(l.attended, 0)) AS person_hours
    FROM ytd_submissions y JOIN ledger l ON l.submission_id = y.submission_id
    GROUP BY ALL
),
counts_quarter AS (
    -- duplicates of a field: the first row wins
    SELECT b.period, b.branch_code, c.field, arg_min(c.value, c.row_no) AS value
    FROM branches b JOIN stg_counts c ON c.submission_id = b.submission_id
    GROUP BY ALL
),
counts_ytd AS (
    -- cumulative fields: the latest value reported this year (blank cells do not erase an earlier value)
    SELECT y.period, y.branch_code, c.field, arg_max(c.value, y.sub_quarter * 100000 - c.row_no) AS value
    FROM ytd_submissions y JOIN stg_counts c ON c.submission_id = y.submission_id
    WHERE c.value IS NOT NULL
    GROUP BY ALL
),
self_rows AS (
    SELECT b.period, b.branch_code, a.item_id,
           arg_min(a.status, a.row_no) AS status,
           arg_min(a.evidence, a.row_no) AS evidence
    FROM branches b JOIN stg_self_assessment a ON a.submission_id = b.submission_id
    GROUP BY ALL
),
self_scored AS (
    -- 完成 without evidence scores as the guide's self_assessment_without_evidence answer, flagged;
    -- a blank (or missing) status scores 0, flagged
    SELECT r.period, r.branch_code, r.item_id, r.evidence,
           r.status,
           ans.name AS self_status,
           CASE WHEN ans.status IS NULL THEN 0
                WHEN r.status = cfg.done_status AND r.evidence = '' THEN cfg.without_evidence_value
                ELSE ans.value END AS value,
           CASE WHEN ans.status IS NULL THEN 'blank_status'
                WHEN r.status = cfg.done_status AND r.evidence = '' THEN 'no_evidence' END AS flag
    FROM self_rows r
    CROSS JOIN g_settings cfg
    LEFT JOIN g_answers ans ON ans.status = r.status
),
actuals AS (
    SELECT d.*,
           CASE d.kind
               WHEN 'monthly'         THEN coalesce(lq.months, 0)
               WHEN 'quarterly'       THEN coalesce(lq.n, 0)
               WHEN 'semester'        THEN coalesce(ly.n, 0)
               WHEN 'annual_count'    THEN coalesce(ly.n, 0)
               WHEN 'hours'           THEN coalesce(ly.person_hours, 0) / nullif(d.members, 0)
               WHEN 'annual_coverage' THEN coalesce(cy.value, 0)
               WHEN 'ratio'           THEN cn.value
               WHEN 'self_assessed'   THEN coalesce(sa.value, 0)
           END AS actual,
           CASE d.kind
               WHEN 'monthly'         THEN 3                                  -- months in a quarter
               WHEN 'quarterly'       THEN 1
               WHEN 'semester'        THEN CASE WHEN d.quarter <= 2 THEN 1 ELSE 2 END  -- due end Jan, end Jul
               WHEN 'annual_count'    THEN d.param_required
               WHEN 'hours'           THEN d.param_required * d.quarter / 4
               WHEN 'annual_coverage' THEN d.members
               WHEN 'ratio'           THEN cd.value
               WHEN 'self_assessed'   THEN 1
           END AS required,
           CASE WHEN d.kind = 'self_assessed' THEN
                    CASE WHEN sa.item_id IS NULL THEN 'blank_status' ELSE sa.flag END END AS flag,
           CASE WHEN d.kind = 'self_assessed' THEN sa.self_status END AS self_status,
           CASE WHEN d.kind = 'self_assessed' THEN coalesce(sa.evidence, '') END AS evidence
    FROM due_measures d
    LEFT JOIN ledger_quarter lq
           ON lq.period = d.period AND lq.branch_code = d.branch_code AND lq.activity_type = d.activity
    LEFT JOIN ledger_ytd ly
           ON ly.period = d.period AND ly.branch_code = d.branch_code AND ly.activity_type = d.activity
    LEFT JOIN counts_ytd cy
           ON cy.period = d.period AND cy.branch_code = d.branch_code AND cy.field = d.count_field
    LEFT JOIN counts_quarter cn
           ON cn.period = d.period AND cn.branch_code = d.branch_code AND cn.field = d.numerator
    LEFT JOIN counts_quarter cd
           ON cd.period = d.period AND cd.branch_code = d.branch_code AND cd.field = d.denominator
    LEFT JOIN self_scored sa
           ON sa.period = d.period AND sa.branch_code = d.branch_code AND sa.item_id = d.item_id
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
               WHEN kind = 'hours' AND coalesce(required, 0) <= 0 THEN 1.0
               WHEN kind = 'ratio' AND (actual IS NULL OR required IS NULL) THEN 0.0
               WHEN kind = 'ratio' AND required <= 0 THEN 1.0
               ELSE least(actual / required, 1.0)
           END AS completion
    FROM actuals
),
final AS (
    SELECT period, branch_code, item_id, measure_id, measure_name, kind,
           actual::DOUBLE AS actual, required::DOUBLE AS required, completion::DOUBLE AS completion,
           CASE WHEN completion IS NULL THEN 'pending'
                WHEN completion >= 1 - 1e-9 THEN 'met'
                WHEN completion <= 0 THEN 'missed'
                ELSE 'partial' END AS status,
           weight::DOUBLE AS weight,
           flag IS NOT NULL AS flagged, flag, self_status, evidence, measure_order
    FROM completions
)
SELECT * FROM final
