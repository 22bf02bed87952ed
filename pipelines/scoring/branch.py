"""Per-branch marts of one quarter: measures, items, indicators, branch scores, ranks, submission status, and
the rows behind a number (trace, scored answers, evidence)."""
from __future__ import annotations

import pandas as pd

from pipelines.store import db as dbmod
from pipelines.guide.period import Period
from pipelines.scoring.session import _arrow, _chain, _df, _kept, _reader, _session, _sql, _targets
from pipelines.scoring.shapes import _SHAPES, _one, _read


def measure_scores(period: str, db=None, branch_code: str | None = None) -> pd.DataFrame:
    """Completion of every due measure per branch (completion NaN and status 'pending' when not yet due).

    Extra columns: flagged, flag (no_evidence | blank_status), flag_message, self_status, evidence.
    """
    return _one("measure_scores", period, db, "measure_scores", with_prev=False, branch_code=branch_code)


def item_scores(period: str, db=None, branch_code: str | None = None) -> pd.DataFrame:
    """Item completion per branch: the weighted mean of its due measures (NaN and pending when none is due).

    Items that do not apply to the branch's type have no row; rows in the guide's item order per branch.
    Extra columns: flag, flag_message, weight.
    """
    return _one("item_scores", period, db, "item_scores", with_prev=False, branch_code=branch_code)


def indicator_scores(period: str, db=None) -> pd.DataFrame:
    """Indicator score (0–100) per branch; indicators whose items are all pending have no row.

    Extra columns: dimension_id, items_due.
    """
    return _one("indicator_scores", period, db, "indicator_scores", with_prev=False)


def branch_scores(period: str, db=None) -> pd.DataFrame:
    """Per branch: the radar d1..d7, overall, grade, ranks (school, type, college), change, guide version.

    Extra columns: year, quarter, uploaded_at, ranked_branches.
    """
    return _one("branch_scores", period, db)


def rankings(period: str, db=None) -> pd.DataFrame:
    """Ranks of every branch by overall and by each dimension (long form: metric = overall | d1..d7).

    Columns: branch_code, branch_type, college, metric, dimension_id (0 = overall), score, rank,
    rank_in_type, rank_in_college, ranked_branches, prev_score, delta, prev_rank, rank_change, … .
    """
    return _one("rankings", period, db)


def submission_status(period: str, db=None) -> pd.DataFrame:
    """Registry ∪ submitters of the period: status submitted | resubmitted | missing, version, uploaded_at.

    Extra columns: in_registry, file_name.
    """
    period = str(Period.parse(period))
    with dbmod.connect(db) as con:
        con.register("g_targets", _arrow(_targets([period])))
        df = _read(con, "submission_status", period)
    return _SHAPES["submission_status"](df, period)


def has_registry(status: pd.DataFrame) -> bool:
    """Whether a registry is loaded, given submission_status: only then does it list missing branches."""
    return not status.empty and bool(status["in_registry"].any())


def trace(period: str, branch_code: str, item_id: str, db=None) -> pd.DataFrame:
    """The source rows behind one item of one branch in one period (ledger | counts | self_assessment).

    Columns: source, period (of the workbook the row is in), measure_id, source_file, sheet, row_no, counted,
    then detail columns (date, activity_type, activity_raw, topic, expected, attended, hours, evidence,
    field, value, status, status_id).
    """
    period = str(Period.parse(period))
    with _session(db, [period], "branches", with_prev=False) as con:
        df = _df(con, _sql("trace"), {"branch_code": branch_code, "item_id": item_id})
    return df.reset_index(drop=True)


def scored_answers(period: str, branch_code: str, db=None) -> pd.DataFrame:
    """The self-assessment answers one branch-quarter is scored on (the first answered row per item), as a
    review judges them. Columns: item_id, submission_id, row_no, status (answer id or None), evidence,
    answer_fp, value, flag, verified, decision (the current review's), linked, evidence_rows."""
    period = str(Period.parse(period))
    with _session(db, [period], "self_assessment", with_prev=False) as con:
        return _df(con, "SELECT k.item_id, s.submission_id, s.row_no, s.status, a.evidence, a.answer_fp, s.value, "
                        "s.flag, s.verified, s.decision, s.linked, s.evidence_rows "
                        "FROM self_assessment s JOIN branches b USING (submission_id) "
                        "JOIN stg_self_assessment a ON a.submission_id = s.submission_id AND a.row_no = s.row_no "
                        "JOIN (SELECT DISTINCT item_id, item_order FROM g_items WHERE self_assessed) k USING (item_order) "
                        "WHERE b.branch_code = $b AND b.period = $p ORDER BY s.item_order", {"b": branch_code, "p": period})


def evidence_rows(period: str, branch_code: str, db=None) -> pd.DataFrame:
    """The ledger and count rows that support each evidence-linked answer of one branch-quarter (evidence.sql).

    Columns: item_id, source (ledger | counts), period (of the workbook the row is in), sheet, row_no, date,
    activity_type, topic, evidence, field, value.
    """
    period = str(Period.parse(period))
    with dbmod.connect(db) as con:
        rows = quarter_evidence(con, db, period)
    rows = rows[rows["branch_code"] == branch_code]
    return rows.drop(columns=["branch_code"]).reset_index(drop=True)


def quarter_evidence(con, db, period: str) -> pd.DataFrame:
    """Every branch's evidence rows of a quarter (evidence_detail.sql, ~20 per branch; columns as evidence_rows
    with branch_code first) on a read connection. No review changes a ledger row, so they are kept while the
    submissions stay as they are (session._kept): the 审核 page's next answer, usually another branch, and the
    next branch on 支部画像 are a lookup. The frame is shared: filter it, never change it."""
    def build() -> pd.DataFrame:
        _reader(con)
        _chain(con, [period], "evidence", with_prev=False)
        return _df(con, _sql("evidence_detail"), {"b": None, "p": period})

    return _kept(con, db, ("evidence_detail", period), build)
