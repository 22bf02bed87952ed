"""Period: the one place quarters are parsed, labelled, stepped and dated."""
from __future__ import annotations

import datetime as dt

import pytest

from pipelines.guide.period import Period


@pytest.mark.parametrize("text", ["2026Q3", "2026q3", " 2026Q3 ", "2026 Q3", "2026Q03"])
def test_parse_variants(text):
    p = Period.parse(text)
    assert p == Period(2026, 3) and str(p) == "2026Q3"
    assert Period.parse(p) is p


@pytest.mark.parametrize("text", ["", "Q3", "2026", "2026Q5", "2026Q0", "26Q3", "2026年第3季度", "abc", "2026Q3x"])
def test_parse_errors_are_chinese(text):
    with pytest.raises(ValueError, match="季度格式不正确") as e:
        Period.parse(text)
    assert "2026Q3" in str(e.value)  # says what a period looks like


def test_quarter_out_of_range_is_refused():
    with pytest.raises(ValueError, match="季度应为 1–4"):
        Period(2026, 5)


def test_labels():
    p = Period(2026, 3)
    assert p.label == "2026 年第 3 季度"
    assert p.short_label == "2026年Q3"


def test_previous_and_next_cross_the_year_boundary():
    assert Period(2026, 1).previous == Period(2025, 4)
    assert Period(2025, 4).next == Period(2026, 1)
    assert Period(2026, 3).previous == Period(2026, 2)
    assert Period(2026, 2).next == Period(2026, 3)


def test_months_start_end():
    assert Period(2026, 1).months == [1, 2, 3]
    assert Period(2026, 4).months == [10, 11, 12]
    assert (Period(2024, 1).start, Period(2024, 1).end) == (dt.date(2024, 1, 1), dt.date(2024, 3, 31))
    assert Period(2026, 4).end == dt.date(2026, 12, 31)
    assert Period(2026, 2).end == dt.date(2026, 6, 30)


def test_of_a_date():
    assert Period.of(dt.date(2026, 9, 30)) == Period(2026, 3)
    assert Period.of(dt.date(2026, 10, 1)) == Period(2026, 4)


@pytest.mark.parametrize("today, latest", [
    (dt.date(2026, 11, 27), "2026Q3"),
    (dt.date(2026, 10, 1), "2026Q3"),
    (dt.date(2026, 9, 30), "2026Q2"),
    (dt.date(2026, 1, 5), "2025Q4"),
    (dt.date(2026, 3, 31), "2025Q4"),
])
def test_latest_completed(today, latest):
    assert str(Period.latest_completed(today)) == latest


def test_ordering_is_by_time_not_text():
    ps = [Period.parse(t) for t in ("2026Q1", "2025Q4", "2025Q1", "2024Q2")]
    assert [str(p) for p in sorted(ps)] == ["2024Q2", "2025Q1", "2025Q4", "2026Q1"]
    assert Period(2025, 4) < Period(2026, 1)
    assert max(ps) == Period(2026, 1)


def test_back_counts_quarters_ending_here():
    assert [str(p) for p in Period(2026, 3).back(6)] == ["2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2", "2026Q3"]
    assert Period(2026, 3).back(0) == [Period(2026, 3)]
