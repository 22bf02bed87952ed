"""`python -m pipelines scores` in all three formats, per branch and per item, and its error path."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipelines import scoring
from pipelines.config import settings
from test_scoring_fixtures import full_year_rows, ledger, save, workbook

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    """The real command in a subprocess."""
    return subprocess.run([sys.executable, "-m", "pipelines", "scores", *args], cwd=ROOT, capture_output=True,
                          text=True, env=os.environ.copy(), timeout=60)


@pytest.fixture
def main(capsys):
    """The same command in-process (through the CLI dispatch), for the cheaper cases."""
    from pipelines.cli import main as entry

    def call(*args: str) -> subprocess.CompletedProcess:
        code = entry(["scores", *args])
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)
    return call


@pytest.fixture
def db():
    path = settings().db_path
    save(path, workbook("A", 2026, 1, rows=full_year_rows(2026, 1), college="机械学院"),
         workbook("B", 2026, 1, branch_type="student", college="电气学院",
                  rows=ledger(("2026-01-05", "committee_meeting"), ("2026-03-01", "training", 4, 10))))
    return path


def test_cli_branch_scores_in_three_formats(db):
    expected = scoring.branch_scores("2026Q1", db).set_index("branch_code")
    csv = run("--db", str(db), "--period", "2026Q1", "--format", "csv")
    assert csv.returncode == 0, csv.stderr
    df = pd.read_csv(io.StringIO(csv.stdout)).set_index("branch_code")
    assert list(df.columns) == ["branch_name", "branch_type", "branch_type_name", "college", "d1", "d2", "d3", "d4",
                                "d5", "d6", "d7", "overall", "grade", "rank", "rank_in_type", "guide_version"]
    for code in ("A", "B"):
        assert df.loc[code, "overall"] == pytest.approx(expected.loc[code, "overall"])
        assert df.loc[code, "grade"] == expected.loc[code, "grade"]
        assert df.loc[code, "rank"] == expected.loc[code, "rank"]
    assert df.loc["B", "branch_type_name"] == "学生党支部" and str(df.loc["A", "guide_version"]) == "2026.1"

    js = run("--db", str(db), "--period", "2026Q1", "--format", "json")
    assert js.returncode == 0, js.stderr
    records = json.loads(js.stdout)
    assert [r["branch_code"] for r in records] == list(expected.index)
    assert records[0]["rank_in_type"] == 1 and records[0]["overall"] == pytest.approx(expected.iloc[0]["overall"])

    table = run("--db", str(db), "--period", "2026q1")  # default table; lower-case period accepted
    assert table.returncode == 0, table.stderr
    assert "2026Q1 各支部得分（指标指南版本 2026.1）" in table.stdout
    assert "全校排名" in table.stdout and "教师党支部" in table.stdout
    assert f"{scoring.shown(expected.loc['A', 'overall']):.1f}" in table.stdout


def test_cli_branch_items_in_three_formats(db, main):
    run = main
    table = run("--db", str(db), "--period", "2026Q1", "--branch", "B", "--items")
    assert table.returncode == 0, table.stderr
    assert "未到期" in table.stdout and "每月召开1次支部委员会会议 1/3 33%" in table.stdout
    js = json.loads(run("--db", str(db), "--period", "2026Q1", "--branch", "B", "--items", "--format", "json").stdout)
    assert js["guide_version"] == "2026.1"
    items = {i["item_id"]: i for i in js["items"]}
    assert "4.1.1" not in items and "4.1.2" in items  # student branch
    lecture = next(m for m in items["1.2.1"]["measures"] if m["measure_id"] == "lecture")
    assert lecture["status"] == "pending" and lecture["completion"] is None
    hours = items["2.1.3"]["measures"][0]
    assert (hours["actual"], hours["required"], hours["completion"]) == (4.0, 8.0, 0.5)
    assert items["2.1.3"]["completion"] == 0.5
    csv = pd.read_csv(io.StringIO(run("--db", str(db), "--period", "2026Q1", "--branch", "B", "--items",
                                      "--format", "csv").stdout))
    assert list(csv.columns) == ["item_id", "completion", "flagged", "measures"]
    assert len(csv) == 27


def test_cli_unknown_period_or_branch_is_a_chinese_error(db, main):
    r = run("--db", str(db), "--period", "2031Q2")
    assert r.returncode == 1 and "没有 2031Q2 的报送数据" in r.stderr and "2026Q1" in r.stderr
    run_here = main
    r = run_here("--db", str(db), "--period", "2026Q1", "--branch", "ZZ", "--items")
    assert r.returncode == 1 and "ZZ" in r.stderr
    r = run_here("--db", str(db), "--period", "Q9")
    assert r.returncode == 1 and "季度格式不正确" in r.stderr
    r = run_here("--period", "2026Q1")  # --db defaults to settings (DJ_DB_PATH points at the test database)
    assert r.returncode == 0 and "A支部" in r.stdout
