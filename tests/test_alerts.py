"""Alert rules (预警): each raised exactly when it should, at the right level, and never otherwise.

A scenario school is written as real workbooks (pipelines.workbook.template.write_workbook) and ingested into a real
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

from ingest_helpers import confirm_every_answer
from pipelines.scoring import alerts as al
from pipelines import config
from pipelines.config import env_name
from pipelines.guide import GuideError, guide, load_guide
from pipelines.store.ingest import ingest
from pipelines.store.registry import load_registry
from pipelines.store.versions import set_deadline, withdraw
from pipelines.workbook.model import BranchInfo, LedgerRow, RegistryEntry
from pipelines.guide.period import Period
from pipelines.guide.vocab import AlertColor
from pipelines.workbook.template import write_registry_workbook, write_workbook
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
    months = Period(year, quarter).months
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
    with pytest.MonkeyPatch.context() as mp:  # the school's 2026Q4 is complete: upload it as in January 2027
        mp.setenv(env_name("upload_day"), "2027-01-15")
        config.settings.cache_clear()
        results = ingest([folder], db, actor="test")
    config.settings.cache_clear()
    assert all(r.status == "accepted" for r in results), [(r.file_name, r.problems) for r in results if r.status != "accepted"]
    confirm_every_answer(db)
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
    assert (df["level_label"] == df["level"].map(AlertColor.labels())).all()
    assert df["level"].tolist() == sorted(df["level"], key=lambda lv: lv != "red")  # red first
    assert (df["branch_name"] == df["branch_code"] + " 党支部").all() and (df["college"] == COLLEGE).all()


@pytest.mark.parametrize("period, branch, rule, words, deadline", [
    ("2026Q2", LECTURE, "secretary_lecture", ["本年已完成 0 次，全年要求 1 次"], "2026-12-31"),
    ("2026Q2", TALKS, "heart_talk_coverage", ["已覆盖 5 人，党员 10 人（50.0%）"], "2026-12-31"),
    ("2026Q4", MEMBER_REPORTS, "member_report_coverage", ["已覆盖 9 人", "90.0%"], "2026-12-31"),
    ("2026Q1", GAPS, "committee_gap", ["本季度 2 月没有支部委员会会议记录（2/3 个月）"], "2026-03-31"),
    ("2026Q2", GAPS, "committee_gap", ["4 月、5 月没有支部委员会会议记录（1/3 个月）"], "2026-06-30"),
    ("2026Q4", GAPS, "theme_day_gap", ["10 月、11 月、12 月没有主题党日记录（0/3 个月）"], "2026-12-31"),
    ("2026Q1", NO_ASSEMBLY, "assembly_missing", ["本季度未召开支部党员大会"], "2026-03-31"),
    ("2026Q2", HOURS_HALF, "hours_behind", ["人均 8 学时，按进度应达 16 学时（全年 32 学时），落后 50.0%"], "2026-12-31"),
    ("2026Q4", HOURS_Q4, "hours_behind", ["落后 75.0%"], "2026-12-31"),
    ("2026Q1", DUES, "dues_short", ["未填写"], "2026-03-31"),
    ("2026Q3", DUES, "dues_short", ["实缴 9 人，应缴 10 人，收缴率 90.0%"], "2026-09-30"),
    ("2026Q1", SEMESTER, "semester_report_overdue", ["记录 0 次，截至 1 月底应有 1 次"], "2026-01-31"),
    ("2026Q3", SEMESTER, "semester_report_overdue", ["记录 1 次，截至 7 月底应有 2 次"], "2026-07-31"),
    ("2026Q1", POOR, "grade_poor", ["等次为“较差”"], "2026-03-31"),
    ("2026Q2", FALL, "score_fall", ["由上季度 100.0 降至 90.0，下降 10.0 分"], "2026-06-30"),
    ("2026Q2", BIG_FALL, "score_fall", ["降至 86.7，下降 13.3 分"], "2026-06-30"),
    ("2026Q1", SLIDE, "falls_in_a_row",
     ["连续 2 个季度下降：2025 年第 3 季度 100.0 → 2025 年第 4 季度 99.0 → 2026 年第 1 季度 98.0"], "2026-03-31"),
])
def test_evidence_numbers_and_deadline(school, period, branch, rule, words, deadline):
    hit = one(al.alerts(period, school), branch, rule)
    for w in words:
        assert w in hit["evidence"]
    assert hit["deadline"] == dt.date.fromisoformat(deadline)
    assert hit["rule_name"] == guide().alert_rule(rule).name
    assert hit["item_id"] == guide().alert_rule(rule).item


def test_evidence_rows_are_the_ledger_rows_behind_the_alert(school):
    rows = al.alert_evidence("2026Q1", GAPS, "committee_gap", school)
    assert set(rows["source"]) == {"ledger"} and set(rows["measure_id"]) == {"committee"}
    assert sorted(rows["date"].map(lambda d: pd.Timestamp(d).month)) == [1, 3]  # February is the gap
    assert set(rows["source_file"]) == {f"{GAPS}_2026Q1.xlsx"} and rows["row_no"].notna().all()
    fee = al.alert_evidence("2026Q3", DUES, "dues_short", school)
    assert set(fee["field"]) == {"fee_due", "fee_paid"} and set(fee["value"]) == {9, 10}
    versions = al.alert_evidence("2026Q1", POOR, "grade_poor", school)  # a rule on scores: the submission
    assert versions[["source", "version", "status"]].values.tolist() == [["submission", 1, "current"]]
    with pytest.raises(KeyError):
        al.alert_evidence("2026Q1", POOR, "no_such_rule", school)


def test_counts_by_college_rule_and_level(school):
    counts = al.alert_counts("2026Q2", school)
    assert list(counts.columns) == al.COUNT_COLUMNS
    got = {(r.rule_id, r.level): r.branches for r in counts.itertuples()}
    assert got[("secretary_lecture", "yellow")] == 2 and got[("score_fall", "red")] == 1
    assert counts["branches"].sum() == len(EXPECTED["2026Q2"])
    assert counts["level"].iloc[0] == "red" and set(counts["college"]) == {COLLEGE}
    assert al.alert_counts("2025Q3", school).empty


def _guide_copy(tmp_path, monkeypatch, mutate) -> Path:
    raw = yaml.safe_load((ROOT / "indicator_guide.yaml").read_text(encoding="utf-8"))
    mutate({r["id"]: r for r in raw["alerts"]}, raw)
    path = tmp_path / "guide.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("DJ_GUIDE_PATH", str(path))
    config.settings.cache_clear()
    return path


def test_thresholds_and_levels_come_from_the_yaml(school, tmp_path, monkeypatch):
    assert not {(HOURS_AT_QUARTER, "hours_behind")} & {a[:2] for a in fired(al.alerts("2026Q1", school))}

    def stricter(rules, raw):
        rules["hours_behind"]["levels"][0]["over"] = 0.2  # 25 % behind is now more than the threshold
        rules["secretary_lecture"]["levels"][0]["from_quarter"] = 1
        rules["dues_short"]["levels"] = [{"level": "red"}]

    _guide_copy(tmp_path, monkeypatch, stricter)
    got = fired(al.alerts("2026Q1", school))
    assert {(HOURS_AT_QUARTER, "hours_behind", "yellow"), (LECTURE, "secretary_lecture", "yellow"),
            (DUES, "dues_short", "red")} <= got
    assert (DUES, "dues_short", "yellow") not in got


def test_falls_in_a_row_looks_back_as_far_as_its_threshold_needs(school, tmp_path, monkeypatch):
    _guide_copy(tmp_path, monkeypatch, lambda rules, raw: rules["falls_in_a_row"]["levels"][0].update(over=2))
    assert (SLIDE, "falls_in_a_row", "yellow") not in fired(al.alerts("2026Q1", school))  # two falls, not three


@pytest.mark.parametrize("mutate, where", [
    (lambda rules, raw: rules["secretary_lecture"].update(measure="nope"), r"alerts\.0\.measure.*nope"),
    (lambda rules, raw: rules["secretary_lecture"].update(item="9.9.9"), r"alerts\.0\.item.*9\.9\.9"),
    (lambda rules, raw: rules["hours_behind"].update(measure="self", item="2.1.2"), r"alerts\.9\.measure.*self_assessed"),
    (lambda rules, raw: rules["grade_poor"].update(grade="很差"), r"alerts\.15\.grade.*很差"),
    (lambda rules, raw: rules["not_submitted_twice"].update(supersedes=["gone"]), r"alerts\.13\.supersedes.*gone"),
    (lambda rules, raw: rules["not_submitted"].update(item="1.2.1"), r"alerts\.12\.item"),
    (lambda rules, raw: rules["semester_report_overdue"].update(due_months=[7, 1]), r"alerts\.11\.due_months"),
    (lambda rules, raw: rules["dues_short"].update(id="score_fall"), r"alerts\.\d+\.id.*duplicate"),
    (lambda rules, raw: rules["dues_short"]["levels"][0].update(level="orange"), r"alerts\.10\.levels\.0\.level"),
    (lambda rules, raw: rules["dues_short"]["levels"][0].update(from_quarter=5), r"alerts\.10\.levels\.0\.from_quarter"),
])
def test_a_broken_rule_names_its_yaml_path(tmp_path, monkeypatch, mutate, where):
    path = _guide_copy(tmp_path, monkeypatch, mutate)
    with pytest.raises(GuideError, match=where):
        load_guide(path)


# ---- submissions: not submitted, twice running, late -------------------------------------------------------
def _registry(folder: Path, db: Path, codes: list[str]) -> None:
    entries = [RegistryEntry(c, f"{c} 党支部", COLLEGE, "teacher", MEMBERS) for c in codes]
    _, problems = load_registry(write_registry_workbook(folder / "名册.xlsx", entries), db, actor="test")
    assert not [p for p in problems if p.severity == "error"]


def test_not_submitted_and_twice_running_across_the_year_boundary(tmp_path):
    a, b, c = "JX02-T01", "JX02-T02", "JX02-T03"
    db = tmp_path / "sub.duckdb"
    _registry(tmp_path, db, [a, b, c])
    for code_, periods in {a: [(2025, 4), (2026, 1), (2026, 2)], b: [(2025, 4)], c: [(2025, 4), (2026, 2)]}.items():
        for y, q in periods:
            book(tmp_path, code_, y, q)
    ingest([tmp_path], db, actor="test")
    assert withdraw(c, "2025Q4", db, actor="test")  # withdrawn: counts as not submitted
    got = {p: fired(al.alerts(p, db)) for p in ("2025Q4", "2026Q1", "2026Q2")}
    # 2025Q4: C missing, and 2025Q3 was never collected, so only one quarter counts
    assert got["2025Q4"] == {(c, "not_submitted", "yellow")}
    # 2026Q1: B misses its first, C its second quarter in a row (across the year): twice replaces once
    assert got["2026Q1"] == {(b, "not_submitted", "yellow"), (c, "not_submitted_twice", "red")}
    assert got["2026Q2"] == {(b, "not_submitted_twice", "red")}
    hit = one(al.alerts("2026Q1", db), c, "not_submitted_twice")
    assert hit["evidence"] == "已连续 2 个季度未报送（2025 年第 4 季度、2026 年第 1 季度）"
    assert hit["deadline"] is None and hit["item_id"] is None and hit["branch_name"] == f"{c} 党支部"


def test_late_only_after_a_deadline_is_set_and_by_the_first_upload(tmp_path):
    db = tmp_path / "late.duckdb"
    first = {"A": dt.datetime(2026, 4, 8, 10), "B": dt.datetime(2026, 4, 11, 9), "C": dt.datetime(2026, 4, 10, 23, 59)}
    for code_, at in first.items():
        save(db, workbook(code_, 2026, 1), at=at)
    save(db, workbook("A", 2026, 1), at=dt.datetime(2026, 4, 20, 8))  # a correction after the deadline
    def late():  # these bare workbooks raise other alerts too
        df = al.alerts("2026Q1", db)
        return df[df["rule_id"] == "late_submission"]

    assert late().empty  # no deadline set: never late
    set_deadline("2026q1", "2026-04-10", db, actor="admin")
    hits = late()
    assert fired(hits) == {("B", "late_submission", "yellow")}
    hit = one(hits, "B", "late_submission")
    assert hit["evidence"] == "报送截止日期 2026-04-10，首次上传于 2026-04-11 09:00，逾期 1 天"
    assert hit["deadline"] == dt.date(2026, 4, 10)
    set_deadline("2026Q1", dt.date(2026, 4, 11), db, actor="admin")  # moved: B is on time now
    assert late().empty
    set_deadline("2026Q1", dt.date(2026, 4, 7), db, actor="admin")
    assert fired(late()) == {(c, "late_submission", "yellow") for c in "ABC"}
    set_deadline("2026Q1", None, db, actor="admin")  # cleared
    assert late().empty


def test_set_deadline_is_audited_and_read_back(tmp_path):
    db = tmp_path / "d.duckdb"
    assert al.deadlines(db).empty  # no database yet
    set_deadline("2026Q2", "2026-07-15", db, actor="组织部")
    set_deadline("2026Q1", dt.date(2026, 4, 10), db, actor="组织部")
    got = al.deadlines(db)
    assert got["period"].tolist() == ["2026Q1", "2026Q2"] and set(got["set_by"]) == {"组织部"}
    assert pd.Timestamp(got["due_date"].iloc[1]).date() == dt.date(2026, 7, 15)
    from pipelines.store import db as dbm

    with dbm.connect(db) as con:
        log = con.execute("SELECT actor, action, detail FROM audit_log ORDER BY logged_at, detail").fetchall()
    assert ("组织部", "deadline", "2026Q2 报送截止日期设为 2026-07-15") in log
    with pytest.raises(ValueError, match="截止日期格式不正确：4月10日"):
        set_deadline("2026Q1", "4月10日", db, actor="组织部")
    with pytest.raises(ValueError, match="季度格式不正确：2026Q5"):
        set_deadline("2026Q5", "2026-04-10", db, actor="组织部")
    with pytest.raises(PermissionError, match="管理员"):
        set_deadline("2026Q1", "2026-04-10", db, actor=" ")


def test_deadlines_are_journaled_so_rebuild_keeps_them(tmp_path):
    from pipelines.store.rebuild import rebuild

    db = tmp_path / "d.duckdb"
    set_deadline("2026Q1", "2026-04-10", db, actor="组织部")
    set_deadline("2026Q2", "2026-07-15", db, actor="组织部")
    set_deadline("2026Q2", None, db, actor="组织部")  # cleared again: the replay must clear it too
    before = al.deadlines(db)[["period", "due_date", "set_by"]]
    rebuild(db)
    after = al.deadlines(db)[["period", "due_date", "set_by"]]
    assert after["period"].tolist() == ["2026Q1"]
    pd.testing.assert_frame_equal(before, after)


def test_the_demo_school_raises_alerts_of_both_levels(demo_db):
    from pipelines.scoring import latest_period

    df = al.alerts(latest_period(demo_db), demo_db)
    assert {"red", "yellow"} <= set(df["level"]) and df["evidence"].str.len().gt(0).all()
    assert df["college"].notna().all() and df["branch_name"].notna().all()
