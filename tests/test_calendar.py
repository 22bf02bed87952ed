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
from pipelines import config, scoring
from pipelines.store import ingest, versions
from pipelines.config import env_name
from pipelines.guide.period import Period
from pipelines.workbook.reader import read_workbook

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


# ---- pages -------------------------------------------------------------------------------------------
NOW = Period.of(dt.date.today())  # always in progress
ENDED = NOW.back(3)[:-1]  # the two quarters before it, both ended


@pytest.fixture
def calendar_db(tmp_path, monkeypatch) -> Path:
    """Three branches with two ended quarters fully done and the current quarter barely begun (no ledger
    rows yet), written through the real write path; the app's database."""
    from test_scoring_fixtures import full_year_rows, save, workbook

    db = tmp_path / "calendar.duckdb"
    books = [workbook(code, p.year, p.quarter, rows=full_year_rows(p.year, p.quarter), college=college)
             for p in ENDED for code, college in (("A", "机械学院"), ("B", "机械学院"), ("C", "化学学院"))]
    books += [workbook(code, NOW.year, NOW.quarter, college=college, default_status=("not_done", ""))
              for code, college in (("A", "机械学院"), ("B", "机械学院"))]
    save(db, *books)
    monkeypatch.setenv("DJ_DB_PATH", str(db))
    config.settings.cache_clear()
    return db


def page(name: str) -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=120)


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


@pytest.mark.parametrize("name", ["overview", "branch", "compare", "trends"])
def test_an_unfinished_quarter_is_labelled_and_not_the_default(calendar_db, name):
    assert scoring.periods(calendar_db) == [str(p) for p in ENDED] + [str(NOW)]
    at = ok(page(name).run())
    box = at.selectbox(key="period")
    assert box.value == str(ENDED[-1])  # the latest ended quarter, not the newer one in progress
    assert box.format_func(str(NOW)) == f"{NOW.label}（进行中）"
    assert box.format_func(str(ENDED[-1])) == ENDED[-1].label


def test_choosing_the_unfinished_quarter_labels_it_on_the_page(calendar_db):
    at = ok(page("overview").run())
    at = ok(at.selectbox(key="period").select(str(NOW)).run())
    shown = "\n".join(str(e.value) for kind in ("caption", "markdown", "info", "subheader") for e in getattr(at, kind))
    assert f"{NOW.label}（进行中）" in shown


def school_line_x(at: AppTest) -> list[str]:
    import plotly.io as pio

    for chart in at.get("plotly_chart"):
        fig = pio.from_json(chart.proto.spec)
        for trace in fig.data:
            if trace.name == "全校平均":
                return list(trace.x)
    raise AssertionError("no 全校平均 line")


def test_trend_lines_leave_the_unfinished_quarter_out_unless_chosen(calendar_db):
    at = ok(page("trends").run())
    assert school_line_x(at) == [p.short_label for p in ENDED]
    at = ok(at.checkbox(key="include_in_progress").check().run())
    assert school_line_x(at) == [p.short_label for p in ENDED] + [NOW.short_label]


def test_trends_without_an_unfinished_quarter_show_no_checkbox(calendar_db):
    for code in ("A", "B"):  # the current quarter's submissions withdrawn: no quarter in progress has data
        assert versions.withdraw(code, str(NOW), calendar_db, actor="test")
    at = ok(page("trends").run())
    assert not at.checkbox and school_line_x(at) == [p.short_label for p in ENDED]


def test_movers_default_to_the_ended_quarter(calendar_db):
    at = ok(page("trends").run())
    heads = [s.value for s in at.subheader]
    assert any(h.startswith(f"{ENDED[-1].label} 进步与退步") for h in heads), heads


def test_the_briefing_and_summary_label_an_unfinished_quarter(calendar_db):
    from pipelines.report import quarterly

    now, ended = quarterly.briefing(str(NOW), calendar_db), quarterly.briefing(str(ENDED[-1]), calendar_db)
    assert now.subtitle.startswith(f"{NOW.label}（进行中）") and now.sentences[0].startswith(f"{NOW.label}（进行中）")
    assert ended.subtitle.startswith(f"{ENDED[-1].label} ·") and "进行中" not in ended.sentences[0]
