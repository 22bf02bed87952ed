"""Rebuild: the database recreated from its archive, the manifest's committed writes replayed in order.

The replay goes into `.<db name>.rebuild-<id>` (its own lock held while it runs) and is swapped in under the
database lock; see docs/design.md, Ingest.
"""
from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import duckdb
from filelock import FileLock

from pipelines.store import archive as arc
from pipelines.store import db as dbm, journal
from pipelines.workbook import problems
from pipelines.store import sources, writes
from pipelines.guide.vocab import AuditAction, FileStatus
from pipelines.store.plan import FileResult, registry_map, rejected
from pipelines.store.versions import rollback_in, withdraw_in


class RebuildIncomplete(Exception):
    """Some archived files could not be replayed; the existing database was left in place."""

    def __init__(self, message: str, results: list[FileResult]):
        super().__init__(message)
        self.results = results


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
    archive = journal.archive_dir(path)  # also removes what a killed rebuild left behind
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
        writes.crash_point("rebuild_replayed")
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
            failed = [r for r in results if r.status == FileStatus.REJECTED]
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
    at = journal.now()
    entry = journal.entry("rebuild", actor=actor, at=at, detail=f"从归档重建：{n} 个文件")
    con.execute("BEGIN TRANSACTION")
    writes.audit(con, actor, AuditAction.REBUILD, entry["detail"], at=at)
    writes.journal(con, entry["txn"], "rebuild", at=at)
    con.execute("COMMIT")
    con.execute("CHECKPOINT")
    con.close()
    arc.append(archive, arc.intent(entry))
    writes.crash_point("rebuild_before_swap")
    _checkpoint(path)
    # A WAL left beside the old file belongs to it; DuckDB would replay it onto the new one.
    Path(str(path) + ".wal").unlink(missing_ok=True)
    os.replace(tmp, path)
    arc.fsync_dir(path.parent)
    writes.crash_point("rebuild_after_swap")
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
    from pipelines.workbook import safe_read

    for e in entries:
        action = e.get("action")
        at = dt.datetime.fromisoformat(e["at"])
        actor = e.get("actor") or "cli"
        name, sha = e.get("file_name") or "", e.get("sha256") or ""
        if action in ("ingest", "registry"):
            try:
                data = arc.original_path(archive, sha).read_bytes()
            except OSError:
                results.append(FileResult(name, sha, FileStatus.REJECTED, e.get("branch"), e.get("period"), [
                    problems.make("archive_missing", file=name)]))
                continue
            if sources.sha(data) != sha:
                results.append(FileResult(name, sha, FileStatus.REJECTED, e.get("branch"), e.get("period"), [
                    problems.make("archive_corrupt", file=name)]))
                continue
        con.execute("BEGIN TRANSACTION")
        try:
            if action == "ingest":
                parsed = safe_read.read_workbook(data, name, registry=registry_map(con))
                if not parsed.valid or parsed.info is None:
                    con.execute("ROLLBACK")
                    results.append(rejected(parsed))
                    continue
                status, sub_id = writes.save_parsed(con, parsed, actor=actor, uploaded_at=at)
                results.append(FileResult(name, sha, status, parsed.info.branch_code, parsed.info.period,
                                          list(parsed.problems), sub_id))
            elif action == "registry":
                entries_, found = safe_read.read_registry(data, name)
                if any(p.severity == "error" for p in found):
                    con.execute("ROLLBACK")
                    results.append(FileResult(name, sha, FileStatus.REJECTED, problems=list(found)))
                    continue
                writes.clear_registry(con)
                writes.save_registry(con, entries_, at=at)
                results.append(FileResult(name, sha, FileStatus.ACCEPTED, problems=list(found)))
            elif action == "rollback":
                rollback_in(con, e["branch"], e["period"])
            elif action == "withdraw":
                withdraw_in(con, e["branch"], e["period"])
            elif action == "deadline":
                due = e.get("due_date")
                writes.save_deadline(con, e["period"], due and dt.date.fromisoformat(due), actor=actor, at=at)
            elif action in ("followup_open", "followup_close"):
                from pipelines.store import followup  # it writes through the journal too

                followup.replay(con, e)
            elif action == "review":  # pipelines/store/review.py
                from pipelines.store import review

                for row in e["reviews"]:
                    review.save(con, row)
            writes.audit(con, actor, action, e.get("detail") or "", at=at)
            if e.get("txn"):
                writes.journal(con, e["txn"], action, at=at)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise

