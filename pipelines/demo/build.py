"""The demo school: realistic branch workbooks written through the real template, and a database built from them.

A school of about 12 二级党组织 (colleges) and 80 branches (teacher and student) over at least 6 quarters ending
with the latest completed quarter. Each branch follows a profile (exemplary, average, lagging, improving,
declining) that sets a quality between 0 and 1 per quarter; every activity, count and self-assessment answer
is drawn from that quality, so the scores computed from the demo are believable and differ for a reason.

What the generator produces is driven by the guide's measures (monthly, quarterly, semester, annual, hours,
coverage, ratio), so a changed guide changes the demo. The tables in `demo_school` only add what the guide cannot
say: school names, topics, preferred months, how often optional activities happen. The school is planned in
`demo_school`, each branch simulated in `demo_branch`; this module writes the files and builds the database.

Determinism: the same seed (and `today`) gives byte-identical files — openpyxl's timestamps in docProps and the
zip entries are pinned after writing.
"""
from __future__ import annotations

import datetime as dt
import contextlib
import json
import os
import re
import time
import zipfile
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from openpyxl.utils import get_column_letter

from pipelines.demo import work
from pipelines.config import settings
from pipelines.demo.branch import LedgerPlan, Measures, Quarter, branch_quality, plan_annual, self_assessment_answers
from pipelines.demo.school import STUDENT, TEACHER, Branch, Task, plan_school
from pipelines.guide import Guide, guide
from pipelines.guide.vocab import FileStatus
from pipelines.workbook.model import BranchInfo, LedgerRow, RegistryEntry
from pipelines.guide.period import Period

ACTOR = "演示数据"
REGISTRY_FILE = "支部名册.xlsx"
SUMMARY_FILE = "demo_summary.json"  # written last: its presence means the folder is complete


@dataclass
class DemoSummary:
    """What `generate` wrote."""

    out_dir: str
    seed: int
    periods: list[str]
    branches: int
    teacher_branches: int
    student_branches: int
    colleges: int
    files: list[str]  # relative to out_dir, in upload order (period, then file name)
    missing: list[tuple[str, str]]  # (branch_code, period) that did not submit
    warning_files: list[str]
    registry: str = REGISTRY_FILE
    seconds: float = 0.0
    profiles: dict[str, str] = field(default_factory=dict)  # branch_code -> profile

    def text(self) -> str:
        """A Chinese one-paragraph description, for the CLI and the app."""
        span = f"{self.periods[0]}–{self.periods[-1]}" if self.periods else "无"
        latest = [c for c, p in self.missing if p == self.periods[-1]]
        return (
            f"已生成演示学校：{self.colleges} 个二级党组织，{self.branches} 个支部"
            f"（教师党支部 {self.teacher_branches} 个，学生党支部 {self.student_branches} 个），"
            f"{len(self.periods)} 个季度（{span}），共 {len(self.files)} 个季度填报文件；"
            f"最新季度 {len(latest)} 个支部未报送（{'、'.join(latest) or '无'}）；"
            f"支部名册：{Path(self.out_dir) / self.registry}；用时 {self.seconds:.1f} 秒。"
        )


def _branch_tasks(g: Guide, measures: Measures, branch: Branch, periods: list[Period], seed: int,
                  out_dir: Path, today: dt.date, skip: set[str], warn: set[str]
                  ) -> tuple[list[Task], RegistryEntry]:
    """Simulate one branch through all periods; return the workbooks it submitted and its registry row."""
    rng = np.random.default_rng([seed, branch.index, 2])
    n = len(periods)
    student = branch.branch_type == STUDENT
    members = branch.members
    qualities = [branch_quality(branch, t, n, rng) for t in range(n)]
    annual = plan_annual(measures, branch, periods, {p: qualities[t] for t, p in enumerate(periods)}, rng)

    tasks: list[Task] = []
    coverage_state: dict[str, tuple[int, float]] = {}  # count field -> (year, covered members)
    train_rate = float(np.clip(0.72 + 0.26 * qualities[0] + rng.normal(0, 0.02), 0.6, 0.99))
    for t, p in enumerate(periods):
        year, quarter = p.year, p.quarter
        quarter_sim = Quarter(g, branch, year, quarter, members, qualities[t], train_rate, rng,
                              LedgerPlan(g, branch, year, quarter, rng))
        quarter_sim.ledger(measures, annual)
        counts = quarter_sim.counts(measures, coverage_state)
        period = str(p)
        if period not in skip:
            tasks.append(_make_task(g, branch, year, quarter, members, quarter_sim.led, counts, qualities[t], rng,
                                    out_dir, today, period in warn))
        # New 预备党员 join the branch next quarter; graduates leave student branches in July.
        members += int(counts.get("new_members") or 0)
        if student and quarter == 2:
            members -= int(rng.poisson(1.5))
        members = int(np.clip(members, 10 if student else 8, 60 if student else 30))
    # a made-up office line derived from the code, so the random draws (and every score) stay as they were
    phone = f"0571-8{zlib.crc32(branch.code.encode()) % 10_000_000:07d}"
    entry = RegistryEntry(branch.code, branch.name, branch.college, branch.branch_type, members,
                          secretary_name=branch.secretary, phone=phone)
    return tasks, entry


def _make_task(g: Guide, branch: Branch, year: int, quarter: int, members: int, led: LedgerPlan,
               counts: dict[str, float | None], qual: float, rng: np.random.Generator, out_dir: Path,
               today: dt.date, warn: bool) -> Task:
    period = str(Period(year, quarter))
    names = {a.id: a for a in g.activity_types}
    ledger: list[LedgerRow] = []
    raw_cells: dict[tuple[str, str], object] = {}
    cols = [c.id for c in g.workbook.ledger_columns]
    date_col = get_column_letter(cols.index("date") + 1) if "date" in cols else None
    for r, (date, kind, topic, exp, att, hours, evidence) in enumerate(sorted(led.rows, key=lambda x: (x[0], x[1])),
                                                                       start=2):
        raw = ""
        if branch.synonyms and names[kind].synonyms and rng.random() < 0.5:
            raw = str(rng.choice(names[kind].synonyms))
            if rng.random() < 0.1:
                raw += " "  # stray space, as typed
        ledger.append(LedgerRow(r, date, kind, raw, topic, exp, att, hours, evidence))
        if branch.messy_dates and date_col and rng.random() < 0.2:
            style = int(rng.integers(0, 3))
            text = (f"{date.year}/{date.month}/{date.day}", f"{date.year}年{date.month}月{date.day}日",
                    f"{date.year}.{date.month}.{date.day}")[style]
            raw_cells[("ledger", f"{date_col}{r}")] = text

    self_assessment = self_assessment_answers(g, branch.branch_type, qual, ledger, rng, warn)
    end = Period(year, quarter).end
    filled_on = min(end + dt.timedelta(days=int(rng.integers(1, 15))), max(today, end))
    info = BranchInfo(branch.code, branch.name, branch.college, branch.branch_type, year, quarter, members,
                      branch.secretary, branch.filled_by, filled_on)
    path = out_dir / period / f"{period}_{branch.code}_{branch.name}.xlsx"
    stamp = dt.datetime.combine(filled_on, dt.time(9, 0)) + dt.timedelta(minutes=int(rng.integers(0, 600)))
    return Task(str(path), branch.branch_type, info, ledger, counts, self_assessment, raw_cells, stamp)


# ---- writing --------------------------------------------------------------------------------------------------
_CORE_STAMP = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def _pin_zip(path: Path, stamp: dt.datetime) -> None:
    """Make the file a pure function of its content: fixed zip entry times and docProps timestamps."""
    with zipfile.ZipFile(path) as z:
        entries = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = _CORE_STAMP.sub(lambda m: m.group(1) + iso + m.group(2), data)
            info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    os.replace(tmp, path)


def _write_task(task: Task) -> str:
    from pipelines.workbook.template import write_workbook

    path = write_workbook(task.path, task.branch_type, info=task.info, ledger=task.ledger, counts=task.counts,
                          self_assessment=task.self_assessment, raw_cells=task.raw_cells)
    _pin_zip(Path(path), task.stamp)
    return task.path


def _write_all(tasks: list[Task], progress: Callable[[int, int], None] | None, workers: int | None) -> None:
    total = len(tasks)
    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    # fork only: spawn would re-import the caller's __main__ (under Streamlit, the app script itself).
    import multiprocessing as mp

    use_pool = workers > 1 and total >= 40 and "fork" in mp.get_all_start_methods()
    if not use_pool:
        for i, task in enumerate(tasks, start=1):
            _write_task(task)
            if progress:
                progress(i, total)
        return
    import pipelines.workbook.template  # noqa: F401  # imported before fork so workers start warm

    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
        for i, _ in enumerate(pool.map(_write_task, tasks, chunksize=8), start=1):
            if progress:
                progress(i, total)


def generate(out_dir, seed: int | None = None, branches: int = 80, quarters: int = 6, today: dt.date | None = None,
             *, progress: Callable[[int, int], None] | None = None, workers: int | None = None) -> DemoSummary:
    """Write the demo school into `out_dir`: one folder per period of branch workbooks and the registry workbook.

    `seed` None uses `settings().demo_seed`. Quarters end with the latest quarter completed before `today`
    (default: the current date). `progress(done, total)` is called as workbooks are written; `workers` > 1
    writes in a process pool (default: up to 4, by CPU count). Returns a `DemoSummary`, also saved as
    `demo_summary.json` in `out_dir` (written last, so its presence means the folder is complete).
    """
    from pipelines.workbook.template import write_registry_workbook

    started = time.perf_counter()
    g = guide()
    seed = settings().demo_seed if seed is None else int(seed)
    today = today or dt.date.today()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_previous(out)
    periods = Period.latest_completed(today).back(quarters)  # ending with the latest completed quarter
    school = plan_school(branches, seed, periods[-1].year)
    measures = Measures.of(g)
    rng = np.random.default_rng([seed, 0, 3])
    latest = str(periods[-1])
    missing_idx, warn_slots = _gaps(school, periods, rng)

    tasks: list[Task] = []
    registry: list[RegistryEntry] = []
    for i, b in enumerate(school):
        skip = {latest} if i in missing_idx else set()
        warn = {p for (j, p) in warn_slots if j == i}
        t, entry = _branch_tasks(g, measures, b, periods, seed, out, today, skip, warn)
        tasks.extend(t)
        registry.append(entry)
    tasks.sort(key=lambda t: (t.info.period, t.info.branch_code))
    _write_all(tasks, progress, workers)
    reg_path = out / REGISTRY_FILE
    write_registry_workbook(reg_path, registry)
    _pin_zip(reg_path, dt.datetime(periods[-1].year, 1, 1, 9, 0))  # the registry is set up at the start of the year

    summary = _summary(out, seed, periods, school, tasks, missing_idx, warn_slots)
    summary.seconds = round(time.perf_counter() - started, 2)
    (out / SUMMARY_FILE).write_text(json.dumps(asdict(summary), ensure_ascii=False, indent=1), encoding="utf-8")
    return summary


def _gaps(school: list[Branch], periods: list[Period], rng: np.random.Generator
          ) -> tuple[set[int], set[tuple[int, str]]]:
    """Which branches did not submit the latest quarter, and which (branch, period) submissions carry warnings;
    both drawn more often from the weaker profiles."""
    latest = str(periods[-1])
    # A few branches (more likely the weak ones) did not submit the latest quarter.
    weights = np.array([{"lagging": 4, "declining": 3}.get(b.profile, 1) for b in school], dtype=float)
    n_missing = min(max(2, round(len(school) * 0.05)), max(0, len(school) // 4))
    missing_idx = set(rng.choice(len(school), size=n_missing, replace=False, p=weights / weights.sum()).tolist())
    # A few submissions carry warnings (完成 without evidence), again more often from weaker branches.
    slots = [(i, str(p)) for i, b in enumerate(school) for p in periods
             if not (i in missing_idx and str(p) == latest)]
    w = np.array([weights[i] for i, _ in slots])
    n_warn = min(len(slots), max(2, round(len(slots) * 0.03)))
    warn_slots = {slots[k] for k in rng.choice(len(slots), size=n_warn, replace=False, p=w / w.sum()).tolist()}
    return missing_idx, warn_slots


def _summary(out: Path, seed: int, periods: list[Period], school: list[Branch], tasks: list[Task],
             missing_idx: set[int], warn_slots: set[tuple[int, str]]) -> DemoSummary:
    """The summary of what `generate` wrote (its time is set by the caller)."""
    latest = str(periods[-1])
    warn_paths = {Path(t.path).relative_to(out).as_posix() for t in tasks
                  if (t.info.branch_code, t.info.period) in {(school[i].code, p) for i, p in warn_slots}}
    return DemoSummary(
        out_dir=str(out), seed=seed, periods=[str(p) for p in periods], branches=len(school),
        teacher_branches=sum(b.branch_type == TEACHER for b in school),
        student_branches=sum(b.branch_type == STUDENT for b in school),
        colleges=len({b.college for b in school}),
        files=[Path(t.path).relative_to(out).as_posix() for t in tasks],
        missing=sorted((school[i].code, latest) for i in missing_idx),
        warning_files=sorted(warn_paths), profiles={b.code: b.profile for b in school},
    )


def _remove_previous(out: Path) -> None:
    """Delete the files an earlier `generate` wrote here (listed in its summary); never anything else."""
    previous = read_summary(out)
    (out / SUMMARY_FILE).unlink(missing_ok=True)
    if previous is None:
        return
    for f in previous.files:
        (out / f).unlink(missing_ok=True)
    for period in previous.periods:
        with contextlib.suppress(OSError):
            (out / period).rmdir()  # only if empty


def read_summary(files_dir) -> DemoSummary | None:
    """The summary a completed `generate` left in `files_dir`, or None."""
    p = Path(files_dir) / SUMMARY_FILE
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
        raw["missing"] = [tuple(x) for x in raw["missing"]]
        return DemoSummary(**raw)
    except (FileNotFoundError, ValueError, TypeError, KeyError):
        return None


# ---- database ---------------------------------------------------------------------------------------------------
def demo_files(files_dir) -> list[Path]:
    """The branch workbooks of a demo folder in upload order (period, then name)."""
    d = Path(files_dir)
    summary = read_summary(d)
    if summary is not None:
        return [d / f for f in summary.files]
    return sorted(p for p in d.glob("*/*.xlsx") if re.fullmatch(r"\d{4}Q[1-4]", p.parent.name))


def build_db(files_dir, db, *, progress: Callable[[int, int, str], None] | None = None) -> None:
    """Load the demo registry, then ingest every demo workbook into the DuckDB file `db` (actor 演示数据).

    Raises RuntimeError when a demo file is rejected: the demo must always be accepted whole.
    """
    from pipelines.store import ingest, registry

    d = Path(files_dir)
    n, problems = registry.load_registry(d / REGISTRY_FILE, db, actor=ACTOR)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise RuntimeError(f"演示支部名册有误：{errors[0].message}")
    results = ingest.ingest(demo_files(d), db, actor=ACTOR, progress=progress)
    rejected = [r for r in results if r.status == FileStatus.REJECTED]
    if rejected:
        r = rejected[0]
        detail = r.problems[0].message if r.problems else ""
        raise RuntimeError(f"演示文件 {r.file_name} 未通过校验：{detail}")
    summary = read_summary(d)
    work.review_sample(db, seed=summary.seed if summary else 0)
    work.open_followups(db, ACTOR)


def ensure_demo_db(db=None, progress: Callable[[float, str], None] | None = None) -> bool:
    """Build the demo database when `db` (default: the configured database) does not exist. Returns True if built.

    Safe for concurrent callers (two Streamlit sessions): a file lock beside the database makes the second wait,
    after which it finds the database and returns False. `progress(fraction 0–1, Chinese text)` drives a progress
    bar. Demo workbooks are generated into `settings().demo_dir` unless a complete set is already there.
    """
    from filelock import FileLock

    from pipelines.store.db import db_path

    path = db_path(db)
    if path.exists() and not Path(str(path) + ".demo-building").exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda fraction, text: None)
    with FileLock(str(path) + ".demo.lock", timeout=900):
        if path.exists() and not Path(str(path) + ".demo-building").exists():
            return False
        marker = Path(str(path) + ".demo-building")
        marker.touch()
        try:
            demo_dir = settings().demo_dir
            summary = read_summary(demo_dir)
            complete = summary is not None and all((Path(demo_dir) / f).exists() for f in summary.files) \
                and (Path(demo_dir) / REGISTRY_FILE).exists()
            if not complete:
                report(0.0, "正在生成演示学校的填报文件……")
                generate(demo_dir, branches=settings().demo_branches, quarters=settings().demo_quarters,
                         progress=lambda i, n: report(0.6 * i / n, f"正在生成演示填报文件（{i}/{n}）"))
            report(0.6, "正在导入演示数据……")
            _remove_db(path)  # leftovers of an interrupted build
            build_db(demo_dir, path,
                     progress=lambda i, n, name: report(0.6 + 0.4 * i / max(n, 1), f"正在导入演示数据（{i}/{n}）"))
            report(1.0, "演示数据已就绪")
        except BaseException:
            _remove_db(path)
            raise
        finally:
            marker.unlink(missing_ok=True)
    return True


def _remove_db(path: Path) -> None:
    for p in (path, Path(str(path) + ".wal"), Path(str(path) + ".version")):
        p.unlink(missing_ok=True)


def cli_demo(args) -> int:
    """`python -m pipelines demo --out DIR [--seed N] [--branches N] [--quarters N]`: write the demo school."""
    summary = generate(args.out, seed=args.seed, branches=args.branches, quarters=args.quarters)
    print(summary.text())
    if summary.warning_files:
        print(f"其中 {len(summary.warning_files)} 个文件含提示性问题（如“完成”但未填佐证材料），可用于演示校验提示。")
    print(f"导入数据库：python -m pipelines registry {Path(args.out) / REGISTRY_FILE} --db DB，"
          f"再 python -m pipelines ingest {args.out}/20*Q* --db DB")
    return 0
