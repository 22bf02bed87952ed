"""Dashboard page benchmark (issue 14, targets 1 and 2): every page of app.py's navigation against the floor page
(bench/floor_app.py: one plotly radar, nothing else), measured in the same run, on the 80-branch demo school and on
a synthetic school of 1,000 branches × 8 quarters, with a breakdown of where the time goes.

    python bench/bench_pages.py                  # both schools, AppTest, headless sessions and Chromium
    python bench/bench_pages.py --no-browser     # without Chromium
    python bench/bench_pages.py --demo-db FILE   # reuse a demo database instead of building one
    python bench/bench_pages.py --no-demo --branches 10000 --quarters 2 --no-browser

Per page:
  script cold / warm   AppTest run of the page file alone: caches empty (every query runs), then again (cached on
                       the data version, what every later visitor gets)
  server s             a headless session (bench/stream_client.py) asking `streamlit run serve.py` for the page after
                       its warm start: from the request to the end of the script run (median of --repeat)
  ws KB / charts / chart KB / elements   what that run sent: websocket bytes, plotly charts and their figures' JSON,
                       every element
  tab s, × floor       Chromium: a new tab of a browser that has the app's static files cached (every measured page
                       opened once before) opens the page's URL,
                       until finished (title shown, no script running, every plotly chart drawn, held 0.5 s;
                       the hold not counted); median of --repeat; the floor page measured the same way
  switch s             Chromium: a click on the page in the sidebar of an open dashboard until finished
  view KB, × floor     bytes of that new tab as the network saw them (CDP: encoded HTTP responses not served from
                       the cache + websocket frames both ways)
  browser split        (second table) the new tab's and the switch's own time as Chromium counts it (CDP
                       Performance.getMetrics: TaskDuration = all main-thread work, of it ScriptDuration (JavaScript),
                       LayoutDuration and RecalcStyleDuration), the time to the first plotly chart drawn, and the time
                       each further chart adds ((last drawn - first drawn) / (charts - 1)); medians of --repeat
  load                 the 1-minute load average while the column was measured (mean of its samples)
A/B: `--ab TREE` also serves TREE (e.g. a detached worktree of main) from its own server and measures it in the same
browser run, each round one context for TREE then one for this tree, so both see the same load.
Targets: tab ≤ 1.5× floor, switch ≤ 0.7 s. Databases are written under bench/out/ (git-ignored).
"""
from __future__ import annotations

import argparse
import base64
import json
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
from stream_client import Session  # noqa: E402

OUT = ROOT / "bench" / "out"
FLOOR = "bench/floor_app.py"
FLOOR_TITLE = "底线页面"
NAV = {  # url path -> page file, as app.py's st.navigation lists them
    "": "pages/overview.py", "college": "pages/college.py", "branch": "pages/branch.py",
    "compare": "pages/compare.py", "trends": "pages/trends.py", "meeting": "pages/meeting.py",
    "alerts": "pages/alerts.py", "progress": "pages/progress.py", "followups": "pages/followups.py",
    "guide": "pages/guide.py", "template": "pages/template.py", "upload": "pages/upload.py",
}
TARGET_TAB_RATIO = 1.5
TARGET_SWITCH_S = 0.7


def label(path: str) -> str:
    return "/" + (path or "(总览)")


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


def private_copy(db: Path) -> Path:
    """Each school on a private copy, so the benchmark never writes to the source."""
    work = Path(tempfile.mkdtemp(prefix="bench_pages_")) / db.name
    for f in db.parent.glob(db.name + "*"):
        (shutil.copytree if f.is_dir() else shutil.copy)(f, work.parent / f.name)
    return work


# ---- AppTest --------------------------------------------------------------------------------------------
def script_times(db: Path, pages: dict[str, str]) -> dict[str, tuple[float, float]]:
    """(cold, warm) seconds of one AppTest run of each page file on `db`; the floor page under ''floor''."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from pipelines import config

    os.environ["DJ_DB_PATH"] = str(db)
    config.settings.cache_clear()
    AppTest.from_file(str(ROOT / "pages/guide.py"), default_timeout=300).run()  # imports, once
    out = {}
    for name, file in {**pages, "floor": FLOOR}.items():
        st.cache_data.clear()
        times = []
        for _ in range(2):
            at = AppTest.from_file(str(ROOT / file), default_timeout=300)
            t = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - t)
            if at.exception:
                raise RuntimeError(f"{name} failed: {[e.value for e in at.exception]}")
        out[name] = (times[0], times[1])
    return out


# ---- headless sessions -----------------------------------------------------------------------------------
def session_stats(base: str, pages: list[str], repeat: int) -> dict[str, dict]:
    """Per page: median server seconds of `repeat` visits in one session, and what the last visit sent."""
    s = Session(base)
    out = {}
    try:
        for p in pages:
            s.visit(p)  # the first visit of this session to the page (widgets created), not counted
        for p in pages:
            visits = [s.visit(p) for _ in range(repeat)]
            v = visits[-1]
            if v.failed:
                raise RuntimeError(f"{label(p)}: {v.status} {v.exceptions}")
            out[p] = {"server_s": statistics.median(x.seconds for x in visits), "ws_kb": v.ws_bytes / 1024,
                      "charts": v.charts, "chart_kb": v.chart_bytes / 1024, "elements": sum(v.elements.values()),
                      "title": v.title, "messages": v.messages}
    finally:
        s.close()
    return out


# ---- Chromium ------------------------------------------------------------------------------------------
class Meter:
    """Bytes of one tab as the network saw them (Chrome DevTools Protocol): encoded bytes of every HTTP response
    that was loaded (not served from the cache) plus every websocket frame's payload, both ways."""

    def __init__(self, cdp) -> None:
        self.http = 0
        self.ws = 0
        cdp.on("Network.loadingFinished", lambda e: setattr(self, "http", self.http + int(e["encodedDataLength"])))
        cdp.on("Network.webSocketFrameReceived", self._frame)
        cdp.on("Network.webSocketFrameSent", self._frame)
        cdp.send("Network.enable")

    def _frame(self, event: dict) -> None:
        frame = event["response"]
        data = frame["payloadData"]
        self.ws += len(base64.b64decode(data)) if frame["opcode"] == 2 else len(data.encode())


SPLIT = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration")


def perf_metrics(response: dict) -> dict[str, float]:
    """The durations (seconds) of a CDP `Performance.getMetrics` response: {'TaskDuration': …, 'ScriptDuration': …,
    'LayoutDuration': …, 'RecalcStyleDuration': …}; a metric Chromium did not report is 0."""
    got = {m["name"]: float(m["value"]) for m in response.get("metrics", [])}
    return {k: got.get(k, 0.0) for k in SPLIT}


def metrics_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What happened between two perf_metrics readings of one page (they are totals since the page opened)."""
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in SPLIT}


def chart_times(drawn_at: list[float]) -> tuple[float | None, float | None]:
    """(seconds to the first chart drawn, seconds each further chart added) from the times at which the 1st, 2nd, …
    chart was seen drawn."""
    if not drawn_at:
        return None, None
    further = (drawn_at[-1] - drawn_at[0]) / (len(drawn_at) - 1) if len(drawn_at) > 1 else None
    return drawn_at[0], further


def load() -> float:
    return os.getloadavg()[0]


_DRAWN = """() => { const plots = [...document.querySelectorAll('.js-plotly-plot')];
  return [plots.length, plots.filter(p => p.querySelector('.main-svg')).length]; }"""


def wait_finished(page, title: str, charts: int, start: float, timeout_s: float = 120,
                  drawn_at: list[float] | None = None) -> float:
    """Seconds from `start` until the title is shown, no script runs, no skeleton is left and at least `charts`
    plotly charts are drawn with none still drawing (held for 0.5 s, which is not counted). `drawn_at`, if given,
    receives the seconds at which the 1st, 2nd, … chart was first seen drawn (polled every 25 ms)."""
    drawn_at = [] if drawn_at is None else drawn_at
    page.get_by_role("heading", name=title, level=1).first.wait_for(timeout=timeout_s * 1000)
    quiet_since = None
    while time.perf_counter() - start < timeout_s:
        busy = page.locator('[data-testid="stStatusWidget"], [data-testid="stSkeleton"]').count() > 0
        present, drawn = page.evaluate(_DRAWN)
        now = time.perf_counter() - start
        while len(drawn_at) < min(drawn, charts):
            drawn_at.append(now)
        if not busy and drawn >= charts and drawn == present:
            quiet_since = quiet_since or time.perf_counter()
            if time.perf_counter() - quiet_since >= 0.5:
                return quiet_since - start
        else:
            quiet_since = None
        page.wait_for_timeout(25)
    raise RuntimeError(f"{title} did not finish in {timeout_s} s")


def _no_error(page, name: str) -> None:
    if page.locator('[data-testid="stException"]').count():
        raise RuntimeError(f"{name}: exception shown in the browser")


def new_tab(ctx, url: str, title: str, charts: int) -> dict:
    """A new tab opening `url`: {'tab': seconds to finished, 'bytes', 'first': seconds to the first chart drawn,
    'more': seconds each further chart added, 'load', and the browser's split (perf_metrics) until finished}."""
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    meter = Meter(cdp)
    cdp.send("Performance.enable")
    drawn_at: list[float] = []
    t = time.perf_counter()
    page.goto(url)
    s = wait_finished(page, title, charts, t, drawn_at=drawn_at)
    split = perf_metrics(cdp.send("Performance.getMetrics"))
    _no_error(page, url)
    page.wait_for_timeout(300)  # late frames of the visit (fragment messages, fonts) are part of its weight
    page.close()
    first, more = chart_times(drawn_at)
    return {"tab": s, "bytes": meter.http + meter.ws, "first": first, "more": more, "load": load(),
            **{f"tab_{k}": v for k, v in split.items()}}


def _context_round(browser, base: str, floor_base: str, stats: dict[str, dict], nav_titles: dict[str, str],
                   runs: dict[str, dict[str, list]]) -> None:
    """One browser context: every page opened once (priming the cache), then the floor and every page as new tabs,
    then a sidebar click to every page; each figure appended to runs[page][figure]."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    # prime each origin's static files in the browser cache (the new tab of a returning viewer): every
    # measured page once, so no page pays for a script chunk (the data grid, a widget) that an earlier
    # one happened not to load
    new_tab(ctx, f"{floor_base}/", FLOOR_TITLE, 1)
    for p, st_ in stats.items():
        new_tab(ctx, f"{base}/{p}", st_["title"], st_["charts"])
    for p, url, title, charts in [("floor", f"{floor_base}/", FLOOR_TITLE, 1),
                                  *[(p, f"{base}/{p}", st_["title"], st_["charts"]) for p, st_ in stats.items()]]:
        for k, v in new_tab(ctx, url, title, charts).items():
            runs[p].setdefault(k, []).append(v)
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.goto(f"{base}/guide")
    wait_finished(page, stats["guide"]["title"], stats["guide"]["charts"], time.perf_counter())
    for p in [*[q for q in stats if q != "guide"], "guide"]:
        link = page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=nav_titles[p])
        before = perf_metrics(cdp.send("Performance.getMetrics"))
        t = time.perf_counter()
        link.click()
        s = wait_finished(page, stats[p]["title"], stats[p]["charts"], t)
        split = metrics_delta(before, perf_metrics(cdp.send("Performance.getMetrics")))
        _no_error(page, p)
        for k, v in {"switch": s, "switch_load": load(), **{f"switch_{k}": v for k, v in split.items()}}.items():
            runs[p].setdefault(k, []).append(v)
    ctx.close()


def _medians(runs: dict[str, dict[str, list]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for p, r in runs.items():
        out[p] = {}
        for k, v in r.items():
            v = [x for x in v if x is not None]
            if v:
                out[p][k] = statistics.mean(v) if k.endswith("load") or k == "load" else statistics.median(v)
    return out


def browser_times(trees: dict[str, tuple[str, dict[str, dict], dict[str, str]]], floor_base: str,
                  repeat: int) -> dict[str, dict[str, dict[str, float]]]:
    """Per tree name ((base url, session stats, nav titles) each): medians over `repeat` rounds of new tab seconds,
    bytes, chart times and browser split of every page and of the floor, and the switch seconds and split of every
    page. Each round has one browser context per tree, in turn (an A/B under the same load)."""
    from playwright.sync_api import sync_playwright

    runs = {name: {p: {} for p in [*stats, "floor"]} for name, (_b, stats, _t) in trees.items()}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for i in range(repeat):
            order = list(trees) if i % 2 == 0 else list(trees)[::-1]  # alternate who goes first
            for name in order:
                base, stats, titles = trees[name]
                _context_round(browser, base, floor_base, stats, titles, runs[name])
        browser.close()
    return {name: _medians(r) for name, r in runs.items()}


def nav_titles(base: str) -> dict[str, str]:
    """url path -> the page's title in the sidebar (app.py's st.Page titles), from the navigation message."""
    from stream_client import stream_url
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect

    with connect(stream_url(base), subprotocols=["streamlit"], max_size=None) as ws:
        msg = BackMsg()
        msg.rerun_script.page_name = ""
        ws.send(msg.SerializeToString())
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(ws.recv(timeout=120))
            if fwd.WhichOneof("type") == "navigation":
                return {p.url_pathname: p.page_name for p in fwd.navigation.app_pages}


def _wait_warm_start(log: Path, proc, timeout_s: float = 300) -> None:
    """Until serve.py's warm start has opened every page (its line in the server log)."""
    deadline = time.monotonic() + timeout_s
    while "warm start:" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("no warm start:\n" + log.read_text())
        time.sleep(0.2)


def _serve(db: Path, tmp: Path, name: str, root: Path, pages: list[str], repeat: int, copies: list[Path]):
    """serve.py of `root` on a private copy of `db` (its folder appended to `copies`), after its warm start:
    (process, base url, session stats)."""
    copy = private_copy(db)
    copies.append(copy.parent)
    proc, base = start_app(copy, tmp / f"{name}.log", script="serve.py", root=root)
    try:
        _wait_warm_start(tmp / f"{name}.log", proc)
        return proc, base, session_stats(base, pages, repeat)
    except BaseException:
        stop_app(proc)
        raise


def measure_school(db: Path, *, browser: bool, repeat: int, pages: list[str],
                   ab: Path | None = None) -> dict[str, dict]:
    """Per tree ('tree' = this one, 'main' = `ab`): AppTest script times (this tree only), then one `serve.py`
    server per tree and the floor's server for sessions and Chromium (the trees interleaved, browser_times)."""
    if browser and "guide" not in pages:
        pages = [*pages, "guide"]  # the page the switches start from
    trees = {"main": ab, "tree": ROOT} if ab else {"tree": ROOT}
    results: dict[str, dict] = {name: {} for name in trees}
    results["tree"]["script"] = script_times(db, {p: NAV[p] for p in pages})
    tmp = Path(tempfile.mkdtemp(prefix="bench_pages_log_"))
    procs, copies = [], []
    try:
        served = {}
        for name, root in trees.items():
            proc, base, stats = _serve(db, tmp, name, root, pages, repeat, copies)
            procs.append(proc)
            served[name] = (base, stats)
            results[name]["session"] = stats
            results[name]["load"] = {"session": load()}
        fproc, fbase = start_app(db, tmp / "floor.log", script=FLOOR)
        procs.append(fproc)
        fs = Session(fbase)
        fs.visit("")
        fv = [fs.visit("") for _ in range(repeat)]
        fs.close()
        floor = {"server_s": statistics.median(v.seconds for v in fv), "ws_kb": fv[-1].ws_bytes / 1024,
                 "charts": fv[-1].charts, "chart_kb": fv[-1].chart_bytes / 1024,
                 "elements": sum(fv[-1].elements.values()), "title": FLOOR_TITLE}
        for name in trees:
            results[name]["session"]["floor"] = floor
        if browser and Path(CHROMIUM).exists():
            arg = {name: (base, {p: stats[p] for p in pages}, nav_titles(base)) for name, (base, stats) in served.items()}
            for name, r in browser_times(arg, fbase, repeat).items():
                results[name]["browser"] = r
    finally:
        for proc in procs:
            stop_app(proc)
        for copy in copies:
            shutil.rmtree(copy, ignore_errors=True)
    return results


# ---- report ----------------------------------------------------------------------------------------------
def report(results: dict[str, dict], out=sys.stdout) -> None:
    for school, r in results.items():
        sc, se, br = r.get("script", {}), r.get("session", {}), r.get("browser", {})
        fl = br.get("floor", {})
        print(f"\n{school}  (load during the sessions {_f(r.get('load', {}).get('session'), 0, 1).strip()})", file=out)
        head = (f"{'page':<12}|{'script cold':>12}{'warm':>7} |{'server s':>9}{'ws KB':>8}{'charts':>7}{'chart KB':>9}"
                f"{'elems':>6} |{'tab s':>7}{'×floor':>7}{'switch s':>9} |{'view KB':>9}{'×floor':>7} |{'load':>5}")
        print(head + "\n" + "-" * len(head), file=out)
        rows = [*[q for q in se if q != "floor"], "floor"]
        for p in rows:
            a, s, b = sc.get(p, (None, None)), se.get(p, {}), br.get(p, {})
            tab, byt = b.get("tab"), b.get("bytes")
            rt = f"{tab / fl['tab']:>7.2f}" if tab and fl.get("tab") else f"{'—':>7}"
            rb = f"{byt / fl['bytes']:>7.2f}" if byt and fl.get("bytes") else f"{'—':>7}"
            mark = " !" if tab and fl.get("tab") and tab / fl["tab"] > TARGET_TAB_RATIO else "  "
            sw = b.get("switch")
            sws = f"{sw:>7.2f}{' !' if sw > TARGET_SWITCH_S else '  '}" if sw is not None else f"{'—':>9}"
            print(f"{('floor' if p == 'floor' else label(p)):<12}|{_f(a[0], 12)}{_f(a[1], 7)} |{_f(s.get('server_s'), 9)}"
                  f"{_f(s.get('ws_kb'), 8, 0)}{s.get('charts', 0):>7}{_f(s.get('chart_kb'), 9, 0)}{s.get('elements', 0):>6}"
                  f" |{_f(tab, 7)}{rt}{mark[1:]}{sws} |{_f(byt and byt / 1024, 9, 0)}{rb} |{_f(b.get('load'), 5, 1)}",
                  file=out)
        if not br:
            continue
        print("\nbrowser split (s; CDP Performance.getMetrics): new tab until finished | sidebar switch", file=out)
        head = (f"{'page':<12}|{'1st chart':>10}{'+chart':>7} |{'task':>6}{'script':>7}{'layout':>7}{'style':>6} |"
                f"{'task':>6}{'script':>7}{'layout':>7}{'style':>6} |{'load':>5}")
        print(head + "\n" + "-" * len(head), file=out)
        for p in rows:
            b = br.get(p, {})
            tab = "".join(_f(b.get(f"tab_{k}"), w) for k, w in zip(SPLIT, (6, 7, 7, 6)))
            sw = "".join(_f(b.get(f"switch_{k}"), w) for k, w in zip(SPLIT, (6, 7, 7, 6)))
            print(f"{('floor' if p == 'floor' else label(p)):<12}|{_f(b.get('first'), 10)}{_f(b.get('more'), 7)} |"
                  f"{tab} |{sw} |{_f(b.get('switch_load'), 5, 1)}", file=out)
    print(f"\ntargets: new tab ≤ {TARGET_TAB_RATIO}× the floor, switch ≤ {TARGET_SWITCH_S} s ('!' marks a miss); "
          "load = 1-minute load average while measured", file=out)


def _f(x, w: int, d: int = 2) -> str:
    return f"{x:>{w}.{d}f}" if isinstance(x, (int, float)) else f"{'—':>{w}}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--branches", type=int, default=1000)
    p.add_argument("--quarters", type=int, default=8)
    p.add_argument("--demo-db", type=Path, default=None, help="an existing demo database (else built under bench/out)")
    p.add_argument("--no-browser", action="store_true", help="skip Chromium")
    p.add_argument("--no-demo", action="store_true", help="only the large school")
    p.add_argument("--no-big", action="store_true", help="only the demo school")
    p.add_argument("--repeat", type=int, default=3, help="visits / browser contexts per page (medians reported)")
    p.add_argument("--pages", default=",".join(NAV), help="url paths, comma-separated ('' = 全校总览)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    p.add_argument("--ab", type=Path, default=None,
                   help="another tree (a detached worktree of main) measured in the same run, interleaved")
    args = p.parse_args(argv)
    pages = [x.strip() for x in args.pages.split(",")] if args.pages else list(NAV)

    schools = {}
    if not args.no_demo:
        schools["demo (80 branches × 6 quarters)"] = demo_db(args.demo_db)
    if not args.no_big:
        schools[f"{args.branches} branches × {args.quarters} quarters"] = big_db(args.branches, args.quarters)
    results: dict[str, dict] = {}
    for name, db in schools.items():
        work = private_copy(db)
        print(f"{name}: measuring …", flush=True)
        for tree, r in measure_school(work, browser=not args.no_browser, repeat=args.repeat, pages=pages,
                                      ab=args.ab).items():
            results[f"{name} · {tree}" if args.ab else name] = r
        shutil.rmtree(work.parent, ignore_errors=True)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
