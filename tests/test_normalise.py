"""Normalisation of what secretaries really type: dates, numbers, text, synonyms."""
from __future__ import annotations

import datetime as dt

import pytest

from pipelines.workbook import normalise as nz
from pipelines.guide import guide

D = dt.date(2026, 3, 5)


@pytest.mark.parametrize("raw", [
    D, dt.datetime(2026, 3, 5), dt.datetime(2026, 3, 5, 14, 30), 46086, 46086.0, 46086.75, "46086",
    "2026/3/5", "2026.3.5", "2026-03-05", "2026年3月5日", "2026年03月05日", "2026.03.05 ", " 2026-3-5\n",
    "２０２６－０３－０５", "２０２６／３／５", "2026．3．5", "2026 年 3 月 5 日", "2026-03-05 00:00:00",
    "20260305", 20260305, "2026年3月5号",
])
def test_dates_read_as_the_same_day(raw):
    assert nz.parse_date(raw) == D


@pytest.mark.parametrize("raw", ["2026-02-30", "2026/2/29", "2026.13.1", "2026年4月31日", "20260230"])
def test_impossible_dates(raw):
    with pytest.raises(nz.ImpossibleDate):
        nz.parse_date(raw)


@pytest.mark.parametrize("raw", ["3月上旬", "26.3.5", "2026-03", "明天", True, dt.time(9, 0), -5, 1e9, "2026-3-5-1"])
def test_unreadable_dates(raw):
    with pytest.raises(nz.InvalidDate) as e:
        nz.parse_date(raw)
    assert not isinstance(e.value, nz.ImpossibleDate)


@pytest.mark.parametrize("raw", [None, "", "  ", "\n"])
def test_blank_is_none(raw):
    assert nz.parse_date(raw) is None and nz.parse_number(raw) is None and nz.parse_quarter(raw) is None


@pytest.mark.parametrize("raw,expected", [
    (12, 12), (12.0, 12), ("12", 12), ("１２", 12), (" 12 ", 12), ("12人", 12), ("12 人", 12), ("1,200", 1200),
    ("2学时", 2), ("1.5小时", 1.5), ("3h", 3), ("-3", -3), ("12名", 12), ("２.５", 2.5),
])
def test_numbers(raw, expected):
    assert nz.parse_number(raw) == expected


@pytest.mark.parametrize("raw", ["十二", "约12", "12-15", "12人左右", "人", True, "1.2.3", float("nan")])
def test_not_numbers(raw):
    with pytest.raises(nz.InvalidNumber):
        nz.parse_number(raw)


def test_whole_numbers():
    assert nz.parse_int("25人") == 25
    with pytest.raises(nz.NotInteger):
        nz.parse_int(12.5)


@pytest.mark.parametrize("raw,expected", [
    (1, 1), ("3", 3), (4.0, 4), ("第1季度", 1), ("第一季度", 1), ("二季度", 2), ("Q3", 3), ("q4", 4), ("３", 3),
    ("三", 3), ("4季度", 4),
])
def test_quarters(raw, expected):
    assert nz.parse_quarter(raw) == expected


@pytest.mark.parametrize("raw", [0, 5, "第五季度", "上半年", 2.5])
def test_bad_quarters(raw):
    with pytest.raises(nz.InvalidNumber):
        nz.parse_quarter(raw)


def test_years():
    assert nz.parse_year("2026年") == 2026 and nz.parse_year(2026.0) == 2026 and nz.parse_year("２０２６") == 2026
    assert nz.parse_year("2026年度") == 2026
    for bad in ("26", 1999, "二〇二六"):
        with pytest.raises(nz.InvalidNumber):
            nz.parse_year(bad)


def test_text_and_keys():
    assert nz.text("  学习\n贯彻\t 精神 ") == "学习 贯彻 精神"
    assert nz.text(25.0) == "25" and nz.text(None) == ""
    assert nz.key(" 主题　党日\r\n") == "主题党日"  # ideographic space and CRLF
    assert nz.key("ＪＸ０１－Ｔ０１") == "JX01-T01"
    assert nz.item_id("１．１．１ ") == "1.1.1" and nz.item_id("1。2。1") == "1.2.1"


def test_synonyms_through_the_guide():
    g = guide()
    for t in g.branch_types:
        for s in (t.name, *t.synonyms):
            assert nz.branch_type(f" {s}\n", g) == t.id
    for a in g.activity_types:
        for s in (a.name, *a.synonyms):
            assert nz.activity_type(s.replace("", " ").strip(), g) == a.id  # spaces between characters
    assert nz.branch_type("教 工", g) == "teacher"
    assert nz.activity_type("打球", g) is None and nz.activity_type("", g) is None
    for o in g.self_assessment:
        assert nz.status(f" {o.name} ", g) == o.id
    assert nz.status("完成了一半", g) is None and nz.status(None, g) is None


def test_a_date_without_its_year_takes_the_workbooks_year():
    assert nz.parse_date("7月5日", year=2026) == dt.date(2026, 7, 5)
    assert nz.parse_date("７月５号", year=2026) == dt.date(2026, 7, 5)
    with pytest.raises(nz.InvalidDate):
        nz.parse_date("7月5日")  # no year known: still not a date
    with pytest.raises(nz.ImpossibleDate):
        nz.parse_date("2月30日", year=2026)


@pytest.mark.parametrize("typed,status", [("已完成", "done"), ("全部完成", "done"), ("没有完成", "not_done"),
                                          ("基本完成", "mostly"), ("完成了一半", None)])
def test_self_assessment_synonyms(typed, status):
    assert nz.status(typed, guide()) == status
