-- Each scored submission's self-assessment answer per item, with its value and flag.
-- 完成 without evidence scores as the guide's self_assessment_without_evidence answer, flagged
-- (no_evidence); a blank status scores 0, flagged (blank_status). Duplicate rows: the first answered wins.
WITH answered AS (
    SELECT a.submission_id, a.item_id, a.status, a.evidence
    FROM t_branches b JOIN stg_self_assessment a ON a.submission_id = b.submission_id
    QUALIFY row_number() OVER (PARTITION BY a.submission_id, a.item_id
                               ORDER BY (a.status IS NULL), a.row_no) = 1
),
item_keys AS (
    SELECT DISTINCT item_id, item_order FROM g_items
),
final AS (
    -- item_order is the item's integer key, so the measure mart joins on (submission_id, item_order)
    SELECT r.submission_id, r.item_id, k.item_order, r.evidence, r.status,
           ans.name AS self_status,
           CASE WHEN ans.status IS NULL THEN 0
                WHEN r.status = cfg.done_status AND r.evidence = '' THEN cfg.without_evidence_value
                ELSE ans.value END AS value,
           CASE WHEN ans.status IS NULL THEN 'blank_status'
                WHEN r.status = cfg.done_status AND r.evidence = '' THEN 'no_evidence' END AS flag
    FROM answered r
    JOIN item_keys k USING (item_id)
    CROSS JOIN g_settings cfg
    LEFT JOIN g_answers ans ON ans.status = r.status
)
SELECT * FROM final
