"""The scoring benchmark stays runnable: a very small school, synthesised, checked against pandas, timed."""
from __future__ import annotations

import importlib.util
import io
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bench():
    spec = importlib.util.spec_from_file_location("bench_scoring", ROOT / "bench" / "bench_scoring.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_runs_at_a_tiny_size_and_duckdb_agrees_with_pandas(tmp_path):
    bench = _bench()
    assert bench._quarters(8)[0] == (2025, 1) and bench._quarters(3) == [(2026, 2), (2026, 3), (2026, 4)]
    out = io.StringIO()
    res = bench.run(branches=12, quarters=3, db=tmp_path / "bench.duckdb", repeat=1, out=out)
    text = out.getvalue()
    assert "one quarter, all 11 marts (2026Q4)" in text and "whole history, 3 quarters" in text
    assert res["quarter"]["duckdb"][0] > 0 and "pandas_file" in res["history"]
    # the synthetic database is a real one the scoring API reads like any other
    from pipelines import scoring

    status = scoring.submission_status("2026Q4", tmp_path / "bench.duckdb")
    assert len(status) == 12 and set(status["status"]) <= {"submitted", "resubmitted", "missing"}
