"""The review page benchmark stays runnable: a very small synthetic school, the page opened, reruns and
decisions timed (no timing is asserted: targets live in bench/, as ratios measured in the same run)."""
from __future__ import annotations

import importlib.util
import io
import os
import sys
from pathlib import Path

from pipelines import config, scoring

ROOT = Path(__file__).resolve().parent.parent


def test_bench_runs_at_a_tiny_size(tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("bench_review", ROOT / "bench" / "bench_review.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    before = os.environ.get(config.env_name("db_path"))
    out = io.StringIO()
    db = tmp_path / "bench.duckdb"
    res = bench.run(branches=12, quarters=3, decisions=2, db=db, out=out)
    text = out.getvalue()
    assert "decision saved + next answer shown" in text and "target decision + next answer ≤ 0.5 s" in text
    assert "reviews of the quarters before" in text
    assert res["decision"] > 0 and res["cold"] > 0 and res["answers"] > 0
    assert os.environ.get(config.env_name("db_path")) == before and config.env_name("admins") not in os.environ
    # two decisions through the page and two through the function, every one a review row of the quarter
    assert len(scoring.review_queue("2026Q3", db, state="reviewed")) == 4
