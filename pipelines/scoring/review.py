"""The review (审核) reads: the queue of one quarter riskiest first, its progress, the sent-back answers and the
history of decisions (sql/marts/review_queue.sql). The writes (decide, decide_many, accept_supported) are in
pipelines.store.review; the decision names and the comment rule come from there too.

The 审核 page reads `review_board` (the queue, its filters, progress per college, the sent-back answers, what
一键认定 would confirm); `sent_back` feeds the 整改通知 (report/review_notice.py) and the 督办清单's sent-back
sheet (store/followup.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines.guide.period import Period
from pipelines.guide.vocab import ReviewRisk, ReviewState
from pipelines.scoring.branch import quarter_evidence
from pipelines.scoring.session import _chain, _df, _kept, _reader, _sql
from pipelines.store import db as dbm
from pipelines.store.review import SENT_BACK, decision_names

PENDING_NAME = ReviewState.PENDING.label
REVIEW_QUEUE_COLUMNS = ["branch_code", "branch_name", "college", "branch_type", "item_id", "status", "status_name",
                        "evidence", "linked", "evidence_rows", "risk", "risk_name", "supported", "gain",
                        "prev_status", "prev_status_name", "prev_evidence", "state", "state_name", "decision",
                        "decision_name", "comment", "reviewer", "decided_at"]
REVIEW_PROGRESS_COLUMNS = ["scope", "college", "total", "reviewed", "sent_back", "pending", "share"]


def review_history(branch_code: str, period: str, item_id: str | None = None,
                   db: str | Path | None = None) -> pd.DataFrame:
    """Every decision on a branch-quarter's answers (or one item's), newest first, with current: whether it
    is the review the score uses now (the latest one on the current answer).

    Columns: review_id, item_id, decision, decision_name, comment, reviewer, decided_at, submission_id,
    answer_fp, current.
    """
    period = str(Period.parse(period))
    sql = ("SELECT r.review_id, r.item_id, r.decision, r.comment, r.reviewer, r.decided_at, r.submission_id, "
           "r.answer_fp, (c.review_id IS NOT NULL AND a.answer_fp IS NOT NULL) AS current FROM reviews r "
           "LEFT JOIN stg_reviews c USING (review_id) "
           "LEFT JOIN (SELECT DISTINCT item_id, answer_fp FROM stg_self_assessment WHERE branch_code = $b "
           "AND period = $p) a ON a.item_id = r.item_id AND a.answer_fp = r.answer_fp "
           "WHERE r.branch_code = $b AND r.period = $p AND ($i IS NULL OR r.item_id = $i) "
           "ORDER BY r.decided_at DESC, r.review_id DESC")
    with dbm.connect(db) as con:
        df = con.execute(sql, {"b": branch_code, "p": period, "i": item_id}).df()
    names = decision_names()
    df.insert(3, "decision_name", df["decision"].map(names))
    return df


def review_state(decision: str | None) -> str:
    """The Chinese state of an answer from its current decision: 待审核, 认定… or 退回补充."""
    return PENDING_NAME if not isinstance(decision, str) else decision_names().get(decision, decision)


def support_label(linked, evidence_rows) -> str:
    """An item's ledger support as the branch page shows it: 有台账佐证（n 行）, 无台账佐证, or 仅审核认定 for an
    item without an evidence link; '' for items that are not self-assessed (linked is missing)."""
    if not isinstance(linked, (bool,)) and (linked is None or pd.isna(linked)):
        return ""
    if not bool(linked):
        return "仅审核认定（无台账关联）"
    n = 0 if evidence_rows is None or pd.isna(evidence_rows) else int(evidence_rows)
    return f"有台账佐证（{n} 行）" if n else "无台账佐证"


# ---- the review queue (审核 page) ---------------------------------------------------------------------
_ORDER = "ORDER BY risk, gain DESC NULLS LAST, college, branch_code, item_order"
_WHERE = ("WHERE ($college IS NULL OR college = $college) AND ($type IS NULL OR branch_type = $type) "
          "AND ($item IS NULL OR item_id = $item) AND ($state IS NULL OR state = $state) "
          "AND ($branch IS NULL OR branch_code = $branch) AND ($supported IS NULL OR supported = $supported)")
_PROGRESS = ("SELECT 'college' AS scope, college, count(*) AS total, count(*) FILTER (state = 'reviewed') AS reviewed, "
             "count(*) FILTER (state = 'sent_back') AS sent_back, count(*) FILTER (state = 'pending') AS pending "
             "FROM review_queue GROUP BY college "
             "UNION ALL SELECT 'school', NULL, count(*), count(*) FILTER (state = 'reviewed'), "
             "count(*) FILTER (state = 'sent_back'), count(*) FILTER (state = 'pending') FROM review_queue "
             "HAVING count(*) > 0")
_ACCEPTABLE = ("SELECT branch_code, count(*) AS answers FROM review_queue WHERE state = 'pending' AND supported "
               "GROUP BY branch_code ORDER BY branch_code")


@dataclass(frozen=True)
class ReviewBoard:
    """What the 审核 page shows of one quarter (`review_board`)."""

    queue: pd.DataFrame  # the answers matching the filters, riskiest first (at most `limit`)
    matching: int  # how many answers match the filters (the queue before the limit)
    progress: pd.DataFrame  # per college and in all: total, reviewed, sent_back, pending, share
    sent_back: pd.DataFrame  # every answer now sent back, by college, branch and item (queue columns)
    acceptable: pd.DataFrame  # per branch, its pending supported answers (what accept_supported confirms)
    colleges: list[str]  # every college with answers in the quarter (within the scope), whatever the filters
    evidence: pd.DataFrame  # the evidence rows (evidence_rows, with branch_code first) of the queue's branches


def _shape_queue(df: pd.DataFrame) -> pd.DataFrame:
    names = decision_names()
    df = df.assign(risk_name=df["risk"].map(lambda r: ReviewRisk.label_of(str(r))),
                   state_name=df["state"].map(ReviewState.labels()),
                   decision_name=df["decision"].map(lambda d: names.get(d) if isinstance(d, str) else None))
    df["state_name"] = df["state_name"].where(df["state"] != "reviewed", df["decision_name"])
    for col in ("supported", "linked"):
        df[col] = df[col].astype(bool)
    cols = REVIEW_QUEUE_COLUMNS
    return df[cols + [c for c in df.columns if c not in cols]].reset_index(drop=True)


def _shape_progress(df: pd.DataFrame) -> pd.DataFrame:
    df = df.assign(share=(df["reviewed"] / df["total"]).where(df["total"] > 0))
    df["college"] = df["college"].astype(object).where(df["college"].notna(), None)
    df = df.assign(_o=(df["scope"] == "school")).sort_values(["_o", "share", "college"], kind="stable")
    return df.drop(columns="_o")[REVIEW_PROGRESS_COLUMNS].reset_index(drop=True)


def review_board(period: str, db: str | Path | None = None, *, scope: str | None = None, college: str | None = None,
                 branch_type: str | None = None, item_id: str | None = None, state: str | None = None,
                 branch_code: str | None = None, supported: bool | None = None,
                 limit: int | None = None) -> ReviewBoard:
    """The review queue of one quarter, its progress and its sent-back answers, from one read connection.

    queue: the scored self-assessment answers matching every filter given (college, branch_type, item_id,
    state = pending | sent_back | reviewed, branch_code, supported; None: any), riskiest first
    (review_queue.sql: unsupported 完成, then 需核实, then the largest gain over last quarter's answer of the
    item), at most `limit` rows; columns REVIEW_QUEUE_COLUMNS, then period, item_order. risk 1–3 (ReviewRisk),
    supported = risk 3 (the answer stands on its own), gain = the answer's value − last quarter's (NaN without
    one), state_name 待审核 / 退回补充 / the decision's name. progress: per college (scope 'college', least
    reviewed first) and in all (scope 'school', college None) the answers in total, reviewed (认定…), sent_back
    and pending, share = reviewed / total (0–1) — whatever the filters. colleges: the quarter's colleges with
    answers (the college filter's options). evidence: scoring.evidence_rows of the queue's branches (branch_code
    first), so the page shows the supporting rows of any listed answer without another read. `scope` (a college
    admin's college) limits everything to that college.
    """
    period = str(Period.parse(period))
    where = {"college": college, "type": branch_type, "item": item_id, "state": state, "branch": branch_code,
             "supported": supported}
    with dbm.connect(db) as con:
        answers = _answers(con, db, period)
        evidence = quarter_evidence(con, db, period)
        _reader(con)  # stg_reviews on a file an older version wrote
        con.register("review_answers", answers)
        sql = _sql("review_queue")
        if scope is not None:
            sql = f"SELECT * FROM ({sql}) q WHERE college = $scope"
        con.execute(f"CREATE TEMP TABLE review_queue AS {sql}",
                    {"period": period, "sent_back": SENT_BACK, **({"scope": scope} if scope is not None else {})}
                    ).fetchall()
        cols = "* EXCLUDE (submission_id, row_no, answer_fp)"
        top = f" LIMIT {int(limit)}" if limit is not None else ""
        queue = _df(con, f"SELECT {cols} FROM review_queue {_WHERE} {_ORDER}{top}", where)
        matching = con.execute(f"SELECT count(*) FROM review_queue {_WHERE}", where).fetchall()[0][0]
        progress = _df(con, _PROGRESS)
        back = _df(con, f"SELECT {cols} FROM review_queue WHERE state = 'sent_back' "
                        "ORDER BY college, branch_code, item_order")
        acceptable = _df(con, _ACCEPTABLE)
    colleges = sorted({c for c in answers.column("college").to_pylist() if c is not None and scope in (None, c)})
    evidence = evidence[evidence["branch_code"].isin(set(queue["branch_code"]))].reset_index(drop=True)
    return ReviewBoard(_shape_queue(queue), int(matching), _shape_progress(progress), _shape_queue(back), acceptable,
                       colleges, evidence)


def _answers(con, db, period: str):
    """review_answers.sql of `period` (an Arrow table) on a read connection, computed once while the
    submissions, the registry and the guide stay as they are (session._kept): a decision changes none of them,
    so the next run of the queue reads only the reviews."""
    def build():
        _reader(con)
        _chain(con, [period], "evidence", with_prev=False)
        return con.sql(_sql("review_answers"), params={"period": period}).to_arrow_table()

    return _kept(con, db, ("review_answers", period), build)


def review_colleges(period: str, db: str | Path | None = None) -> list[str]:
    """The colleges with answers to review in `period` (the 审核 page's college filter), sorted."""
    period = str(Period.parse(period))
    with dbm.connect(db) as con:
        answers = _answers(con, db, period)
    return sorted({c for c in answers.column("college").to_pylist() if c is not None})


def review_queue(period: str, db: str | Path | None = None, **filters) -> pd.DataFrame:
    """The review queue of one quarter, riskiest first, with the filters of `review_board` (and `scope`)."""
    return review_board(period, db, **filters).queue


def review_progress(period: str, db: str | Path | None = None, *, scope: str | None = None) -> pd.DataFrame:
    """Review progress of one quarter per college and in all (see `review_board`)."""
    return review_board(period, db, scope=scope, limit=0).progress


def sent_back(period: str, db: str | Path | None = None, *, college: str | None = None,
              branch_code: str | None = None, scope: str | None = None) -> pd.DataFrame:
    """The answers of one quarter now sent back (退回补充 on the current answer; a re-submission that changes the
    answer or its evidence returns the item to 待审核), by college, branch and item order; columns as
    `review_board`."""
    df = review_queue(period, db, college=college, branch_code=branch_code, scope=scope, state=SENT_BACK)
    return df.sort_values(["college", "branch_code", "item_order"], kind="stable").reset_index(drop=True)
