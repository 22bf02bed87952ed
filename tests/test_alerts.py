"""Alert rules (预警): each raised exactly when it should, at the right level, and never otherwise.

A scenario school is written as real workbooks (pipelines.workbook.write_workbook) and ingested into a real
DuckDB file once for the module: every branch breaks one requirement (or none) in chosen quarters of 2025Q3 …
2026Q4, and each quarter's alerts are compared as a whole with the expected set, so a rule firing where it
should not fails as surely as one missing.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipelines import alerts as al
from pipelines import config, store
from pipelines.guide import GuideError, guide, load_guide
from pipelines.ingest import ingest, load_registry, withdraw
from pipelines.model import BranchInfo, LedgerRow, RegistryEntry, quarter_months
from pipelines.workbook import write_registry_workbook, write_workbook
from test_scoring_fixtures import save, workbook

ROOT = Path(__file__).resolve().parent.parent
MEMBERS = 10
COLLEGE = "机械工程学院"
ANNUAL = ("secretary_lecture", "life_meeting", "democratic_review", "report_to_assembly")


def book(folder: Path, code: str, year: int, quarter: int, *, drop=(), hours: float | None = None, reports: int = 2,
         counts: dict | None = None, answers: dict | None = None) -> Path:
    """A workbook meeting every requirement of the quarter (the year's annual items and two semester reports
    included, so a branch's first workbook of a year is complete too), minus what `drop` names: activity ids,
    or (activity id, month) pairs. `hours`: the quarter's training hours, attended by every member (default 8 per
    quarter of the year so far, the pro-rata target even for a first workbook of the year);
    `reports`: report_to_superior rows; `counts` and `answers` (item id -> (status, evidence)) override."""
    g = guide()
    months = quarter_months(quarter)
    plan = [(m, 5, "committee_meeting") for m in months] + [(m, 12, "theme_day") for m in months]
    plan += [(months[0], 20, "general_meeting")] + [(months[0], 21 + k, "report_to_superior") for k in range(reports)]
    plan += [(months[1], 15, a) for a in ANNUAL]
    ledger = [LedgerRow(0, dt.date(year, m, d), a, "", f"{m}月{g.activity_name(a)}", MEMBERS, MEMBERS, None, "会议记录")
              for m, d, a in plan if a not in drop and (a, m) not in drop]
    hours = 8.0 * quarter if hours is None else hours
    day = 24
    while hours > 0:  # one row per day of at most 8 hours (a day has at most 24)
        ledger.append(LedgerRow(0, dt.date(year, months[1], day), "training", "", "集中学习", MEMBERS, MEMBERS,
                                min(hours, 8.0), "签到表"))
        hours, day = hours - 8.0, day + 1
    values = {f.id: 0 for f in g.count_fields}
    values.update(fee_due=MEMBERS, fee_paid=MEMBERS, members_reported=MEMBERS, members_talked=MEMBERS)
    values.update(counts or {})
    sa = {it.id: ("done", "会议记录与照片") for it in g.items_for("teacher")}
    sa.update(answers or {})
    info = BranchInfo(code, f"{code} 党支部", COLLEGE, "teacher", year, quarter, MEMBERS, "张书记", "李委员",
                      dt.date(year, months[-1], 28))
    return write_workbook(folder / f"{code}_{year}Q{quarter}.xlsx", "teacher", info=info, ledger=ledger,
                          counts=values, self_assessment=sa)


def code(n: int) -> str:
    return f"JX01-T{n:02d}"


CLEAN, LECTURE, LIFE, REVIEW, ASSEMBLY_REPORT, TALKS, MEMBER_REPORTS, LATE_LECTURE = map(code, range(1, 9))
GAPS, NO_ASSEMBLY, HOURS_AT_QUARTER, HOURS_HALF, HOURS_Q4, DUES, SEMESTER, POOR = map(code, range(9, 17))
FALL, BIG_FALL, SLIDE = map(code, range(17, 20))
Y25, Y26 = [(2025, 4)], [(2026, q) for q in (1, 2, 3, 4)]
NOT_DONE = ("not_done", "")
MOSTLY = ("mostly", "部分完成")
D5 = ("5.1.1", "5.1.2", "5.2.1", "5.2.2")  # dimension 5 (weight 10 of 100): all four items → −10.0 points


def _school(folder: Path) -> None:
    def each(c, periods, **kw):
        for y, q in periods:
            book(folder, c, y, q, **kw)

    each(CLEAN, Y25 + Y26)
    each(LECTURE, Y25)  # held in 2025: does not count for 2026
    each(LECTURE, Y26, drop=("secretary_lecture",))
    each(LIFE, Y26, drop=("life_meeting",))
    each(REVIEW, Y26, drop=("democratic_review",))
    each(ASSEMBLY_REPORT, Y26, drop=("report_to_assembly",))
    each(TALKS, Y26, counts={"members_talked": 5})
    each(MEMBER_REPORTS, Y26, counts={"members_reported": 9})
    each(LATE_LECTURE, Y26[:2], drop=("secretary_lecture",))
    each(LATE_LECTURE, Y26[2:])
    book(folder, GAPS, 2026, 1, drop=[("committee_meeting", 2)])
    book(folder, GAPS, 2026, 2, drop=[("committee_meeting", 4), ("committee_meeting", 5)])
    book(folder, GAPS, 2026, 3)
    book(folder, GAPS, 2026, 4, drop=("theme_day",))
    each(NO_ASSEMBLY, [(2026, 1), (2026, 4)], drop=("general_meeting",))
    each(NO_ASSEMBLY, [(2026, 2), (2026, 3)])
    book(folder, HOURS_AT_QUARTER, 2026, 1, hours=6)  # exactly 25 % behind 8: not more than 25 %
    each(HOURS_HALF, Y26[:2], hours=4)  # 50 % behind 8, then 8 of 16: yellow, not red
    book(folder, HOURS_Q4, 2026, 4, hours=8)  # 8 of 32: 75 % behind
    book(folder, DUES, 2026, 1, counts={"fee_paid": None})
    book(folder, DUES, 2026, 3, counts={"fee_paid": 9})
    each(DUES, [(2026, 2), (2026, 4)])
    for q, reports in zip((1, 2, 3, 4), (0, 1, 0, 1)):  # year to date: 0 (due 1), 1, 1 (due 2), 2
        book(folder, SEMESTER, 2026, q, reports=reports)
    each(POOR, Y26, answers={it.id: NOT_DONE for it in guide().items_for("teacher")})
    book(folder, FALL, 2026, 1)
    book(folder, FALL, 2026, 2, answers={i: NOT_DONE for i in D5})  # 100 → 90.0: fell exactly 10.0
    book(folder, FALL, 2026, 3)
    book(folder, FALL, 2026, 4, answers={"5.1.1": NOT_DONE, "5.2.1": NOT_DONE})  # 100 → 95.0: exactly 5.0
    book(folder, BIG_FALL, 2026, 1)
    book(folder, BIG_FALL, 2026, 2, answers={**{i: NOT_DONE for i in D5}, "7.1.1": NOT_DONE})  # −13.3
    book(folder, SLIDE, 2025, 3)  # 100.0
    book(folder, SLIDE, 2025, 4, answers={"7.1.1": MOSTLY})  # 99.0
    book(folder, SLIDE, 2026, 1, answers={"7.1.1": MOSTLY, "7.1.2": MOSTLY})  # 98.0: two falls in a row
    book(folder, SLIDE, 2026, 2)


@pytest.fixture(scope="module")
def school(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("alert_books")
    _school(folder)
    db = tmp_path_factory.mktemp("alert_db") / "school.duckdb"
    results = ingest([folder], db, actor="test")
    assert all(r.status == "accepted" for r in results), [(r.file_name, r.problems) for r in results if r.status != "accepted"]
    return db


def fired(df: pd.DataFrame) -> set[tuple[str, str, str]]:
    return set(zip(df["branch_code"], df["rule_id"], df["level"]))


def one(df: pd.DataFrame, branch: str, rule: str) -> pd.Series:
    hit = df[(df["branch_code"] == branch) & (df["rule_id"] == rule)]
    assert len(hit) == 1, df
    return hit.iloc[0]


ANNUAL_RULES = {LECTURE: "secretary_lecture", LIFE: "life_meeting", REVIEW: "democratic_review",
                ASSEMBLY_REPORT: "report_to_assembly", TALKS: "heart_talk_coverage",
                MEMBER_REPORTS: "member_report_coverage"}
EXPECTED = {
    "2025Q3": set(),
    "2025Q4": set(),  # SLIDE fell once (1.0 point): neither a big fall nor two in a row
    "2026Q1": {(GAPS, "committee_gap", "yellow"), (NO_ASSEMBLY, "assembly_missing", "yellow"),
               (HOURS_HALF, "hours_behind", "yellow"), (DUES, "dues_short", "yellow"),
               (SEMESTER, "semester_report_overdue", "red"), (POOR, "grade_poor", "red"),
               (SLIDE, "falls_in_a_row", "yellow")},
    "2026Q2": {*((b, r, "yellow") for b, r in ANNUAL_RULES.items()), (LATE_LECTURE, "secretary_lecture", "yellow"),
               (GAPS, "committee_gap", "red"), (HOURS_HALF, "hours_behind", "yellow"), (POOR, "grade_poor", "red"),
               (FALL, "score_fall", "yellow"), (BIG_FALL, "score_fall", "red")},
    "2026Q3": {*((b, r, "red") for b, r in ANNUAL_RULES.items()), (DUES, "dues_short", "yellow"),
               (SEMESTER, "semester_report_overdue", "red"), (POOR, "grade_poor", "red")},
    "2026Q4": {*((b, r, "red") for b, r in ANNUAL_RULES.items()), (GAPS, "theme_day_gap", "red"),
               (NO_ASSEMBLY, "assembly_missing", "yellow"), (HOURS_Q4, "hours_behind", "red"),
               (POOR, "grade_poor", "red")},
}


@pytest.mark.parametrize("period", sorted(EXPECTED))
def test_each_quarter_raises_exactly_the_expected_alerts(school, period):
    df = al.alerts(period, school)
    assert fired(df) == EXPECTED[period]
    assert list(df.columns[:len(al.COLUMNS)]) == al.COLUMNS
    assert set(df["level_label"]) <= {"红", "黄"}
    assert (df["level_label"] == df["level"].map(al.LEVEL_LABELS)).all()
    assert df["level"].tolist() == sorted(df["level"], key=lambda lv: lv != "red")  # red first
    assert (df["branch_name"] == df["branch_code"] + " 党支部").all() and (df["college"] == COLLEGE).all()
