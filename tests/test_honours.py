"""红榜 (honour list): 样板支部 / 标杆院系 candidates by the guide's `honours` rules, on a hand-made school of
real workbooks (tests/test_alerts.py's `book`: a full-marks quarter scores 100.0) from 2025Q2 to 2026Q1, so
runs cross the year boundary. The rules as in indicator_guide.yaml: model_branch = 优秀 three quarters in a row
with no red alert; benchmark_college = every submitted branch 良好 or better and the mean among the best 3.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ingest_helpers import confirm_every_answer
from pipelines.scoring import alerts as al
from pipelines import config, scoring
from pipelines.guide import GuideError, load_guide
from pipelines.scoring.honours import honours, honours_table
from pipelines.store.ingest import ingest
from pipelines.store.registry import load_registry
from pipelines.workbook.model import RegistryEntry
from pipelines.workbook.template import write_registry_workbook
from test_alerts import MEMBERS, NOT_DONE, ROOT, book

STAR, STAR2, RED, SHORT, GAP, WEAK, MID = (f"HB01-T{n:02d}" for n in range(1, 8))
COLLEGES = {STAR: "甲学院", STAR2: "甲学院", RED: "乙学院", SHORT: "丙学院", GAP: "丙学院", WEAK: "丁学院",
            MID: "戊学院"}
Q = {"25Q2": (2025, 2), "25Q3": (2025, 3), "25Q4": (2025, 4), "26Q1": (2026, 1)}
D5_AND_7 = {i: NOT_DONE for i in ("5.1.1", "5.1.2", "5.2.1", "5.2.2", "7.1.1")}  # 86.7: 良好


def _school(folder: Path) -> None:
    def each(code, quarters, **kw):
        for q in quarters:
            book(folder, code, *Q[q], **kw)

    each(STAR, ["25Q3", "25Q4", "26Q1"])
    each(STAR2, ["25Q2", "25Q3", "25Q4", "26Q1"])
    each(RED, ["25Q3", "25Q4"])
    book(folder, RED, 2026, 1, reports=0)  # the January report missing: a red alert, still 优秀
    each(SHORT, ["25Q4", "26Q1"])
    each(GAP, ["25Q3", "26Q1"])
    book(folder, WEAK, 2026, 1, answers={"5.1.1": NOT_DONE, **D5_AND_7, "1.1.1": NOT_DONE, "2.1.1": NOT_DONE})
    each(MID, ["25Q4", "26Q1"], answers=D5_AND_7)


@pytest.fixture(scope="module")
def school(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("honour_books")
    _school(folder)
    db = tmp_path_factory.mktemp("honour_db") / "school.duckdb"
    results = ingest([folder], db, actor="test")
    assert all(r.status == "accepted" for r in results), [r.problems for r in results if r.status != "accepted"]
    confirm_every_answer(db)  # the hand-computed grades take the answers as given
    entries = [RegistryEntry(c, f"{c} 党支部", college, "teacher", MEMBERS) for c, college in COLLEGES.items()]
    _, problems = load_registry(write_registry_workbook(folder / "名册.xlsx", entries), db, actor="test")
    assert not [p for p in problems if p.severity == "error"]
    return db


def found(df) -> dict:
    return {(r.rule_id, r.branch_code if r.unit == "branch" else r.college): r.periods for r in df.itertuples()}


def test_the_scenario(school):
    now = scoring.branch_scores("2026Q1", school).set_index("branch_code")
    assert now.loc[RED, "grade"] == "优秀" and now.loc[MID, "grade"] == "良好"
    assert now.loc[WEAK, "grade"] != "优秀"
    reds = al.alerts("2026Q1", school)
    assert set(reds.loc[reds["level"] == "red", "branch_code"]) >= {RED}


def test_candidates_of_a_quarter_with_the_quarters_that_earned_them(school):
    assert found(honours("2026Q1", school)) == {
        ("model_branch", STAR): ("2025Q3", "2025Q4", "2026Q1"),  # across the year boundary
        ("model_branch", STAR2): ("2025Q2", "2025Q3", "2025Q4", "2026Q1"),
        ("benchmark_college", "甲学院"): ("2025Q2", "2025Q3", "2025Q4", "2026Q1"),
        ("benchmark_college", "乙学院"): ("2025Q3", "2025Q4", "2026Q1"),
        ("benchmark_college", "丙学院"): ("2025Q3", "2025Q4", "2026Q1"),
        # 戊学院: all 良好 but fourth; 丁学院: a branch below 良好; RED: a red alert; SHORT: two quarters
    }


def test_an_earlier_quarter(school):
    assert found(honours("2025Q4", school)) == {
        ("model_branch", STAR2): ("2025Q2", "2025Q3", "2025Q4"),
        ("benchmark_college", "甲学院"): ("2025Q2", "2025Q3", "2025Q4"),
        ("benchmark_college", "乙学院"): ("2025Q3", "2025Q4"),
        ("benchmark_college", "丙学院"): ("2025Q3", "2025Q4"),
    }


def test_table_for_people(school):
    t = honours_table("2026Q1", school, college="甲学院")
    assert t.to_dict("records")[0] == {
        "类别": "样板支部候选", "名称": f"{STAR} 党支部（{STAR}）", "二级党组织": "甲学院",
        "入选季度": "2025年Q3—2026年Q1", "依据": "连续 3 个季度等次为优秀及以上且无红色预警（2025年Q3—2026年Q1）"}
    assert list(t["类别"]) == ["样板支部候选", "样板支部候选", "标杆院系候选"]


def _broken(tmp_path, mutate) -> Path:
    raw = yaml.safe_load((ROOT / "indicator_guide.yaml").read_text(encoding="utf-8"))
    mutate(raw["honours"])
    path = tmp_path / "guide.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("mutate, where", [
    (lambda h: h[0].update(grade="卓越"), "honours.0.grade"),
    (lambda h: h[1].pop("top"), "honours.1.top"),
    (lambda h: h[1].update(no_red_alert=True), "honours.1.no_red_alert"),
    (lambda h: h.append(dict(h[0])), "honours.2.id"),
    (lambda h: h[0].update(quarters=0), "honours.0.quarters"),
])
def test_broken_rules_name_their_yaml_path(tmp_path, mutate, where):
    with pytest.raises(GuideError, match=where.replace(".", r"\.")):
        load_guide(_broken(tmp_path, mutate))


def test_thresholds_come_from_the_yaml(school, tmp_path, monkeypatch):
    def shorter(h):
        h[0]["quarters"] = 2
        h[1]["top"] = 4

    monkeypatch.setenv("DJ_GUIDE_PATH", str(_broken(tmp_path, shorter)))
    config.settings.cache_clear()
    got = found(honours("2026Q1", school))
    assert got[("model_branch", SHORT)] == ("2025Q4", "2026Q1")
    assert got[("benchmark_college", "戊学院")] == ("2025Q4", "2026Q1")


def test_the_report_has_a_honour_sheet(school):
    import io

    from openpyxl import load_workbook

    from pipelines.report import quarterly

    ws = load_workbook(io.BytesIO(quarterly.quarter_report("2026Q1", school)))[quarterly.HONOURS_SHEET]
    assert ws["A1"].value == "红榜（2026 年第 1 季度）"
    assert [c.value for c in ws[2]] == ["类别", "名称", "二级党组织", "入选季度", "依据"]
    assert [ws.cell(r, 2).value for r in range(3, ws.max_row + 1)] == [
        f"{STAR} 党支部（{STAR}）", f"{STAR2} 党支部（{STAR2}）", "丙学院", "乙学院", "甲学院"]  # by college
    assert ws.oddFooter.center.text == "第 &P 页 / 共 &N 页"


def test_the_overview_and_the_college_page_show_the_honour_list(demo_db):
    """红榜 on 全校总览 (its own tab) and on 二级党组织画像, from honours_table through the cached layer."""
    from pipelines import scoring
    from test_pages import ok, open_tab, page

    period = scoring.latest_period(demo_db)
    at = ok(page("overview", period=period).run())
    assert "红榜" in [t.label for t in at.tabs]
    at.session_state["ov_details"] = "红榜"  # drawn when its tab is opened
    ok(at.run())
    table = honours_table(period, demo_db)
    shown = [d.value for d in at.dataframe if "入选季度" in d.value.columns]
    assert (shown and len(shown[0]) == len(table)) or (table.empty and any("暂无符合条件" in i.value for i in at.info))
    college = scoring.college_scores(period, demo_db).dropna(subset=["rank"])["college"].iloc[0]
    at = ok(page("college", period=period, college=college).run())
    assert not any(s.value.startswith("红榜") for s in at.subheader)  # drawn when its tab is opened
    at = open_tab(at, "红榜", key="co_details")
    assert any(s.value.startswith("红榜") for s in at.subheader)
