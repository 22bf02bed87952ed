"""本季度要点 (pipelines.report.summary): every figure in the text is the figure the scoring functions give, shown
through the one rounding rule; the wording rules on the demo school and on small hand-built schools."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from pipelines import scoring
from pipelines.cli import main
from pipelines.guide import GuideError, guide, load_guide
from pipelines.store.ingest import ingest
from pipelines.store.registry import load_registry
from pipelines.workbook.model import BranchInfo, RegistryEntry
from pipelines.guide.period import Period
from pipelines.report.summary import quarter_summary
from pipelines.workbook.template import write_registry_workbook, write_workbook

ROOT = Path(__file__).resolve().parent.parent
FIGURE = re.compile(r"(?<![\d.])\d+\.\d(?![\d.])")  # a shown score or percentage (item ids have two dots)
MOVE = re.compile(r"“([^”]+)”(上升|下降) (\d+\.\d) 分")


def fmt(x) -> str:
    return f"{scoring.shown(x):.{scoring.SHOWN_DECIMALS}f}"


def moves(text: str) -> dict[str, float]:
    return {name: float(v) * (1 if way == "上升" else -1) for name, way, v in MOVE.findall(text)}


def sentence(s, start: str) -> str:
    hits = [x for x in s.sentences if x.startswith(start)]
    assert len(hits) == 1, (start, s.sentences)
    return hits[0]


def mean(df: pd.DataFrame, branch_type: str | None = None) -> float:
    return float((df if branch_type is None else df[df["branch_type"] == branch_type])["overall"].mean())


# ---- the demo school: each number against the scoring functions the charts use ------------------------------
def expected_figures(period: str, db) -> dict[str, object]:
    """What the text must say, computed from the single scoring functions (not from marts)."""
    bs, prev = scoring.branch_scores(period, db), str(Period.parse(period).previous)
    pbs = scoring.branch_scores(prev, db) if prev in scoring.periods(db) else None
    cs = scoring.college_scores(period, db)
    items = scoring.item_summary(period, db)
    items = items[items["branch_type"] == "all"].dropna(subset=["mean_completion"])
    items = items.sort_values(["mean_completion", "item_id"]).head(guide().summary.names_per_sentence)
    tc = scoring.type_comparison(period, db)
    return {
        "bs": bs, "pbs": pbs, "status": scoring.submission_status(period, db),
        "college_change": dict(zip(cs["college"], scoring.shown_change(cs["overall_same"], cs["prev_same"]))),
        "branch_change": dict(zip(bs["branch_name"], scoring.shown_change(bs["overall"], bs["prev_overall"]))),
        "items": {i: fmt(v * 100) for i, v in zip(items["item_id"], items["mean_completion"])},
        "dims": {n: (fmt(t), fmt(s)) for n, t, s in zip(tc["name"], tc["teacher_mean"], tc["student_mean"])},
    }


def check_against_scoring(s, period: str, db) -> None:
    e, g = expected_figures(period, db), guide()
    bs, pbs = e["bs"], e["pbs"]
    seen: set[str] = set()  # every figure the checks below account for
    first = s.sentences[0]
    assert f"全校 {len(bs)} 个支部平均分 {fmt(mean(bs))} 分" in first
    seen.add(fmt(mean(bs)))
    if pbs is not None:
        change = scoring.shown_change(mean(bs), mean(pbs))
        word = "与上季度持平" if change == 0 else f"较上季度{'上升' if change > 0 else '下降'} {abs(change):.1f} 分"
        assert word in first
        seen.add(f"{abs(change):.1f}")
    grades = sentence(s, "等次分布")
    for gr in g.grades:
        assert f"{gr.name} {int((bs['grade'] == gr.name).sum())} 个" in grades
    if pbs is not None:
        rules = g.summary
        seen |= {f"{rules.college_change:g}", f"{rules.branch_change:g}"}
        moved = next(x for x in s.sentences if "二级党组织" in x)
        college_part, _, branch_part = moved.partition("；")
        for name, change in moves(college_part).items():
            assert change == e["college_change"][name], name
            seen.add(f"{abs(change):.1f}")
        for name, change in moves(branch_part).items():
            assert change == e["branch_change"][name], name
            seen.add(f"{abs(change):.1f}")
        changes = [v for v in e["college_change"].values() if v == v]
        if moves(college_part):  # the biggest fall is named first; without falls, the biggest rise
            first_named = list(moves(college_part).values())[0]
            assert first_named == (min(changes) if min(changes) <= -rules.college_change else max(changes))
    weak = sentence(s, "全校平均完成率最低的考核要点")
    named = re.findall(r"(\d\.\d\.\d) [^（]*（(\d+\.\d)%）", weak)
    assert dict(named) == e["items"] and [i for i, _ in named] == list(e["items"])
    seen |= set(e["items"].values())
    t_mean, s_mean = mean(bs, "teacher"), mean(bs, "student")
    types = sentence(s, "教师党支部平均")
    assert f"教师党支部平均 {fmt(t_mean)} 分，学生党支部平均 {fmt(s_mean)} 分" in types
    gap = scoring.shown_change(t_mean, s_mean)
    seen |= {fmt(t_mean), fmt(s_mean), f"{abs(gap):.1f}"}
    dim = re.search(r"“(.+?)”（教师党支部 (\d+\.\d) 分，学生党支部 (\d+\.\d) 分）", types)
    assert dim and e["dims"][dim.group(1)] == (dim.group(2), dim.group(3))
    seen |= {dim.group(2), dim.group(3)}
    status = e["status"]
    missing = status[status["status"] == "missing"]
    last = s.sentences[-1]
    assert (f"尚有 {len(missing)} 个未报送" in last) if len(missing) else ("均已报送" in last)
    assert set(FIGURE.findall(s.text)) <= seen, set(FIGURE.findall(s.text)) - seen


def test_every_figure_on_the_demo_is_the_scoring_functions_figure(demo_db):
    ps = scoring.periods(demo_db)
    for period in (ps[0], ps[-2], ps[-1]):
        s = quarter_summary(period, demo_db)
        assert 3 <= len(s.sentences) <= 6, s.sentences
        assert s.text == "".join(s.sentences) and all(x.endswith("。") for x in s.sentences)
        check_against_scoring(s, period, demo_db)
    assert "这是第一个有数据的季度，暂无环比" in quarter_summary(ps[0], demo_db).sentences[0]


def test_page_data_gives_the_same_summary(demo_db):
    """The overview passes the marts it already holds: the same text as reading them afresh."""
    period = scoring.latest_period(demo_db)
    data = scoring.marts(period, demo_db, previous=True)
    assert quarter_summary(period, demo_db, data=data).sentences == quarter_summary(period, demo_db).sentences


def test_overview_opens_with_the_summary(demo_db):
    period = scoring.latest_period(demo_db)
    s = quarter_summary(period, demo_db)
    at = AppTest.from_file(str(ROOT / "pages/overview.py"), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.text] [: len(s.sentences)] == s.sentences
    assert at.subheader[0].value == "本季度要点"
    assert not at.code  # the copy block is drawn once its expander is opened (no highlighter on a phone)
    at.session_state["ov_copy_summary"] = True
    at.run()
    assert at.code[0].value == s.text and at.code[0].language == "plaintext"  # a copy button, no highlighting


def test_cli_prints_the_summary(demo_db, capsys):
    period = scoring.latest_period(demo_db)
    assert main(["summary", "--db", str(demo_db), "--period", period]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [f"本季度要点（{Period.parse(period).label}）", quarter_summary(period, demo_db).text]
    assert main(["summary", "--db", str(demo_db), "--period", "2026Q9"]) == 1
    assert "季度格式不正确" in capsys.readouterr().err
    assert main(["summary", "--db", str(demo_db), "--period", "2026三季度"]) == 1
    assert "季度格式不正确" in capsys.readouterr().err
    assert main(["summary", "--db", str(demo_db.parent / "empty.duckdb"), "--period", period]) == 1
    assert "没有" in capsys.readouterr().err


# ---- hand-built schools ----------------------------------------------------------------------------------
# (code, name, college, type): T1 and T2 fall by the same amount in two colleges, T3 and T4 rise by it in a
# third, S1 and S2 stay: the school mean is unchanged, two branches and two colleges tie. M never submits.
BRANCHES = [("JX01-T01", "甲院教工支部", "甲学院党委", "teacher"), ("JX02-T01", "乙院教工支部", "乙学院党委", "teacher"),
            ("JX03-T01", "丙院教工一支部", "丙学院党委", "teacher"), ("JX03-T02", "丙院教工二支部", "丙学院党委", "teacher"),
            ("JX01-S01", "甲院学生支部", "甲学院党委", "student"), ("JX02-S01", "乙院学生支部", "乙学院党委", "student")]
MISSING = ("JX03-T03", "丙院教工三支部", "丙学院党委", "teacher")
ANSWERS = {2026: {1: ["done", "done", "not_done", "not_done", "done", "done"],
                  2: ["not_done", "not_done", "done", "done", "done", "done"]}}


def branch_file(folder: Path, branch, year: int, quarter: int, answer: str) -> Path:
    code, name, college, branch_type = branch
    info = BranchInfo(code, name, college, branch_type, year, quarter, 10, "张书记", "李委员",
                      dt.date(year, quarter * 3, 20))
    answers = {it.id: (answer, "会议记录") for it in guide().items_for(branch_type)}
    return write_workbook(folder / f"{code}_{year}Q{quarter}.xlsx", branch_type, info=info, self_assessment=answers)


@pytest.fixture(scope="module")
def school(tmp_path_factory) -> Path:
    """Registry of seven branches; 2026Q1 and 2026Q2 by ANSWERS; 2026Q4 only T1 (2026Q3 has no data)."""
    folder = tmp_path_factory.mktemp("summary_school")
    db = folder / "db" / "school.duckdb"
    entries = [RegistryEntry(code, name, college, t, 10) for code, name, college, t in [*BRANCHES, MISSING]]
    load_registry(write_registry_workbook(folder / "registry.xlsx", entries), db)
    files = [branch_file(folder, b, 2026, q, a) for q, row in ANSWERS[2026].items() for b, a in zip(BRANCHES, row)]
    files.append(branch_file(folder, BRANCHES[0], 2026, 4, "done"))
    results = ingest(files, db)
    assert all(r.status == "accepted" for r in results), [p.message for r in results for p in r.problems]
    return db


def test_first_quarter_has_no_change_and_names_the_missing_branch(school):
    s = quarter_summary("2026Q1", school)
    assert 3 <= len(s.sentences) <= 6
    assert s.sentences[0].endswith("这是第一个有数据的季度，暂无环比。")
    assert s.facts.previous is None and s.facts.school_change is None and not s.facts.colleges
    assert not any("较上季度" in x or "二级党组织中" in x for x in s.sentences)
    assert s.sentences[-1] == f"支部名册中 7 个支部已报送 6 个，尚有 1 个未报送：“{MISSING[1]}”。"


def test_unchanged_mean_ties_and_like_for_like_colleges(school):
    s = quarter_summary("2026Q2", school)
    f = s.facts
    assert 3 <= len(s.sentences) <= 6
    assert f.school_change == 0 and "，与上季度持平。" in s.sentences[0] and "+0.0" not in s.text
    assert "各等次支部数与上季度相同" in s.text
    bs = scoring.branch_scores("2026Q2", school)
    fall = scoring.shown_change(bs["overall"], bs["prev_overall"]).min()
    # T1 and T2 tie: both named, in name order, with the same fall; then the biggest rise fills the last slot
    assert [(m.name, m.change) for m in f.branches] == [("乙院教工支部", fall), ("甲院教工支部", fall),
                                                       ("丙院教工一支部", -fall)]
    assert f.branches_moved == 4 and "（升降 10 分及以上的共 4 个）" in s.text
    cs = scoring.college_scores("2026Q2", school).set_index("college")
    half = scoring.shown_change(cs.loc["甲学院党委", "overall_same"], cs.loc["甲学院党委", "prev_same"])
    assert [(m.name, m.change) for m in f.colleges] == [("乙学院党委", half), ("甲学院党委", half),
                                                       ("丙学院党委", -fall)]
    assert f"“乙学院党委”下降 {abs(half):.1f} 分、“甲学院党委”下降 {abs(half):.1f} 分" in s.text
    assert f.gap_dimension is not None and "差距最大的一级指标" in s.text


def test_a_quarter_after_a_gap_says_there_is_nothing_to_compare(school):
    s = quarter_summary("2026Q4", school)
    assert s.sentences[0].endswith("上一季度（2026 年第 3 季度）没有报送数据，暂无环比。")
    assert s.facts.earlier and s.facts.previous is None
    assert not any(x.startswith("教师党支部平均") for x in s.sentences)  # only one type submitted
    assert 3 <= len(s.sentences) <= 6 and "尚有 6 个未报送" in s.sentences[-1] and s.sentences[-1].endswith("等。")


def test_colleges_are_compared_like_for_like(tmp_path):
    """A college whose strong branch stopped submitting did not fall: only branches scored in both quarters
    count (college_scores' overall_same / prev_same, as the college chart's hover text)."""
    strong, weak = ("JX05-T01", "丁院一支部", "丁学院党委", "teacher"), ("JX05-T02", "丁院二支部", "丁学院党委", "teacher")
    db = tmp_path / "db" / "gap.duckdb"
    ingest([branch_file(tmp_path, strong, 2026, 1, "done"), branch_file(tmp_path, weak, 2026, 1, "not_done"),
            branch_file(tmp_path, weak, 2026, 2, "not_done")], db)
    cs = scoring.college_scores("2026Q2", db).iloc[0]
    assert scoring.shown_change(cs["overall"], cs["prev_overall"]) <= -guide().summary.college_change
    s = quarter_summary("2026Q2", db)
    assert not s.facts.colleges and "各二级党组织平均分（两个季度均报送的支部）较上季度升降均不到" in s.text


def test_everyone_submitted_and_no_registry(tmp_path):
    db = tmp_path / "db" / "plain.duckdb"
    ingest([branch_file(tmp_path, b, 2026, 1, "done") for b in BRANCHES[:2]], db)
    s = quarter_summary("2026Q1", db)
    assert s.sentences[-1] == "本季度已有 2 个支部报送；尚未导入支部名册，无法统计未报送的支部。"
    load_registry(write_registry_workbook(tmp_path / "r.xlsx", [RegistryEntry(*b[:4], 10) for b in BRANCHES[:2]]), db)
    assert quarter_summary("2026Q1", db).sentences[-1] == "支部名册中的 2 个支部均已报送。"


def test_thresholds_come_from_the_guide(school, tmp_path, monkeypatch):
    raw = yaml.safe_load((ROOT / "indicator_guide.yaml").read_text(encoding="utf-8"))
    raw["summary"] = {"names_per_sentence": 1, "college_change": 99, "branch_change": 99}
    path = tmp_path / "guide.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("DJ_GUIDE_PATH", str(path))
    from pipelines import config
    config.settings.cache_clear()
    s = quarter_summary("2026Q2", school)
    assert "各二级党组织平均分（两个季度均报送的支部）较上季度升降均不到 99 分；各支部总分较上季度升降均不到 99 分。" in s.text
    assert len(s.facts.weak_items) == 1 and len(s.facts.missing) == 1


def test_a_broken_summary_section_names_its_key(tmp_path):
    raw = yaml.safe_load((ROOT / "indicator_guide.yaml").read_text(encoding="utf-8"))
    raw["summary"]["college_change"] = -1
    path = tmp_path / "guide.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(GuideError, match=r"summary\.college_change"):
        load_guide(path)
