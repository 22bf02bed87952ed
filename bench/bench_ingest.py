"""Ingest benchmark (issue 14, target 4): a quarter of branch workbooks through `ingest` against a plain calamine
read of the same files, measured in the same run, with a breakdown of where the time goes; and a batch checked and
previewed through the upload page's pipeline functions (`plan(..., on_conflict="refuse", with_scores=True)`,
`late_notes`, `change_preview`).

    python bench/bench_ingest.py                      # 1,000 workbooks (one quarter of a 1,000-branch demo school)
    python bench/bench_ingest.py --n 200 --preview 100
    python bench/bench_ingest.py --files DIR          # an existing demo folder (generate's layout)
    python bench/bench_ingest.py --n 300 --baseline 6034be4 --only-baseline   # before/after in one run

Rows of the report (ms per file, best of --repeat where stated):
  calamine      python-calamine opens each file from its bytes and reads every sheet to Python lists (the floor)
  reader        pipelines.workbook.reader.read_workbook in this process (all validation, no worker; CPU time)
  plan          pipelines.store.plan.plan: the reads through the worker process(es) of safe_read, decisions
  apply         pipelines.store.ingest.apply: archive, journal, DuckDB writes (the upload page's confirm)
  plan + apply  the two one after the other
  ingest        `ingest(files)` into a fresh database holding the registry (the CLI's path: it writes what has
                been read while the workers read the rest)
Target: ingest <= 5x calamine; 300 files checked and previewed <= 10 s. The load average is printed beside
the figures (the machine is shared); --baseline REV compares REV's `ingest` with the current one in
interleaved rounds, each in a fresh process, with calamine read between them.
Files and databases are written under bench/out/ (git-ignored).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "out"
TARGET_RATIO = 5.0
TARGET_PREVIEW_S = 10.0


def demo_folder(n: int, files: Path | None) -> tuple[Path, list[Path]]:
    """A demo school of `n` branches and one quarter (built once under bench/out/), its workbooks in upload order."""
    from pipelines.demo import build

    folder = files or OUT / f"demo{n}x1_files"
    if not (folder / build.SUMMARY_FILE).exists():
        print(f"generating {n} demo workbooks …", flush=True)
        build.generate(folder, branches=n, quarters=1)
    return folder, build.demo_files(folder)


def calamine_read(data: list[bytes], clock=time.perf_counter) -> float:
    """Seconds to open every file from its bytes and read each sheet with calamine (nothing checked);
    clock=time.process_time for CPU seconds."""
    from python_calamine import CalamineWorkbook

    t = clock()
    for d in data:
        wb = CalamineWorkbook.from_filelike(__import__("io").BytesIO(d))
        for name in wb.sheet_names:
            wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        wb.close()
    return clock() - t


def reader_read(data: list[tuple[str, bytes]], registry) -> float:
    """CPU seconds for reader.read_workbook in this process (validation without the worker)."""
    from pipelines.workbook import reader

    t = time.process_time()
    for name, d in data:
        reader.read_workbook(d, name, registry=registry)
    return time.process_time() - t


def load() -> str:
    """The load average (1, 5, 15 min) as printed beside each figure."""
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def fresh_db(folder: Path, tag: str) -> Path:
    """A new database under bench/out/ holding the demo registry."""
    from pipelines.demo import build
    from pipelines.store import registry

    db = OUT / f"ingest_{tag}.duckdb"
    for f in OUT.glob(db.name + "*"):
        shutil.rmtree(f) if f.is_dir() else f.unlink()
    registry.load_registry(folder / build.REGISTRY_FILE, db, actor="bench")
    return db


def run_ingest(folder: Path, files: list[Path]) -> dict:
    """plan then apply into a fresh database, and `ingest` into another; seconds of each, and the statuses."""
    from pipelines.store import ingest, plan

    db = fresh_db(folder, "run")
    t = time.perf_counter()
    p = plan.plan(files, db, on_conflict="last_wins")
    t_plan = time.perf_counter() - t
    t = time.perf_counter()
    results = ingest.apply(p, "bench")
    t_apply = time.perf_counter() - t
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    db2 = fresh_db(folder, "run2")
    t = time.perf_counter()
    streamed = ingest.ingest(files, db2, actor="bench")
    t_ingest = time.perf_counter() - t
    assert [r.status for r in streamed] == [r.status for r in results]
    return {"plan": t_plan, "apply": t_apply, "ingest": t_ingest, "statuses": statuses,
            "db_bytes": db.stat().st_size}


def run_preview(folder: Path, files: list[Path]) -> dict:
    """The upload page's pipeline on `files` as uploaded bytes: plan(refuse, with_scores) + late_notes + change_preview,
    against the demo database with the earlier files already stored (so some are replacements)."""
    from pipelines.guide.vocab import FileStatus
    from pipelines.store import ingest, plan
    from pipelines.store.changes import change_preview

    db = fresh_db(folder, "preview")
    half = files[: len(files) // 2]
    ingest.ingest(half, db, actor="bench")  # so the preview has scores before and replacements to show
    pairs = [(f.name, f.read_bytes()) for f in files]
    t = time.perf_counter()
    p = plan.plan(pairs, db, on_conflict="refuse", with_scores=True)
    t_plan = time.perf_counter() - t
    t = time.perf_counter()
    plan.late_notes(p.results, db)
    t_late = time.perf_counter() - t
    t = time.perf_counter()
    change_preview(p)
    t_change = time.perf_counter() - t
    return {"plan": t_plan, "late": t_late, "change": t_change, "total": t_plan + t_late + t_change,
            "statuses": {s.value: len(p.of_status(s)) for s in FileStatus}}


_TIMED = r"""
import json, os, shutil, sys, time
from pathlib import Path
sys.path.insert(0, os.getcwd())
from pipelines.demo import build
from pipelines.store import ingest, plan, registry
folder, db, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
files = build.demo_files(folder)[:n]
for f in db.parent.glob(db.name + "*"):
    shutil.rmtree(f) if f.is_dir() else f.unlink()
registry.load_registry(folder / build.REGISTRY_FILE, db, actor="bench")
from pipelines.workbook import safe_read
import resource
def cpu():  # this process and the reader workers it has waited for (stopped workers count)
    return sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))
c = cpu(); t = time.perf_counter(); r = ingest.ingest(files, db, actor="bench"); t_ingest = time.perf_counter() - t
for w in safe_read._workers:
    if w is not None:
        w.stop()
print(json.dumps({"ingest": t_ingest, "cpu": cpu() - c, "accepted": sum(x.status == "accepted" for x in r)}))
"""


def tree_at(rev: str) -> Path:
    """The repository as of `rev`, unpacked in the temporary folder (its pipelines/ is what gets timed; outside
    bench/ so that pyflakes on bench/ does not read it)."""
    import subprocess

    sha = subprocess.run(["git", "rev-parse", rev], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    import tempfile

    target = Path(tempfile.gettempdir()) / f"dangjian_bench_tree_{sha[:10]}"
    if not (target / "pipelines").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def timed_in(tree: Path, folder: Path, n: int, tag: str) -> dict:
    """`ingest` of n files with the pipelines of `tree`, in a fresh process (seconds)."""
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", _TIMED, str(folder), str(OUT / f"ingest_{tag}.duckdb"), str(n)],
                         cwd=tree, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def compare(rev: str, folder: Path, files: list[Path], rounds: int) -> None:
    """`rev`'s ingest and the current one on the same files, interleaved with calamine reads (same load)."""
    base = tree_at(rev)
    folder = folder.resolve()
    data = [f.read_bytes() for f in files]
    rows: dict[str, list[float]] = {"calamine": [], rev: [], "current": []}
    cpu: dict[str, list[float]] = {"calamine": [], rev: [], "current": []}
    n = len(files)
    ms = lambda s: f"{s / n * 1000:.2f}"  # noqa: E731
    print(f"\nsame-run comparison, {n} files, {rounds} interleaved rounds ({load()} at the start); "
          "wall ms/file (CPU ms/file of all its processes):")
    for k in range(rounds):
        cal, b, c = calamine_read(data), timed_in(base, folder, n, "base"), timed_in(ROOT, folder, n, "cur")
        cal_cpu = calamine_read(data, time.process_time)
        for key, wall, used in (("calamine", cal, cal_cpu), (rev, b["ingest"], b["cpu"]),
                                ("current", c["ingest"], c["cpu"])):
            rows[key].append(wall)
            cpu[key].append(used)
        print(f"  round {k + 1}: calamine {ms(cal)} ({ms(cal_cpu)}), {rev} {ms(b['ingest'])} ({ms(b['cpu'])}), "
              f"current {ms(c['ingest'])} ({ms(c['cpu'])}); {load()}", flush=True)
    med = {k: sorted(v)[len(v) // 2] for k, v in rows.items()}
    med_cpu = {k: sorted(v)[len(v) // 2] for k, v in cpu.items()}
    print(f"  median: calamine {ms(med['calamine'])} ms/file ({ms(med_cpu['calamine'])} CPU)")
    for k in (rev, "current"):
        print(f"  {k:<10} ingest {ms(med[k])} ms/file = {med[k] / med['calamine']:5.1f}x calamine; CPU "
              f"{ms(med_cpu[k])} ms/file = {med_cpu[k] / med_cpu['calamine']:5.1f}x calamine's CPU "
              f"(on {os.cpu_count()} free cores at best {med_cpu[k] / os.cpu_count() / med_cpu['calamine']:.1f}x)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="branches of the demo school (one workbook each)")
    ap.add_argument("--files", type=Path, default=None, help="an existing demo folder")
    ap.add_argument("--preview", type=int, default=300, help="files checked and previewed (0 to skip)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of the in-process reads (best is reported)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    ap.add_argument("--baseline", help="also time the ingest of this git revision on the same files, interleaved")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the --baseline comparison")
    ap.add_argument("--only-baseline", action="store_true", help="only the --baseline comparison")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJ_UPLOAD_DAY", "2026-12-05")

    folder, files = demo_folder(args.n, args.files)
    files = files[: args.n]
    n = len(files)
    if args.baseline:
        compare(args.baseline, folder, files, args.rounds)
        if args.only_baseline:
            return 0
    data = [(f.name, f.read_bytes()) for f in files]
    from pipelines.store import plan as planmod

    registry = planmod.snapshot(fresh_db(folder, "registry"))[0]
    cal = min(calamine_read([d for _, d in data]) for _ in range(args.repeat))  # wall time, as ingest's
    red = min(reader_read(data, registry) for _ in range(args.repeat))
    ing = run_ingest(folder, files)
    total = ing["ingest"]
    per = lambda s: s / n * 1000  # noqa: E731
    print(f"\ningest benchmark — {n} workbooks of one quarter ({folder.name}), {os.cpu_count()} cores, {load()}")
    print(f"{'what':<14}{'ms/file':>9}{'× calamine':>12}")
    for label, s in (("calamine", cal), ("reader (CPU)", red), ("plan", ing["plan"]), ("apply", ing["apply"]),
                     ("plan + apply", ing["plan"] + ing["apply"]), ("ingest", total)):
        print(f"{label:<14}{per(s):>9.2f}{s / cal:>12.2f}")
    print(f"statuses: {ing['statuses']}; database {ing['db_bytes'] / 1e6:.1f} MB")
    ok = total / cal <= TARGET_RATIO
    print(f"target ingest <= {TARGET_RATIO:g}x calamine: {'met' if ok else 'NOT met'} ({total / cal:.1f}x)")
    figures = {"n": n, "calamine_s": cal, "reader_s": red, **{f"ingest_{k}": v for k, v in ing.items()}}
    if args.preview:
        pv = run_preview(folder, files[: args.preview])
        print(f"\nupload page pipeline on {min(args.preview, n)} files: plan {pv['plan']:.2f} s, late notes "
              f"{pv['late']:.2f} s, change preview {pv['change']:.2f} s = {pv['total']:.2f} s "
              f"(target <= {TARGET_PREVIEW_S:g} s: {'met' if pv['total'] <= TARGET_PREVIEW_S else 'NOT met'}); "
              f"statuses {pv['statuses']}; {load()}")
        figures["preview"] = pv
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
