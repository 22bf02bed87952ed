"""Many viewers at once (issue 14, target 3): N sessions talk to the dashboard at the same time, each opening
the pages of the navigation in turn, for a set duration; against one viewer's median page time measured first,
on the same server, in the same run. Optionally while an upload of 80 workbooks is written (the CLI's ingest, a
second process on the same database), and on several server processes sharing one database (the reverse-proxy
setup of docs/admin.md: sessions are spread over the processes as a proxy would).

    python bench/bench_concurrency.py                          # 30 sessions, 120 s, demo school
    python bench/bench_concurrency.py --duration 30 --ingest   # shorter, with an 80-workbook upload written
    python bench/bench_concurrency.py --servers 2              # two `streamlit run serve.py` on one database
    python bench/bench_concurrency.py --db FILE --think 0      # another database; no pause between pages
    python bench/bench_concurrency.py --ingest --baseline 00d0ca1   # that revision's pages, then this tree's (A/B)
    python bench/bench_concurrency.py --py-spy bench/out/spy   # also py-spy --gil of each server under the crowd

Sessions are headless (bench/stream_client.py: Streamlit's websocket, no browser rendering), so the figure is
the server's side of a page: from asking for it to the end of its script run, every message received.
Each session opens the link (a new session on a page of its own: session i starts at page i of the
navigation), then clicks through the pages in order, pausing `--think` seconds (uniform 0.5×–1.5×) between
pages as a reader does. Reported: single-viewer median (all pages), p50 / p95 / max of every visit, p95 ÷ single
median (target ≤ 2.5), the same for the first visits (every session opening the link at the same moment) and the
later ones, each visit against the single viewer's median of its own page (the queueing alone), errors (exceptions,
error alerts, timeouts, dropped sockets), the server's peak resident memory and its CPU seconds, and the load
generator's own CPU (it runs on the same cores; it only parses what it reports). With --ingest, also the visits
asked while the upload was written and in the 20 s after its one data-version bump. The "finished page" is the
same for the single viewer and the crowd: the page's script run ended (script_finished, not a rerun), every
message of it received. Databases are copied under bench/out/ (git-ignored).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from app_server import start_app, stop_app  # noqa: E402
from stream_client import Session  # noqa: E402

OUT = ROOT / "bench" / "out"
TARGET_RATIO = 2.5


def copy_db(src: Path, tag: str) -> Path:
    """A private copy of a database (and its archive, version and lock files) under bench/out/."""
    folder = OUT / f"conc_{tag}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for f in src.parent.glob(src.name + "*"):
        (shutil.copytree if f.is_dir() else shutil.copy)(f, folder / f.name)
    return folder / src.name


def start_server(db: Path, log_path: Path, root: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """`streamlit run serve.py` of the tree `root` (this one, or a --baseline revision) on a free port with
    DJ_DB_PATH=db; returns (process, base url)."""
    return start_app(db, log_path, root=root, timeout_s=120)


def tree_at(rev: str) -> Path:
    """The repository as of `rev`, unpacked in the temporary folder (bench_ingest.tree_at)."""
    from bench_ingest import tree_at as unpack

    return unpack(rev)


def wait_warm(log: Path, proc, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while "warm start:" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("no warm start:\n" + log.read_text())
        time.sleep(0.2)


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(x.split()[1]) for x in f if x.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0


def cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def upload_batch(files_dir: Path, n: int = 80) -> Path:
    """n workbooks of the demo's latest quarter as new versions (same content, other bytes: the zip's
    timestamps moved), so ingesting them writes every one (each replaces the stored version)."""
    from pipelines.demo import build

    out = OUT / "conc_upload"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    files = build.demo_files(files_dir)
    latest = max(f.parent.name for f in files)
    for src in [f for f in files if f.parent.name == latest][:n]:
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out / src.name, "w", zipfile.ZIP_DEFLATED) as zout:
            for item in zin.infolist():
                item.date_time = (2026, 12, 1, 8, 0, 0)
                zout.writestr(item, zin.read(item.filename))
    return out


class Sampler(threading.Thread):
    """Peak RSS of the server processes, sampled every 0.5 s."""

    def __init__(self, pids: list[int]):
        super().__init__(daemon=True)
        self.pids, self.peak, self.stop = pids, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, sum(rss_kb(p) for p in self.pids))
            time.sleep(0.5)


def single_viewer(base: str, pages: list[str], rounds: int) -> dict[str, list[float]]:
    """One session clicking through every page `rounds` times (after one unmeasured round)."""
    s = Session(base)
    times: dict[str, list[float]] = {p: [] for p in pages}
    try:
        for r in range(rounds + 1):
            for p in pages:
                v = s.visit(p)
                if v.failed:
                    raise RuntimeError(f"single viewer: /{p} {v.status} {v.exceptions}")
                if r:
                    times[p].append(v.seconds)
    finally:
        s.close()
    return times


def crowd(bases: list[str], pages: list[str], n: int, duration: float, think: float, seed: int = 7) -> dict:
    """n sessions at once for `duration` seconds; returns visits [(page, seconds, started at, first of its session)] and errors."""
    visits: list[tuple[str, float, float, bool]] = []
    errors: list[str] = []
    alerts: list[str] = []  # st.error messages pages showed (e.g. 数据上传 without admin accounts configured)
    lock = threading.Lock()
    start_gate = threading.Barrier(n)
    end = [0.0]

    def viewer(i: int) -> None:
        rng = random.Random(seed + i)
        k = i % len(pages)
        try:
            start_gate.wait()
            s = Session(bases[i % len(bases)])
        except Exception as e:  # noqa: BLE001 - a refused connection is an error of the run
            with lock:
                errors.append(f"connect: {type(e).__name__}: {e}")
            return
        first = True  # the link opened: all sessions at the same moment
        try:
            while time.monotonic() < end[0]:
                page = pages[k % len(pages)]
                k += 1
                t_visit = time.monotonic()
                try:
                    v = s.visit(page, timeout_s=120)
                except Exception as e:  # noqa: BLE001 - a dropped socket
                    with lock:
                        errors.append(f"/{page}: {type(e).__name__}: {e}")
                    s.close()
                    s = Session(bases[i % len(bases)])
                    continue
                with lock:
                    visits.append((page, v.seconds, t_visit, first))
                    first = False
                    if v.failed:  # an exception or a run that did not finish; error alerts are the page's own
                        errors.append(f"/{page}: {v.status} {v.exceptions[:1]}")
                    alerts.extend(f"/{page}: {e[:60]}" for e in v.errors)
                if think:
                    time.sleep(rng.uniform(0.5, 1.5) * think)
        finally:
            s.close()

    end[0] = time.monotonic() + duration
    threads = [threading.Thread(target=viewer, args=(i,), daemon=True) for i in range(n)]
    cpu0, t0 = time.process_time(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 300)
    # the load generator's own CPU (this process: 30 sessions reading and parsing every message); it shares
    # the server's cores, so it is reported beside the server's
    client_cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    return {"visits": visits, "errors": errors, "alerts": alerts, "client_cpu_s": client_cpu, "wall_s": wall}


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))] if xs else float("nan")


def profile(pids: list[int], folder: Path | None, duration: float, tag: str) -> list[subprocess.Popen]:
    """py-spy (--gil: the threads holding the GIL, i.e. the scripts' Python work) of each server process for
    the crowd's duration, as collapsed stacks (`--format raw`, one line per stack with its sample count) under
    `folder`; [] without a folder."""
    if folder is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    return [subprocess.Popen(["py-spy", "record", "--gil", "--nonblocking", "--format", "raw", "--duration",
                              str(int(duration)), "-o", str(folder / f"{tag}_{i}.txt"), "--pid", str(pid)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i, pid in enumerate(pids)]


def run(db: Path, *, sessions: int, duration: float, think: float, servers: int, ingest: Path | None,
        rounds: int, label: str, root: Path = ROOT, spy: Path | None = None) -> dict:
    """Start the server(s), measure one viewer, then the crowd (with an ingest running when given)."""
    logs = [Path(tempfile.mkdtemp(prefix="bench_conc_")) / "streamlit.log" for _ in range(servers)]
    procs = []
    try:
        for log in logs:
            procs.append(start_server(db, log, root))
        for (proc, _), log in zip(procs, logs):
            wait_warm(log, proc)
        bases = [b for _, b in procs]
        pids = [p.pid for p, _ in procs]
        nav = Session(bases[0])
        pages = [p for p in nav.visit("").pages]
        nav.close()
        single = single_viewer(bases[0], pages, rounds)
        single_all = [x for v in single.values() for x in v]
        sampler = Sampler(pids)
        sampler.start()
        cpu0 = sum(cpu_s(p) for p in pids)
        writer = None
        if ingest is not None:
            env = {**os.environ, "DJ_DB_PATH": str(db), "DJ_LOCK_TIMEOUT_S": "120", "PYTHONPATH": str(ROOT)}
            # the upload itself is always this tree's ingest (with --baseline only the pages differ)
            writer = subprocess.Popen([sys.executable, "-m", "pipelines", "ingest", str(ingest), "--db", str(db),
                                       "--json"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
            t_ingest = time.monotonic()
            written: dict = {}

            def wait_writer() -> None:  # when the upload ended (the version bump), not when the crowd did
                written["out"], written["err"] = writer.communicate(timeout=600)
                written["end"] = time.monotonic()

            waiter = threading.Thread(target=wait_writer, daemon=True)
            waiter.start()
        t_crowd = time.monotonic()
        spies = profile(pids, spy, duration, f"{servers}p{'_ingest' if ingest is not None else ''}_{root.name}")
        res = crowd(bases, pages, sessions, duration, think)
        for p in spies:
            p.wait(60)
        ingest_s = ingest_out = None
        t_ingest_end = None
        if writer is not None:
            waiter.join(600)
            t_ingest_end = written.get("end", time.monotonic())
            ingest_s = t_ingest_end - t_ingest
            try:
                ingest_out = json.loads(written["out"])["counts"]
            except (ValueError, KeyError):
                ingest_out = {"error": written.get("err", "")[-500:]}
        sampler.stop.set()
        cpu = sum(cpu_s(p) for p in pids) - cpu0
        # every visit (page, seconds after the crowd started, seconds it took, first of its session), and when
        # the upload ran, for a time line of where the slow visits fall
        (OUT / f"conc_visits_{servers}p{'_ingest' if writer is not None else ''}_{root.name}.json").write_text(json.dumps({
            "visits": [(q, round(t - t_crowd, 3), round(s_, 3), f) for q, s_, t, f in res["visits"]],
            "ingest": None if writer is None else (round(t_ingest - t_crowd, 3), round(t_ingest_end - t_crowd, 3))}))
        times = [s for _, s, *_ in res["visits"]]
        med1 = statistics.median(single_all)
        out = {"label": label, "pages": pages, "single_median": med1,
               "single_by_page": {p: statistics.median(v) for p, v in single.items()},
               "n": len(times), "p50": pct(times, 0.5), "p95": pct(times, 0.95), "max": max(times, default=0),
               "client_cpu_s": res["client_cpu_s"], "wall_s": res["wall_s"],
               "errors": res["errors"], "alerts": sorted(set(res["alerts"])), "rss_mb": sampler.peak / 1024, "cpu_s": cpu, "duration": duration,
               "ingest_s": ingest_s, "ingest": ingest_out,
               "by_page": {p: (pct([s for q, s, *_ in res["visits"] if q == p], 0.5),
                               pct([s for q, s, *_ in res["visits"] if q == p], 0.95)) for p in pages}}
        firsts = [s for _, s, _, f in res["visits"] if f]
        later = [s for _, s, _, f in res["visits"] if not f]
        # each visit against the single viewer's median of the same page: the queueing alone, page weight aside
        own = [s / out["single_by_page"][q] for q, s, *_ in res["visits"] if out["single_by_page"].get(q)]
        out["first"] = (len(firsts), pct(firsts, 0.5), pct(firsts, 0.95), max(firsts, default=0))
        out["later"] = (len(later), pct(later, 0.5), pct(later, 0.95), max(later, default=0))
        out["own_ratio"] = (pct(own, 0.5), pct(own, 0.95))
        if writer is not None:  # the visits asked for while the upload was written, and in the 20 s after it
            during = [s for _, s, t, _ in res["visits"] if t < t_ingest_end]
            after = [s for _, s, t, _ in res["visits"] if t_ingest_end <= t < t_ingest_end + 20]
            out["during_ingest"] = (len(during), pct(during, 0.5), pct(during, 0.95), max(during, default=0))
            out["after_ingest"] = (len(after), pct(after, 0.5), pct(after, 0.95), max(after, default=0))
        return out
    finally:
        for proc, _ in procs:
            stop_app(proc)


def report(r: dict, sessions: int, think: float, servers: int) -> None:
    ratio = r["p95"] / r["single_median"]
    print(f"\n{r['label']}: {sessions} sessions, {r['duration']:.0f} s, think {think:g} s, {servers} server process(es)")
    print(f"  single viewer: median {r['single_median']:.2f} s over every page "
          + " ".join(f"/{p or '(总览)'} {s:.2f}" for p, s in r["single_by_page"].items()))
    print(f"  crowd: {r['n']} visits, p50 {r['p50']:.2f} s, p95 {r['p95']:.2f} s, max {r['max']:.2f} s; "
          f"p95 / single median = {ratio:.1f}x (target <= {TARGET_RATIO:g}: {'met' if ratio <= TARGET_RATIO else 'NOT met'})")
    for what, key in (("first visits (every session opening the link at the same moment)", "first"),
                      ("later visits", "later")):
        n, p50, p95, mx = r[key]
        print(f"  {what}: {n}, p50 {p50:.2f} s, p95 {p95:.2f} s, max {mx:.2f} s, "
              f"p95 / single median = {p95 / r['single_median']:.1f}x")
    print(f"  each visit / the single viewer's median of its page: p50 {r['own_ratio'][0]:.1f}x, "
          f"p95 {r['own_ratio'][1]:.1f}x")
    print("  per page p50/p95: " + " ".join(f"/{p or '(总览)'} {a:.2f}/{b:.2f}" for p, (a, b) in r["by_page"].items()))
    print(f"  errors: {len(r['errors'])}" + (f" (first: {r['errors'][:3]})" if r["errors"] else "")
          + (f"; error messages pages showed: {r['alerts']}" if r["alerts"] else ""))
    print(f"  server: peak RSS {r['rss_mb']:.0f} MB (all processes), CPU {r['cpu_s']:.0f} s in {r['duration']:.0f} s "
          f"= {r['cpu_s'] / r['duration']:.2f} cores")
    # Load-independent capacity: what one page costs the server in CPU, against what the crowd asks for. A
    # process runs its scripts on one core (the GIL), so above 1.0 it queues whatever the machine's load.
    print(f"  load generator (this process): CPU {r['client_cpu_s']:.1f} s in {r['wall_s']:.0f} s = "
          f"{r['client_cpu_s'] / r['wall_s']:.2f} cores, {r['client_cpu_s'] * 1000 / max(1, r['n']):.1f} ms per visit")
    per_visit = r["cpu_s"] / max(1, r["n"])
    asked = sessions / (think + r["single_median"])
    print(f"  server CPU per page view {per_visit * 1000:.0f} ms: one core serves at most {1 / per_visit:.1f} views/s; "
          f"{sessions} viewers pausing {think:g} s ask for about {asked:.1f} views/s = {asked * per_visit:.2f} cores "
          f"of {servers} process(es)")
    if r["ingest_s"] is not None:
        print(f"  ingest of the upload batch beside it: {r['ingest_s']:.1f} s from the crowd's start, {r['ingest']}")
        for what, key in (("asked while it was written", "during_ingest"), ("asked in the 20 s after it", "after_ingest")):
            n, p50, p95, mx = r[key]
            print(f"  visits {what}: {n}, p50 {p50:.2f} s, p95 {p95:.2f} s, max {mx:.2f} s, "
                  f"p95 / single median = {p95 / r['single_median']:.1f}x")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--duration", type=float, default=120.0, help="seconds of the crowd (shorten for a quick run)")
    ap.add_argument("--think", type=float, default=3.0, help="mean seconds a viewer reads a page before the next")
    ap.add_argument("--servers", type=int, default=1, help="streamlit processes on the same database")
    ap.add_argument("--ingest", action="store_true", help="also a run while 80 workbooks are ingested")
    ap.add_argument("--only-ingest", action="store_true", help="only the run with the ingest")
    ap.add_argument("--rounds", type=int, default=3, help="single-viewer rounds over every page")
    ap.add_argument("--db", type=Path, default=None, help="database (default: the 80-branch demo of bench_pages)")
    ap.add_argument("--baseline", help="also serve the pages of this git revision, before each run of this tree "
                                       "(interleaved A/B under the same load; the upload is this tree's ingest)")
    ap.add_argument("--py-spy", type=Path, default=None, dest="spy",
                    help="a folder: py-spy --gil of each server process during the crowd (collapsed stacks)")
    args = ap.parse_args(argv)
    from bench_pages import demo_db

    src = args.db or demo_db(None)
    runs = [] if args.only_ingest else [False]
    if args.ingest or args.only_ingest:
        runs.append(True)
    trees = ([(args.baseline, tree_at(args.baseline))] if args.baseline else []) + [("this tree", ROOT)]
    for with_ingest in runs:
        for name, root in trees:
            db = copy_db(src, "ingest" if with_ingest else "plain")
            batch = upload_batch(OUT / "demo80_files") if with_ingest else None
            label = (("while 80 workbooks are ingested" if with_ingest else "viewers only") + f" ({src.name}), "
                     f"pages of {name}")
            print(f"[{time.strftime('%H:%M:%S')}] load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}: "
                  f"{label}", flush=True)
            r = run(db, sessions=args.sessions, duration=args.duration, think=args.think, servers=args.servers,
                    ingest=batch, rounds=args.rounds, label=label, root=root, spy=args.spy)
            report(r, args.sessions, args.think, args.servers)
            print(f"  load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
