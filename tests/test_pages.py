"""Dashboard pages under Streamlit's AppTest, against a real demo database (and a few small hand-built ones).

Values on screen are checked against the scoring functions the pages are built on.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.store import db as dbmod
from pipelines import scoring
from pipelines.report import briefing
from pipelines.store import writes
from pipelines.guide import guide
from pipelines.workbook.model import BranchInfo, CountValue, LedgerRow, ParsedWorkbook, RegistryEntry, SelfAssessmentRow

ROOT = Path(__file__).resolve().parent.parent
PAGES = {
    "overview": "pages/overview.py",
    "branch": "pages/branch.py",
    "compare": "pages/compare.py",
    "trends": "pages/trends.py",
    "guide": "pages/guide.py",
    "alerts": "pages/alerts.py",
    "progress": "pages/progress.py",
    "college": "pages/college.py",
    "template": "pages/template.py",
    "review": "pages/review.py",
}
TIMEOUT = 120


def page(name: str, **params: str | list[str]) -> AppTest:
    """An AppTest of one page file (run directly, as st.navigation would run it), with URL query params; `name`
    is a key of PAGES or the stem of a file in pages/."""
    at = AppTest.from_file(str(ROOT / PAGES.get(name, f"pages/{name}.py")), default_timeout=TIMEOUT)
    for k, v in params.items():
        at.query_params[k] = v
    return at


def ok(at: AppTest) -> AppTest:
    """Assert the run showed neither an exception nor an error box."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def metric(at: AppTest, label: str) -> str:
    """The displayed value of the metric whose label starts with `label`."""
    for m in at.metric:
        if m.label.startswith(label):
            return m.value
    raise AssertionError(f"no metric {label!r}: {[m.label for m in at.metric]}")


def charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def open_box(at: AppTest, key: str) -> AppTest:
    """`at` (run once) with the expander of `key` opened, run again: its body is drawn only while it is open
    (pages.fragments.opened)."""
    at.session_state[key] = True
    return ok(at.run())


def open_tab(at: AppTest, label: str, key: str = "ov_details") -> AppTest:
    """`at` (run once) with the tab whose label starts with `label` opened (the overview's details unless `key`
    names other tabs), run again: only the open tab is drawn (st.tabs with on_change="rerun")."""
    tab = next(t.label for t in at.tabs if t.label.startswith(label))
    at.session_state[key] = tab
    return ok(at.run())


RANKING = "支部排名与热力图"


def texts(at: AppTest) -> str:
    """Everything a user reads in info/success/warning boxes, captions and markdown."""
    parts = [e.value for kind in ("info", "success", "warning", "caption", "markdown", "subheader")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


# ---- smoke ---------------------------------------------------------------------------------------------
SMOKE = {  # page -> (title, plotly charts, metrics, tables, download buttons (CSV + Excel each))
    # 10 metrics: 6 figures + 4 grade counts; the weakest items' tab opens first (its bars; its table, CSV and
    # Excel when their expander is opened); the ranking and the missing branches are drawn when their tab opens
    "overview": ("全校总览", 3, 10, 0, 1),
    # the radar; the history's chart is drawn when its box is opened, the ledger rows once an item's row is ticked
    "branch": ("支部画像", 1, 5, 1, 2),
    # radar and items (the first tab; its table and downloads when their box is opened): the distributions,
    # colleges and quarters in their tabs
    "compare": ("教师与学生支部对比", 2, 3, 1, 0),
    # school, colleges, risers, fallers: the branches' lines in their tab; the movers' table when opened
    "trends": ("趋势分析", 4, 0, 0, 0),
    "guide": ("指标指南", 1, 4, 0, 0),
    "alerts": ("预警", 0, 3, 3, 2),  # counts by rule and by college, the alerts
    "progress": ("报送进度", 1, 4, 2, 4),  # colleges' bars; colleges and missing branches with contacts
    # radar, weakest items; branches and alerts (their tab opens first; the items' table and downloads
    # are drawn when their expander is opened, the missing branches, 红榜 and the trend when their tab is)
    "college": ("二级党组织画像", 2, 4, 2, 2),
    "template": ("填报模板", 0, 0, 0, 4),  # two blank templates, a branch's pre-filled workbook, a college's zip
    "review": ("审核", 0, 4, 3, 2),  # signed in: progress, queue, sent back; 整改通知 and 督办清单 (built on click)
}


def signed_in_admin(at: AppTest, monkeypatch) -> AppTest:
    """`at` run by a signed-in school-wide admin (the 审核 page shows nothing else)."""
    from pages import access
    from pipelines import auth, config

    monkeypatch.setenv(config.env_name("admins"), f"审核员:{auth.hash_password('pw-123456', rounds=4)}")
    config.settings.cache_clear()
    at.session_state[access.ADMIN_KEY] = "审核员"
    return at


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_runs_on_the_demo(demo_db, name, monkeypatch):
    at = page(name)
    at = ok((signed_in_admin(at, monkeypatch) if name == "review" else at).run())
    title, n_charts, n_metrics, n_tables, n_downloads = SMOKE[name]
    assert [t.value for t in at.title] == [title]
    assert charts(at) >= n_charts
    assert len(at.metric) == n_metrics
    assert len(at.dataframe) >= n_tables
    assert len(at.get("download_button")) >= n_downloads


@pytest.mark.parametrize("name", ["overview", "overview_ranking", "branch", "compare", "trends"])
def test_every_decimal_column_has_a_fixed_format(demo_db, name):
    """83.0 beside 80.6, never 83: each float column of each table names its format."""
    at = ok(page(name.removesuffix("_ranking")).run())
    if name.endswith("_ranking"):
        at = open_tab(at, RANKING)
    for table in at.dataframe:
        config = json.loads(table.proto.columns or "{}")
        for col in table.value.columns:
            if pd.api.types.is_float_dtype(table.value[col]):
                assert config.get(col, {}).get("type_config", {}).get("format"), (name, col)


def test_app_builds_navigation_and_shows_demo_banner_and_facts(demo_db):
    at = ok(AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run())
    assert [t.value for t in at.title] == ["全校总览"]
    assert any("当前展示的是演示数据" in w.value for w in at.warning)
    # the how-to (DJ_DB_PATH, clearing the demo) is for admins; a viewer is told whom to ask
    assert any("请联系组织部管理员" in w.value for w in at.warning)
    assert not any("DJ_DB_PATH" in w.value for w in at.warning)
    side = " ".join(c.value for c in at.sidebar.caption)
    assert f"指标指南版本：{guide().version}" in side
    latest = scoring.latest_period(demo_db)
    assert "数据截至" in side and latest[:4] in side
    for name in ("branch", "compare", "trends", "guide"):
        at.switch_page(PAGES[name])
        ok(at.run())
        assert [t.value for t in at.title] == [SMOKE[name][0]]


def test_app_builds_the_demo_when_no_database_exists(monkeypatch):
    """First start: no database → the demo is generated and ingested (progress shown), then the banner."""
    from pipelines.config import settings

    # the real builder, at a small size so the test stays quick
    monkeypatch.setenv("DJ_DEMO_BRANCHES", "8")
    monkeypatch.setenv("DJ_DEMO_QUARTERS", "2")
    settings.cache_clear()
    assert not settings().db_path.exists()
    at = ok(AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run())
    assert settings().db_path.exists()
    assert any("当前展示的是演示数据" in w.value for w in at.warning)
    assert metric(at, "支部总数") == "8"


# ---- overview --------------------------------------------------------------------------------------------
def test_overview_headline_matches_scoring_and_follows_the_quarter(demo_db):
    ps = scoring.periods(demo_db)
    at = ok(page("overview").run())
    latest = scoring.branch_scores(ps[-1], demo_db)
    status = scoring.submission_status(ps[-1], demo_db)
    assert at.selectbox(key="period").value == ps[-1]
    assert metric(at, "全校平均分") == f"{scoring.shown(latest['overall'].mean()):.1f}"
    assert metric(at, "已报送") == str(int((status["status"] != "missing").sum()))
    assert metric(at, "未报送") == str(int((status["status"] == "missing").sum()))
    teacher = latest[latest["branch_type"] == "teacher"]["overall"].mean()
    assert metric(at, "教师党支部平均分") == f"{scoring.shown(teacher):.1f}"
    assert "period" not in at.query_params  # a default is not written: each URL change is a history entry

    earlier = ps[-3]
    at.selectbox(key="period").select(earlier).run()
    ok(at)
    bs = scoring.branch_scores(earlier, demo_db)
    assert metric(at, "全校平均分") == f"{scoring.shown(bs['overall'].mean()):.1f}"
    prev = scoring.branch_scores(ps[-4], demo_db)
    delta = [m for m in at.metric if m.label == "全校平均分"][0].proto.delta
    assert delta == f"{scoring.shown(bs['overall'].mean()) - scoring.shown(prev['overall'].mean()):+.1f}"
    assert str(at.query_params["period"]).strip("[]'") == earlier


def test_overview_ranking_filters_by_type_college_and_grade(demo_db):
    ps = scoring.periods(demo_db)
    bs = scoring.branch_scores(ps[-1], demo_db)
    at = ok(page("overview").run())
    assert not [d for d in at.dataframe if "排名" in d.value.columns]  # drawn only when its tab is opened
    at = open_tab(at, RANKING)
    assert not [d for d in at.dataframe if "完全完成的支部占比" in d.value.columns]  # the other tabs are not drawn
    table = at.dataframe[0].value
    assert len(table) == len(bs)  # every branch
    assert list(table["支部编码"]) == list(bs.sort_values(["rank", "branch_code"])["branch_code"])
    assert set(table["排名变化"].str[0]) <= {"↑", "↓", "—", "新"}

    at.radio(key="type").set_value("student").run()
    table = ok(at).dataframe[0].value
    assert set(table["类型"]) == {"学生党支部"}
    assert len(table) == int((bs["branch_type"] == "student").sum())

    college = sorted(bs["college"].unique())[0]
    at.multiselect(key="colleges").set_value([college]).run()
    table = ok(at).dataframe[0].value
    expected = bs[(bs["branch_type"] == "student") & (bs["college"] == college)]
    assert len(table) == len(expected)
    assert at.query_params["colleges"] in ([college], college)

    grade = bs["grade"].iloc[0]
    at.radio(key="type").set_value("all").run()
    at.multiselect(key="colleges").set_value([]).run()
    at.multiselect(key="grades").set_value([grade]).run()
    table = ok(at).dataframe[0].value
    assert set(table["等次"]) == {grade} and len(table) == int((bs["grade"] == grade).sum())


def test_overview_filter_matching_nothing_says_so(demo_db):
    ps = scoring.periods(demo_db)
    bs = scoring.branch_scores(ps[-1], demo_db)
    grades = [g.name for g in guide().grades]
    absent = [g for g in grades if g not in set(bs["grade"])]
    at = page("overview")
    if absent:
        at.query_params["grades"] = [absent[0]]
    else:  # every grade occurs: combine a college with the type it has none of
        by = bs.groupby("college")["branch_type"].unique()
        college = next(c for c, ts in by.items() if len(ts) == 1)
        other = "student" if by[college][0] == "teacher" else "teacher"
        at.query_params["colleges"] = [college]
        at.query_params["type"] = other
    at = open_tab(ok(at.run()), RANKING)
    assert "没有符合筛选条件的支部" in texts(at)


def test_overview_state_comes_from_the_url(demo_db):
    ps = scoring.periods(demo_db)
    at = open_tab(ok(page("overview", period=ps[0], type="teacher").run()), RANKING)
    assert at.selectbox(key="period").value == ps[0]
    assert at.radio(key="type").value == "teacher"
    assert "这是第一个有数据的季度" in texts(at)
    # a link with a value that does not exist falls back to the default
    at = ok(page("overview", period="1999Q1").run())
    assert at.selectbox(key="period").value == ps[-1]


def test_overview_lists_missing_submissions(demo_db):
    ps = scoring.periods(demo_db)
    status = scoring.submission_status(ps[-1], demo_db)
    missing = status[status["status"] == "missing"]
    at = open_tab(ok(page("overview").run()), f"未报送支部（{len(missing)}）")
    shown = [df.value for df in at.dataframe if "支部编码" in df.value.columns and "排名" not in df.value.columns]
    assert shown and sorted(shown[-1]["支部编码"]) == sorted(missing["branch_code"])


def test_overview_weakest_items_match_item_summary(demo_db):
    ps = scoring.periods(demo_db)
    summary = scoring.item_summary(ps[-1], demo_db)
    at = ok(page("overview").run())
    assert not [df for df in at.dataframe if "平均完成率" in df.value.columns]  # drawn when its expander opens
    at = open_box(at, "ov_weakest_table")
    assert len(at.get("download_button")) == 3  # the report, the table's CSV and Excel
    weakest = [df.value for df in at.dataframe if "平均完成率" in df.value.columns][0]
    first = weakest.iloc[0]
    allrows = summary[summary["branch_type"] == "all"].dropna(subset=["mean_completion"])
    assert first["考核要点"] == allrows.sort_values(["mean_completion", "item_id"]).iloc[0]["item_id"]
    assert first["平均完成率"] == pytest.approx(allrows["mean_completion"].min() * 100, abs=0.05)
    weakest_row = allrows.sort_values(["mean_completion", "item_id"]).iloc[0]
    assert first["参与计算的支部数"] == weakest_row["branches"]


# ---- branch ------------------------------------------------------------------------------------------------
def test_branch_drill_down_shows_scores_items_and_trace(demo_db):
    ps = scoring.periods(demo_db)
    bs = scoring.branch_scores(ps[-1], demo_db)
    first = bs.sort_values("branch_code").groupby("college")["branch_code"].transform("first")
    later = bs[bs["branch_code"] != first.reindex(bs.index)].sort_values("rank")  # not its college's default: picking it is a change
    target = later.iloc[len(later) // 2]
    at = ok(page("branch").run())
    at.selectbox(key="college").select(target["college"]).run()
    at.selectbox(key="branch").select(target["branch_code"]).run()
    ok(at)
    assert any(target["branch_name"] in s.value for s in at.subheader)
    assert metric(at, "总分") == f"{scoring.shown(target['overall']):.1f}"
    assert metric(at, "等次") == target["grade"]
    assert metric(at, "全校排名") == f"{int(target['rank'])} / {len(bs)}"
    assert at.query_params["branch"] in (target["branch_code"], [target["branch_code"]])
    # the radar's two averages are the marts' own means (type_comparison and college_radar, in SQL), as shown
    radar = {tr["name"]: tr["r"][:7] for ch in at.get("plotly_chart") if '"scatterpolar"' in ch.proto.spec
             for tr in json.loads(ch.proto.spec)["data"]}
    tc = scoring.type_comparison(ps[-1], demo_db).sort_values("dimension_id")
    t = target["branch_type"]
    assert radar[f"{'教师' if t == 'teacher' else '学生'}党支部平均"] == list(scoring.shown(tc[f"{t}_mean"]))
    school = scoring.college_radar(ps[-1], target["college"], demo_db).set_index("who").loc["school"]
    assert radar["全校平均"] == [scoring.shown(school[f"d{k}"]) for k in range(1, 8)]

    items = scoring.item_scores(ps[-1], demo_db, branch_code=target["branch_code"])
    table = [df.value for df in at.dataframe if "测评情况" in df.value.columns][0]
    assert list(table["考核要点"]) == list(items["item_id"])
    done = items.dropna(subset=["completion"]).iloc[0]
    shown = table.set_index("考核要点").loc[done["item_id"], "完成率"]
    assert shown == pytest.approx(done["completion"] * 100, abs=0.05)
    assert (table["未到期"] == "未到期").sum() == int(items["pending"].sum())

    measures = scoring.measure_scores(ps[-1], demo_db, branch_code=target["branch_code"])
    m = measures[(measures["kind"] == "monthly") & measures["actual"].notna()].iloc[0]
    cell = table.set_index("考核要点").loc[m["item_id"], "测评情况"]
    assert f"{m['measure_name']}：{m['actual']:g} / {m['required']:g} 个月" in cell

    at.radio(key="dim").set_value("3").run()
    table = [df.value for df in ok(at).dataframe if "测评情况" in df.value.columns][0]
    assert set(table["考核要点"].str[0]) == {"3"}

    assert not [df for df in at.dataframe if "来源" in df.value.columns]  # no ledger rows before an item is picked
    item = table["考核要点"].iloc[1]
    at.session_state["br_items_None"] = {"selection": {"rows": [1], "columns": []}}  # tick the item's row
    ok(at.run())
    assert at.query_params["item"] in (item, [item])
    rows = scoring.trace(ps[-1], target["branch_code"], item, demo_db)
    trace = [df.value for df in at.dataframe if "来源" in df.value.columns][0]
    assert len(trace) == len(rows)
    assert set(trace["来源"]) <= {"活动台账", "统计数据", "自评"}


def test_branch_shows_support_review_and_verified_share(demo_db):
    """A branch the demo reviewer reached: 核实率 under the metrics, each item's ledger support and review
    state, and the ledger rows behind a linked item — all as pipelines compute them."""
    period = scoring.latest_period(demo_db)
    with dbmod.connect(demo_db) as con:
        code = con.execute("SELECT min(branch_code) FROM reviews").fetchone()[0]
    bs = scoring.branch_scores(period, demo_db).set_index("branch_code")
    at = ok(page("branch").run())
    at.selectbox(key="college").select(bs.loc[code, "college"]).run()
    at.selectbox(key="branch").select(code).run()
    ok(at)
    assert any(f"核实率 {scoring.shown_share(bs.loc[code, 'verified'])}%" in x.value for x in at.caption)
    items = scoring.item_scores(period, demo_db, branch_code=code).set_index("item_id")
    table = [df.value for df in at.dataframe if "测评情况" in df.value.columns][0].set_index("考核要点")
    for item_id, it in items.iterrows():
        assert table.loc[item_id, "审核"] == (scoring.review_state(it["review_decision"])
                                            if guide().item(item_id).self_assessed else "")
        assert table.loc[item_id, "台账佐证"] == scoring.support_label(it["linked"], it["evidence_rows"])
    assert (table["审核"] != "待审核").any()
    linked = next(i for i in items.index if guide().item(i).evidence and items.loc[i, "evidence_rows"] > 0)
    at.session_state["br_items_None"] = {"selection": {"rows": [list(table.index).index(linked)], "columns": []}}
    at.run()  # the item's row ticked in the item table opens its rows
    rows = scoring.evidence_rows(period, code, demo_db)
    shown = [df.value for df in ok(at).dataframe if "佐证来源" in df.value.columns][0]
    assert len(shown) == int(items.loc[linked, "evidence_rows"]) == int((rows["item_id"] == linked).sum())


def decoded(values) -> list:
    """A trace's x or y as a list: plotly's JSON may carry numbers as a typed array ({"dtype", "bdata"})."""
    if isinstance(values, dict) and "bdata" in values:
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def test_branch_history_is_a_table_and_its_chart_is_drawn_when_opened(demo_db):
    """The first screen shows the radar and the history as a table (quarter, score, rank); the two-part chart of
    score and rank is drawn only when its box is opened, with the query API's scores and ranks."""
    from pages.charts import period_short
    from pages.common import period_label

    ps = scoring.periods(demo_db)
    h = scoring.score_history(demo_db)
    bs = scoring.branch_scores(ps[-1], demo_db)
    code = next(b for b in bs.sort_values("branch_code")["branch_code"] if (h["branch_code"] == b).sum() >= 3)
    mine = h[h["branch_code"] == code].sort_values("period")
    row = bs.set_index("branch_code").loc[code]
    at = ok(page("branch", period=ps[-1], college=row["college"], branch=code).run())
    drawn = [json.loads(ch.proto.spec) for ch in at.get("plotly_chart")]
    assert len(drawn) == 1 and drawn[0]["data"][0]["type"] == "scatterpolar"  # the radar only
    shown = texts(at)
    for _, q in mine.iterrows():
        assert f"| {period_label(q['period'])} | {scoring.shown(q['overall']):.1f} | 第 {int(q['rank'])} 名 |" in shown

    at = open_box(at, "br_history_box")
    figs = [json.loads(ch.proto.spec) for ch in at.get("plotly_chart")]
    (history,) = [f for f in figs if any(t.get("name") == "全校排名" for t in f["data"])]
    score, rank = history["data"]
    assert decoded(score["x"]) == decoded(rank["x"]) == [period_short(p) for p in mine["period"]]
    assert decoded(score["y"]) == pytest.approx(list(scoring.shown(mine["overall"])))
    assert decoded(rank["y"]) == list(mine["rank"].astype(float))
    assert len(figs) == 2  # the radar is still there


def test_overview_ranking_shows_verified_share(demo_db):
    period = scoring.latest_period(demo_db)
    bs = scoring.branch_scores(period, demo_db)
    at = open_tab(ok(page("overview").run()), RANKING)
    table = [df.value for df in at.dataframe if "核实率（%）" in df.value.columns][0]
    want = dict(zip(bs["branch_code"], scoring.shown_share(bs["verified"])))
    assert {k: v for k, v in zip(table["支部编码"], table["核实率（%）"])} == want


def test_branch_that_did_not_submit_the_quarter_is_explained(demo_db):
    ps = scoring.periods(demo_db)
    status = scoring.submission_status(ps[-1], demo_db)
    miss = status[status["status"] == "missing"].iloc[0]
    at = ok(page("branch", period=ps[-1], college=miss["college"], branch=miss["branch_code"]).run())
    assert f"该支部未报送 {ps[-1][:4]} 年第 {ps[-1][-1]} 季度" in texts(at)
    assert "| 季度 | 总分 | 全校排名 |" in texts(at)  # its history still shows: the table, the chart when opened
    assert charts(open_box(at, "br_history_box")) == 1


def test_quarter_survives_a_page_switch(demo_db):
    ps = scoring.periods(demo_db)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.selectbox(key="period").select(ps[1]).run()
    at.switch_page(PAGES["compare"]).run()
    ok(at)
    assert at.selectbox(key="period").value == ps[1]


# ---- compare and trends --------------------------------------------------------------------------------------
def test_compare_means_match_type_comparison(demo_db):
    ps = scoring.periods(demo_db)
    bs = scoring.branch_scores(ps[-1], demo_db)
    at = ok(page("compare").run())
    assert [t.label for t in at.tabs] == ["各考核要点", "各一级指标得分分布", "分二级党组织", "季度变化"]
    means = bs.groupby("branch_type")["overall"].mean()
    assert metric(at, "教师党支部平均分") == f"{scoring.shown(means['teacher']):.1f}"
    assert metric(at, "学生党支部平均分") == f"{scoring.shown(means['student']):.1f}"
    tc = scoring.type_comparison(ps[-1], demo_db)
    dims = [df.value for df in at.dataframe if "一级指标" in df.value.columns][0]
    # the difference of the two means as shown (the rounding rule's shown_change), not the rounded difference
    want = scoring.shown_change(tc["teacher_mean"], tc["student_mean"])
    assert list(dims["差值（教师−学生）"]) == pytest.approx(list(want), abs=1e-9)
    itc = scoring.item_type_comparison(ps[-1], demo_db)
    assert charts(at) == 2  # the radar and the items' bars
    assert not [df for df in at.dataframe if "差值（教师−学生，百分点）" in df.value.columns]  # drawn when opened
    at = open_box(at, "cmp_items_table")
    assert len(at.get("download_button")) == 2
    full = [df.value for df in at.dataframe if "差值（教师−学生，百分点）" in df.value.columns][0]
    gaps = full["差值（教师−学生，百分点）"].dropna().abs()
    assert list(gaps) == sorted(gaps, reverse=True)  # sorted by the gap
    assert len(full) == len(itc)
    for tab in ("各一级指标得分分布", "分二级党组织", "季度变化"):  # drawn when opened, instead of the items' chart and table
        open_tab(at, tab, "cmp_details")
        assert charts(at) == 2 and not [d for d in at.dataframe if "差值（教师−学生，百分点）" in d.value.columns]


def test_compare_boxes_are_drawn_from_the_spread_not_from_every_branch(demo_db):
    """The box chart sends the quartiles, mean and range of each type and dimension (scoring.dimension_spread,
    as shown), not one value per branch."""
    p = scoring.latest_period(demo_db)
    bs = scoring.branch_scores(p, demo_db)
    at = ok(page("compare").run())
    assert not [c for c in at.get("plotly_chart") if '"box"' in c.proto.spec]  # drawn when its tab is opened
    at = open_tab(at, "各一级指标得分分布", "cmp_details")
    fig = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if '"box"' in c.proto.spec)
    boxes = fig["data"]
    assert [b["name"] for b in boxes] == ["教师党支部", "学生党支部"]
    for box, t in zip(boxes, ["teacher", "student"]):
        assert "y" not in box  # no branch's own score
        sub = bs[bs["branch_type"] == t]
        assert box["median"] == [scoring.shown(sub[f"d{k}"].median()) for k in range(1, 8)]
        assert box["upperfence"] == [scoring.shown(sub[f"d{k}"].max()) for k in range(1, 8)]
        assert box["mean"] == [scoring.shown(sub[f"d{k}"].mean()) for k in range(1, 8)]


def test_trends_movers_match_scoring_and_branches_can_be_picked(demo_db):
    ps = scoring.periods(demo_db)
    up, down = scoring.movers(ps[-1], 5, demo_db)
    at = ok(page("trends").run())
    assert not [df for df in at.dataframe if "主要变化的一级指标" in df.value.columns]  # drawn when opened
    at = open_box(at, "tr_movers_table")
    assert len(at.get("download_button")) == 2
    table = [df.value for df in at.dataframe if "主要变化的一级指标" in df.value.columns][0]
    assert list(table[table["方向"] == "进步"]["支部编码"]) == list(up["branch_code"])
    assert list(table[table["方向"] == "退步"]["支部编码"]) == list(down["branch_code"])
    assert list(table[table["方向"] == "进步"]["主要变化的一级指标"]) == list(up["main_dimension_name"])
    assert "branches" not in [m.key for m in at.multiselect]
    assert charts(at) == 4  # the branches' lines are drawn when their tab is opened
    at = open_tab(at, "支部对比", "tr_details")
    assert charts(at) == 3 and not [d for d in at.dataframe if "主要变化的一级指标" in d.value.columns]
    picked = at.multiselect(key="branches").value
    assert picked == list(up["branch_code"].head(1)) + list(down["branch_code"].head(1))
    hist = scoring.history(demo_db)
    codes = sorted(hist["branch_code"].unique())[:3]
    at.multiselect(key="branches").set_value(codes).run()
    ok(at)
    assert at.query_params["branches"] == codes or list(at.query_params["branches"]) == codes
    at.selectbox(key="metric").select("d2").run()
    assert any(guide().dimensions[1].name in s.value for s in ok(at).subheader)


# ---- empty and thin states ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["overview", "branch", "compare", "trends"])
def test_empty_database_shows_a_friendly_message(name):
    at = ok(page(name).run())
    assert "还没有任何支部的报送数据" in texts(at)
    assert charts(at) == 0


def _workbook(code: str, year: int, quarter: int, branch_type: str = "teacher", college: str = "机械工程学院",
              n: int = 0) -> ParsedWorkbook:
    """A small valid workbook built in code: monthly meetings, fees paid, every self-assessment 完成."""
    g = guide()
    months = [3 * (quarter - 1) + k for k in (1, 2, 3)]
    ledger = [LedgerRow(row=2 + k, date=dt.date(year, m, 10), activity_type="committee_meeting",
                        activity_raw="支部委员会会议", topic="支委会", expected=8, attended=8, evidence="会议记录")
              for k, m in enumerate(months)]
    sa = [SelfAssessmentRow(row=2 + k, item_id=it.id, status="done", evidence="有佐证")
          for k, it in enumerate(g.items_for(branch_type)) if it.self_assessed]
    info = BranchInfo(branch_code=code, branch_name=f"{code}支部", college=college, branch_type=branch_type,
                      year=year, quarter=quarter, members=8)
    return ParsedWorkbook(file_name=f"{code}_{year}Q{quarter}.xlsx",
                          sha256=hashlib.sha256(f"{code}{year}{quarter}{n}".encode()).hexdigest(), info=info,
                          ledger=ledger, counts=[CountValue(2, "fee_due", 8), CountValue(3, "fee_paid", 8)],
                          self_assessment=sa)


@pytest.fixture
def thin_db() -> Path:
    """Two branches: T01 with two quarters, S01 (student) with only the later one; a registry of three."""
    path = dbmod.db_path()
    with dbmod.connect(path, write=True) as con:
        writes.save_registry(con, [RegistryEntry("T01", "T01支部", "机械工程学院", "teacher", 8),
                                  RegistryEntry("S01", "S01支部", "机械工程学院", "student", 8),
                                  RegistryEntry("S02", "S02支部", "外国语学院", "student", 6)])
        writes.save_parsed(con, _workbook("T01", 2025, 1), actor="test")
        writes.save_parsed(con, _workbook("T01", 2025, 2), actor="test")
        writes.save_parsed(con, _workbook("S01", 2025, 2, "student"), actor="test")
    return path


def test_after_a_quarter_without_data_no_page_shows_a_change(thin_db):
    """Changes compare with the calendar quarter before, as the ranking's arrows and 较上季度 do: after a
    quarter nobody submitted, the headline, the ranking and the movers all say there is nothing to compare."""
    with dbmod.connect(thin_db, write=True) as con:
        writes.save_parsed(con, _workbook("T01", 2025, 4), actor="test")
        writes.save_parsed(con, _workbook("S01", 2025, 4, "student"), actor="test")
    at = open_tab(ok(page("overview", period="2025Q4").run()), RANKING)
    assert "上一季度（2025 年第 3 季度）没有报送数据，暂无环比" in texts(at)
    assert not [m for m in at.metric if m.label == "全校平均分"][0].proto.delta
    ranking = [df.value for df in at.dataframe if "排名变化" in df.value.columns][0]
    assert set(ranking["排名变化"]) == {"新"} and (ranking["较上季度"] == "").all()
    trends = ok(page("trends", period="2025Q4").run())
    assert "上一季度（2025 年第 3 季度）没有报送数据，无法计算进步与退步" in texts(trends)
    # with the calendar quarter before present, the headline change is against it
    at = ok(page("overview", period="2025Q2").run())
    now, before = scoring.branch_scores("2025Q2", thin_db), scoring.branch_scores("2025Q1", thin_db)
    assert "对比季度：2025 年第 1 季度" in texts(at)
    from pages.tables import delta_args

    delta = [m for m in at.metric if m.label == "全校平均分"][0].proto.delta
    change = scoring.shown(now["overall"].mean()) - scoring.shown(before["overall"].mean())
    assert delta == delta_args(change)["delta"]


def test_quarter_nobody_submitted_yet_shows_who_is_missing(thin_db):
    """The quarter now due is offered even before anyone submitted; the page lists every branch as missing."""
    from pipelines.guide.period import Period

    due = str(Period.latest_completed())
    at = ok(page("overview").run())
    options = at.selectbox(key="period").options
    assert any(due[:4] in o for o in options)
    at.selectbox(key="period").select(due).run()
    ok(at)
    assert "还没有任何支部报送" in texts(at)
    assert metric(at, "未报送") == "3"
    missing = [df.value for df in at.dataframe if "支部编码" in df.value.columns][0]
    assert sorted(missing["支部编码"]) == ["S01", "S02", "T01"]


def test_new_data_shows_on_the_next_interaction(thin_db):
    """Caches are keyed on the data version: a write between two runs is visible without a restart."""
    at = ok(page("overview", period="2025Q2").run())
    assert metric(at, "已报送") == "2"
    before = dbmod.data_version(thin_db)
    with dbmod.connect(thin_db, write=True) as con:
        writes.save_parsed(con, _workbook("S02", 2025, 2, "student", college="外国语学院"), actor="test")
    assert dbmod.data_version(thin_db) == before + 1
    at.run()
    assert metric(ok(at), "已报送") == "3"
    mean = scoring.branch_scores("2025Q2", thin_db)["overall"].mean()
    assert metric(at, "全校平均分") == f"{scoring.shown(mean):.1f}"


def test_registry_without_submissions_lists_everyone_as_missing():
    path = dbmod.db_path()
    with dbmod.connect(path, write=True) as con:
        writes.save_registry(con, [RegistryEntry("T01", "T01支部", "机械工程学院", "teacher", 8),
                                  RegistryEntry("S01", "S01支部", "外国语学院", "student", 6)])
    at = ok(page("overview").run())
    assert metric(at, "未报送") == "2"
    assert "还没有任何支部报送" in texts(at)
    at = ok(page("branch", college="外国语学院").run())
    assert "该支部未报送" in texts(at)
    for name in ("compare", "trends"):
        assert "还没有任何支部的报送数据" in texts(ok(page(name).run()))


def test_single_quarter_trend_pages_explain_the_thin_state(thin_db):
    at = ok(page("trends", period="2025Q1").run())
    assert "没有可比较的上一季度得分" in texts(at)
    at = ok(page("compare", period="2025Q1").run())
    assert "没有学生党支部的报送" in texts(at)


def test_guide_page_shows_every_item_and_searches(demo_db):
    at = ok(page("guide").run())
    g = guide()
    assert any(g.version in c.value for c in at.caption)
    assert len(at.expander) == 2 + len(g.dimensions)  # the method, evidence and review, the dimensions
    # only open expanders are drawn: the first dimension's items, not the others' nor the review's table
    first = [it.id for ind in g.dimensions[0].indicators for it in ind.items]
    cards = lambda: {m.value.split("**")[1] for m in at.markdown if m.value.startswith("**") and m.value.count("**") >= 2}  # noqa: E731
    assert set(first) <= cards() and not cards() & {it.id for it in g.items if it.id not in first}
    # the shares shown are the query API's (scoring.weight_shares), rounded by its one rule
    shares = scoring.weight_shares("teacher").set_index("item")
    card = next(m.value for m in at.markdown if m.value.startswith(f"**{first[0]}**"))
    assert f"占教师党支部总分 {scoring.percent(shares.loc[first[0], 'overall'], 1)}" in card
    assert any(e.label == f"1. {g.dimensions[0].name}　占总分 {scoring.percent(scoring.dimension_shares()[1])}"
               for e in at.expander)
    sun = next(json.loads(ch.proto.spec) for ch in at.get("plotly_chart") if '"sunburst"' in ch.proto.spec)["data"][0]
    by_id = dict(zip(sun["ids"], sun["customdata"]))
    for item, r in shares.iterrows():
        assert by_id[f"{r['dimension']}/{r['indicator']}/{item}"] == [scoring.percent(r["overall"], 1),
                                                                     scoring.percent(r["overall"], 2)]
    assert sum(1 for i in sun["ids"] if "/" not in i) == len(g.dimensions)
    assert not any(e.label == "自评的佐证、审核与核实率" and e.dataframe for e in at.expander)
    second = g.dimensions[1]
    at.session_state[f"guide_dim_{second.id}_"] = True
    at.session_state["guide_review"] = True
    ok(at.run())
    assert {it.id for ind in second.indicators for it in ind.items} <= cards()
    review = next(e for e in at.expander if e.label == "自评的佐证、审核与核实率")
    assert "核实率" in " ".join(m.value for m in review.markdown)
    links = review.dataframe[0].value
    assert list(links["考核要点"]) == [it.id for it in g.items if it.evidence]
    assert "“落实谈心谈话制度”" in set(links["原文依据"])
    at.text_input(key="guide_q").input("32").run()
    ok(at)
    assert len(at.expander) == 3  # the method, review, and the one dimension holding 2.1.3
    at.text_input(key="guide_q").input("不存在的要点").run()
    assert "没有找到" in texts(ok(at))
    at.radio(key="gtype").set_value("student").run()
    assert at.query_params["gtype"] in ("student", ["student"])


def test_real_data_added_to_the_demo_database_is_flagged(demo_db):
    with dbmod.connect(demo_db, write=True) as con:
        writes.save_parsed(con, _workbook("ZZ-T99", 2025, 2), actor="admin")
    at = ok(AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run())
    banner = [w.value for w in at.warning if "演示" in w.value]
    assert len(banner) == 1 and "数据库中仍有" in banner[0] and "1 份真实报送" in banner[0]


def test_a_new_quarter_is_shown_unless_the_viewer_chose_one(thin_db):
    """A session left on the default quarter moves to a newly uploaded one; an explicit choice stays put."""
    idle = ok(page("overview").run())
    chooser = ok(page("overview").run())
    assert idle.selectbox(key="period").value == chooser.selectbox(key="period").value == "2025Q2"
    chooser.selectbox(key="period").select("2025Q1").run()
    with dbmod.connect(thin_db, write=True) as con:
        writes.save_parsed(con, _workbook("T01", 2025, 3), actor="test")
    assert ok(idle.run()).selectbox(key="period").value == "2025Q3"
    assert ok(chooser.run()).selectbox(key="period").value == "2025Q1"


def test_without_a_registry_nobody_is_called_missing():
    """Submissions but no registry (e.g. right after 清空演示数据): the page cannot know who is missing and
    says so, instead of claiming that everyone submitted."""
    path = dbmod.db_path()
    with dbmod.connect(path, write=True) as con:
        writes.save_parsed(con, _workbook("T01", 2025, 2), actor="test")
        writes.save_parsed(con, _workbook("S01", 2025, 2, "student"), actor="test")
    at = open_tab(ok(page("overview", period="2025Q2").run()), "未报送支部")
    assert metric(at, "已报送") == "2"
    assert metric(at, "未报送") == "—" and metric(at, "支部总数") == "—"
    assert "尚未导入支部名册，无法判断哪些支部未报送" in texts(at)
    assert "全部支部均已报送" not in texts(at)


def test_a_link_with_too_many_or_repeated_branches_still_opens(demo_db):
    """趋势分析 compares at most 8 branches: a hand-edited link with ten (one of them twice) opens with the
    first eight, each once, instead of an error."""
    codes = sorted(scoring.history(demo_db)["branch_code"].unique())[:10]
    at = ok(page("trends", branches=[codes[0], *codes]).run())
    assert at.multiselect(key="branches").value == codes[:8]


@pytest.mark.parametrize("name", ["overview", "branch", "compare", "trends"])
def test_garbage_in_the_url_falls_back_to_defaults(demo_db, name):
    at = ok(page(name, period="abc", branch="zzz", college="不存在的学院", colleges=["不存在"], type="x",
                 grades=["y"], metric="d99", dim="z", item="9.9.9", heat="q", branches=["nope"]).run())
    assert [t.value for t in at.title] == [SMOKE[name][0]]
    assert charts(at) >= 1


def test_hours_show_the_requirement_so_far_and_for_the_year(demo_db):
    """Study hours are cumulative and the yearly 32 is spread over the quarters: the table says both."""
    g = guide()
    item, measure = next((it, m) for it in g.items for m in it.measures if m.kind == "hours")
    ps = scoring.periods(demo_db)
    period = next(p for p in ps if p.endswith(("Q1", "Q2", "Q3")))
    q = int(period[-1])
    bs = scoring.branch_scores(period, demo_db)
    row = bs[bs["branch_type"] == "teacher"].iloc[0]
    at = ok(page("branch", period=period, college=row["college"], branch=row["branch_code"]).run())
    table = [df.value for df in at.dataframe if "测评情况" in df.value.columns][0]
    text = table.set_index("考核要点").at[item.id, "测评情况"]
    so_far = f"{measure.required * q / 4:.1f}".rstrip("0").rstrip(".")
    assert f"截至本季度应达 {so_far}，全年 {measure.required:g}" in text


def test_compare_with_one_type_only_does_not_talk_of_gaps(thin_db):
    at = ok(page("compare", period="2025Q1").run())  # only the teacher branch T01 submitted
    assert "本季度只有教师党支部报送，暂无两类支部的差距" in texts(at)
    assert "显示差距最大" not in texts(at)
    assert metric(at, "差值") == "—"


def test_a_link_with_only_a_branch_opens_that_branch(demo_db):
    bs = scoring.branch_scores(scoring.periods(demo_db)[-1], demo_db)
    first = sorted(bs["college"].unique())[0]
    target = bs[bs["college"] != first].sort_values("branch_code").iloc[-1]
    at = ok(page("branch", branch=target["branch_code"]).run())
    assert at.selectbox(key="college").value == target["college"]
    assert at.selectbox(key="branch").value == target["branch_code"]


def test_trends_college_lines_are_not_the_overview_filter(demo_db):
    h = scoring.history(demo_db)
    college = sorted(h["college"].unique())[0]
    at = ok(page("trends").run())
    at.multiselect(key="college_lines").set_value([college]).run()
    ok(at)
    assert "colleges" not in at.query_params
    assert list(at.query_params["college_lines"]) == [college] or at.query_params["college_lines"] == college


def test_school_mean_change_warns_when_the_mix_of_types_changed(thin_db):
    """2025Q1 had only the teacher branch, 2025Q2 both: the school mean's change mixes different branches."""
    at = ok(page("overview", period="2025Q2").run())
    assert "本季度与上季度报送的支部类型不同（本季度：教师党支部、学生党支部；上季度：教师党支部）" in texts(at)
    with dbmod.connect(thin_db, write=True) as con:
        writes.save_parsed(con, _workbook("T01", 2025, 3), actor="test")
        writes.save_parsed(con, _workbook("S01", 2025, 3, "student"), actor="test")
    assert "支部类型不同" not in texts(ok(page("overview", period="2025Q3").run()))


def test_an_edited_weight_shows_on_the_next_interaction_even_with_the_same_version(demo_db, tmp_path, monkeypatch):
    """Cached scores are keyed on the guide's content, not only on its version string."""
    import os

    import yaml

    from pipelines import config

    raw = yaml.safe_load(open(config.settings().guide_path, encoding="utf-8"))
    path = tmp_path / "guide.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("DJ_GUIDE_PATH", str(path))
    config.settings.cache_clear()
    at = ok(page("overview").run())
    before = metric(at, "全校平均分")
    raw["dimensions"][0]["weight"] = 80  # the version string stays as it is
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))
    at.run()
    latest = scoring.branch_scores(scoring.periods(demo_db)[-1], demo_db)
    assert metric(ok(at), "全校平均分") == f"{scoring.shown(latest['overall'].mean()):.1f}" != before


def test_every_change_is_the_difference_of_the_scores_shown(demo_db):
    """较上季度 beside 71.0 → 55.5 reads −15.5, whatever the unrounded scores were; the same for 差值."""
    ps = scoring.periods(demo_db)
    bs = scoring.branch_scores(ps[-1], demo_db).set_index("branch_code")
    before = scoring.branch_scores(ps[-2], demo_db).set_index("branch_code")
    at = open_tab(ok(page("overview").run()), RANKING)
    ranking = [df.value for df in at.dataframe if "较上季度" in df.value.columns][0].set_index("支部编码")
    both = ranking.index.intersection(before.index)
    assert len(both) > 5
    for code in both:
        expected = round(scoring.shown(bs.at[code, "overall"]) - scoring.shown(before.at[code, "overall"]), 1)
        assert ranking.at[code, "较上季度"] == briefing.change_text(expected), code  # 持平 / ↑1.4 / ↓0.8
    cmp = ok(page("compare").run())
    dims = [df.value for df in cmp.dataframe if "差值（教师−学生）" in df.value.columns][0]
    for _, row in dims.iterrows():
        assert row["差值（教师−学生）"] == round(scoring.shown(row["教师党支部平均"]) - scoring.shown(row["学生党支部平均"]), 1)


def test_a_rise_is_red_and_a_fall_orange_on_every_metric():
    from pages.tables import delta_args

    assert delta_args(1.2)["delta_color"] == "red" and delta_args(-0.5)["delta_color"] == "orange"
    assert delta_args(0.04)["delta"] == "与上季度持平" and delta_args(None) == {"delta": None}


def test_a_quarter_the_branch_missed_is_a_gap_in_its_history(thin_db):
    with dbmod.connect(thin_db, write=True) as con:
        writes.save_parsed(con, _workbook("S01", 2025, 3, "student"), actor="test")
        writes.save_parsed(con, _workbook("T01", 2025, 4), actor="test")
    at = ok(page("branch", period="2025Q4", college="机械工程学院", branch="T01").run())
    assert "| 2025 年第 3 季度 | 未报送 | — |" in texts(at)
    at = open_box(at, "br_history_box")
    assert "未报送的季度（图中断开）：2025 年第 3 季度" in texts(at)
    import math

    import plotly.io as pio

    figs = [pio.from_json(ch.proto.spec) for ch in at.get("plotly_chart")]
    score = next(f for f in figs if any(t.name == "全校排名" for t in f.data)).data[0]
    assert list(score.x) == ["2025年Q1", "2025年Q2", "2025年Q3", "2025年Q4"]
    y = score.y
    if isinstance(y, dict):  # plotly's typed-array encoding: {"dtype": "f8", "bdata": base64}
        import base64

        import numpy as np

        y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"])
    assert math.isnan(y[2]) and score.text[2] == "" and score.connectgaps is False


def test_line_charts_never_magnify_a_tiny_change():
    from pages.charts import _value_range

    lo, hi = _value_range(pd.Series([87.0, 87.8, 87.4]))
    assert hi - lo >= 10 and lo <= 87.0 and hi > 87.8 + 1  # room for the labels above the points
    lo, hi = _value_range(pd.Series([20.0, 95.0]))
    assert lo < 20 and hi > 95 and lo >= 0
    assert _value_range(pd.Series([None], dtype="float")) is None
