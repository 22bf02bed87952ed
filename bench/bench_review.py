"""Benchmark of the 审核 page: a decision saved and the next answer shown, in script time (AppTest), on the
synthetic school of bench/bench_scoring.py (1,000 branches × 8 quarters, ~23,000 answers in a quarter).

    python bench/bench_review.py                 # 1,000 branches × 8 quarters, 10 decisions
    python bench/bench_review.py --quick         # 120 branches × 4 quarters, 4 decisions
    python bench/bench_review.py --branches 500 --decisions 20

One AppTest session signed in as a school-wide admin opens the page on the latest ended quarter, then:
  * warm rerun   — the same page again, nothing changed (every query cached): the floor of a script run;
  * cold rerun   — the same page with Streamlit's caches cleared (every query runs, nothing written): what any
                   run after new data costs;
  * decision     — type a comment and click 认定基本完成: review.decide writes the decision (journaled), the data
                   version moves, the page recomputes the queue and shows the next answer (checked). The queue's
                   review-independent part (answers, support, risk, last quarter) and the quarter's evidence rows
                   are kept per content of the submissions and registry (scoring.session._kept), so only the
                   reviews are read again. AppTest reruns the whole script; in a browser a click reruns only the
                   review area (an st.fragment), so this figure is the upper bound of what a reviewer waits.
Every answer of the earlier quarters is reviewed (bulk-inserted, as the school itself), so the reviews table is
as large as after a year of reviewing. The decision is reported absolute against the target (issue 11: ≤ 0.5 s
at 1,000 branches), as ratios to the two reruns measured in the same run, so a slow or busy machine shows as
slow baselines, not as a regression, and as this process's CPU time, which a busy machine inflates least. "cold"
clears Streamlit's caches only: what the query API keeps per content (scoring.session._kept) stays. Pieces (pipelines only, no page): review.decide and scoring.review_board, for where the time goes.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

TARGET_DECISION_S = 0.5
ACCOUNT = "基准测试审核员"


def _median(xs: list[float]) -> float:
    return statistics.median(xs)


def _shown(at) -> str:
    """The heading line of the answer on screen (branch and position), to check the next one shows."""
    return next(m.value for m in at.markdown if "）· " in m.value) + next(
        m.value for m in at.markdown if m.value.startswith("##### "))


def past_reviews(db: Path, period: str) -> int:
    """Every answer of the quarters before `period` confirmed as answered, bulk-inserted like the synthetic school
    itself (a school that has reviewed every past quarter: the reviews table as it will be); returns the rows."""
    from pipelines.store import db as dbmod

    with dbmod.connect(db, write=True) as con:
        con.execute("INSERT INTO reviews SELECT nextval('review_seq'), branch_code, period, item_id, answer_fp, "
                    "submission_id, coalesce(status, 'not_done'), '', 'bench', TIMESTAMP '2026-01-01' "
                    "FROM stg_self_assessment WHERE period < ?", [period])
        return con.execute("SELECT count(*) FROM reviews").fetchall()[0][0]


def run(branches: int, quarters: int, decisions: int, db: Path | None = None, out=sys.stdout) -> dict:
    """Synthesise, open the page, time reruns and decisions; prints a table and returns the timings."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from bench_scoring import synthesise
    from pages import access
    from pipelines import auth, config, scoring
    from pipelines.store import review
    from pipelines.guide.period import Period

    tmp = None
    if db is None:
        tmp = tempfile.TemporaryDirectory()
        db = Path(tmp.name) / "bench_review.duckdb"
    names = [config.env_name("db_path"), config.env_name("admins")]
    saved = {k: os.environ.get(k) for k in names}
    try:
        synthesise(db, branches, quarters)
        os.environ[names[0]] = str(db)
        os.environ[names[1]] = f"{ACCOUNT}:{auth.hash_password('bench-only', rounds=4)}"
        config.settings.cache_clear()
        period = [p for p in scoring.periods(db) if Period.parse(p).ended()][-1]
        past = past_reviews(db, period)
        answers = scoring.review_board(period, db, limit=0).matching

        at = AppTest.from_file(str(ROOT / "pages" / "review.py"), default_timeout=300)
        at.session_state[access.ADMIN_KEY] = ACCOUNT
        t = time.perf_counter()
        at.run()
        first = time.perf_counter() - t
        if at.exception or at.error:
            raise RuntimeError([e.value for e in list(at.exception) + list(at.error)])

        def timed(action, cpu: list | None = None) -> float:
            t, c0 = time.perf_counter(), time.process_time()
            action()
            if cpu is not None:  # this process's CPU (every thread): what a busy machine inflates least
                cpu.append(time.process_time() - c0)
            return time.perf_counter() - t

        warm_cpu, cold_cpu, decided_cpu = [], [], []
        warm = [timed(at.run, warm_cpu) for _ in range(max(3, decisions // 2))]
        cold = []
        for _ in range(max(3, decisions // 2)):
            st.cache_data.clear()
            cold.append(timed(at.run, cold_cpu))
        decided = []
        for _ in range(decisions):
            before = _shown(at)
            comment = next(w for w in at.text_input if w.key.startswith("rv_comment"))
            comment.input("基准测试：佐证待补充")
            decided.append(timed(at.button(key="rv_do_mostly").click().run, decided_cpu))
            if at.exception or at.error or not at.success or _shown(at) == before:
                raise RuntimeError(f"the decision did not show the next answer: {[e.value for e in at.error]}")

        # the pieces, outside the page (same database, same run)
        rows = scoring.review_queue(period, db, state="pending").head(decisions)
        pieces_decide = [timed(lambda r=r: review.decide(r.branch_code, period, r.item_id, "not_done",
                                                           comment="基准测试", reviewer=ACCOUNT, db=db))
                         for r in rows.itertuples()]
        pieces_board = [timed(lambda: scoring.review_board(period, db, limit=200, state="pending")) for _ in range(3)]

        d, w_, c_ = _median(decided), _median(warm), _median(cold)
        wr = out.write
        wr(f"\n审核页基准测试 review page benchmark — {branches} branches × {quarters} quarters, {period}: "
           f"{answers:,} answers in the queue, {past:,} reviews of the quarters before\n")
        wr(f"AppTest script time, median of {len(warm)} / {len(cold)} / {len(decided)} runs (first open {first:.2f} s)\n\n")
        wr(f"{'what':<52}{'seconds':>9}{'÷ warm':>9}{'÷ cold':>9}{'CPU s':>9}\n" + "-" * 88 + "\n")
        for label, x, cpu in (("warm rerun (cached, nothing changed)", w_, warm_cpu),
                              ("cold rerun (caches cleared, nothing written)", c_, cold_cpu),
                              ("decision saved + next answer shown", d, decided_cpu)):
            wr(f"{label:<52}{x:>9.3f}{x / w_:>8.2f}x{x / c_:>8.2f}x{_median(cpu):>9.3f}\n")
        wr(f"\npieces: review.decide {_median(pieces_decide):.3f} s, scoring.review_board (limit 200) "
           f"{_median(pieces_board):.3f} s\n")
        ok = d <= TARGET_DECISION_S
        wr(f"target decision + next answer ≤ {TARGET_DECISION_S} s script time: {'met' if ok else 'NOT met'} "
           f"({d:.3f} s; {d / c_:.2f}× a cold rerun of the same page)\n")
        return {"warm": w_, "cold": c_, "decision": d, "decision_cpu": _median(decided_cpu), "ok": ok,
                "answers": answers}
    finally:
        for k, v in saved.items():  # the caller's settings back (a test runs this in its own process)
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        config.settings.cache_clear()
        if tmp is not None:
            tmp.cleanup()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="审核 page benchmark: a decision and the next answer, in script time")
    p.add_argument("--branches", type=int, default=1000)
    p.add_argument("--quarters", type=int, default=8)
    p.add_argument("--decisions", type=int, default=10)
    p.add_argument("--quick", action="store_true", help="120 branches × 4 quarters, 4 decisions")
    p.add_argument("--db", type=Path, default=None, help="database file to write (default: a temp file)")
    a = p.parse_args(argv)
    if a.quick:
        a.branches, a.quarters, a.decisions = 120, 4, 4
    res = run(a.branches, a.quarters, a.decisions, a.db)
    return 0 if (a.quick or res["ok"]) else 1


if __name__ == "__main__":
    sys.exit(main())
