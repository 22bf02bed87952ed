"""Scoring results do not depend on DuckDB's thread count where the scoring uses more than one thread.

The steps that only join, filter, count and sort rows (the evidence rows, the measure and item rows of a quarter)
run on `scoring_row_threads`; the steps that add up scores stay on `scoring_threads` (default 1), because a sum
over several threads adds in another order each run. A synthetic school (the scoring bench's) is copied into a
file with small row groups (2,048 rows), so DuckDB really splits these scans between threads at this size.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb
import pandas as pd

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


def _use(monkeypatch, row_threads: int, row_threads_from: int = 0) -> None:
    monkeypatch.setenv("DJ_SCORING_ROW_THREADS", str(row_threads))
    monkeypatch.setenv("DJ_SCORING_ROW_THREADS_FROM", str(row_threads_from))  # 0: this small school too
    config.settings.cache_clear()
    session._KEPT.clear()  # results kept per content (session._kept), e.g. the evidence rows: compute them again
    assert config.settings().scoring_threads == 1 and config.settings().scoring_row_threads == row_threads


def _marts(db, period, monkeypatch, row_threads: int, row_threads_from: int = 0) -> dict[str, pd.DataFrame]:
    _use(monkeypatch, row_threads, row_threads_from)
    return scoring.marts(period, db, previous=True)


def test_marts_are_exactly_the_same_on_one_or_more_row_threads(tmp_path, monkeypatch):
    _synthesise(tmp_path / "school.duckdb", branches=400, quarters=2)
    db = tmp_path / "small_row_groups.duckdb"
    _small_row_groups(tmp_path / "school.duckdb", db)
    with duckdb.connect(str(db), read_only=True) as con:  # several row groups: a parallel scan has work to split
        assert con.execute("SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('raw_ledger')").fetchone()[0] > 2
    period = scoring.latest_period(db)
    one = _marts(db, period, monkeypatch, 1)
    # twice on four threads, and once below the size from which they are used (the default: 800 submissions)
    for more in (_marts(db, period, monkeypatch, 4), _marts(db, period, monkeypatch, 4),
                 _marts(db, period, monkeypatch, 2, 4000)):
        assert set(more) == set(one)
        for name, frame in one.items():
            pd.testing.assert_frame_equal(more[name], frame, check_exact=True, obj=name)
            assert more[name].equals(frame), name
    # the rows behind a number too: one branch's evidence rows (built from every branch's, sorted)
    code = one["branch_scores"]["branch_code"].iloc[0]
    _use(monkeypatch, 4)
    rows = scoring.evidence_rows(period, code, db)
    _use(monkeypatch, 1)
    pd.testing.assert_frame_equal(scoring.evidence_rows(period, code, db), rows, check_exact=True)
    assert len(rows)
