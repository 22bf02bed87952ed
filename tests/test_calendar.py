"""The calendar (issue 15, point 5): a ledger date after the upload day is an error naming its cell; a quarter
that has not ended is labelled 进行中, is not the default view while an ended quarter has data, and stays out of
the trend lines and movers unless chosen.

The real clock is never mocked: the reader's upload day is a parameter (or the DJ_UPLOAD_DAY setting), and the
page tests build quarters relative to the real date (the current quarter is always in progress)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ingest_helpers import branch_workbook
from pipelines import config, ingest, scoring
from pipelines.config import env_name
from pipelines.period import Period
from pipelines.reader import read_workbook

ROOT = Path(__file__).resolve().parent.parent
FINDING_DAY = dt.date(2026, 11, 30)  # the finding: uploading 2026Q4 on 30 November with rows dated December


# ---- the reader --------------------------------------------------------------------------------------
def test_a_ledger_date_after_the_upload_day_is_an_error_naming_its_cell(tmp_path):
    path = branch_workbook(tmp_path / "2026Q4.xlsx", year=2026, quarter=4)
    parsed = read_workbook(path, today=FINDING_DAY)
    future = [p for p in parsed.problems if p.code == "date_in_future"]
    # branch_workbook writes October, November, then December's 支委会 and 主题党日 (rows 6 and 7)
    assert [(p.sheet, p.cell, p.severity) for p in future] == [("活动台账", "A6", "error"), ("活动台账", "A7", "error")]
    assert "「活动台账」工作表 A6 单元格" in future[0].message and "2026-12-05" in future[0].message
    assert "晚于报送当天（2026-11-30）" in future[0].message and "请" in future[0].message
    assert not parsed.valid
    assert all(r.date <= FINDING_DAY for r in parsed.ledger)  # the future rows are not read as activities


def test_the_same_workbook_after_the_quarter_is_accepted(tmp_path):
    path = branch_workbook(tmp_path / "2026Q4.xlsx", year=2026, quarter=4)
    parsed = read_workbook(path, today=dt.date(2027, 1, 4))
    assert parsed.valid and not parsed.problems
    on_the_day = read_workbook(path, today=dt.date(2026, 12, 12))  # the last row's own day is not the future
    assert on_the_day.valid, [p.message for p in on_the_day.problems]


def test_ingest_refuses_future_rows_through_the_worker_and_the_setting(tmp_path, monkeypatch):
    """The product path (safe_read's worker process) checks against the real day, or DJ_UPLOAD_DAY."""
    db = tmp_path / "x.duckdb"
    path = branch_workbook(tmp_path / "2026Q4.xlsx", year=2026, quarter=4)
    monkeypatch.setenv(env_name("upload_day"), FINDING_DAY.isoformat())
    config.settings.cache_clear()
    [result] = ingest.ingest([path], db, actor="test")
    assert result.status == "rejected"
    assert [p.cell for p in result.problems if p.code == "date_in_future"] == ["A6", "A7"]
    assert scoring.periods(db) == []


# ---- Period ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("today, ended", [
    (dt.date(2026, 11, 30), False), (dt.date(2026, 12, 31), False), (dt.date(2027, 1, 1), True),
    (dt.date(2026, 9, 1), False),  # a quarter still to come has not ended either
])
def test_period_ended_and_in_progress(today, ended):
    q4 = Period(2026, 4)
    assert q4.ended(today) is ended and q4.in_progress(today) is (not ended)
    assert q4.status_label(today) == "2026 年第 4 季度" + ("" if ended else "（进行中）")


def test_period_defaults_to_the_real_date():
    now = Period.of(dt.date.today())
    assert now.in_progress() and now.previous.ended() and now.status_label().endswith("（进行中）")
