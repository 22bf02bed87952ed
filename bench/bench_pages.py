"""Dashboard page benchmark: each page's script time (AppTest) and time to a finished page in Chromium,
on the 80-branch demo school and on a synthetic school of 1,000 branches × 8 quarters.

    python bench/bench_pages.py                 # both schools, AppTest and Chromium
    python bench/bench_pages.py --no-browser    # AppTest only
    python bench/bench_pages.py --demo-db FILE  # reuse a demo database instead of building one

Targets (issue 4): every page under 1 s of script time and under 3 s to a finished page at 1,000 branches.

"cold" = caches empty (the first visitor after new data: every scoring query runs); "warm" = the same page
again (cached on the data version, what every later visitor gets). In Chromium, "first" is a fresh tab
opening the page right after the server started — on `streamlit run app.py` (no warm start, the baseline) and
on `streamlit run serve.py` (the README's command, after its warm start) — "again" a fresh tab opening it once
more, "switch" a click in the sidebar.
Databases are written under bench/out/ (git-ignored).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from app_server import CHROMIUM, CHROMIUM_ARGS, start_app, stop_app  # noqa: E402

OUT = ROOT / "bench" / "out"
PAGES = {  # name -> (file, url path, title, plotly charts on the finished page)
    "overview": ("pages/overview.py", "", "全校总览", 4),
    "branch": ("pages/branch.py", "branch", "支部画像", 2),
    "compare": ("pages/compare.py", "compare", "教师与学生支部对比", 5),
    "trends": ("pages/trends.py", "trends", "趋势分析", 5),
    "guide": ("pages/guide.py", "guide", "指标指南", 1),
}
TARGET_SCRIPT_S = 1.0
TARGET_BROWSER_S = 3.0


# ---- databases --------------------------------------------------------------------------------------
def big_db(branches: int, quarters: int) -> Path:
    """The synthetic school of bench/bench_scoring.py (bulk-inserted), rebuilt each run."""
    from bench_scoring import synthesise

    path = OUT / f"pages_{branches}x{quarters}.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    synthesise(path, branches=branches, quarters=quarters)
    return path


def demo_db(path: Path | None) -> Path:
    """The real demo school (generated workbooks, real ingest); built once and kept under bench/out/."""
    if path:
        return path
    from pipelines.demo import build

    target = OUT / "pages_demo80.duckdb"
    if not target.exists():
        files = OUT / "demo80_files"
        print("building the 80-branch demo database (generate + ingest, a few minutes) …", flush=True)
        build.generate(files, branches=80, quarters=6)
        build.build_db(files, target)
    return target


# ---- AppTest --------------------------------------------------------------------------------------------
def script_times(db: Path) -> dict[str, tuple[float, float]]:
    """(cold, warm) seconds of one AppTest run of each page on `db`."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from pipelines import config

    os.environ["DJ_DB_PATH"] = str(db)
    config.settings.cache_clear()
    AppTest.from_file(str(ROOT / "pages/guide.py"), default_timeout=300).run()  # imports, once
    out = {}
    for name, (file, *_rest) in PAGES.items():
        st.cache_data.clear()
        times = []
        for _ in range(2):
            at = AppTest.from_file(str(ROOT / file), default_timeout=300)
            t = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - t)
            if at.exception or at.error:
                raise RuntimeError(f"{name} failed: {[e.value for e in list(at.exception) + list(at.error)]}")
        out[name] = (times[0], times[1])
    return out


# ---- Chromium ------------------------------------------------------------------------------------------
def _wait_finished(page, title: str, charts: int, start: float, timeout_s: float = 120) -> float:
    """Seconds from `start` until the title is shown, no script runs and `charts` plotly charts are drawn
    (the state must then hold for 0.5 s, which is not counted)."""
    page.get_by_role("heading", name=title, level=1).wait_for(timeout=timeout_s * 1000)
    quiet_since = None
    while time.perf_counter() - start < timeout_s:
        busy = page.locator('[data-testid="stStatusWidget"]').count() > 0
        drawn = page.locator(".js-plotly-plot .main-svg").count() >= charts
        if not busy and drawn:
            quiet_since = quiet_since or time.perf_counter()
            if time.perf_counter() - quiet_since >= 0.5:
                return quiet_since - start
        else:
            quiet_since = None
        page.wait_for_timeout(25)
    raise RuntimeError(f"{title} did not finish in {timeout_s} s")


def _wait_warm_start(log: Path, proc, timeout_s: float = 300) -> None:
    """Until serve.py's warm start has opened every page (its line in the server log)."""
    deadline = time.monotonic() + timeout_s
    while "warm start:" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("no warm start:\n" + log.read_text())
        time.sleep(0.2)


def browser_times(db: Path, repeat: int = 3) -> dict[str, tuple[float, ...]]:
    """Median seconds to a finished page in Chromium over `repeat` server starts:
    (first without warm start, first, again, switch).

    first without warm start: a new tab opens the page's URL on a freshly started `streamlit run app.py`
    (nothing imported, caches cold); first: the same on `streamlit run serve.py` (the README's command) once
    its warm start has run; again: a new tab opens it once more (browser cache of the app's scripts);
    switch: clicking the page in the sidebar of an open dashboard (the everyday case).
    """
    from playwright.sync_api import sync_playwright

    kinds = ("first_cold", "first", "again", "switch")
    out: dict[str, dict[str, list[float]]] = {n: {k: [] for k in kinds} for n in PAGES}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _rep in range(repeat):
            for script in ("app.py", "serve.py"):
                _one_server(browser, db, script, out)
        browser.close()
    return {n: tuple(statistics.median(v[k]) for k in kinds) for n, v in out.items()}


def _one_server(browser, db: Path, script: str, out: dict[str, dict[str, list[float]]]) -> None:
    """Start `script`, open every page in new tabs of a new browser context, then (serve.py) switch pages."""
    log = Path(tempfile.mkdtemp(prefix="bench_pages_log_")) / "streamlit.log"
    proc, base = start_app(db, log, script=script)
    try:
        if script == "serve.py":
            _wait_warm_start(log, proc)
        ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")  # nothing cached
        rounds = ["first_cold"] if script == "app.py" else ["first", "again"]
        for kind in rounds:
            for name, (_file, path, title, charts) in PAGES.items():
                page = ctx.new_page()
                t = time.perf_counter()
                page.goto(f"{base}/{path}")
                out[name][kind].append(_wait_finished(page, title, charts, t))
                _no_error(page, name)
                page.close()
        if script == "serve.py":
            page = ctx.new_page()
            page.goto(f"{base}/guide")
            _wait_finished(page, "指标指南", 1, time.perf_counter())
            for name in ["overview", "branch", "compare", "trends", "guide"]:
                _file, path, title, charts = PAGES[name]
                link = page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=_nav_title(name))
                t = time.perf_counter()
                link.click()
                out[name]["switch"].append(_wait_finished(page, title, charts, t))
                _no_error(page, name)
        ctx.close()
    finally:
        stop_app(proc)


def _nav_title(name: str) -> str:
    return {"overview": "全校总览", "branch": "支部画像", "compare": "教师与学生支部对比", "trends": "趋势分析",
            "guide": "指标指南"}[name]


def _no_error(page, name: str) -> None:
    if page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count():
        raise RuntimeError(f"{name}: error shown in the browser")


# ---- report ----------------------------------------------------------------------------------------------
def _fmt(x: float | None, target: float | None = None) -> str:
    if x is None:
        return "—"
    mark = " !" if target is not None and x >= target else ""
    return f"{x:5.2f}{mark}"


def report(results: dict[str, dict], out=sys.stdout) -> None:
    """One block per school: per page, script cold / warm, and in the browser (medians) the first visit without
    and with the warm start and their ratio, again and switch (seconds)."""
    for school, r in results.items():
        print(f"\n{school}", file=out)
        print(f"{'page':<10} | script cold   warm | browser first: no warm  warm  ratio |  again  switch", file=out)
        print("-" * 84, file=out)
        for name in PAGES:
            sc = r.get("script", {}).get(name, (None, None))
            br = r.get("browser", {}).get(name, (None, None, None, None))
            ratio = f"{br[1] / br[0]:5.2f}" if br[0] and br[1] else "  —  "
            print(f"{name:<10} |      {_fmt(sc[0])}  {_fmt(sc[1], TARGET_SCRIPT_S)} |"
                  f"                 {_fmt(br[0])} {_fmt(br[1], TARGET_BROWSER_S)}  {ratio} |"
                  f"  {_fmt(br[2], TARGET_BROWSER_S)}  {_fmt(br[3], TARGET_BROWSER_S)}", file=out)
    print(f"\ntargets at 1,000 branches: script < {TARGET_SCRIPT_S:.0f} s, finished page < {TARGET_BROWSER_S:.0f} s "
          "('!' marks a value over its target; the first visit without the warm start is the baseline).", file=out)


def main(argv: list[str] | None = None) -> int:
    """Build both schools, time every page, print the report."""
    p = argparse.ArgumentParser(description="Dashboard page benchmark (AppTest script time, Chromium time to finished)")
    p.add_argument("--branches", type=int, default=1000)
    p.add_argument("--quarters", type=int, default=8)
    p.add_argument("--demo-db", type=Path, default=None, help="an existing demo database (else built under bench/out)")
    p.add_argument("--no-browser", action="store_true", help="skip the Chromium timings")
    p.add_argument("--no-demo", action="store_true", help="only the large school")
    p.add_argument("--repeat", type=int, default=3, help="server starts per entry script (medians are reported)")
    args = p.parse_args(argv)

    schools = {}
    if not args.no_demo:
        schools["demo (80 branches)"] = demo_db(args.demo_db)
    schools[f"{args.branches} branches × {args.quarters} quarters"] = big_db(args.branches, args.quarters)
    results: dict[str, dict] = {}
    for label, db in schools.items():
        # each school on a private copy, so the benchmark never writes to the source
        work = Path(tempfile.mkdtemp(prefix="bench_pages_")) / db.name
        for f in db.parent.glob(db.name + "*"):
            if f.is_file():
                shutil.copy(f, work.parent / f.name)
        print(f"{label}: AppTest …", flush=True)
        results[label] = {"script": script_times(work)}
        if not args.no_browser and Path(CHROMIUM).exists():
            print(f"{label}: Chromium …", flush=True)
            results[label]["browser"] = browser_times(work, args.repeat)
        shutil.rmtree(work.parent, ignore_errors=True)
    print()
    report(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
