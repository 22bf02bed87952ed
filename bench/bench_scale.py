"""Scale curve (issue 14, target 5): at 100, 1,000 and 10,000 branches (10,000 ≈ every university branch of a
province), the cost of each step, so growth can be read off one table.

    python bench/bench_scale.py                          # 100, 1,000, 10,000 branches × 8 quarters
    python bench/bench_scale.py --sizes 100,1000 --no-pages
    python bench/bench_scale.py --sample 100             # workbooks ingested per size

Per size:
  database     the synthetic school of bench/bench_scoring.py (bulk-inserted through the real schema), N branches
               × --quarters; its file size
  marts        scoring.marts(latest quarter) on that file, no cache (best of 3, wall s)
  history      scoring.history() (every quarter's branch scores), best of 2
  ingest       --sample workbooks of a demo school of N branches (pipelines.demo.build.generate, one quarter) ingested
               into a copy of that database after its registry was loaded: ms per file, and the same files
               read by plain calamine (ms per file) in the same run
  pages        each page's script time: AppTest cold (caches empty) and the server's time for the page in a
               headless session after serve.py's warm start (bench_pages.measure_school without Chromium)
Targets: marts for one quarter < 2 s at 10,000 branches, growing no worse than linearly.
Everything is written under bench/out/ (git-ignored).
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
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

OUT = ROOT / "bench" / "out"
TARGET_MARTS_S = 2.0


def best(fn, n: int) -> float:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def school(n: int, quarters: int) -> tuple[Path, float]:
    """The synthetic school's database (rebuilt) and the seconds its synthesis took."""
    from bench_scoring import synthesise

    db = OUT / f"scale_{n}x{quarters}.duckdb"
    t = time.perf_counter()
    synthesise(db, branches=n, quarters=quarters)
    return db, time.perf_counter() - t


def ingest_sample(n: int, db: Path, sample: int) -> dict:
    """ms per file of `sample` demo workbooks (a school of n branches) ingested into a copy of `db`."""
    from bench_ingest import calamine_read, demo_folder

    from pipelines.demo import build
    from pipelines.store import ingest, registry

    folder, files = demo_folder(n, None)
    files = files[:sample]
    work = OUT / f"scale_ingest_{n}.duckdb"
    for f in OUT.glob(work.name + "*"):
        shutil.rmtree(f) if f.is_dir() else f.unlink()
    shutil.copy(db, work)
    from pipelines.store import db as dbm

    with dbm.connect(work, write=True) as con:  # the synthesis bulk-inserted ids without the sequences
        top = con.execute("SELECT max(submission_id), max(load_id) FROM submissions").fetchone()
        con.execute(f"CREATE OR REPLACE SEQUENCE submission_seq START {int(top[0] or 0) + 1}")
        con.execute(f"CREATE OR REPLACE SEQUENCE load_seq START {int(top[1] or 0) + 1}")
    registry.load_registry(folder / build.REGISTRY_FILE, work, actor="bench")
    t = time.perf_counter()
    results = ingest.ingest(files, work, actor="bench")
    s = time.perf_counter() - t
    cal = min(calamine_read([f.read_bytes() for f in files]) for _ in range(3))
    ok = sum(r.status == "accepted" for r in results)
    return {"ms_per_file": s / len(files) * 1000, "calamine_ms": cal / len(files) * 1000, "accepted": ok,
            "files": len(files)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--quarters", type=int, default=8)
    ap.add_argument("--sample", type=int, default=200, help="workbooks ingested per size")
    ap.add_argument("--no-pages", action="store_true")
    ap.add_argument("--no-ingest", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJ_UPLOAD_DAY", "2026-12-05")
    from pipelines import scoring

    rows = {}
    for n in [int(x) for x in args.sizes.split(",")]:
        print(f"{n} branches …", flush=True)
        db, synth_s = school(n, args.quarters)
        last = scoring.periods(db)[-1]
        r = {"synth_s": synth_s, "db_mb": db.stat().st_size / 1e6,
             "marts_s": best(lambda: scoring.marts(last, db), 3),
             "history_s": best(lambda: scoring.history(db), 2)}
        if not args.no_ingest:
            r["ingest"] = ingest_sample(n, db, args.sample)
        if not args.no_pages:
            from bench_pages import NAV, measure_school, private_copy

            work = private_copy(db)
            m = measure_school(work, browser=False, repeat=2, pages=list(NAV))
            r["pages"] = {p: {"cold": m["script"][p][0], "server": m["session"][p]["server_s"]}
                          for p in NAV}
            shutil.rmtree(work.parent, ignore_errors=True)
        rows[n] = r
        print(json.dumps(r, ensure_ascii=False, default=str), flush=True)
    report(rows, args.quarters)
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1, default=str))
    return 0


def report(rows: dict, quarters: int) -> None:
    sizes = list(rows)
    print(f"\nscale curve — synthetic school × {quarters} quarters ({os.cpu_count()} cores)")
    print(f"{'':<34}" + "".join(f"{n:>12,}" for n in sizes))
    lines = [("database MB", lambda r: r["db_mb"], "{:.1f}"),
             ("marts, one quarter (s)", lambda r: r["marts_s"], "{:.2f}"),
             ("history, every quarter (s)", lambda r: r["history_s"], "{:.2f}"),
             ("ingest ms/file", lambda r: r.get("ingest", {}).get("ms_per_file"), "{:.1f}"),
             ("calamine ms/file (same files)", lambda r: r.get("ingest", {}).get("calamine_ms"), "{:.1f}")]
    pages = next((list(r["pages"]) for r in rows.values() if "pages" in r), [])
    for p in pages:
        lines.append((f"page /{p or '(总览)'} cold / server (s)",
                      lambda r, p=p: r.get("pages", {}).get(p), "pair"))
    for name, get, fmt in lines:
        cells = []
        for n in sizes:
            v = get(rows[n])
            if v is None:
                cells.append(f"{'—':>12}")
            elif fmt == "pair":
                cells.append(f"{v['cold']:>6.2f}/{v['server']:<5.2f}")
            else:
                cells.append(f"{fmt.format(v):>12}")
        print(f"{name:<34}" + "".join(cells))
    if len(sizes) > 1:
        a, b = sizes[0], sizes[-1]
        growth = rows[b]["marts_s"] / rows[a]["marts_s"]
        print(f"marts grow {growth:.1f}x for {b / a:.0f}x the branches; at {b:,}: {rows[b]['marts_s']:.2f} s "
              f"(target < {TARGET_MARTS_S:g} s: {'met' if rows[b]['marts_s'] < TARGET_MARTS_S else 'NOT met'})")


if __name__ == "__main__":
    raise SystemExit(main())
