"""The write of a batch: `apply(plan, actor)` writes the parsed workbooks of a Plan (`pipelines/store/plan.py`)
without reading any file again; `ingest(files)` is plan + apply for the CLI, the demo build and tests.

* Each valid file is written in its own transaction (`writes.save_parsed`), so a failed file changes
  nothing; files are written in slices of at most WRITE_SLICE_S under one connection, so readers (the
  dashboard) get the lock between slices, and the data version is bumped once per batch.
* Every written original is archived by SHA-256 in this database's own archive (`<db>.archive/ab/….xlsx`,
  `pipelines/store/archive.py`) before its commit, so the database never points to a missing file.
* Every write appends an intent line to the manifest just before its COMMIT and a commit line just after,
  while the lock is held (`pipelines/store/journal.py`); `rebuild` replays the committed ones.

The rest of the write path lives beside it in `store/`: `plan` (read and check a batch), `registry`,
`versions` (rollback / withdraw / deadlines / start_fresh), `rebuild`, `journal`.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb

from pipelines.guide.vocab import AuditAction, FileStatus
from pipelines.store import archive as arc
from pipelines.store import db as dbm, journal, writes
from pipelines.store.actor import Actor, authorize
from pipelines.store.plan import WRITABLE, BatchNotes, FileResult, Plan, claimed_colleges, plan, rejected
from pipelines.store.sources import Progress, Source
from pipelines.workbook import problems

WRITE_SLICE_S = 0.3
"""A writer gives the lock back after writing this long (finishing the file in hand) ..."""
READER_GAP_S = 0.1
"""... and waits this long before taking it again, so pages waiting to read get in between slices (a
waiting reader retries the lock at least every 0.1 s)."""

Todo = list[tuple[int, FileResult]]


def ingest(files: Iterable[Source] | Source, db: str | Path | None = None, *, actor: Actor | str = "cli",
           progress: Progress | None = None, on_conflict: str = "last_wins") -> list[FileResult]:
    """Validate and write files, each in its own transaction; returns one FileResult per file, in order.

    files: paths (files, or folders searched recursively for *.xlsx) or (file_name, bytes) pairs;
    progress(done, total, file_name) as files are read. Two different files for one branch-quarter: the
    later becomes the current version (last_wins), unless on_conflict="refuse". See `apply` for the rest.
    """
    who = authorize(actor)
    return apply(plan(files, db, on_conflict=on_conflict, progress=progress, scope=who.scope), who)


def apply(the_plan: Plan, actor: Actor | str, *, progress: Progress | None = None) -> list[FileResult]:
    """Write the plan's valid workbooks (parsed once, in `plan`) in order; returns one FileResult per file.

    Statuses are decided again at write time (a file identical to the current version comes back
    "unchanged", so applying a plan twice writes once). Files the plan rejected are not written.
    PermissionError (Chinese), nothing written, without an actor or when a college admin's plan holds another
    college's branch (a plan made without `scope`). If the database stays busy beyond the lock timeout,
    DatabaseBusy is raised with `.results` holding the files finished so far (re-running is safe: written
    files come back "unchanged").
    """
    todo_results = the_plan.writable()
    path = the_plan.db
    who = authorize(actor, [r.branch_code for r in todo_results], db=path,
                    claimed=claimed_colleges(the_plan, todo_results))
    archive = journal.archive_dir(path)
    results: list[FileResult | None] = [r if not r.ok else None for r in the_plan.results]
    todo: Todo = [(i, r) for i, r in enumerate(the_plan.results) if r.ok]
    for _, r in todo:  # archived before the commit, so the database never points to a missing file
        arc.store_original(archive, the_plan.originals[r.sha256], r.sha256)

    written = iter(range(1, len(todo) + 1))
    total = len(todo)

    def finish(i: int, res: FileResult) -> None:
        results[i] = res
        if progress:
            progress(next(written), total, res.file_name)

    try:
        _write_all(path, archive, the_plan, todo, who.name, finish)
    except dbm.DatabaseBusy as e:
        e.results = _noted([r for r in results if r is not None])
        _bump_if_written(path, e.results)
        raise
    done = _noted([r for r in results if r is not None])
    _bump_if_written(path, done)
    return done


def _noted(results: list[FileResult]) -> list[FileResult]:
    """The batch notes of what was really written (same bytes twice, one branch-quarter twice)."""
    notes = BatchNotes()
    for r in results:
        if r.ok:
            notes.note(r)
    return results


def _bump_if_written(path: Path, results: list[FileResult]) -> None:
    """One data-version bump for the whole batch: pages keep their cached results while it writes."""
    if any(r.status in WRITABLE for r in results):
        dbm.bump_version(path)


def _write_all(path: Path, archive: Path, the_plan: Plan, todo: Todo, actor: str,
               finish: Callable[[int, FileResult], None]) -> None:
    """Write in slices of at most WRITE_SLICE_S under one connection each, one transaction (and manifest
    line) per file."""
    while todo:
        todo = _write_slice(path, archive, the_plan, todo, actor, finish)
        if todo:
            time.sleep(READER_GAP_S)


def _write_slice(path: Path, archive: Path, the_plan: Plan, todo: Todo, actor: str,
                 finish: Callable[[int, FileResult], None]) -> Todo:
    """Write files of `todo` under one connection until WRITE_SLICE_S has passed; returns the rest."""
    written = 0
    try:
        with dbm.connect(path, write=True, changes_data=False) as con:  # apply bumps the version once
            start = time.monotonic()
            while todo:
                i, planned = todo.pop(0)
                res, done = _write_one(con, archive, _parsed_for(the_plan, planned), actor, settle=not written)
                written += done
                finish(i, res)
                if time.monotonic() - start >= WRITE_SLICE_S:  # at least one file per slice
                    break
            if not written:
                raise journal.NoChange()  # nothing written: roll back the empty transaction
    except journal.NoChange:
        pass
    return todo


def _parsed_for(the_plan: Plan, planned: FileResult):
    """The parsed workbook of a planned file (shared by files with the same bytes, so named after this one)."""
    parsed = the_plan.parsed[planned.sha256]
    if parsed.file_name != planned.file_name:
        parsed = dataclasses.replace(parsed, file_name=planned.file_name)
    return parsed


def _write_one(con: duckdb.DuckDBPyConnection, archive: Path, parsed, actor: str, *,
               settle: bool = True) -> tuple[FileResult, int]:
    """One file in its own transaction: (its result, 1 if committed else 0). A failure (e.g. disk full)
    rolls this file back and rejects it; the others go on. settle: journal.commit's (the slice's first commit)."""
    try:
        res, entry = _save(con, parsed, actor)
        if entry is None:
            con.execute("ROLLBACK")
            con.execute("BEGIN TRANSACTION")
            return res, 0
        journal.commit(con, archive, entry, settle=settle)
        return res, 1
    except Exception as e:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # a failed COMMIT has already ended the transaction
        con.execute("BEGIN TRANSACTION")
        res = rejected(parsed)
        res.problems.append(problems.make("write_failed", file=parsed.file_name, detail=f"{type(e).__name__}: {e}"))
        return res, 0


def _save(con: duckdb.DuckDBPyConnection, parsed, actor: str) -> tuple[FileResult, dict | None]:
    """save_parsed plus its audit row, inside the open transaction; the manifest entry is None when unchanged."""
    info = parsed.info
    at = journal.now()
    status, sub_id = writes.save_parsed(con, parsed, actor=actor, uploaded_at=at)
    version = con.execute("SELECT version FROM submissions WHERE submission_id = ?", [sub_id]).fetchone()[0]
    res = FileResult(parsed.file_name, parsed.sha256, status, info.branch_code, info.period, list(parsed.problems),
                     sub_id, version)
    if status == FileStatus.UNCHANGED:
        return res, None
    detail = f"{parsed.file_name}：{info.branch_code} {info.period} 第 {version} 版（{FileStatus(status).label}）"
    writes.audit(con, actor, AuditAction.INGEST, detail, at=at)
    return res, journal.entry("ingest", actor=actor, at=at, detail=detail, sha256=parsed.sha256,
                              file_name=parsed.file_name, branch=info.branch_code, period=info.period,
                              version=version, status=status)
