-- The branches that fell short of one item in a quarter (drill-down from a weak item): every scored branch judged
-- on the item (not pending) whose completion is below full, lowest first. $item_id is the item; $college limits
-- the rows to one college's branches, or is NULL for the whole school.
WITH judged AS (
    SELECT b.period, b.branch_code, b.branch_name, b.college, b.branch_type, i.item_id, i.completion
    FROM item_scores i JOIN branches b USING (submission_id)
    WHERE i.item_id = $item_id AND NOT i.pending
),
final AS (
    SELECT period, branch_code, branch_name, college, branch_type, item_id, completion
    FROM judged
    WHERE completion < 1 - 1e-9 AND ($college IS NULL OR college = $college)
)
SELECT * FROM final
