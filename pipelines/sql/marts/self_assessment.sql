-- Each scored submission's self-assessment answer per item, with its value and flag (numbers only: the
-- answer's name and evidence text are joined by self_assessment_detail.sql where they are shown).
-- 完成 without evidence scores as the guide's self_assessment_without_evidence answer, flagged
-- (no_evidence); a blank status scores 0, flagged (blank_status). Duplicate rows: the first answered wins.
WITH firsts AS (
    -- duplicate rows of an item: the first answered wins (answered rows first, then sheet order); an
    -- aggregate and a join back by row, cheaper than a window over every answer
    SELECT a.submission_id, min(((a.status IS NULL)::BIGINT << 32) + a.row_no) & 4294967295 AS row_no
    FROM branches b JOIN stg_self_assessment a ON a.submission_id = b.submission_id
    GROUP BY a.submission_id, a.item_id
),
answered AS (
    SELECT a.submission_id, a.item_id, a.row_no, a.status, a.evidence
    FROM firsts f JOIN stg_self_assessment a USING (submission_id, row_no)
),
item_keys AS (
    SELECT DISTINCT item_id, item_order FROM g_items
),
final AS (
    -- item_order is the item's integer key, so the measure mart joins on (submission_id, item_order);
    -- row_no finds the answer's row again for its text
    SELECT r.submission_id, k.item_order, r.row_no, r.status,
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
