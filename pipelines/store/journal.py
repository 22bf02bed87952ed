"""The journaled write: one transaction under the lock, committed together with its manifest lines.

Every write of the store goes through `write` (one transaction) or `commit` (one of several transactions on
one connection, as ingest's slices do). The archive folder, its records and crash recovery live in
`pipelines/store/archive.py`.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import duckdb

from pipelines.store import archive as arc
from pipelines.store import db as dbm, writes

MANIFEST_NAME = arc.MANIFEST_NAME
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def archive_dir(path: Path) -> Path:
    """This database's archive (`<db>.archive/`); call before taking the lock (it may adopt a legacy one)."""
    return arc.folder(path)


def archived_file(sha256: str, db: str | Path | None = None) -> bytes:
    """The archived original with this SHA-256 (raises FileNotFoundError with a Chinese message)."""
    sha256 = (sha256 or "").strip().lower()
    if not _SHA_RE.match(sha256):  # also keeps the name from ever escaping the archive folder
        raise ValueError(f"无效的文件哈希：{sha256!r}")
    target = arc.original_path(archive_dir(dbm.db_path(db)), sha256)
    try:
        return target.read_bytes()
    except FileNotFoundError as e:
        raise FileNotFoundError(f"归档中找不到该文件（{sha256[:12]}…），可能已被删除。") from e


def read_manifest(db: str | Path | None = None) -> list[dict]:
    """The archive's committed actions in order (without intents never committed and voided writes)."""
    return arc.effective(arc.read_manifest_file(archive_dir(dbm.db_path(db))))


def now() -> dt.datetime:
    """The time stamped on a write (whole seconds)."""
    return dt.datetime.now().replace(microsecond=0)


def entry(action: str, *, actor: str, at: dt.datetime, detail: str, sha256: str = "", file_name: str = "",
          branch: str | None = None, period: str | None = None, **extra) -> dict:
    """A manifest entry with a fresh txn id."""
    return {"txn": uuid.uuid4().hex, "action": action, "sha256": sha256, "file_name": file_name,
            "at": at.isoformat(), "actor": actor, "branch": branch, "period": period, "detail": detail, **extra}


class NoChange(Exception):
    """Raised inside a write transaction to roll it back without bumping the data version."""

    def __init__(self, value=None):
        super().__init__("no change")
        self.value = value


def commit(con: duckdb.DuckDBPyConnection, archive: Path, entry: dict | list[dict], *, settle: bool = True) -> None:
    """Commit the open transaction with its manifest lines, then open the next transaction.

    `entry` is the write's manifest entry, or the entries of the several writes one transaction holds (a batch
    of ingested files: each keeps its own entry and txn, so rebuild replays them one by one as before).
    Called under the lock. An intent a killed writer left unsettled first gets its commit or void line (this
    connection sees whether its txn reached the journal). Then the entries' txns go into the journal inside
    the transaction, their intent lines into the manifest before COMMIT (one append) and one commit line after
    (a void line when COMMIT fails): a kill anywhere leaves at most one write's intents unsettled, never a
    wrong line.
    settle=False skips the first step for the second and later commits of one connection (ingest's slices):
    the lock was held since the first, and this writer settles its own lines, so nothing can be unsettled.
    """
    entries = [entry] if isinstance(entry, dict) else list(entry)
    txns = [e["txn"] for e in entries]
    if settle:
        arc.settle(archive, lambda txn: arc.in_journal(con, txn))
    writes.journal_many(con, [(e["txn"], e["action"], dt.datetime.fromisoformat(e["at"])) for e in entries])
    writes.crash_point("before_intent")
    arc.append(archive, arc.intents(entries))
    writes.crash_point("after_intent")
    try:
        writes.crash_point("before_commit")
        con.execute("COMMIT")
    except BaseException:
        arc.append(archive, arc.end_record(txns, "void"))
        raise
    writes.crash_point("after_commit")
    arc.append(archive, arc.end_record(txns, "commit"))
    writes.crash_point("after_commit_record")
    con.execute("BEGIN TRANSACTION")  # db.connect commits this (empty) one on exit


def write(path: Path, body: Callable[[duckdb.DuckDBPyConnection], tuple[object, dict | None]]):
    """Run body(con) -> (result, manifest entry) in one write transaction and commit it with its manifest
    line. body raises NoChange(result) to write nothing (rolled back, data version unchanged)."""
    archive = archive_dir(path)
    try:
        with dbm.connect(path, write=True) as con:
            result, entry_ = body(con)
            commit(con, archive, entry_)
        return result
    except NoChange as nc:
        return nc.value
