"""The one module that writes to DuckDB: submissions, registry, rollback, rebuild.

Every write runs inside `db.connect(write=True)`: one transaction under the inter-process lock.
"""
from __future__ import annotations

import datetime as dt
import os
import signal
from dataclasses import dataclass

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
    saved = save_many(con, [parsed], actor=actor, uploaded_at=uploaded_at)[0]
    return saved.status, saved.submission_id


@dataclass
class Saved:
    """What `save_many` did with one workbook: its status, its submission (the current one when unchanged)
    and that submission's version; ids = (load_id, submission_id) when it was written."""

    status: str
    submission_id: int
    version: int
    ids: tuple[int, int] | None = None


def save_many(con: duckdb.DuckDBPyConnection, batch: list[ParsedWorkbook], *, actor: str,
              uploaded_at: dt.datetime | None = None, ids: dict[int, tuple[int, int]] | None = None) -> list[Saved]:
    """Write valid parsed workbooks, in order, inside the caller's transaction: the same rows as `save_parsed`
    one workbook after another, in a few statements for the whole batch. A later workbook of the same
    branch-quarter supersedes an earlier one of the batch; one identical to the current version is unchanged.

    uploaded_at: the time stamped on them (default now). ids: batch position -> (load_id, submission_id) to use instead of new
    numbers from the sequences; the numbers drawn here are added to it before anything is inserted, so a batch
    that failed and is retried one workbook at a time keeps them (DuckDB does not give back what a rolled-back
    transaction drew, and rebuild, replaying one file after another, draws them without gaps).
    """
    ids = {} if ids is None else ids
    at = uploaded_at or _now()
    if not batch:
        return []
    for parsed in batch:
        if not parsed.valid or parsed.info is None:
            raise ValueError(f"{parsed.file_name}: a workbook with errors cannot be saved")
    keys = sorted({(p.info.branch_code, p.info.period) for p in batch})
    args = {"codes": [k[0] for k in keys], "periods": [k[1] for k in keys]}
    # per branch-quarter: the current version (stored: its submission_id; or a workbook of this batch: its
    # position), its sha256 and version, and the highest version so far
    state: dict[tuple[str, str], dict] = {
        (b, p): {"sub": None, "pos": None, "sha": None, "version": None, "top": top} for b, p, top in con.execute(
            "SELECT branch_code, period, max(version) FROM submissions WHERE (branch_code, period) IN "
            "(SELECT unnest($codes), unnest($periods)) GROUP BY ALL", args).fetchall()}
    for b, p, sub_id, sha, version in con.execute(
            "SELECT branch_code, period, submission_id, sha256, version FROM submissions WHERE status = 'current' "
            "AND (branch_code, period) IN (SELECT unnest($codes), unnest($periods))", args).fetchall():
        state[(b, p)].update(sub=sub_id, sha=sha, version=version)
    decided: list[tuple[str, int, dict]] = []  # (status, version, the state before this workbook)
    for k, parsed in enumerate(batch):
        cur = state.setdefault((parsed.info.branch_code, parsed.info.period),
                               {"sub": None, "pos": None, "sha": None, "version": None, "top": 0})
        if (cur["sub"] is not None or cur["pos"] is not None) and cur["sha"] == parsed.sha256:
            decided.append(("unchanged", cur["version"], dict(cur)))
            continue
        replaced = cur["sub"] is not None or cur["pos"] is not None
        decided.append(("replaced" if replaced else "accepted", cur["top"] + 1, dict(cur)))
        cur.update(sub=None, pos=k, sha=parsed.sha256, version=cur["top"] + 1, top=cur["top"] + 1)
    written = [k for k, d in enumerate(decided) if d[0] != "unchanged"]
    new = [k for k in written if k not in ids]
    ids.update(zip(new, _ids(con, len(new))))
    drawn = {k: ids[k] for k in written}
    out, superseded_old, superseded_new = [], [], set()
    for k, (status, version, before) in enumerate(decided):
        if status == "unchanged":
            out.append(Saved(status, before["sub"] if before["pos"] is None else drawn[before["pos"]][1], version))
            continue
        if before["pos"] is not None:
            superseded_new.add(before["pos"])
        elif before["sub"] is not None:
            superseded_old.append(before["sub"])
        out.append(Saved(status, drawn[k][1], version, drawn[k]))
    if superseded_old:
        con.execute("UPDATE submissions SET status = 'superseded' WHERE submission_id IN (SELECT unnest(?))",
                    [superseded_old])
    subs = []
    for k in written:
        info, parsed = batch[k].info, batch[k]
        subs.append([drawn[k][1], drawn[k][0], info.branch_code, info.year, info.quarter, info.period, decided[k][1],
                     parsed.file_name, parsed.sha256, at, actor,
                     "superseded" if k in superseded_new else "current"])
    _insert(con, "submissions", subs)
    _save_rows(con, [(batch[k], drawn[k][1], drawn[k][0]) for k in written])
    return out


def _ids(con: duckdb.DuckDBPyConnection, n: int) -> list[tuple[int, int]]:
    """n (load_id, submission_id) pairs from the sequences, in the order one nextval after another gives them."""
    if not n:
        return []
    rows = con.execute("SELECT nextval('load_seq'), nextval('submission_seq') FROM range(?)", [n]).fetchall()
    loads, subs = sorted(r[0] for r in rows), sorted(r[1] for r in rows)
    return list(zip(loads, subs))


def _save_rows(con: duckdb.DuckDBPyConnection, written: list[tuple[ParsedWorkbook, int, int]]) -> None:
    """The workbooks' raw rows (info, ledger, counts, self-assessment, warnings), each under its submission."""
    from pipelines.guide import guide

    sheets = guide().workbook.sheets
    info_rows, ledger, counts, answers, warnings = [], [], [], [], []
    for parsed, sub_id, load_id in written:
        info, src = parsed.info, parsed.file_name
        info_rows.append([sub_id, load_id, src, info.branch_code, info.branch_name, info.college, info.branch_type,
                          info.year, info.quarter, info.members, info.secretary, info.filled_by, info.filled_on])
        ledger += [[sub_id, load_id, src, sheets.ledger, r.row, r.date, r.activity_type, r.activity_raw, r.topic,
                    r.expected, r.attended, r.hours, r.evidence] for r in parsed.ledger]
        counts += [[sub_id, load_id, src, sheets.counts, c.row, c.field, c.value] for c in parsed.counts]
        answers += [[sub_id, load_id, src, sheets.self_assessment, a.row, a.item_id, a.status, a.evidence]
                    for a in parsed.self_assessment]
        warnings += [[sub_id, p.severity, p.code, p.sheet, p.cell, p.value, p.message] for p in parsed.warnings]
    for table, rows in (("raw_info", info_rows), ("raw_ledger", ledger), ("raw_counts", counts),
                        ("raw_self_assessment", answers), ("raw_problems", warnings)):
        _insert(con, table, rows)


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[list], *, replace: bool = False) -> None:
    """Insert many rows with one statement: each column passed as one typed list and unnested.

    DuckDB's executemany runs one statement per row, and a multi-row VALUES statement binds every value on its
    own (about 25 times slower than this for a batch of workbooks). `table` is always one of our own table
    names, never user input.
    """
    if not rows:
        return
    types = _column_types(con, table)
    columns = [list(c) for c in zip(*rows)]
    verb = "INSERT OR REPLACE INTO" if replace else "INSERT INTO"
    select = ", ".join(f"unnest(${i + 1}::{t}[])" for i, t in enumerate(types))
    con.execute(f"{verb} {table} SELECT {select}", columns)


_TYPES: dict[str, list[str]] = {}


def _column_types(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The column types of one of our tables, in order (the schema is `db.SCHEMA`'s on every write connection)."""
    if table not in _TYPES:
        _TYPES[table] = [r[1] for r in con.execute(f"DESCRIBE {table}").fetchall()]
    return _TYPES[table]


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


def audit_many(con: duckdb.DuckDBPyConnection, rows: list[tuple[dt.datetime, str, str, str]]) -> None:
    """Append audit_log rows (at, actor, action, detail) inside the caller's transaction (a batch's)."""
    _insert(con, "audit_log", [list(r) for r in rows])


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
    journal_many(con, [(txn, action, at or _now())])


def journal_many(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, dt.datetime]]) -> None:
    """Record the manifest txn ids (txn, action, at) of the writes one transaction holds."""
    _insert(con, "journal", [list(r) for r in rows])
