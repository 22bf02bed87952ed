"""Review (审核) of self-assessed answers: the reviewer's decisions and their journaled write.

A decision judges one answer of a branch-quarter: 认定完成 / 认定基本完成 / 认定未完成 (an answer id of the
guide) or 退回补充 (sent_back). It is stored against the fingerprint of the answer it judged (status and
evidence text, `stg_self_assessment.answer_fp`), so a re-submission that keeps an item's answer keeps its
review and one that changes the answer or its evidence returns the item to 待审核; rollback and withdraw need
nothing of their own, since the current review is looked up by the current submission's answer. Every
decision is a row (the history; the current one is the latest, `stg_reviews`), an audit_log row and a
manifest line, so `rebuild` replays it. How reviews enter the score: self_assessment.sql, docs/scoring.md.

The 审核 page writes through `decide` and `accept_supported`; what it reads (the queue riskiest first, progress,
the sent-back answers, the history of decisions) is the query API's (pipelines.scoring.review).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.store import db as dbm
from pipelines.store import journal, writes
from pipelines.store.actor import Actor, authorize
from pipelines.guide import Guide, guide
from pipelines.guide.period import Period
from pipelines.guide.vocab import AuditAction, ReviewState

SENT_BACK = ReviewState.SENT_BACK


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
    the answer, or sent back) or no current answer. The decision is stored against the answer current when it
    is written (read in the write's transaction).
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
    at = at or journal.now()
    for item_id, (decision, _) in decisions.items():
        period = _check(branch_code, period, item_id, decision, g)

    def body(con):
        # the current answers read in the write's own transaction: what is judged is what is stored against
        answers = con.execute(_CURRENT, [branch_code, period]).df()
        ids, rows, details = [], [], []
        for item_id, (decision, comment) in decisions.items():
            row, detail = _row(answers, branch_code, period, item_id, decision, str(comment or "").strip(), g)
            rows.append({**row, "reviewer": reviewer, "decided_at": at.isoformat()})
            details.append(detail)
        for row, detail in zip(rows, details):
            ids.append(save(con, row))
            writes.audit(con, reviewer, AuditAction.REVIEW, detail, at=at)
        entry = journal.entry("review", actor=reviewer, at=at, detail="；".join(details), branch=branch_code,
                              period=period, reviews=rows)
        return ids, entry

    return journal.write(dbm.db_path(db), body)


_CURRENT = ("SELECT item_id, submission_id, status, answer_fp FROM stg_self_assessment "
            "WHERE branch_code = ? AND period = ? "
            "QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY status IS NULL, row_no) = 1")


def _row(answers: pd.DataFrame, branch_code: str, period: str, item_id: str, decision: str, comment: str,
         g: Guide) -> tuple[dict, str]:
    """The decision row for the item's current answer (`answers`: _CURRENT, the answer each item of the
    branch-quarter is scored on, as self_assessment.sql picks it) and its audit text; ValueError when it cannot
    be made."""
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
           "submission_id": int(ans["submission_id"]), "decision": decision,
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


def accept_supported(branch_code: str, period: str, *, reviewer: Actor | str, db: str | Path | None = None,
                     at: dt.datetime | None = None) -> list[int]:
    """一键认定: confirm every pending supported answer of one branch-quarter as answered (queue risk 3: the
    answer stands on its own), in one write; returns the review ids ([] when there is none). Scope and errors
    as decide_many."""
    from pipelines.scoring.review import review_queue  # the queue's rule of "supported" (a read, one layer down)

    authorize(reviewer, [branch_code], db=db)
    todo = review_queue(period, db, branch_code=branch_code, state="pending", supported=True)
    return decide_many(branch_code, period, {r.item_id: (r.status, "") for r in todo.itertuples()},
                       reviewer=reviewer, db=db, at=at)
