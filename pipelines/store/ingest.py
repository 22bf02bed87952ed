"""The write of a batch: `apply(plan, actor)` writes the parsed workbooks of a Plan (`pipelines/store/plan.py`)
without reading any file again; `ingest(files)` is plan + apply for the CLI, the demo build and tests, writing
what has been read while the reader workers go on reading the rest.

* Files are written in slices of at most WRITE_SLICE_S under one connection, so readers (the dashboard) get
  the lock between slices (READER_GAP_S), and the data version is bumped once per batch.
* Within a slice, files are written a batch at a time (`_Writer`): each file's rows were computed and validated
  on their own when it was read; the batch goes into one transaction with one journal intent line per file
  (appended together) and one commit line. If that transaction fails, its files are written again one per
  transaction, so a file that cannot be written is rejected on its own and never takes the others with it.
* Every written original is archived by SHA-256 in this database's own archive (`<db>.archive/ab/….xlsx`,
  `pipelines/store/archive.py`) before its commit, so the database never points to a missing file.
* Every write appends its intent lines to the manifest just before its COMMIT and a commit line just after,
  while the lock is held (`pipelines/store/journal.py`); `rebuild` replays the committed ones, file by file.

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
from pipelines.store import db as dbm, journal, sources, writes
from pipelines.store.actor import Actor, authorize
from pipelines.store.plan import (WRITABLE, BatchNotes, FileResult, Plan, claimed_colleges, decide, plan, rejected,
                                  snapshot)
from pipelines.store.sources import Progress, Source
from pipelines.workbook import problems
from pipelines.workbook.model import ParsedWorkbook

WRITE_SLICE_S = 0.3
"""A writer gives the lock back after writing this long (finishing the batch in hand) ..."""
READER_GAP_S = 0.1
"""... and waits this long before taking it again, so pages waiting to read get in between slices (a
waiting reader retries the lock at least every 0.1 s)."""
MAX_BATCH = 200
"""Files in one transaction at most; fewer when the time left in the slice is shorter (`_Writer.slice`)."""
STREAM_BATCH = 100
"""`ingest` starts a slice once this many read files wait (or the reading is done), so that each slice's fixed
costs (opening the database, its checkpoint on closing, the fsyncs of a commit) are shared by many files."""

Todo = list[tuple[int, ParsedWorkbook]]
Finish = Callable[[int, FileResult], None]


def ingest(files: Iterable[Source] | Source, db: str | Path | None = None, *, actor: Actor | str = "cli",
           progress: Progress | None = None, on_conflict: str = "last_wins") -> list[FileResult]:
    """Validate and write files, each accepted or rejected on its own; returns one FileResult per file, in order.

    files: paths (files, or folders searched recursively for *.xlsx) or (file_name, bytes) pairs;
    progress(done, total, file_name) as files are read. Two different files for one branch-quarter: the
    later becomes the current version (last_wins), unless on_conflict="refuse". See `apply` for the rest.
    With last_wins and a school-wide actor, files are written while the rest are still being read (what
    `plan` would decide for a file depends only on the files before it); otherwise it is apply(plan(...)).
    """
    who = authorize(actor)
    if on_conflict != "last_wins" or who.scope is not None:
        return apply(plan(files, db, on_conflict=on_conflict, progress=progress, scope=who.scope), who)
    return _stream(files, dbm.db_path(db), who.name, progress)


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
    results: list[FileResult | None] = [r if not r.ok else None for r in the_plan.results]
    todo: Todo = [(i, _parsed_for(the_plan, r)) for i, r in enumerate(the_plan.results) if r.ok]
    written = iter(range(1, len(todo) + 1))

    def finish(i: int, res: FileResult) -> None:
        results[i] = res
        if progress:
            progress(next(written), len(todo), res.file_name)

    writer = _Writer(path, journal.archive_dir(path), who.name, finish)
    try:
        writer.archive([(the_plan.originals[p.sha256], p.sha256) for _, p in todo])
        writer.write_all(todo)
    except dbm.DatabaseBusy as e:
        e.results = _finished(path, results)
        raise
    return _finished(path, results)


def _stream(files: Iterable[Source] | Source, path: Path, actor: str, progress: Progress | None) -> list[FileResult]:
    """`ingest` with last_wins: each file decided as `plan` would as it comes from the readers, and written in
    slices (STREAM_BATCH files, or what is left) while the readers go on with the rest."""
    items = sources.collect(files)
    registry, current = snapshot(path)
    results: list[FileResult | None] = [None] * len(items)

    def finish(i: int, res: FileResult) -> None:
        results[i] = res

    writer = _Writer(path, journal.archive_dir(path), actor, finish)
    pending: Todo = []
    data: dict[str, bytes] = {}
    ready_at = 0.0  # when the lock may be taken again (READER_GAP_S after the last slice)
    try:
        for i, (item, (parsed, raw)) in enumerate(zip(items, sources.read_all(items, registry))):
            res = decide(parsed, current)
            if res.ok:
                pending.append((i, parsed))
                data.setdefault(parsed.sha256, raw)
            else:
                results[i] = res
            if progress:
                progress(i + 1, len(items), item.file_name)
            if len(pending) >= STREAM_BATCH and time.monotonic() >= ready_at:
                pending = _write_some(writer, pending, data)
                ready_at = time.monotonic() + READER_GAP_S
        if pending:
            time.sleep(max(0.0, ready_at - time.monotonic()))
            writer.archive([(data[p.sha256], p.sha256) for _, p in pending])
            writer.write_all(pending)
    except dbm.DatabaseBusy as e:
        e.results = _finished(path, results)
        raise
    return _finished(path, results)


def _write_some(writer: _Writer, pending: Todo, data: dict[str, bytes]) -> Todo:
    """Archive the pending files and write one slice of them; returns those left for the next slice."""
    writer.archive([(data[p.sha256], p.sha256) for _, p in pending])
    rest = writer.slice(pending)
    done = {p.sha256 for _, p in pending} - {p.sha256 for _, p in rest}
    for sha in done:
        data.pop(sha, None)
    return rest


def _finished(path: Path, results: list[FileResult | None]) -> list[FileResult]:
    """The results so far in order, with the batch notes of what was really written, and the data version
    bumped once if anything was."""
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


def _parsed_for(the_plan: Plan, planned: FileResult) -> ParsedWorkbook:
    """The parsed workbook of a planned file (shared by files with the same bytes, so named after this one)."""
    parsed = the_plan.parsed[planned.sha256]
    if parsed.file_name != planned.file_name:
        parsed = dataclasses.replace(parsed, file_name=planned.file_name)
    return parsed


class _Writer:
    """Writes valid parsed workbooks into one database: slices of at most WRITE_SLICE_S under one connection,
    batches of files in one transaction each, sized to the time left in the slice."""

    def __init__(self, path: Path, archive: Path, actor: str, finish: Finish):
        self.path, self.archive_path, self.actor, self.finish = path, archive, actor, finish
        self.per_file = 0.005  # seconds a file takes to write; measured on each batch

    def archive(self, originals: list[tuple[bytes, str]]) -> None:
        """Archive the originals (before their commit, so the database never points to a missing file)."""
        arc.store_originals(self.archive_path, originals)

    def write_all(self, todo: Todo) -> None:
        """Write every file of `todo`, slice after slice, READER_GAP_S apart."""
        while todo:
            todo = self.slice(todo)
            if todo:
                time.sleep(READER_GAP_S)

    def slice(self, todo: Todo) -> Todo:
        """Write files of `todo` under one connection until WRITE_SLICE_S has passed; returns the rest."""
        settle = True  # the first commit under this connection settles what a killed writer left
        try:
            with dbm.connect(self.path, write=True, changes_data=False) as con:  # one version bump per batch
                start = time.monotonic()
                while todo:
                    room = WRITE_SLICE_S - (time.monotonic() - start)
                    n = max(1, min(MAX_BATCH, int(room / self.per_file)))  # at least one file per slice
                    batch, todo = todo[:n], todo[n:]
                    began = time.monotonic()
                    if self._batch(con, batch, settle=settle):
                        settle = False
                    self.per_file = max((time.monotonic() - began) / len(batch), 1e-4)
                    if time.monotonic() - start >= WRITE_SLICE_S:
                        break
                if settle:
                    raise journal.NoChange()  # nothing written: roll back the empty transaction
        except journal.NoChange:
            pass
        return todo

    def _batch(self, con: duckdb.DuckDBPyConnection, batch: Todo, *, settle: bool) -> bool:
        """Write a batch in one transaction; if that fails, one file per transaction (a file that fails then is
        rejected on its own). True if anything was committed."""
        ids: dict[int, tuple[int, int]] = {}  # the numbers the batch drew, kept by each file's own try
        try:
            done = self._commit(con, batch, settle=settle, ids=ids)
        except Exception as e:
            _restart(con)
            if len(batch) == 1:
                self.finish(batch[0][0], _write_failed(batch[0][1], e))
                return False
            done = []
            for k, (i, parsed) in enumerate(batch):
                try:
                    done += self._commit(con, [(i, parsed)], settle=settle and not any(d[2] for d in done),
                                         ids={0: ids[k]} if k in ids else None)
                except Exception as e1:
                    _restart(con)
                    done.append((i, _write_failed(parsed, e1), False))
        for i, res, _ in done:
            self.finish(i, res)
        return any(committed for _, _, committed in done)

    def _commit(self, con: duckdb.DuckDBPyConnection, batch: Todo, *, settle: bool,
                ids: dict[int, tuple[int, int]] | None) -> list[tuple[int, FileResult, bool]]:
        """save_many plus audit rows and manifest lines for a batch, committed: (position, result, committed) per
        file; unchanged files write nothing."""
        at = journal.now()
        saved = writes.save_many(con, [p for _, p in batch], actor=self.actor, uploaded_at=at, ids=ids)
        done, entries, audits = [], [], []
        for (i, parsed), s in zip(batch, saved):
            info = parsed.info
            done.append((i, FileResult(parsed.file_name, parsed.sha256, s.status, info.branch_code, info.period,
                                       list(parsed.problems), s.submission_id, s.version)))
            if s.status == FileStatus.UNCHANGED:
                continue
            detail = f"{parsed.file_name}：{info.branch_code} {info.period} 第 {s.version} 版（{FileStatus(s.status).label}）"
            audits.append((at, self.actor, AuditAction.INGEST, detail))
            entries.append(journal.entry("ingest", actor=self.actor, at=at, detail=detail, sha256=parsed.sha256,
                                         file_name=parsed.file_name, branch=info.branch_code, period=info.period,
                                         version=s.version, status=s.status))
        if not entries:
            _restart(con)
            return [(i, res, False) for i, res in done]
        writes.audit_many(con, audits)
        journal.commit(con, self.archive_path, entries, settle=settle)
        return [(i, res, True) for i, res in done]


def _write_failed(parsed: ParsedWorkbook, e: Exception) -> FileResult:
    """A valid file the database would not take (e.g. disk full): rejected, with the reason."""
    res = rejected(parsed)
    res.problems.append(problems.make("write_failed", file=parsed.file_name, detail=f"{type(e).__name__}: {e}"))
    return res


def _restart(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction (if a failed COMMIT has not already ended it) and open the next one."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass
    con.execute("BEGIN TRANSACTION")
