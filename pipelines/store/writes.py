"""The one module that writes to DuckDB: submissions, registry, rollback, rebuild.

Every write runs inside `db.connect(write=True)`: one transaction under the inter-process lock.
"""
from __future__ import annotations

import datetime as dt
import os
import signal


import duckdb

from pipelines.workbook.model import ParsedWorkbook, RegistryEntry
from pipelines.guide.period import Period


CRASH_ENV = "DJ_CRASH_AT"
"""Names a point of the write path (e.g. after_intent) at which the process kills itself with SIGKILL: how the
crash tests check that the manifest and the database agree after a kill anywhere. Unset in normal runs."""


def crash_point(name: str) -> None:
    """Die here, as abruptly as a power cut can, when DJ_CRASH_AT names this point."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def save_parsed(con: duckdb.DuckDBPyConnection, parsed: ParsedWorkbook, *, actor: str,
                uploaded_at: dt.datetime | None = None) -> tuple[str, int]:
    """Write one valid parsed workbook inside the caller's transaction.

    Returns (status, submission_id): status is "accepted" (first version of the branch-quarter),
    "replaced" (a new version superseding the current one) or "unchanged" (same SHA-256 as the current
    version; nothing written).
    """
    if not parsed.valid or parsed.info is None:
        raise ValueError(f"{parsed.file_name}: a workbook with errors cannot be saved")
    info = parsed.info
    current = con.execute(
        "SELECT submission_id, sha256 FROM submissions WHERE branch_code = ? AND period = ? AND status = 'current'",
        [info.branch_code, info.period],
    ).fetchone()
    if current and current[1] == parsed.sha256:
        return "unchanged", current[0]
    version = con.execute(
        "SELECT coalesce(max(version), 0) + 1 FROM submissions WHERE branch_code = ? AND period = ?",
        [info.branch_code, info.period],
    ).fetchone()[0]
    if current:
        con.execute("UPDATE submissions SET status = 'superseded' WHERE submission_id = ?", [current[0]])
    at = uploaded_at or _now()
    load_id = con.execute("SELECT nextval('load_seq')").fetchone()[0]
    sub_id = con.execute("SELECT nextval('submission_seq')").fetchone()[0]
    con.execute(
        "INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'current')",
        [sub_id, load_id, info.branch_code, info.year, info.quarter, info.period, version,
         parsed.file_name, parsed.sha256, at, actor],
    )
    _save_rows(con, parsed, sub_id, load_id)
    return ("replaced" if current else "accepted"), sub_id


def _save_rows(con: duckdb.DuckDBPyConnection, parsed: ParsedWorkbook, sub_id: int, load_id: int) -> None:
    """The workbook's raw rows (info, ledger, counts, self-assessment, warnings) under one submission."""
    info = parsed.info
    src = parsed.file_name
    con.execute(
        "INSERT INTO raw_info VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [sub_id, load_id, src, info.branch_code, info.branch_name, info.college, info.branch_type, info.year,
         info.quarter, info.members, info.secretary, info.filled_by, info.filled_on],
    )
    from pipelines.guide import guide

    sheets = guide().workbook.sheets
    if parsed.ledger:
        _insert(
            con, "raw_ledger",
            [[sub_id, load_id, src, sheets.ledger, r.row, r.date, r.activity_type, r.activity_raw, r.topic,
              r.expected, r.attended, r.hours, r.evidence] for r in parsed.ledger],
        )
    if parsed.counts:
        _insert(
            con, "raw_counts",
            [[sub_id, load_id, src, sheets.counts, c.row, c.field, c.value] for c in parsed.counts],
        )
    if parsed.self_assessment:
        _insert(
            con, "raw_self_assessment",
            [[sub_id, load_id, src, sheets.self_assessment, a.row, a.item_id, a.status, a.evidence]
             for a in parsed.self_assessment],
        )
    if parsed.warnings:
        _insert(
            con, "raw_problems",
            [[sub_id, p.severity, p.code, p.sheet, p.cell, p.value, p.message] for p in parsed.warnings],
        )


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[list], *, replace: bool = False) -> None:
    """Insert many rows with one parameterised multi-row VALUES statement per 500 rows.

    DuckDB's executemany runs one statement per row (about 50 times slower for a 30-row ledger).
    `table` is always one of our own table names, never user input.
    """
    verb = "INSERT OR REPLACE INTO" if replace else "INSERT INTO"
    for start in range(0, len(rows), 500):
        chunk = rows[start:start + 500]
        one = "(" + ", ".join(["?"] * len(chunk[0])) + ")"
        con.execute(f"{verb} {table} VALUES {', '.join([one] * len(chunk))}", [v for r in chunk for v in r])


def save_registry(con: duckdb.DuckDBPyConnection, entries: list[RegistryEntry], *,
                  at: dt.datetime | None = None) -> int:
    """Insert or update registry rows inside the caller's transaction; returns how many were written.

    `at` (default now) is the update time; rebuild passes the original one.
    """
    at = at or _now()
    _insert(
        con, "registry",
        [[e.branch_code, e.branch_name, e.college, e.branch_type, e.members, at, e.secretary_name, e.phone]
         for e in entries],
        replace=True,
    )
    return len(entries)


def audit(con: duckdb.DuckDBPyConnection, actor: str, action: str, detail: str = "", *,
          at: dt.datetime | None = None) -> None:
    """Append one audit_log row (who, when, what) inside the caller's transaction; rebuild passes `at`."""
    con.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?)", [at or _now(), actor, action, detail])


def clear_registry(con: duckdb.DuckDBPyConnection) -> None:
    """Remove every registry row inside the caller's transaction (a registry workbook lists all branches)."""
    con.execute("DELETE FROM registry")


def set_status(con: duckdb.DuckDBPyConnection, submission_id: int, status: str) -> None:
    """Change one submission's status (current | superseded | rolled_back | withdrawn)."""
    con.execute("UPDATE submissions SET status = ? WHERE submission_id = ?", [status, submission_id])


def deadline_args(period: str, due_date: dt.date | str | None) -> tuple[str, dt.date | None]:
    """A deadline's quarter and date as stored; ValueError with a Chinese message for either that is none."""
    try:
        period = str(Period.parse(period))
    except ValueError:
        raise ValueError(f"季度格式不正确：{period}（应为如 2026Q3）") from None
    if isinstance(due_date, str):
        try:
            due_date = dt.date.fromisoformat(due_date.strip())
        except ValueError:
            raise ValueError(f"截止日期格式不正确：{due_date}（应为如 2026-04-10）") from None
    if isinstance(due_date, dt.datetime):
        due_date = due_date.date()
    return period, due_date


def save_deadline(con: duckdb.DuckDBPyConnection, period: str, due_date: dt.date | None, *, actor: str,
                  at: dt.datetime) -> str:
    """Set (or with None, clear) a quarter's submission deadline inside the open transaction; returns the
    audit detail. The journaled write around it is pipelines.store.versions.set_deadline."""
    if due_date is None:
        con.execute("DELETE FROM deadlines WHERE period = ?", [period])
        return f"{period} 报送截止日期已清除"
    con.execute("INSERT OR REPLACE INTO deadlines VALUES (?, ?, ?, ?)", [period, due_date, actor, at])
    return f"{period} 报送截止日期设为 {due_date.isoformat()}"


FOLLOWUP_COLUMNS = ("id", "branch_code", "college", "period", "rule_id", "item_id", "note", "due_date",
                    "opened_by", "opened_at")


def save_followup(con: duckdb.DuckDBPyConnection, task: dict) -> None:
    """Insert one follow-up task (FOLLOWUP_COLUMNS) inside the open transaction; the journaled write around it
    is pipelines.store.followup.open_followup."""
    cols = ", ".join(FOLLOWUP_COLUMNS)
    con.execute(f"INSERT INTO followups ({cols}) VALUES ({', '.join('?' * len(FOLLOWUP_COLUMNS))})",
                [task[c] for c in FOLLOWUP_COLUMNS])


def close_followup(con: duckdb.DuckDBPyConnection, task_id: int, *, actor: str, at: dt.datetime,
                   comment: str) -> None:
    """Close one follow-up task with the admin's comment inside the open transaction."""
    con.execute("UPDATE followups SET closed_by = ?, closed_at = ?, close_comment = ? WHERE id = ?",
                [actor, at, comment, task_id])


def journal(con: duckdb.DuckDBPyConnection, txn: str, action: str, *, at: dt.datetime | None = None) -> None:
    """Record a write's manifest txn id inside its transaction (the database's side of the manifest)."""
    con.execute("INSERT INTO journal VALUES (?, ?, ?)", [txn, action, at or _now()])
