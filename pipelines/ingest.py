"""Files → preview / ingest / archive / registry / rebuild / rollback / withdraw, and their CLI commands.

The one place that decides what a batch of workbooks does to the database:

* Reading and validation (slow) happen outside the database lock; each valid file is then written in its
  own short transaction (`db.connect(write=True)` + `store.save_parsed`), so a rejected file changes
  nothing and readers (the dashboard) get the lock between files.
* Every accepted original is archived by SHA-256 in this database's own archive
  (`<db>.archive/ab/abcdef….xlsx`, see `pipelines/archive.py`) before the commit, so the database never
  points to a missing file. An orphan archive file after a rollback is harmless.
* Every write appends an intent line to `<db>.archive/manifest.jsonl` (action, sha256, file name, time, actor,
  branch, period, audit detail) just before its COMMIT and a commit line just after, while the lock is held.
  The manifest outlives the database: `rebuild` replays its committed writes into a fresh file and swaps it
  in atomically.
"""
from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from filelock import FileLock

from pipelines import archive as arc
from pipelines import db as dbm
from pipelines import store
from pipelines.model import HasProblems, ParsedWorkbook, Problem, RegistryEntry

Source = Path | str | tuple[str, bytes]
Progress = Callable[[int, int, str], None]

STATUS_NAMES = {"accepted": "新增", "replaced": "替换", "unchanged": "未变化", "rejected": "退回"}
"""Chinese labels of FileResult.status."""
SUBMISSION_STATUS_NAMES = {"current": "当前版本", "superseded": "已被替换", "rolled_back": "已回退",
                           "withdrawn": "已撤回"}
"""Chinese labels of submissions.status."""
MANIFEST_NAME = arc.MANIFEST_NAME
FOLDER_SUFFIXES = (".xlsx", ".xls")
"""Files picked up when a folder is ingested (case-insensitive); .xls is read only to be refused clearly."""
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class FileResult(HasProblems):
    """What ingest did (or, from preview, would do) with one file."""

    file_name: str
    sha256: str
    status: str  # accepted | replaced | unchanged | rejected
    branch_code: str | None = None
    period: str | None = None
    problems: list[Problem] = field(default_factory=list)
    submission_id: int | None = None
    version: int | None = None  # version of the branch-quarter after ingest (None from preview/rejected)

    @property
    def ok(self) -> bool:
        return self.status != "rejected"


    def as_dict(self) -> dict:
        """Plain JSON-ready dict (the per-file shape of `ingest --json`)."""
        return {
            "file_name": self.file_name,
            "sha256": self.sha256,
            "status": self.status,
            "branch_code": self.branch_code,
            "period": self.period,
            "version": self.version,
            "submission_id": self.submission_id,
            "problems": [
                {k: p.as_dict()[k] for k in ("severity", "code", "sheet", "cell", "value", "message")}
                for p in self.problems
            ],
        }


class RebuildIncomplete(Exception):
    """Some archived files could not be replayed; the existing database was left in place."""

    def __init__(self, message: str, results: list[FileResult]):
        super().__init__(message)
        self.results = results


def problem_rows(results: Iterable[FileResult]) -> list[dict]:
    """Every problem of a batch as flat rows (file, status, severity, code, sheet, cell, value, message)."""
    return [
        {"file": r.file_name, "status": r.status, "severity": p.severity, "code": p.code, "sheet": p.sheet,
         "cell": p.cell, "value": p.value, "message": p.message}
        for r in results for p in r.problems
    ]


# ---- sources ------------------------------------------------------------------------------------

@dataclass
class _Item:
    file_name: str
    path: Path | None = None
    data: bytes | None = None
    missing: bool = False


def _collect(files: Iterable[Source] | Source) -> list[_Item]:
    """Expand paths (folders recurse for *.xlsx) and (name, bytes) pairs into one ordered list."""
    if isinstance(files, (str, Path)) or (isinstance(files, tuple) and len(files) == 2
                                          and isinstance(files[1], (bytes, bytearray))):
        files = [files]
    items: list[_Item] = []
    for f in files:
        if isinstance(f, tuple):
            items.append(_Item(file_name=str(f[0]), data=bytes(f[1])))
            continue
        p = Path(f)
        if p.is_dir():
            # Excel leaves "~$name.xlsx" owner files beside a workbook that is open; they are not workbooks.
            # Old .xls files are picked up too, so the secretary hears why they were refused instead of
            # the file silently missing from the batch.
            found = sorted(x for x in p.rglob("*") if x.suffix.lower() in FOLDER_SUFFIXES and x.is_file()
                           and not x.name.startswith(("~$", ".")))
            items.extend(_Item(file_name=x.name, path=x) for x in found)
        else:
            items.append(_Item(file_name=p.name, path=p, missing=not p.exists()))
    return items


def _problem(file_name: str, code: str, message: str, *, severity: str = "warning", value: str = "") -> Problem:
    return Problem(file=file_name, sheet="", cell="", value=value, severity=severity, code=code, message=message)


def _unreadable(item: _Item, detail: str) -> ParsedWorkbook:
    try:
        from pipelines import problems

        p = problems.make("file_unreadable", file=item.file_name, detail=detail)
    except Exception:  # the catalogue lacks the code: still report it, in the same shape
        p = _problem(item.file_name, "file_unreadable", f"无法读取文件：{detail}。请确认文件存在且未被其他程序占用，然后重新上传。",
                     severity="error")
    return ParsedWorkbook(file_name=item.file_name, sha256="", problems=[p])


def _read(item: _Item, registry: dict[str, RegistryEntry] | None) -> tuple[ParsedWorkbook, bytes | None]:
    """Read and validate one file; returns the parsed workbook and the exact bytes that were read."""
    from pipelines import safe_read
    from pipelines.guide import guide

    if item.missing:
        return _unreadable(item, "文件不存在"), None
    data = item.data
    source: Path | bytes
    if data is None:
        try:
            size = item.path.stat().st_size
            # Oversized files go to the reader by path so it can reject them without us loading them.
            if size > guide().limits.max_file_mb * 1024 * 1024:
                source = item.path
            else:
                data = item.path.read_bytes()
                source = data
        except OSError as e:
            return _unreadable(item, e.strerror or str(e)), None
    else:
        source = data
    try:
        parsed = safe_read.read_workbook(source, item.file_name, registry=registry)
    except Exception as e:  # a reader bug must reject one file, not abort a batch of 300
        parsed = _unreadable(item, f"{type(e).__name__}: {e}")
    if data is not None and not parsed.sha256:
        parsed.sha256 = _sha(data)
    return parsed, data


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- archive and manifest (the folder, its records and crash recovery live in pipelines/archive.py) -----

def _archive_dir(path: Path) -> Path:
    """This database's archive (`<db>.archive/`); call before taking the lock (it may adopt a legacy one)."""
    return arc.folder(path)


def _archive(archive: Path, data: bytes, sha256: str) -> Path:
    return arc.store_original(archive, data, sha256)


def archived_file(sha256: str, db: str | Path | None = None) -> bytes:
    """The archived original with this SHA-256 (raises FileNotFoundError with a Chinese message)."""
    sha256 = (sha256 or "").strip().lower()
    if not _SHA_RE.match(sha256):  # also keeps the name from ever escaping the archive folder
        raise ValueError(f"无效的文件哈希：{sha256!r}")
    target = arc.original_path(_archive_dir(dbm.db_path(db)), sha256)
    try:
        return target.read_bytes()
    except FileNotFoundError as e:
        raise FileNotFoundError(f"归档中找不到该文件（{sha256[:12]}…），可能已被删除。") from e


def read_manifest(db: str | Path | None = None) -> list[dict]:
    """The archive's committed actions in order (without intents never committed and voided writes)."""
    return arc.effective(arc.read_manifest_file(_archive_dir(dbm.db_path(db))))


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def _entry(action: str, *, actor: str, at: dt.datetime, detail: str, sha256: str = "", file_name: str = "",
           branch: str | None = None, period: str | None = None, **extra) -> dict:
    return {"txn": uuid.uuid4().hex, "action": action, "sha256": sha256, "file_name": file_name,
            "at": at.isoformat(), "actor": actor, "branch": branch, "period": period, "detail": detail, **extra}


class _NoChange(Exception):
    """Raised inside a write transaction to roll it back without bumping the data version."""

    def __init__(self, value=None):
        super().__init__("no change")
        self.value = value


def _commit(con: duckdb.DuckDBPyConnection, archive: Path, entry: dict) -> None:
    """Commit the open transaction with its manifest lines, then open the next transaction.

    Called under the lock. An intent a killed writer left unsettled first gets its commit or void line (this
    connection sees whether its txn reached the journal). Then the entry's txn goes into the journal inside
    the transaction, its intent line into the manifest before COMMIT and its commit line after (a void line
    when COMMIT fails): a kill anywhere leaves at most one unsettled intent, never a wrong line.
    """
    arc.settle(archive, lambda txn: arc.in_journal(con, txn))
    store.journal(con, entry["txn"], entry["action"], at=dt.datetime.fromisoformat(entry["at"]))
    store.crash_point("before_intent")
    arc.append(archive, arc.intent(entry))
    store.crash_point("after_intent")
    try:
        store.crash_point("before_commit")
        con.execute("COMMIT")
    except BaseException:
        arc.append(archive, arc.end_record(entry["txn"], "void"))
        raise
    store.crash_point("after_commit")
    arc.append(archive, arc.end_record(entry["txn"], "commit"))
    store.crash_point("after_commit_record")
    con.execute("BEGIN TRANSACTION")  # db.connect commits this (empty) one on exit


def _write(path: Path, body: Callable[[duckdb.DuckDBPyConnection], tuple[object, dict | None]]):
    """Run body(con) -> (result, manifest entry) in one write transaction and commit it with its manifest
    line. body raises _NoChange(result) to write nothing (rolled back, data version unchanged)."""
    archive = _archive_dir(path)
    try:
        with dbm.connect(path, write=True) as con:
            result, entry = body(con)
            _commit(con, archive, entry)
        return result
    except _NoChange as nc:
        return nc.value


# ---- preview and ingest --------------------------------------------------------------------------

def _snapshot(path: Path) -> tuple[dict[str, RegistryEntry] | None, dict[tuple[str, str], str]]:
    """The registry (None when empty) and the current SHA-256 of each branch-quarter, in one short read."""
    with dbm.connect(path) as con:
        reg = con.execute(
            "SELECT branch_code, branch_name, college, branch_type, members FROM registry").fetchall()
        cur = con.execute(
            "SELECT branch_code, period, sha256 FROM submissions WHERE status = 'current'").fetchall()
    registry = {r[0]: RegistryEntry(*r) for r in reg} or None
    return registry, {(b, p): s for b, p, s in cur}


def _load_registry_map(con: duckdb.DuckDBPyConnection) -> dict[str, RegistryEntry] | None:
    rows = con.execute("SELECT branch_code, branch_name, college, branch_type, members FROM registry").fetchall()
    return {r[0]: RegistryEntry(*r) for r in rows} or None


def registry_entries(db: str | Path | None = None) -> list[RegistryEntry]:
    """The branch registry stored in the database, by branch code ([] when none was loaded)."""
    with dbm.connect(dbm.db_path(db)) as con:
        return sorted((_load_registry_map(con) or {}).values(), key=lambda e: e.branch_code)


class _Batch:
    """Notes about files of one batch that meet each other (same bytes twice, same branch-quarter twice)."""

    def __init__(self) -> None:
        self.by_sha: dict[str, FileResult] = {}
        self.by_key: dict[tuple[str, str], FileResult] = {}

    def note(self, result: FileResult, key: tuple[str, str]) -> None:
        same = self.by_sha.get(result.sha256)
        if result.status == "unchanged" and same is not None:
            result.problems.append(_problem(
                result.file_name, "batch_duplicate",
                f"与本批次中的文件「{same.file_name}」内容完全相同，已跳过（不会重复导入）。"))
        elif result.status == "replaced" and key in self.by_key:
            earlier = self.by_key[key]
            twin = f"（内容与本批次中的「{same.file_name}」完全相同）" if same is not None else ""
            result.problems.append(_problem(
                result.file_name, "batch_replaces",
                f"本批次中「{earlier.file_name}」也是 {key[0]} {key[1]} 的报送；本文件在后{twin}，将作为新版本替换它。"
                "如不是有意为之，请检查两份文件的支部编码和季度。"))
            earlier.problems.append(_problem(
                earlier.file_name, "batch_replaced_later",
                f"本批次中后面的「{result.file_name}」也是 {key[0]} {key[1]} 的报送，将替换本文件成为当前版本。"))
        self.by_sha.setdefault(result.sha256, result)
        if result.status in ("accepted", "replaced"):
            self.by_key[key] = result


def _rejected(parsed: ParsedWorkbook) -> FileResult:
    info = parsed.info
    return FileResult(parsed.file_name, parsed.sha256, "rejected", info.branch_code if info else None,
                      info.period if info else None, list(parsed.problems))


def preview(files: Iterable[Source] | Source, db: str | Path | None = None, *,
            progress: Progress | None = None) -> list[FileResult]:
    """What `ingest` would do with these files, file by file; reads and validates everything, writes nothing.

    accepted = a new branch-quarter, replaced = a new version of an existing one, unchanged = the same
    SHA-256 as the current version (or as an earlier file of this batch), rejected = has errors.
    """
    path = dbm.db_path(db)
    items = _collect(files)
    registry, current = _snapshot(path)
    batch, results = _Batch(), []
    for i, item in enumerate(items):
        parsed, _ = _read(item, registry)
        if not parsed.valid or parsed.info is None:
            results.append(_rejected(parsed))
        else:
            key = (parsed.info.branch_code, parsed.info.period)
            if current.get(key) == parsed.sha256:
                status = "unchanged"
            else:
                status = "replaced" if key in current else "accepted"
                current[key] = parsed.sha256
            res = FileResult(parsed.file_name, parsed.sha256, status, key[0], key[1], list(parsed.problems))
            batch.note(res, key)
            results.append(res)
        if progress:
            progress(i + 1, len(items), item.file_name)
    return results


CHUNK_FILES = 25
CHUNK_BYTES = 40 * 1024 * 1024
"""At most this many files (or bytes) are read ahead and then written under one connection: each file
still commits on its own, but opening DuckDB (~0.1 s) is paid once per chunk, and readers get the lock
back between chunks."""


def ingest(files: Iterable[Source] | Source, db: str | Path | None = None, *, actor: str = "cli",
           progress: Progress | None = None) -> list[FileResult]:
    """Validate and write files, each in its own transaction; returns one FileResult per file, in order.

    files: paths (files, or folders searched recursively for *.xlsx) or (file_name, bytes) pairs.
    A rejected file changes nothing. If the database stays busy beyond the lock timeout, DatabaseBusy is
    raised with `.results` holding the files finished so far (re-running the batch is safe: files already
    written come back "unchanged").
    """
    path = dbm.db_path(db)
    archive = _archive_dir(path)
    items = _collect(files)
    registry, _ = _snapshot(path)
    batch = _Batch()
    results: list[FileResult | None] = [None] * len(items)
    done = 0

    def finish(i: int, res: FileResult) -> None:
        nonlocal done
        results[i] = res
        if res.status != "rejected":
            batch.note(res, (res.branch_code, res.period))
        done += 1
        if progress:
            progress(done, len(items), items[i].file_name)

    i = 0
    while i < len(items):
        chunk: list[tuple[int, ParsedWorkbook]] = []
        size = 0
        # Read and validate ahead, outside the lock: parsing is the slow part.
        while i < len(items) and len(chunk) < CHUNK_FILES and size < CHUNK_BYTES:
            parsed, data = _read(items[i], registry)
            if parsed.valid and data is None and items[i].path is not None:
                data = items[i].path.read_bytes()  # only when the reader accepted a file we chose not to preload
            if parsed.valid and data is not None and _sha(data) != parsed.sha256:
                parsed.problems.append(_problem(parsed.file_name, "file_changed",
                                                "文件在读取过程中被修改，未导入。请关闭正在编辑它的程序后重新上传。",
                                                severity="error"))
            if not parsed.valid or parsed.info is None or data is None:
                finish(i, _rejected(parsed))
            else:
                # Archived before the commit, so the database never points to a missing file.
                _archive(archive, data, parsed.sha256)
                chunk.append((i, parsed))
                size += len(data)
            i += 1
        if chunk:
            try:
                _write_chunk(path, archive, chunk, actor, finish)
            except dbm.DatabaseBusy as e:
                e.results = [r for r in results if r is not None]
                _bump_if_written(path, e.results)
                raise
    done_results = [r for r in results if r is not None]
    _bump_if_written(path, done_results)
    return done_results


def _bump_if_written(path: Path, results: list[FileResult]) -> None:
    """One data-version bump for the whole batch: pages keep their cached results while it writes."""
    if any(r.status in ("accepted", "replaced") for r in results):
        dbm.bump_version(path)


WRITE_SLICE_S = 0.3
"""A writer gives the lock back after writing this long (finishing the file in hand) ..."""
READER_GAP_S = 0.1
"""... and waits this long before taking it again, so pages waiting to read get in between slices (a
waiting reader retries the lock at least every 0.1 s)."""


def _write_chunk(path: Path, archive: Path, chunk: list[tuple[int, ParsedWorkbook]], actor: str,
                 finish: Callable[[int, FileResult], None]) -> None:
    """Write valid workbooks in slices of at most WRITE_SLICE_S under one connection each, one
    transaction (and manifest line) per file."""
    todo = list(chunk)
    while todo:
        todo = _write_slice(path, archive, todo, actor, finish)
        if todo:
            time.sleep(READER_GAP_S)


def _write_slice(path: Path, archive: Path, todo: list[tuple[int, ParsedWorkbook]], actor: str,
                 finish: Callable[[int, FileResult], None]) -> list[tuple[int, ParsedWorkbook]]:
    """Write files of `todo` under one connection until WRITE_SLICE_S has passed; returns the rest."""
    written = 0
    try:
        with dbm.connect(path, write=True, changes_data=False) as con:  # ingest bumps the version once
            start = time.monotonic()
            while todo and time.monotonic() - start < WRITE_SLICE_S:  # at least one file
                i, parsed = todo.pop(0)
                try:
                    res, entry = _save(con, parsed, actor)
                    if entry is None:
                        con.execute("ROLLBACK")
                        con.execute("BEGIN TRANSACTION")
                    else:
                        _commit(con, archive, entry)
                        written += 1
                except Exception as e:  # e.g. disk full: this file is rolled back, the others go on
                    try:
                        con.execute("ROLLBACK")
                    except duckdb.Error:
                        pass  # a failed COMMIT has already ended the transaction
                    con.execute("BEGIN TRANSACTION")
                    res = _rejected(parsed)
                    res.problems.append(_problem(
                        parsed.file_name, "write_failed",
                        f"写入数据库失败（{type(e).__name__}: {e}），本文件未导入，请重试或联系管理员。", severity="error"))
                finish(i, res)
            if not written:
                raise _NoChange()  # nothing written: roll back the empty transaction
    except _NoChange:
        pass
    return todo


def _save(con: duckdb.DuckDBPyConnection, parsed: ParsedWorkbook, actor: str) -> tuple[FileResult, dict | None]:
    """save_parsed plus its audit row, inside the open transaction; the manifest entry is None when unchanged."""
    info = parsed.info
    at = _now()
    status, sub_id = store.save_parsed(con, parsed, actor=actor, uploaded_at=at)
    version = con.execute("SELECT version FROM submissions WHERE submission_id = ?", [sub_id]).fetchone()[0]
    res = FileResult(parsed.file_name, parsed.sha256, status, info.branch_code, info.period, list(parsed.problems),
                     sub_id, version)
    if status == "unchanged":
        return res, None
    detail = f"{parsed.file_name}：{info.branch_code} {info.period} 第 {version} 版（{STATUS_NAMES[status]}）"
    store.audit(con, actor, "ingest", detail, at=at)
    return res, _entry("ingest", actor=actor, at=at, detail=detail, sha256=parsed.sha256, file_name=parsed.file_name,
                       branch=info.branch_code, period=info.period, version=version, status=status)


# ---- registry -------------------------------------------------------------------------------------

def _source_bytes(source: Source | bytes) -> tuple[str, bytes]:
    if isinstance(source, tuple):
        return str(source[0]), bytes(source[1])
    if isinstance(source, (bytes, bytearray)):
        return "支部名册.xlsx", bytes(source)
    p = Path(source)
    return p.name, p.read_bytes()


def load_registry(source: Source | bytes, db: str | Path | None = None, *,
                  actor: str = "cli") -> tuple[int, list[Problem]]:
    """Replace the branch registry with the branches of a registry workbook.

    Returns (branches written, problems). With any error nothing is written and the count is 0. The
    workbook lists all branches, so branches missing from it leave the registry. Archived for rebuild.
    """
    from pipelines import safe_read

    path = dbm.db_path(db)
    try:
        name, data = _source_bytes(source)
    except OSError as e:
        return 0, [_unreadable(_Item(file_name=Path(str(source)).name), e.strerror or str(e)).problems[0]]
    entries, problems = safe_read.read_registry(data, name)
    if any(p.severity == "error" for p in problems) or not entries:
        return 0, problems
    sha = _sha(data)
    archive = _archive_dir(path)
    _archive(archive, data, sha)
    at = _now()
    detail = f"{name}：{len(entries)} 个支部"

    def body(con):
        store.clear_registry(con)
        n = store.save_registry(con, entries, at=at)
        store.audit(con, actor, "registry", detail, at=at)
        return n, _entry("registry", actor=actor, at=at, detail=detail, sha256=sha, file_name=name)

    return _write(path, body), problems


# ---- rollback and withdraw --------------------------------------------------------------------------

def _rollback_in(con, branch_code: str, period: str) -> tuple[int, int, int] | None:
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
    store.set_status(con, cur[0], "rolled_back")
    store.set_status(con, prev[0], "current")
    return cur[0], prev[0], prev[1]


def _withdraw_in(con, branch_code: str, period: str) -> tuple[int, int] | None:
    cur = con.execute(
        "SELECT submission_id, version FROM submissions WHERE branch_code = ? AND period = ? AND status = 'current'",
        [branch_code, period]).fetchone()
    if cur is None:
        return None
    store.set_status(con, cur[0], "withdrawn")
    return cur[0], cur[1]


def rollback(branch_code: str, period: str, db: str | Path | None = None, *, actor: str) -> int | None:
    """Make the previous version of a branch-quarter current again; the current one becomes rolled_back.

    Returns the submission id that is now current, or None (nothing written) when there is no current
    version or no earlier one.
    """
    path = dbm.db_path(db)
    at = _now()

    def body(con):
        done = _rollback_in(con, branch_code, period)
        if done is None:
            raise _NoChange(None)
        detail = f"{branch_code} {period}：回退到第 {done[2]} 版"
        store.audit(con, actor, "rollback", detail, at=at)
        return done[1], _entry("rollback", actor=actor, at=at, detail=detail, branch=branch_code, period=period)

    return _write(path, body)


def set_deadline(period: str, due_date: dt.date | str | None, db: str | Path | None = None, *,
                 actor: str) -> None:
    """Set (or with None, clear) the submission deadline of a quarter: one audited, journaled write, so
    `rebuild` keeps it. A submission whose first upload falls on a later day is late (pipelines/alerts.py).
    ValueError with a Chinese message for a period or date that is none, or without an actor."""
    if not str(actor or "").strip():
        raise ValueError("设置报送截止日期须由已登录的管理员操作。")
    period, due = store.deadline_args(period, due_date)
    path = dbm.db_path(db)
    at = _now()

    def body(con):
        detail = store.save_deadline(con, period, due, actor=actor, at=at)
        store.audit(con, actor, "deadline", detail, at=at)
        return None, _entry("deadline", actor=actor, at=at, detail=detail, period=period,
                            due_date=due.isoformat() if due else None)

    _write(path, body)


def withdraw(branch_code: str, period: str, db: str | Path | None = None, *, actor: str) -> int | None:
    """Withdraw the current version of a branch-quarter (it then counts as not submitted).

    Returns the withdrawn submission id, or None (nothing written) when there is no current version.
    """
    path = dbm.db_path(db)
    at = _now()

    def body(con):
        done = _withdraw_in(con, branch_code, period)
        if done is None:
            raise _NoChange(None)
        detail = f"{branch_code} {period}：撤回第 {done[1]} 版"
        store.audit(con, actor, "withdraw", detail, at=at)
        return done[0], _entry("withdraw", actor=actor, at=at, detail=detail, branch=branch_code, period=period)

    return _write(path, body)


def start_fresh(db: str | Path | None = None, *, actor: str) -> Path:
    """Set the database and its archive aside in a dated backup folder beside them, and start an empty one.

    This is how the organization department leaves the demo school for real data without a server shell.
    Nothing is deleted: the backup folder holds the old database file and archive. Returns that folder.
    """
    path = dbm.db_path(db)
    archive = _archive_dir(path)
    backup = path.parent / f"backup-{_now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"
    with dbm.locked(path):
        backup.mkdir(parents=True)
        for f in (path, Path(str(path) + ".wal")):
            if f.exists():
                shutil.move(str(f), backup / f.name)
        if archive.exists():
            shutil.move(str(archive), backup / archive.name)
    with dbm.connect(path, write=True) as con:
        store.audit(con, actor, "start_fresh", f"原数据库与归档已移至 {backup.name}，从空白数据库开始")
    return backup


# ---- rebuild ------------------------------------------------------------------------------------------

def rebuild(db: str | Path | None = None, *, actor: str = "cli") -> list[FileResult]:
    """Recreate the database from the archive: the manifest's committed writes replayed in order into a new
    file, swapped in.

    Uploaded times, actors, versions, statuses (superseded, rolled back, withdrawn), the registry and the
    audit log come back as they were. Writes that land while the replay runs are caught up under the lock
    before the swap; intents a crash left unsettled are settled against the existing database first (with no
    readable database they are not replayed). If any archived file cannot be replayed and a database exists,
    it is kept and RebuildIncomplete is raised; with no database the partial rebuild is better than none.
    """
    path = dbm.db_path(db)
    archive = _archive_dir(path)  # also removes what a killed rebuild left behind
    if not arc.manifest_path(archive).exists():
        raise FileNotFoundError(_no_manifest(path, archive))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{arc.REBUILD_MARK}{uuid.uuid4().hex[:8]}")
    alive = FileLock(str(tmp) + ".lock")  # held while we run, so no sweep takes our file for a leftover
    alive.acquire()
    try:
        results = _rebuild_into(tmp, path, archive, actor)
    finally:
        _remove_db(tmp)
        alive.release()
        Path(str(tmp) + ".lock").unlink(missing_ok=True)
    # A no-op write bumps the data version so every open page reloads. If someone is writing right now,
    # their commit bumps it anyway, and the rebuilt tables equal the old ones, so skipping is harmless.
    try:
        with dbm.connect(path, write=True):
            pass
    except dbm.DatabaseBusy:
        pass
    return results


def _no_manifest(path: Path, archive: Path) -> str:
    legacy = arc.legacy_folder(path)
    if legacy is None:
        return f"找不到归档清单 {arc.manifest_path(archive)}，无法重建数据库。"
    return (f"找不到本数据库的归档 {archive}。同一文件夹中有旧版共用归档 {legacy}，但数据库文件不存在或无法打开，"
            f"无法确认其中哪些写入属于本数据库。如确认该归档只属于本数据库，请把文件夹 {legacy.name} 改名为 "
            f"{archive.name} 后重试。")


def _rebuild_into(tmp: Path, path: Path, archive: Path, actor: str) -> list[FileResult]:
    seen = arc.effective(arc.read_manifest_file(archive))
    con, results = _replay_start(tmp)
    try:
        _replay(con, archive, seen, results)
        store.crash_point("rebuild_replayed")
        with dbm.locked(path):
            with arc.journal_of(path) as committed:
                arc.settle(archive, committed, arc.read_manifest_file(archive))
            now = arc.effective(arc.read_manifest_file(archive))
            if now[:len(seen)] != seen:  # a write replayed above turned out not to have committed: start over
                con.close()
                con, results = _replay_start(tmp)
                _replay(con, archive, now, results)
            else:
                _replay(con, archive, now[len(seen):], results)
            failed = [r for r in results if r.status == "rejected"]
            if failed and path.exists():
                raise RebuildIncomplete(f"有 {len(failed)} 个归档文件无法重放，已保留原数据库未做替换。", results)
            _swap(con, tmp, path, archive, actor, len(results))
    finally:
        try:
            con.close()
        except Exception:
            pass
    return results


def _swap(con: duckdb.DuckDBPyConnection, tmp: Path, path: Path, archive: Path, actor: str, n: int) -> None:
    """Under the lock: record the rebuild (intent, journal, audit), put the new file in place, then commit it."""
    at = _now()
    entry = _entry("rebuild", actor=actor, at=at, detail=f"从归档重建：{n} 个文件")
    con.execute("BEGIN TRANSACTION")
    store.audit(con, actor, "rebuild", entry["detail"], at=at)
    store.journal(con, entry["txn"], "rebuild", at=at)
    con.execute("COMMIT")
    con.execute("CHECKPOINT")
    con.close()
    arc.append(archive, arc.intent(entry))
    store.crash_point("rebuild_before_swap")
    _checkpoint(path)
    # A WAL left beside the old file belongs to it; DuckDB would replay it onto the new one.
    Path(str(path) + ".wal").unlink(missing_ok=True)
    os.replace(tmp, path)
    arc.fsync_dir(path.parent)
    store.crash_point("rebuild_after_swap")
    arc.append(archive, arc.end_record(entry["txn"], "commit"))


def _checkpoint(path: Path) -> None:
    """Fold the old file's WAL into it (a kill before the swap then leaves it whole); skipped when unreadable."""
    if not path.exists():
        return
    try:
        duckdb.connect(str(path)).close()  # closing the last connection checkpoints
    except duckdb.Error:
        pass


def _remove_db(p: Path) -> None:
    for f in (p, Path(str(p) + ".wal")):
        f.unlink(missing_ok=True)


def _replay_start(tmp: Path) -> tuple[duckdb.DuckDBPyConnection, list[FileResult]]:
    _remove_db(tmp)
    con = duckdb.connect(str(tmp))
    dbm.ensure_schema(con)
    return con, []


def _replay(con: duckdb.DuckDBPyConnection, archive: Path, entries: list[dict], results: list[FileResult]) -> None:
    """Apply manifest entries to a private database (no lock needed: nobody else knows the file)."""
    from pipelines import safe_read

    for e in entries:
        action = e.get("action")
        at = dt.datetime.fromisoformat(e["at"])
        actor = e.get("actor") or "cli"
        name, sha = e.get("file_name") or "", e.get("sha256") or ""
        if action in ("ingest", "registry"):
            try:
                data = arc.original_path(archive, sha).read_bytes()
            except OSError:
                results.append(FileResult(name, sha, "rejected", e.get("branch"), e.get("period"), [_problem(
                    name, "archive_missing", "归档中找不到该原始文件，无法重放。", severity="error")]))
                continue
            if _sha(data) != sha:
                results.append(FileResult(name, sha, "rejected", e.get("branch"), e.get("period"), [_problem(
                    name, "archive_corrupt", "归档文件内容与登记的哈希不符（文件已损坏），无法重放。", severity="error")]))
                continue
        con.execute("BEGIN TRANSACTION")
        try:
            if action == "ingest":
                parsed = safe_read.read_workbook(data, name, registry=_load_registry_map(con))
                if not parsed.valid or parsed.info is None:
                    con.execute("ROLLBACK")
                    results.append(_rejected(parsed))
                    continue
                status, sub_id = store.save_parsed(con, parsed, actor=actor, uploaded_at=at)
                results.append(FileResult(name, sha, status, parsed.info.branch_code, parsed.info.period,
                                          list(parsed.problems), sub_id))
            elif action == "registry":
                entries_, problems = safe_read.read_registry(data, name)
                if any(p.severity == "error" for p in problems):
                    con.execute("ROLLBACK")
                    results.append(FileResult(name, sha, "rejected", problems=list(problems)))
                    continue
                store.clear_registry(con)
                store.save_registry(con, entries_, at=at)
                results.append(FileResult(name, sha, "accepted", problems=list(problems)))
            elif action == "rollback":
                _rollback_in(con, e["branch"], e["period"])
            elif action == "withdraw":
                _withdraw_in(con, e["branch"], e["period"])
            elif action == "deadline":
                due = e.get("due_date")
                store.save_deadline(con, e["period"], due and dt.date.fromisoformat(due), actor=actor, at=at)
            elif action == "review":  # pipelines/review.py
                from pipelines import review

                for row in e["reviews"]:
                    review.save(con, row)
            store.audit(con, actor, action, e.get("detail") or "", at=at)
            if e.get("txn"):
                store.journal(con, e["txn"], action, at=at)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise


# ---- CLI ----------------------------------------------------------------------------------------------

def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


def _counts(results: list[FileResult]) -> dict[str, int]:
    return {s: sum(r.status == s for r in results) for s in STATUS_NAMES}


def _report(results: list[FileResult]) -> dict:
    return {"ok": all(r.ok for r in results) and bool(results), "counts": _counts(results),
            "files": [r.as_dict() for r in results]}


def _print_human(results: list[FileResult], out=sys.stdout) -> None:
    from pipelines.problems import SEVERITY_NAMES

    for r in results:
        head = f"[{STATUS_NAMES[r.status]}] {r.file_name}"
        if r.branch_code:
            head += f"  支部 {r.branch_code}  {r.period}"
        if r.version:
            head += f"  第 {r.version} 版"
        if r.status == "rejected":
            head += f"  （{len(r.errors)} 个错误，未导入）"
        print(head, file=out)
        for p in sorted(r.problems, key=lambda p: p.severity != "error"):
            loc = "".join(x for x in (p.sheet and f"「{p.sheet}」", p.cell and f" {p.cell}") if x)
            val = f" 填写内容「{p.value}」" if p.value else ""
            print(f"    {SEVERITY_NAMES.get(p.severity, p.severity)}{(' ' + loc) if loc else ''}{val}：{p.message}",
                  file=out)
    c = _counts(results)
    print(f"共 {len(results)} 个文件：新增 {c['accepted']}，替换 {c['replaced']}，未变化 {c['unchanged']}，"
          f"退回 {c['rejected']}。", file=out)


def _stderr_progress(done: int, total: int, name: str) -> None:
    print(f"\r[{done}/{total}] {name}", end="\n" if done == total else "", file=sys.stderr, flush=True)


def cli_ingest(args) -> int:
    """`python -m pipelines ingest PATH... --db DB [--json]`: 0 all written/unchanged, 1 any rejected, 2 busy."""
    progress = _stderr_progress if (not args.json and sys.stderr.isatty()) else None
    try:
        results = ingest(args.paths, args.db, actor=_cli_actor(), progress=progress)
    except dbm.DatabaseBusy as e:
        done = getattr(e, "results", [])
        if args.json:
            print(json.dumps({**_report(done), "ok": False, "error": "database_busy", "message": str(e)},
                             ensure_ascii=False, indent=2, default=str))
        else:
            if done:
                _print_human(done)
        print(str(e), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_report(results), ensure_ascii=False, indent=2, default=str))
    elif not results:
        print("没有找到任何 .xlsx 文件。", file=sys.stderr)
    else:
        _print_human(results)
    return 0 if results and all(r.ok for r in results) else 1


def cli_registry(args) -> int:
    """`python -m pipelines registry FILE --db DB`: 0 loaded, 1 errors (nothing written), 2 busy."""
    from pipelines.problems import SEVERITY_NAMES

    try:
        n, problems = load_registry(Path(args.file), args.db, actor=_cli_actor())
    except dbm.DatabaseBusy as e:
        print(str(e), file=sys.stderr)
        return 2
    for p in problems:
        loc = " ".join(x for x in (p.sheet and f"「{p.sheet}」", p.cell) if x)
        print(f"  {SEVERITY_NAMES.get(p.severity, p.severity)} {loc}：{p.message}")
    if any(p.severity == "error" for p in problems) or n == 0:
        print(f"支部名册有错误，未导入：{args.file}")
        return 1
    print(f"已导入支部名册：{n} 个支部。")
    return 0


def cli_rebuild(args) -> int:
    """`python -m pipelines rebuild --db DB`: 0 rebuilt, 1 some archived file failed, 2 busy."""
    try:
        results = rebuild(args.db, actor=_cli_actor())
    except dbm.DatabaseBusy as e:
        print(str(e), file=sys.stderr)
        return 2
    except RebuildIncomplete as e:
        _print_human([r for r in e.results if r.status == "rejected"])
        print(str(e), file=sys.stderr)
        return 1
    except FileNotFoundError as e:
        print(str(e), file=sys.stderr)
        return 1
    bad = [r for r in results if r.status == "rejected"]
    if bad:
        _print_human(bad)
    print(f"已从归档重建数据库 {dbm.db_path(args.db)}：重放 {len(results)} 个文件，失败 {len(bad)} 个。")
    return 1 if bad else 0
