"""Benchmark of `write_workbook` on filled branch workbooks like the demo school's.

    python bench/bench_workbook.py                      # 60 workbooks, best of 3 runs
    python bench/bench_workbook.py --baseline 3611b18   # also time the template writer as of that commit
    python bench/bench_workbook.py --n 200 --repeat 5

Each workbook: a branch's info, ~14 ledger rows, every count field, a self-assessment answer per item (the
sizes the demo writes); half teacher, half student branches. Times are CPU ms per workbook (process time,
steadier than wall time on a shared machine) and wall ms, best run. With `--baseline`, that commit's
template writer (`pipelines/workbook/template.py`, `pipelines/workbook.py` before the layer move) is loaded from git next to the current one and timed on the same workbooks.
"""
from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.workbook import template  # noqa: E402
from pipelines.guide import guide  # noqa: E402
from pipelines.workbook.model import BranchInfo, LedgerRow  # noqa: E402


def workbooks(n: int, seed: int = 7) -> list[dict]:
    """Keyword arguments of `write_workbook` for n filled workbooks."""
    g = guide()
    rng = np.random.default_rng(seed)
    acts = [a.id for a in g.activity_types]
    out = []
    for i in range(n):
        btype = ("teacher", "student")[i % 2]
        members = int(rng.integers(8, 60))
        info = BranchInfo(f"JX{i % 20:02d}-{btype[0].upper()}{i:02d}", f"第{i}党支部", "机械工程学院", btype, 2026,
                          2, members, "王书记", "李委员", dt.date(2026, 6, 28))
        ledger = [LedgerRow(r, dt.date(2026, 4, 1) + dt.timedelta(days=int(rng.integers(0, 90))),
                            str(rng.choice(acts)), "", f"专题学习第{r}次", members, members - int(rng.integers(0, 3)),
                            float(rng.choice([1.0, 2.0, 4.0])), "会议记录、签到表")
                  for r in range(2, 2 + int(rng.integers(8, 22)))]
        counts = {f.id: int(rng.integers(0, members + 1)) for f in g.count_fields}
        answers = {it.id: ("done", "学习记录、活动照片") for it in g.items_for(btype)}
        out.append(dict(branch_type=btype, info=info, ledger=ledger, counts=counts, self_assessment=answers,
                        raw_cells={("ledger", "A3"): "2026/4/10"}))
    return out


def baseline_module(rev: str) -> types.ModuleType:
    """The template writer as of git revision `rev`, as a separate module."""
    for path in ("pipelines/workbook/template.py", "pipelines/workbook.py"):  # after / before the layer move
        shown = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True)
        if shown.returncode == 0:
            src = shown.stdout
            break
    else:
        raise SystemExit(f"no template writer at {rev}")
    mod = types.ModuleType(f"workbook_{rev}")
    mod.__file__ = f"{rev}:{path}"
    sys.modules[mod.__name__] = mod  # dataclasses and annotations look their module up here
    exec(compile(src, mod.__file__, "exec"), mod.__dict__)
    return mod


def timed(write, books: list[dict], out: Path, repeat: int) -> tuple[float, float]:
    """Best (CPU ms, wall ms) per workbook over `repeat` runs."""
    write(out / "warm.xlsx", **books[0])
    cpu, wall = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        for i, kw in enumerate(books):
            write(out / f"{i}.xlsx", **kw)
        cpu.append((time.process_time() - c0) / len(books) * 1000)
        wall.append((time.perf_counter() - w0) / len(books) * 1000)
    return min(cpu), min(wall)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=60, help="workbooks per run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline", help="a git revision whose template writer to time as well")
    args = ap.parse_args(argv)
    books = workbooks(args.n)
    writers = [("current", template.write_workbook)]
    if args.baseline:
        writers.insert(0, (args.baseline, baseline_module(args.baseline).write_workbook))
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_workbook_") as tmp:
        for name, write in writers:
            results[name] = timed(write, books, Path(tmp), args.repeat)
            print(f"{name:>10}: {results[name][0]:6.1f} ms CPU, {results[name][1]:6.1f} ms wall per workbook")
    if args.baseline:
        base, cur = results[args.baseline], results["current"]
        print(f"   speedup: {base[0] / cur[0]:.1f}x CPU, {base[1] / cur[1]:.1f}x wall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
