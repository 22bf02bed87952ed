-- Each scored submission's self-assessment answer per item, with its value, flag and review (numbers only:
-- the answer's name and evidence text are joined by self_assessment_detail.sql where they are shown).
-- Reviewed (the current review of this very answer, stg_reviews by answer_fp, other than sent back): the
-- reviewed answer's value, or with g_settings.review_blend self_share × the answer's value + the rest × the
-- reviewed value; verified. Otherwise a 完成 keeps its value only when supported: the rows its item's
-- evidence link names exist (evidence.sql). 完成 without evidence text (no_evidence), sent back (sent_back),
-- without those rows (no_ledger) or on an item without a link (unreviewed: review-only) scores as the
-- guide's self_assessment_without_evidence answer, flagged 待核实; a blank status scores 0 (blank_status).
-- Duplicate rows: the first answered wins.
WITH firsts AS (
    -- duplicate rows of an item: the first answered wins (answered rows first, then sheet order); an
    -- aggregate and a join back by row, cheaper than a window over every answer
    SELECT a.submission_id, min(((a.status IS NULL)::BIGINT << 32) + a.row_no) & 4294967295 AS row_no
    FROM branches b JOIN stg_self_assessment a ON a.submission_id = b.submission_id
    GROUP BY a.submission_id, a.item_id
),
answered AS (
    -- answer_fp (stg_self_assessment's fingerprint, the same expression on its trimmed evidence) only where the
    -- item has a review in a scored quarter: a sha256 of every answer cost about a third of this mart
    SELECT a.submission_id, a.item_id, a.row_no, a.status, a.evidence, a.branch_code, a.period,
           CASE WHEN (a.branch_code, a.period, a.item_id) IN (
                    SELECT branch_code, period, item_id FROM reviews WHERE period IN (SELECT period FROM g_targets))
                THEN sha256(coalesce(a.status, '') || chr(31) || a.evidence) END AS answer_fp
    FROM firsts f JOIN stg_self_assessment a USING (submission_id, row_no)
),
item_keys AS (
    SELECT DISTINCT item_id, item_order FROM g_items
),
support AS (
    SELECT submission_id, item_order, count(*) AS evidence_rows FROM evidence GROUP BY ALL
),
linked AS (
    SELECT DISTINCT item_order FROM g_evidence
),
current_reviews AS (
    -- the scored periods' reviews only: the filter on a partition key runs before stg_reviews' window, which
    -- over every review of every quarter would cost more than the rest of this mart
    SELECT * FROM stg_reviews WHERE period IN (SELECT period FROM g_targets)
),
judged AS (
    SELECT r.*, k.item_order, ans.value AS self_value, rv.review_id, r.status = cfg.done_status AS done,
           l.item_order IS NOT NULL AS linked, coalesce(sp.evidence_rows, 0) AS evidence_rows,
           rv.decision, dv.value AS reviewed_value
    FROM answered r
    JOIN item_keys k USING (item_id)
    CROSS JOIN g_settings cfg
    LEFT JOIN g_answers ans ON ans.status = r.status
    LEFT JOIN linked l ON l.item_order = k.item_order
    LEFT JOIN support sp ON sp.submission_id = r.submission_id AND sp.item_order = k.item_order
    LEFT JOIN current_reviews rv ON rv.branch_code = r.branch_code AND rv.period = r.period
                            AND rv.item_id = r.item_id AND rv.answer_fp = r.answer_fp
    LEFT JOIN g_answers dv ON dv.status = rv.decision
),
flagged AS (
    SELECT *,
           CASE WHEN reviewed_value IS NOT NULL THEN NULL
                WHEN self_value IS NULL THEN 'blank_status'
                WHEN done AND evidence = '' THEN 'no_evidence'
                WHEN done AND decision IS NOT NULL THEN 'sent_back'
                WHEN done AND linked AND evidence_rows = 0 THEN 'no_ledger'
                WHEN done AND NOT linked THEN 'unreviewed' END AS flag
    FROM judged
),
final AS (
    -- item_order is the item's integer key, so the measure mart joins on (submission_id, item_order);
    -- row_no finds the answer's row again for its text
    SELECT f.submission_id, f.item_order, f.row_no, f.status,
           CASE WHEN f.reviewed_value IS NOT NULL AND cfg.review_blend
                    THEN cfg.review_self_share * coalesce(f.self_value, 0)
                         + (1 - cfg.review_self_share) * f.reviewed_value
                WHEN f.reviewed_value IS NOT NULL THEN f.reviewed_value
                WHEN f.flag = 'blank_status' THEN 0
                WHEN f.flag IS NOT NULL THEN cfg.without_evidence_value
                ELSE f.self_value END AS value,
           f.flag, f.reviewed_value IS NOT NULL AS verified, f.review_id, f.decision,
           f.linked, f.evidence_rows  -- not answer_fp: a 64-character string per answer, read by one function
    FROM flagged f
    CROSS JOIN g_settings cfg
)
SELECT * FROM final
