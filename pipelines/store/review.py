"""Review (审核) of self-assessed answers: the reviewer's decisions, their history and the journaled write.

A decision judges one answer of a branch-quarter: 认定完成 / 认定基本完成 / 认定未完成 (an answer id of the
guide) or 退回补充 (sent_back). It is stored against the fingerprint of the answer it judged (status and
evidence text, `stg_self_assessment.answer_fp`), so a re-submission that keeps an item's answer keeps its
review and one that changes the answer or its evidence returns the item to 待审核; rollback and withdraw need
nothing of their own, since the current review is looked up by the current submission's answer. Every
decision is a row (the history; the current one is the latest, `stg_reviews`), an audit_log row and a
manifest line, so `rebuild` replays it. How reviews enter the score: self_assessment.sql, docs/scoring.md.

The 审核 page reads `board` (the queue riskiest first, its filters, progress per college, the sent-back answers;
sql/marts/review_queue.sql) and writes through `decide` and `accept_supported`; `sent_back` feeds the 整改通知
(review_notice.py) and the 督办清单's sent-back sheet (followup.py).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.store import db as dbm
from pipelines.scoring import session
from pipelines.store import journal, writes
from pipelines.store.actor import Actor, authorize
from pipelines.guide import Guide, guide
from pipelines.guide.period import Period
from pipelines.guide.vocab import AuditAction, ReviewRisk, ReviewState

SENT_BACK = ReviewState.SENT_BACK
PENDING_NAME = ReviewState.PENDING.label
QUEUE_COLUMNS = ["branch_code", "branch_name", "college", "branch_type", "item_id", "status", "status_name",
                 "evidence", "linked", "evidence_rows", "risk", "risk_name", "supported", "gain", "prev_status",
                 "prev_status_name", "prev_evidence", "state", "state_name", "decision", "decision_name",
                 "comment", "reviewer", "decided_at"]
PROGRESS_COLUMNS = ["scope", "college", "total", "reviewed", "sent_back", "pending", "share"]


def decision_names(g: Guide | None = None) -> dict[str, str]:
    """Decision id → Chinese name, in the order a reviewer picks them: 认定<answer> …, 退回补充."""
    g = g or guide()
    return {**{a.id: f"认定{a.name}" for a in g.self_assessment}, SENT_BACK: "退回补充"}


def needs_comment(answer: str | None, decision: str, g: Guide | None = None) -> bool:
    """A comment is required when the decision sends the answer back or rates it lower than the answer."""
    if decision == SENT_BACK:
        return True
    values = {a.id: a.value for a in (g or guide()).self_assessment}
    return values[decision] < values.get(answer, 0.0)


def _check(branch_code: str, period: str, item_id: str, decision: str, g: Guide) -> str:
    try:
        period = str(Period.parse(period))
    except ValueError as e:
        raise ValueError(f"季度“{period}”无法识别，应写作如 2026Q3。") from e
    try:
        item = g.item(item_id)
    except KeyError:
        raise ValueError(f"指标“{item_id}”不在指标指南中。") from None
    if not item.self_assessed:
        raise ValueError(f"指标 {item_id} 不是自评指标，无需审核。")
    if decision not in decision_names(g):
        raise ValueError(f"审核结论“{decision}”无效，应为：{'、'.join(decision_names(g).values())}。")
    return period


def decide(branch_code: str, period: str, item_id: str, decision: str, *, reviewer: Actor | str, comment: str = "",
           db: str | Path | None = None, at: dt.datetime | None = None) -> int:
    """Record one review decision on the current answer of an item; returns its review_id.

    PermissionError (Chinese) for an empty reviewer or a branch outside the reviewer's scope (actor.authorize);
    ValueError for an unknown period, item or decision, a missing comment where one is required (lower than
    the answer, or sent back), no current answer, or an answer that changed since it was read (a
    re-submission in between: the reviewer should look again).
    """
    return decide_many(branch_code, period, {item_id: (decision, comment)}, reviewer=reviewer, db=db, at=at)[0]


def decide_many(branch_code: str, period: str, decisions: dict[str, tuple[str, str]], *, reviewer: Actor | str,
                db: str | Path | None = None, at: dt.datetime | None = None) -> list[int]:
    """Record several decisions (item_id → (decision, comment)) on one branch-quarter in one write: all or
    none, one manifest line, one audit row each. Returns the review ids in the order given. Errors as decide."""
    g = guide()
    reviewer = authorize(reviewer, [branch_code], db=db).name
    if not decisions:
        return []
    answers = None
    rows, details = [], []
    at = at or journal.now()
    for item_id, (decision, comment) in decisions.items():
        period = _check(branch_code, period, item_id, decision, g)
        answers = _current(period, branch_code, db) if answers is None else answers
        row, detail = _row(answers, branch_code, period, item_id, decision, str(comment or "").strip(), g)
        rows.append({**row, "reviewer": reviewer, "decided_at": at.isoformat()})
        details.append(detail)

    def body(con):
        ids = []
        for row, detail in zip(rows, details):
            still = con.execute("SELECT count(*) FROM stg_self_assessment WHERE submission_id = ? AND row_no = ? "
                                "AND answer_fp = ?", [row["submission_id"], row.pop("row_no"), row["answer_fp"]])
            if still.fetchall()[0][0] == 0:
                raise ValueError(f"支部 {branch_code} {period} 的指标 {row['item_id']} 自评已更新，请刷新后重新审核。")
            ids.append(save(con, row))
            writes.audit(con, reviewer, AuditAction.REVIEW, detail, at=at)
        entry = journal.entry("review", actor=reviewer, at=at, detail="；".join(details), branch=branch_code,
                              period=period, reviews=rows)
        return ids, entry

    return journal.write(dbm.db_path(db), body)


_CURRENT = ("SELECT item_id, submission_id, row_no, status, answer_fp FROM stg_self_assessment "
            "WHERE branch_code = ? AND period = ? "
            "QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY status IS NULL, row_no) = 1")


def _current(period: str, branch_code: str, db) -> pd.DataFrame:
    """The answer each item of a branch-quarter is scored on (its first answered row, as self_assessment.sql
    picks it), read without scoring: what a decision is stored against."""
    with dbm.connect(db) as con:
        return con.execute(_CURRENT, [branch_code, period]).df()


def _row(answers: pd.DataFrame, branch_code: str, period: str, item_id: str, decision: str, comment: str,
         g: Guide) -> tuple[dict, str]:
    """The decision row for the item's current answer and its audit text; ValueError when it cannot be made."""
    hit = answers[answers["item_id"] == item_id]
    if hit.empty:
        raise ValueError(f"支部 {branch_code} 在 {period} 没有当前报送的指标 {item_id} 自评，无法审核。")
    ans = hit.iloc[0]
    status = ans["status"] if isinstance(ans["status"], str) else None
    if needs_comment(status, decision, g) and not comment:
        raise ValueError(f"指标 {item_id}：审核结论低于自评或退回补充时，须填写审核意见。")
    shown = next((a.name for a in g.self_assessment if a.id == status), "未填写")
    detail = (f"{branch_code} {period} 指标 {item_id}：{decision_names(g)[decision]}（自评“{shown}”）"
              + (f"，意见：{comment}" if comment else ""))
    row = {"branch_code": branch_code, "period": period, "item_id": item_id, "answer_fp": ans["answer_fp"],
           "submission_id": int(ans["submission_id"]), "row_no": int(ans["row_no"]), "decision": decision,
           "comment": comment}
    return row, detail


def save(con: duckdb.DuckDBPyConnection, row: dict) -> int:
    """Insert one decision row inside the caller's transaction (decide, and rebuild's replay of it)."""
    review_id = con.execute("SELECT nextval('review_seq')").fetchall()[0][0]
    con.execute("INSERT INTO reviews VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [review_id, row["branch_code"], row["period"], row["item_id"], row["answer_fp"],
                 row["submission_id"], row["decision"], row["comment"], row["reviewer"],
                 dt.datetime.fromisoformat(row["decided_at"])])
    return review_id


def history(branch_code: str, period: str, item_id: str | None = None, db: str | Path | None = None) -> pd.DataFrame:
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
class Board:
    """What the 审核 page shows of one quarter (`board`)."""

    queue: pd.DataFrame  # the answers matching the filters, riskiest first (at most `limit`)
    matching: int  # how many answers match the filters (the queue before the limit)
    progress: pd.DataFrame  # per college and in all: total, reviewed, sent_back, pending, share
    sent_back: pd.DataFrame  # every answer now sent back, by college, branch and item (queue columns)
    acceptable: pd.DataFrame  # per branch, its pending supported answers (what accept_supported confirms)


def _shape_queue(df: pd.DataFrame) -> pd.DataFrame:
    names = decision_names()
    df = df.assign(risk_name=df["risk"].map(lambda r: ReviewRisk.label_of(str(r))), state_name=df["state"].map(ReviewState.labels()),
                   decision_name=df["decision"].map(lambda d: names.get(d) if isinstance(d, str) else None))
    df["state_name"] = df["state_name"].where(df["state"] != "reviewed", df["decision_name"])
    for col in ("supported", "linked"):
        df[col] = df[col].astype(bool)
    return df[QUEUE_COLUMNS + [c for c in df.columns if c not in QUEUE_COLUMNS]].reset_index(drop=True)


def _shape_progress(df: pd.DataFrame) -> pd.DataFrame:
    df = df.assign(share=(df["reviewed"] / df["total"]).where(df["total"] > 0))
    df["college"] = df["college"].astype(object).where(df["college"].notna(), None)
    df = df.assign(_o=(df["scope"] == "school")).sort_values(["_o", "share", "college"], kind="stable")
    return df.drop(columns="_o")[PROGRESS_COLUMNS].reset_index(drop=True)


def board(period: str, db: str | Path | None = None, *, scope: str | None = None, college: str | None = None,
          branch_type: str | None = None, item_id: str | None = None, state: str | None = None,
          branch_code: str | None = None, supported: bool | None = None, limit: int | None = None) -> Board:
    """The review queue of one quarter, its progress and its sent-back answers, from one scoring session.

    queue: the scored self-assessment answers matching every filter given (college, branch_type, item_id,
    state = pending | sent_back | reviewed, branch_code, supported; None: any), riskiest first
    (review_queue.sql: unsupported 完成, then 需核实, then the largest gain over last quarter's answer of the
    item), at most `limit` rows; columns QUEUE_COLUMNS, then period, item_order. risk 1–3 (ReviewRisk),
    supported = risk 3 (the answer stands on its own), gain = the answer's value − last quarter's (NaN without
    one), state_name 待审核 / 退回补充 / the decision's name. progress: per college (scope 'college', least
    reviewed first) and in all (scope 'school', college None) the answers in total, reviewed (认定…), sent_back
    and pending, share = reviewed / total (0–1) — whatever the filters. `scope` (a college admin's college)
    limits everything to that college.
    """
    period = str(Period.parse(period))
    where = {"college": college, "type": branch_type, "item": item_id, "state": state, "branch": branch_code,
             "supported": supported}
    with session._session(db, [period], "evidence", with_prev=False) as con:
        sql = session._sql("review_queue")
        if scope is not None:
            sql = f"SELECT * FROM ({sql}) q WHERE college = $scope"
        con.execute(f"CREATE TEMP TABLE review_queue AS {sql}",
                    {"period": period, "sent_back": SENT_BACK, **({"scope": scope} if scope is not None else {})}
                    ).fetchall()
        cols = "* EXCLUDE (submission_id, row_no, answer_fp)"
        top = f" LIMIT {int(limit)}" if limit is not None else ""
        queue = session._df(con, f"SELECT {cols} FROM review_queue {_WHERE} {_ORDER}{top}", where)
        matching = con.execute(f"SELECT count(*) FROM review_queue {_WHERE}", where).fetchall()[0][0]
        progress = session._df(con, _PROGRESS)
        back = session._df(con, f"SELECT {cols} FROM review_queue WHERE state = 'sent_back' "
                                "ORDER BY college, branch_code, item_order")
        acceptable = session._df(con, _ACCEPTABLE)
    return Board(_shape_queue(queue), int(matching), _shape_progress(progress), _shape_queue(back), acceptable)


def queue(period: str, db: str | Path | None = None, **filters) -> pd.DataFrame:
    """The review queue of one quarter, riskiest first, with the filters of `board` (and `scope`)."""
    return board(period, db, **filters).queue


def progress(period: str, db: str | Path | None = None, *, scope: str | None = None) -> pd.DataFrame:
    """Review progress of one quarter per college and in all (see `board`)."""
    return board(period, db, scope=scope, limit=0).progress


def accept_supported(branch_code: str, period: str, *, reviewer: Actor | str, db: str | Path | None = None,
                     at: dt.datetime | None = None) -> list[int]:
    """一键认定: confirm every pending supported answer of one branch-quarter as answered (queue risk 3: the
    answer stands on its own), in one write; returns the review ids ([] when there is none). Scope and errors
    as decide_many."""
    authorize(reviewer, [branch_code], db=db)
    todo = queue(period, db, branch_code=branch_code, state="pending", supported=True)
    return decide_many(branch_code, period, {r.item_id: (r.status, "") for r in todo.itertuples()},
                       reviewer=reviewer, db=db, at=at)


def sent_back(period: str, db: str | Path | None = None, *, college: str | None = None,
              branch_code: str | None = None, scope: str | None = None) -> pd.DataFrame:
    """The answers of one quarter now sent back (退回补充 on the current answer; a re-submission that changes the
    answer or its evidence returns the item to 待审核), by college, branch and item order; columns as `board`."""
    df = queue(period, db, college=college, branch_code=branch_code, scope=scope, state=SENT_BACK)
    return df.sort_values(["college", "branch_code", "item_order"], kind="stable").reset_index(drop=True)
