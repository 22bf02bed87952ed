"""Versions of a branch-quarter and the database as a whole: rollback, withdraw, deadlines, start fresh.

Each is one audited, journaled write (`pipelines/store/journal.py`), so `rebuild` replays it.
"""
from __future__ import annotations

import datetime as dt
import shutil
import uuid
from pathlib import Path

from pipelines.store import db as dbm, journal, writes
from pipelines.store.actor import Actor, authorize
from pipelines.guide.vocab import AuditAction, SubmissionStatus

def rollback_in(con, branch_code: str, period: str) -> tuple[int, int, int] | None:
    """(old current id, new current id, new version) or None when there is nothing to go back to."""
    cur = con.execute(
        "SELECT submission_id, version FROM submissions WHERE branch_code = ? AND period = ? AND status = 'current'",
        [branch_code, period]).fetchone()
    if cur is None:
        return None
    prev = con.execute(
        "SELECT submission_id, version FROM submissions WHERE branch_code = ? AND period = ? "
        "AND status = 'superseded' AND version < ? ORDER BY version DESC LIMIT 1",
        [branch_code, period, cur[1]]).fetchone()
    if prev is None:
        return None
    writes.set_status(con, cur[0], SubmissionStatus.ROLLED_BACK)
    writes.set_status(con, prev[0], SubmissionStatus.CURRENT)
    return cur[0], prev[0], prev[1]


def withdraw_in(con, branch_code: str, period: str) -> tuple[int, int] | None:
    cur = con.execute(
        "SELECT submission_id, version FROM submissions WHERE branch_code = ? AND period = ? AND status = 'current'",
        [branch_code, period]).fetchone()
    if cur is None:
        return None
    writes.set_status(con, cur[0], SubmissionStatus.WITHDRAWN)
    return cur[0], cur[1]


def rollback(branch_code: str, period: str, db: str | Path | None = None, *, actor: Actor | str) -> int | None:
    """Make the previous version of a branch-quarter current again; the current one becomes rolled_back.

    Returns the submission id that is now current, or None (nothing written) when there is no current
    version or no earlier one. PermissionError (Chinese) without an actor or outside its scope.
    """
    return _version_write(branch_code, period, db, actor, AuditAction.ROLLBACK, "rollback",
                          lambda con: rollback_in(con, branch_code, period),
                          lambda done: (done[1], f"回退到第 {done[2]} 版"))


def set_deadline(period: str, due_date: dt.date | str | None, db: str | Path | None = None, *,
                 actor: Actor | str) -> None:
    """Set (or with None, clear) the submission deadline of a quarter: one audited, journaled write, so
    `rebuild` keeps it. A submission whose first upload falls on a later day is late (pipelines/scoring/alerts.py).
    ValueError with a Chinese message for a period or date that is none; PermissionError without an actor or for a
    college admin (a deadline is school-wide)."""
    actor = authorize(actor, school_wide="设置报送截止日期").name
    period, due = writes.deadline_args(period, due_date)
    path = dbm.db_path(db)
    at = journal.now()

    def body(con):
        detail = writes.save_deadline(con, period, due, actor=actor, at=at)
        writes.audit(con, actor, AuditAction.DEADLINE, detail, at=at)
        return None, journal.entry("deadline", actor=actor, at=at, detail=detail, period=period,
                            due_date=due.isoformat() if due else None)

    journal.write(path, body)


def withdraw(branch_code: str, period: str, db: str | Path | None = None, *, actor: Actor | str) -> int | None:
    """Withdraw the current version of a branch-quarter (it then counts as not submitted).

    Returns the withdrawn submission id, or None (nothing written) when there is no current version.
    PermissionError (Chinese) without an actor or outside its scope.
    """
    return _version_write(branch_code, period, db, actor, AuditAction.WITHDRAW, "withdraw",
                          lambda con: withdraw_in(con, branch_code, period),
                          lambda done: (done[0], f"撤回第 {done[1]} 版"))


def _version_write(branch_code: str, period: str, db, actor: Actor | str, action: AuditAction, kind: str,
                   change, outcome) -> int | None:
    """One audited, journaled change of a branch-quarter's versions (rollback, withdraw) after checking the
    actor's right to that branch: `change(con)` makes it (None: nothing to change, nothing written) and
    `outcome(done)` gives (the submission id returned, what the audit line says after the branch-quarter)."""
    path = dbm.db_path(db)
    actor = authorize(actor, [branch_code], db=path).name
    at = journal.now()

    def body(con):
        done = change(con)
        if done is None:
            raise journal.NoChange(None)
        sub_id, what = outcome(done)
        detail = f"{branch_code} {period}：{what}"
        writes.audit(con, actor, action, detail, at=at)
        return sub_id, journal.entry(kind, actor=actor, at=at, detail=detail, branch=branch_code, period=period)

    return journal.write(path, body)


def start_fresh(db: str | Path | None = None, *, actor: Actor | str) -> Path:
    """Set the database and its archive aside in a dated backup folder beside them, and start an empty one.

    This is how the organization department leaves the demo school for real data without a server shell.
    Nothing is deleted: the backup folder holds the old database file and archive. Returns that folder.
    PermissionError (Chinese) without an actor or for a college admin.
    """
    actor = authorize(actor, school_wide="清空数据库").name
    path = dbm.db_path(db)
    archive = journal.archive_dir(path)
    backup = path.parent / f"backup-{journal.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"
    with dbm.locked(path):
        backup.mkdir(parents=True)
        for f in (path, Path(str(path) + ".wal")):
            if f.exists():
                shutil.move(str(f), backup / f.name)
        if archive.exists():
            shutil.move(str(archive), backup / archive.name)
    with dbm.connect(path, write=True) as con:
        writes.audit(con, actor, AuditAction.START_FRESH, f"原数据库与归档已移至 {backup.name}，从空白数据库开始")
    return backup

