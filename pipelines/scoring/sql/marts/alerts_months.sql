-- Months of one quarter ($period) in which each branch's current workbook records each activity type: the
-- alert monthly_gap names the months without one. Same rule as measure_scores: a ledger row counts only in
-- its workbook's quarter and only if dated inside it.
WITH ledger AS (
    SELECT branch_code, activity_type, month
    FROM stg_ledger
    WHERE period = $period AND year(date) = year AND quarter(date) = quarter
),
final AS (
    SELECT DISTINCT branch_code, activity_type AS activity, month FROM ledger
)
SELECT * FROM final ORDER BY branch_code, activity, month
