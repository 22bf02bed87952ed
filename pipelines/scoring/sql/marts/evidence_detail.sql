-- The rows of evidence.sql for one branch ($b; NULL: every branch) and period ($p), with what the branch page
-- shows of each: the ledger row (date, type, topic, its evidence) or the count row (field, value), the item it
-- supports and the branch it belongs to.
WITH found AS (
    SELECT e.*, b.branch_code FROM evidence e JOIN branches b USING (submission_id)
    WHERE ($b IS NULL OR b.branch_code = $b) AND b.period = $p
),
items AS (
    SELECT DISTINCT item_id, item_order FROM g_items
),
final AS (
    SELECT f.branch_code, i.item_id, f.source, s.period, coalesce(l.sheet, c.sheet) AS sheet, f.row_no,
           l.date, l.activity_type, l.topic, l.evidence, c.field, c.value, i.item_order
    FROM found f
    JOIN items i USING (item_order)
    JOIN stg_submissions s ON s.submission_id = f.source_submission_id
    LEFT JOIN stg_ledger l ON f.source = 'ledger' AND l.submission_id = f.source_submission_id AND l.row_no = f.row_no
    LEFT JOIN stg_counts c ON f.source = 'counts' AND c.submission_id = f.source_submission_id AND c.row_no = f.row_no
)
SELECT branch_code, item_id, source, period, sheet, row_no, date, activity_type, topic, evidence, field, value
FROM final ORDER BY branch_code, item_order, period, source, row_no
