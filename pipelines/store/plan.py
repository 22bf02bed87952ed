"""What a batch would do, decided once and written nowhere: `plan(files) -> Plan`.

Each file is read and parsed once (in the reader's worker process); the Plan keeps the parsed workbooks and
their bytes, keyed by SHA-256, so `pipelines.store.ingest.apply(plan, actor)` writes them without reading again.
The batch rules live here: files of one batch that repeat each other or one branch-quarter (notes), and
the conflict policy — `last_wins` (the CLI: a folder in name order, the later file becomes the current
version) or `refuse` (the upload page: the order is only the order of picking, so both are refused).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipelines.store import db as dbm
from pipelines.workbook import problems
from pipelines.store import sources
from pipelines.store.actor import Actor, OutOfScope, authorize
from pipelines.guide.vocab import FileStatus
from pipelines.workbook.model import HasProblems, ParsedWorkbook, Problem, RegistryEntry
from pipelines.store.sources import Progress, Source

if TYPE_CHECKING:
    import pandas as pd

CONFLICT_POLICIES = ("refuse", "last_wins")
WRITABLE = (FileStatus.ACCEPTED, FileStatus.REPLACED)


@dataclass
class FileResult(HasProblems):
    """What ingest did (or, from a plan, would do) with one file."""

    file_name: str
    sha256: str
    status: str  # a FileStatus: accepted | replaced | unchanged | rejected
    branch_code: str | None = None
    period: str | None = None
    problems: list[Problem] = field(default_factory=list)
    submission_id: int | None = None
    version: int | None = None  # version of the branch-quarter after ingest (None from a plan/rejected)

    @property
    def ok(self) -> bool:
        return self.status != FileStatus.REJECTED

    def as_dict(self) -> dict:
        """Plain JSON-ready dict (the per-file shape of `ingest --json`)."""
        return {
            "file_name": self.file_name, "sha256": self.sha256, "status": self.status,
            "branch_code": self.branch_code, "period": self.period, "version": self.version,
            "submission_id": self.submission_id,
            "problems": [
                {k: p.as_dict()[k] for k in ("severity", "code", "sheet", "cell", "value", "message")}
                for p in self.problems
            ],
        }


def report_order(results: Iterable[FileResult]) -> list[FileResult]:
    """The order a batch is reported in (upload page, `ingest --json`, return notes): rejected files first,
    then the rest, each in batch order. Plan.results keeps the batch order, which apply writes in."""
    return sorted(results, key=lambda r: r.status != FileStatus.REJECTED)


PROBLEM_COLUMNS = ("file", "sheet", "cell", "message", "severity", "value", "title", "code", "status", "sha256")
"""Column order of a batch's problem rows: where and what first (people read these), codes and hashes last."""


def problem_rows(results: Iterable[FileResult]) -> list[dict]:
    """Every problem of a batch as flat rows with PROBLEM_COLUMNS: files in `report_order`, each file's
    problems in `problems.flatten` order (errors first, then by sheet and cell)."""
    from pipelines.workbook.problems import flatten

    return [{k: ({"status": r.status, "sha256": r.sha256} | row)[k] for k in PROBLEM_COLUMNS}
            for r in report_order(results)
            for row in flatten([dataclasses.replace(p, file=p.file or r.file_name) for p in r.problems])]


def rejected(parsed: ParsedWorkbook) -> FileResult:
    """The result of a workbook that is not written."""
    info = parsed.info
    return FileResult(parsed.file_name, parsed.sha256, FileStatus.REJECTED, info.branch_code if info else None,
                      info.period if info else None, list(parsed.problems))


@dataclass
class Plan:
    """A batch read, validated and decided: one FileResult per file (in order), the valid parsed workbooks
    and their bytes by SHA-256, and with `with_scores` the overall scores before/after of the quarters a
    replacement touches plus the registry branches still missing per quarter after the batch."""

    db: Path
    data_version: int
    on_conflict: str
    results: list[FileResult]
    parsed: dict[str, ParsedWorkbook] = field(default_factory=dict)
    originals: dict[str, bytes] = field(default_factory=dict)
    scores_before: dict[str, pd.DataFrame] | None = None
    scores_after: dict[str, pd.DataFrame] | None = None
    missing: pd.DataFrame | None = None  # period, branch_code, branch_name, college

    @property
    def key(self) -> tuple:
        """Identity against the current data: database, data version, file names and hashes."""
        return (str(self.db), self.data_version, tuple((r.file_name, r.sha256) for r in self.results))

    @property
    def conflicts(self) -> list[FileResult]:
        """Files refused because another file of the batch is a different version of its branch-quarter."""
        return [r for r in self.results if any(p.code == "batch_conflict" for p in r.problems)]

    def of_status(self, *statuses: str) -> list[FileResult]:
        """Results with any of `statuses`."""
        return [r for r in self.results if r.status in statuses]

    def writable(self) -> list[FileResult]:
        """The files apply would write (accepted and replaced), in order."""
        return self.of_status(*WRITABLE)


def registry_map(con: duckdb.DuckDBPyConnection) -> dict[str, RegistryEntry] | None:
    """The stored registry by branch code (None when empty: workbooks are then checked on their own)."""
    rows = con.execute("SELECT branch_code, branch_name, college, branch_type, members FROM registry").fetchall()
    return {r[0]: RegistryEntry(*r) for r in rows} or None


def registry_entries(db: str | Path | None = None) -> list[RegistryEntry]:
    """The branch registry stored in the database, by branch code ([] when none was loaded)."""
    with dbm.connect(dbm.db_path(db)) as con:
        return sorted((registry_map(con) or {}).values(), key=lambda e: e.branch_code)


def snapshot(path: Path) -> tuple[dict[str, RegistryEntry] | None, dict[tuple[str, str], str]]:
    """The registry (None when empty) and the current SHA-256 of each branch-quarter, in one short read."""
    with dbm.connect(path) as con:
        registry = registry_map(con)
        cur = con.execute(
            "SELECT branch_code, period, sha256 FROM submissions WHERE status = 'current'").fetchall()
    return registry, {(b, p): s for b, p, s in cur}


class BatchNotes:
    """Notes about files of one batch that meet each other (same bytes twice, same branch-quarter twice)."""

    def __init__(self) -> None:
        self.by_sha: dict[str, FileResult] = {}
        self.by_key: dict[tuple[str, str], FileResult] = {}

    def note(self, result: FileResult) -> None:
        """Add the notes `result` earns against the files before it (call in batch order, valid files only)."""
        key = (result.branch_code, result.period)
        same = self.by_sha.get(result.sha256)
        if result.status == FileStatus.UNCHANGED and same is not None:
            result.problems.append(problems.make("batch_duplicate", file=result.file_name, other=same.file_name))
        elif result.status == FileStatus.REPLACED and key in self.by_key:
            earlier = self.by_key[key]
            twin = f"（内容与本批次中的「{same.file_name}」完全相同）" if same is not None else ""
            result.problems.append(problems.make("batch_replaces", file=result.file_name, earlier=earlier.file_name,
                                                 branch=key[0], period=key[1], twin=twin))
            earlier.problems.append(problems.make("batch_replaced_later", file=earlier.file_name,
                                                  later=result.file_name, branch=key[0], period=key[1]))
        self.by_sha.setdefault(result.sha256, result)
        if result.status in WRITABLE:
            self.by_key[key] = result


def refuse_conflicts(results: list[FileResult]) -> list[FileResult]:
    """The `refuse` policy: two different files for one branch-quarter in one batch — neither is written.

    `last_wins` would keep the later one, but where the order is only the order in which files were picked,
    which version wins would be an accident. The uploader keeps the right one and uploads again. Files
    identical to another file of the batch stay "unchanged" (harmless).
    """
    groups: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(results):
        if r.status in WRITABLE:
            groups.setdefault((r.branch_code, r.period), []).append(i)
    out = list(results)
    for (code, period), where in groups.items():
        if len(where) < 2:
            continue
        same = [results[i] for i in where]
        names = "、".join(f"「{r.file_name}」" for r in same)
        for i, r in zip(where, same):
            out[i] = dataclasses.replace(
                r, status=FileStatus.REJECTED,
                problems=[p for p in r.problems if p.code not in ("batch_replaces", "batch_replaced_later")]
                + [problems.make("batch_conflict", file=r.file_name, count=len(same), branch=code, period=period,
                                 names=names)])
    return out


def decide(parsed: ParsedWorkbook, current: dict[tuple[str, str], str]) -> FileResult:
    """The would-be status of one parsed file against the current versions (updated as the batch goes)."""
    if not parsed.valid or parsed.info is None:
        return rejected(parsed)
    key = (parsed.info.branch_code, parsed.info.period)
    if current.get(key) == parsed.sha256:
        status = FileStatus.UNCHANGED
    else:
        status = FileStatus.REPLACED if key in current else FileStatus.ACCEPTED
        current[key] = parsed.sha256
    return FileResult(parsed.file_name, parsed.sha256, status, key[0], key[1], list(parsed.problems))


def claimed_colleges(the_plan: Plan, results: Iterable[FileResult]) -> dict[str, str]:
    """The college each result's own workbook names, by branch code (a branch new to the database)."""
    parsed = (the_plan.parsed.get(r.sha256) for r in results)
    return {p.info.branch_code: p.info.college for p in parsed if p is not None and p.info is not None}


def mark_out_of_scope(the_plan: Plan, scope: str) -> None:
    """Reject the files of branches outside a college admin's scope (the rule is `actor.authorize`)."""
    claimed = claimed_colleges(the_plan, the_plan.results)
    with dbm.connect(the_plan.db) as con:
        for i, r in enumerate(the_plan.results):
            if not r.ok:
                continue
            try:
                authorize(Actor("plan", scope), [r.branch_code], con=con, claimed=claimed)
            except OutOfScope as e:
                p = problems.make("out_of_scope", file=r.file_name, branch=e.branch,
                                  college=e.college or "所属二级党组织不明", scope=scope)
                the_plan.results[i] = dataclasses.replace(r, status=FileStatus.REJECTED, problems=[*r.problems, p])
    kept = {r.sha256 for r in the_plan.results if r.ok}
    the_plan.parsed = {k: v for k, v in the_plan.parsed.items() if k in kept}
    the_plan.originals = {k: v for k, v in the_plan.originals.items() if k in kept}


def plan(files: Iterable[Source] | Source, db: str | Path | None = None, *, on_conflict: str = "refuse",
         with_scores: bool = False, progress: Progress | None = None, scope: str | None = None) -> Plan:
    """Read and validate every file once and decide what writing them would do; writes nothing.

    accepted = a new branch-quarter, replaced = a new version of an existing one, unchanged = the same
    SHA-256 as the current version (or as an earlier file of this batch), rejected = has errors (or, with
    on_conflict="refuse", shares its branch-quarter with a different file of the batch).
    with_scores adds the scores before/after and the branches still missing (pipelines/store/changes.py).
    scope: a college admin's college; files of other colleges' branches are rejected (超出管理范围).
    """
    if on_conflict not in CONFLICT_POLICIES:
        raise ValueError(f"on_conflict must be one of {CONFLICT_POLICIES}, not {on_conflict!r}")
    path = dbm.db_path(db)
    version = dbm.data_version(path)
    items = sources.collect(files)
    registry, current = snapshot(path)
    notes, results = BatchNotes(), []
    out = Plan(path, version, on_conflict, results)
    for i, (item, (parsed, data)) in enumerate(zip(items, sources.read_all(items, registry))):
        res = decide(parsed, current)
        if res.ok:
            notes.note(res)
            out.parsed.setdefault(parsed.sha256, parsed)
            out.originals.setdefault(parsed.sha256, data)
        results.append(res)
        if progress:
            progress(i + 1, len(items), item.file_name)
    if scope is not None:
        mark_out_of_scope(out, scope)
    if on_conflict == "refuse":
        out.results = refuse_conflicts(out.results)
    if with_scores:
        from pipelines.store import changes

        out.scores_before, out.scores_after = changes.simulate(out)
        out.missing = changes.missing_branches(out)
    return out


def preview(files: Iterable[Source] | Source, db: str | Path | None = None, *,
            progress: Progress | None = None) -> list[FileResult]:
    """The per-file results of `plan(files, db, on_conflict="last_wins")`: what `ingest` would do."""
    return plan(files, db, on_conflict="last_wins", progress=progress).results


def first_uploads(keys: Iterable[tuple[str, str]], db: str | Path | None = None) -> dict[tuple[str, str], object]:
    """When each (branch_code, period) was first uploaded, counting versions not withdrawn (the rule of
    scoring/sql/marts/alerts_uploads.sql); branch-quarters never uploaded are absent."""
    keys = sorted(set(keys))
    if not keys:
        return {}
    with dbm.connect(dbm.db_path(db)) as con:
        rows = con.execute(
            "SELECT branch_code, period, min(uploaded_at) FROM submissions WHERE status <> 'withdrawn' "
            "AND (branch_code, period) IN (SELECT unnest($codes), unnest($periods)) GROUP BY ALL",
            {"codes": [k[0] for k in keys], "periods": [k[1] for k in keys]}).fetchall()
    return {(b, p): at for b, p, at in rows}


def late_notes(results: Iterable[FileResult], db: str | Path | None = None, *,
               now: dt.datetime | None = None) -> dict[tuple[str, str], str]:
    """The 逾期报送 note of each branch-quarter in the batch that is (or, written now, would be) late: its first
    upload — an earlier one, else `now` — came after the quarter's deadline (alerts.deadline_status), the
    condition of the late_submission alert. Rejected files are not submissions and get none."""
    from pipelines.scoring import alerts
    from pipelines.guide import guide
    from pipelines.guide.period import Period

    now = now or dt.datetime.now()
    keys = {(r.branch_code, r.period) for r in results if r.ok and r.branch_code and r.period}
    earlier = first_uploads(keys, db)
    rule = next((a.name for a in guide().alerts if a.kind == "late_submission"), "逾期报送")
    table = alerts.deadlines(db) if keys else None  # one read for the batch, not one per branch-quarter
    notes = {}
    for key in sorted(keys):
        first = earlier.get(key) or now
        status = alerts.deadline_status(key[1], db, today=first.date(), table=table)
        if status["due_date"] is None or status["days_left"] >= 0:
            continue
        when = "本次上传" if key not in earlier else f"首次上传于 {first:%Y-%m-%d}，"
        notes[key] = (f"{rule}：{Period.parse(key[1]).label}报送截止日期为 {status['due_date'].isoformat()}，"
                      f"{when}逾期 {-status['days_left']} 天，将计入“{rule}”预警。")
    return notes
