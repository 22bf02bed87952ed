"""Scores are the same bits whatever DuckDB does with the rows: on any number of threads, and whatever else the
chain scores beside a quarter (alone, with the quarter before, as part of the whole history).

Every score, share and mean the marts add up goes through the exact-sum macros (session._EXACT_MACROS: DECIMAL sums,
a standard deviation over sorted values), so the order in which hash aggregates and threads hand the rows on does
not reach a result. A synthetic school (the scoring bench's) is copied into a file with small row groups (2,048
rows), so DuckDB really splits these scans between threads at this size.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines import config, scoring
from pipelines.scoring import session

ROOT = Path(__file__).resolve().parent.parent


def _synthesise(db: Path, branches: int, quarters: int) -> None:
    spec = importlib.util.spec_from_file_location("bench_scoring", ROOT / "bench" / "bench_scoring.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.synthesise(db, branches=branches, quarters=quarters)


def _small_row_groups(src, dst) -> None:
    con = duckdb.connect()
    con.execute(f"ATTACH '{src}' AS src (READ_ONLY)")
    con.execute(f"ATTACH '{dst}' AS dst (ROW_GROUP_SIZE 2048)")
    con.execute("COPY FROM DATABASE src TO dst")
    con.close()


@pytest.fixture(scope="module")
def school(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("threads")
    _synthesise(tmp / "school.duckdb", branches=400, quarters=3)
    db = tmp / "small_row_groups.duckdb"
    _small_row_groups(tmp / "school.duckdb", db)
    with duckdb.connect(str(db), read_only=True) as con:  # several row groups: a parallel scan has work to split
        assert con.execute("SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('raw_ledger')").fetchone()[0] > 2
    return db


def _use(monkeypatch, large_threads: int, large_from: int = 0) -> None:
    monkeypatch.setenv("DJ_SCORING_LARGE_THREADS", str(large_threads))
    monkeypatch.setenv("DJ_SCORING_LARGE_FROM", str(large_from))  # 0: this small school counts as large
    config.settings.cache_clear()
    session._KEPT.clear()  # results kept per content (session._kept), e.g. the evidence rows: compute them again
    assert config.settings().scoring_threads == 1 and config.settings().scoring_large_threads == large_threads


def _threads_used(db) -> int:
    with session._session(db, [scoring.latest_period(db)], "branches") as con:
        return int(con.execute("SELECT current_setting('threads')").fetchone()[0])


def _same(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True, obj=what)
    assert a.equals(b), what


def test_a_large_chain_runs_on_more_threads_a_small_one_on_one(school, monkeypatch):
    _use(monkeypatch, 3, 0)
    assert _threads_used(school) == 3
    _use(monkeypatch, 3, 100_000)  # the default size is 4,000 submissions: this school is small
    assert _threads_used(school) == 1


def test_marts_are_exactly_the_same_on_one_or_more_threads(school, monkeypatch):
    period = scoring.latest_period(school)
    _use(monkeypatch, 1)
    one = scoring.marts(period, school, previous=True)
    assert set(one) >= {"branch_scores", "college_scores", "type_comparison", "item_summary", "score_change"}
    for threads in (4, 4, 2):
        _use(monkeypatch, threads)
        more = scoring.marts(period, school, previous=True)
        assert set(more) == set(one)
        for name, frame in one.items():
            _same(more[name], frame, f"{name} on {threads} threads")
    # the history and a college's and the rows behind a number too
    _use(monkeypatch, 4)
    history, radar = scoring.history(school), scoring.college_radar(period, one["college_scores"]["college"].iloc[0], school)
    code = one["branch_scores"]["branch_code"].iloc[0]
    rows = scoring.evidence_rows(period, code, school)
    _use(monkeypatch, 1)
    _same(scoring.history(school), history, "history")
    _same(scoring.college_radar(period, one["college_scores"]["college"].iloc[0], school), radar, "college_radar")
    _same(scoring.evidence_rows(period, code, school), rows, "evidence_rows")
    assert len(rows)


def test_a_quarter_scores_the_same_bits_whatever_else_the_chain_scores(school, monkeypatch):
    """indicator_scores(p) scores p alone, marts(p) with the quarter before, history() every quarter, marts(next)
    p as the quarter before: before the sums were exact, their last bits differed (the order of a hash aggregate's
    rows depends on everything the chain holds)."""
    _use(monkeypatch, 1, 100_000)
    ps = scoring.periods(school)
    p, nxt = ps[-2], ps[-1]
    m = scoring.marts(p, school)
    _same(scoring.indicator_scores(p, school), m["indicator_scores"], "indicator_scores alone vs in marts")
    cols = ["branch_code", "overall", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "verified"]
    in_marts = m["branch_scores"][cols].sort_values("branch_code").reset_index(drop=True)
    h = scoring.history(school)
    in_history = h[h["period"] == p][cols].sort_values("branch_code").reset_index(drop=True)
    _same(in_history, in_marts, "branch scores in history() vs marts()")
    after = scoring.marts(nxt, school)["branch_scores"]
    before = after[["branch_code", "prev_overall"]].dropna().merge(in_marts[["branch_code", "overall"]], on="branch_code")
    assert len(before) > 100
    assert (before["prev_overall"] == before["overall"]).all(), "the quarter before, scored in the next quarter's chain"


def test_every_score_the_marts_add_up_goes_through_the_exact_sums():
    """A plain sum(), avg() or stddev over scores would make results depend on row order and threads again."""
    plain = re.compile(r"\b(sum|avg|mean|stddev_pop|stddev_samp|stddev|variance|var_pop|fsum|kahan_sum)\s*\(",
                       re.IGNORECASE)
    found = []
    for sql in sorted((ROOT / "pipelines" / "scoring" / "sql").rglob("*.sql")):
        for n, line in enumerate(sql.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("--", 1)[0]
            # the one sum left on purpose: the dimensions' guide weights over a window (DECIMAL, exact)
            if plain.search(code) and "::DECIMAL(18, 12)) OVER" not in code:
                found.append(f"{sql.name}:{n}: {line.strip()}")
    assert not found, "use xsum / xavg / xstddev_pop:\n" + "\n".join(found)


def test_the_dimension_named_for_a_change_is_the_first_of_those_tied_as_shown(school, monkeypatch):
    """score_change names the dimension that added (took away) the most, compared as shown (one decimal, half up):
    when two dimensions add the same as shown, the first one in the guide's order — never the one that float noise
    made larger in the 15th digit."""
    _use(monkeypatch, 1, 100_000)
    ch = scoring.score_change(scoring.latest_period(school), school)
    cols = [f"c{k}" for k in range(1, 8)]
    shown = scoring.shown(ch[cols].stack()).unstack()[cols].to_numpy()
    ties = 0
    for row, up, down in zip(shown, ch["up_dimension"], ch["down_dimension"]):
        best, worst = row.max(), row.min()
        assert up == 1 + list(row).index(best) and down == 1 + list(row).index(worst)
        ties += (row == best).sum() > 1 and best != 0
    assert ties > 5  # the synthetic school has such ties (e.g. +3.3 in two dimensions)


def test_group_means_agree_with_the_marts_means_as_shown(school, monkeypatch):
    """group_means (the means a page shows: type lines, college lines, the radar's averages) and the marts' own
    means in SQL (type_comparison, college_scores, college_radar) are the same figures as shown."""
    _use(monkeypatch, 1, 100_000)
    p = scoring.latest_period(school)
    bs = scoring.branch_scores(p, school)
    by_type = scoring.group_means(bs, ["branch_type"]).set_index("branch_type")
    tc = scoring.type_comparison(p, school)
    for t in ("teacher", "student"):
        assert by_type.loc[t, "n"] == (bs["branch_type"] == t).sum()
        for _, row in tc.iterrows():
            assert scoring.shown(by_type.loc[t, f"d{row['dimension_id']}"]) == scoring.shown(row[f"{t}_mean"])
    cs = scoring.college_scores(p, school).set_index("college")
    by_college = scoring.group_means(bs, ["college"]).set_index("college")
    assert list(by_college.index) == sorted(by_college.index) and len(by_college) > 3
    for col in ("overall", "d1", "d7"):
        assert (scoring.shown(by_college[col]) == scoring.shown(cs.loc[by_college.index, col])).all(), col
    school_row = scoring.college_radar(p, cs.index[0], school).set_index("who").loc["school"]
    everyone = scoring.group_means(bs).iloc[0]
    assert everyone["n"] == len(bs) == school_row["branches"]
    assert scoring.shown(everyone["overall"]) == scoring.shown(school_row["overall"])
    # over every quarter at once, per quarter and type: the same as one quarter's
    h = scoring.score_history(school)
    lines = scoring.group_means(h, ["period", "branch_type"], ["overall"])
    now = lines[lines["period"] == p].set_index("branch_type")["overall"]
    assert (scoring.shown(now) == scoring.shown(by_type.loc[now.index, "overall"])).all()
