"""预警, 报送进度 and 二级党组织画像 under AppTest, against the real demo database (and the hostile school):
figures on screen come from pipelines.scoring.alerts / pipelines.scoring; interactions are driven by widget key."""
from __future__ import annotations

import datetime as dt

import pytest

from pages import access
from pipelines.scoring import alerts as al
from pipelines import auth, config, scoring
from pipelines.store import db as dbmod
from test_hostile_names import (BRANCHES, COLLEGE_A, PERIOD, assert_charts_show_text, hostile_db,  # noqa: F401
                                shows_literally)
from test_browser import server  # noqa: F401  (the app on a copy of the demo, for the browser test)
from test_pages import metric, ok, open_box, open_tab, page

ADMIN = "orgadmin"


def latest(db) -> str:
    return scoring.latest_period(db)


# ---- 预警 ----------------------------------------------------------------------------------------------------
PAGE_ROWS = 50  # pages/alerts.py's page size (the tests read it there too)


def alert_rows(at):
    return next(d.value for d in at.dataframe if "情况说明" in d.value.columns)


def keys(df) -> list[tuple[str, str]]:
    """(branch code, rule id) of each alert, in order: one alert each."""
    return list(zip(df["branch_code"] if "branch_code" in df else df["支部编码"],
                    df["rule_id"] if "rule_id" in df else df["规则编号"]))


def test_alerts_page_counts_match_the_rules(demo_db):
    from pages.alerts import PAGE_ROWS as page_rows

    assert page_rows == PAGE_ROWS
    p = latest(demo_db)
    at = ok(page("alerts").run())
    total = al.alert_totals(p, demo_db).iloc[0]
    assert metric(at, "红色预警") == str(total["red"]) and metric(at, "黄色预警") == str(total["yellow"])
    assert metric(at, "涉及支部") == str(total["branches"])
    every = al.alerts(p, demo_db)
    assert len(every) > PAGE_ROWS, "the demo school must have more alerts than one page"
    # the first page: the first 50 alerts in scoring's order (red first), the count of all of them above
    assert keys(alert_rows(at)) == keys(every.head(PAGE_ROWS))
    assert any(f"共 {len(every)} 条预警" in c.value for c in at.caption)
    assert len(at.get("download_button")) >= 2


def test_alerts_come_a_page_at_a_time_red_first_and_every_one_is_reachable(demo_db):
    p = latest(demo_db)
    every = al.alerts(p, demo_db)
    at = ok(page("alerts").run())
    first = alert_rows(at)
    red = int((every["level"] == "red").sum())
    assert list(first["等级"]) == ["红"] * min(red, PAGE_ROWS) + ["黄"] * (len(first) - min(red, PAGE_ROWS))
    pager = at.number_input[0]
    pages = -(-len(every) // PAGE_ROWS)
    assert pager.label == "页码" and pager.max == pages
    seen = keys(first)
    for n in range(2, pages + 1):  # the next page on demand, until the last
        at.number_input[0].set_value(n).run()
        rows = alert_rows(ok(at))
        assert len(rows) == min(PAGE_ROWS, len(every) - (n - 1) * PAGE_ROWS)
        assert any(f"第 {(n - 1) * PAGE_ROWS + 1}–" in c.value for c in at.caption)
        seen += keys(rows)
    assert seen == keys(every)  # every alert, each once, in order


def test_searching_the_alerts_finds_a_branch_and_words_of_the_evidence(demo_db):
    p = latest(demo_db)
    every = al.alerts(p, demo_db)
    code = every["branch_code"].iloc[-1]  # a branch whose alerts are not on the first page
    at = ok(page("alerts").run())
    at.text_input(key="al_q").input(code).run()
    rows = alert_rows(ok(at))
    assert set(keys(every[every["branch_code"] == code])) <= set(keys(rows))
    assert all(code in " ".join(map(str, r)) for r in rows.itertuples(index=False))
    words = every["evidence"].iloc[0][:6]
    at.text_input(key="al_q").input(words).run()
    rows = alert_rows(ok(at))
    want = every[every["evidence"].str.contains(words, regex=False)]
    assert len(rows) == min(PAGE_ROWS, len(want)) and any(f"共 {len(want)} 条预警" in c.value for c in at.caption)
    at.text_input(key="al_q").input("没有这样的预警文字").run()
    assert any("没有符合筛选条件的预警" in i.value for i in ok(at).info)


def test_filter_by_level_and_college(demo_db):
    p = latest(demo_db)
    df = al.alerts(p, demo_db)
    college = df["college"].iloc[-1]
    at = ok(page("alerts").run())
    at.multiselect(key="al_level").select("red").run()
    table = lambda: alert_rows(at)  # noqa: E731
    count = lambda n: any(f"共 {n} 条预警" in c.value for c in at.caption)  # noqa: E731
    red = int((df["level"] == "red").sum())
    assert set(table()["等级"]) == {"红"} and len(table()) == min(PAGE_ROWS, red) and count(red)
    at.multiselect(key="al_level").unselect("red").run()
    at.multiselect(key="al_college").select(college).run()
    ok(at)
    n = int((df["college"] == college).sum())
    assert set(table()["二级党组织"]) == {college} and len(table()) == min(PAGE_ROWS, n) and count(n)
    assert at.query_params["al_college"] in (college, [college])  # kept in the URL


def test_selecting_an_alert_shows_its_evidence_and_the_branch_button(demo_db):
    p = latest(demo_db)
    df = al.alerts(p, demo_db)
    on_measure = df[df["item_id"].notna()].index[0]  # an alert read from the ledger or counts
    page_no, row_no = divmod(int(on_measure), PAGE_ROWS)
    at = ok(page("alerts").run())
    assert not any(s.value.startswith(("红色预警：", "黄色预警：")) for s in at.subheader)
    if page_no:
        at.number_input[0].set_value(page_no + 1).run()
    at.session_state[f"al_table_{page_no + 1}"] = {"selection": {"rows": [row_no], "columns": []}}
    ok(at.run())
    row = df.loc[on_measure]
    heading = next(s.value for s in at.subheader if "预警：" in s.value)
    assert heading.startswith(f"{row['level_label']}色预警") and row["rule_name"] in heading
    assert row["evidence"] in [t.value for t in at.text]
    rows = al.alert_evidence(p, row["branch_code"], row["rule_id"], demo_db)
    shown = [d.value for d in at.dataframe if "来源文件" in d.value.columns]
    assert (shown and len(shown[0]) == len(rows)) or (rows.empty and not shown)
    assert at.button(key="al_open_branch").label == "打开该支部画像"


def test_overview_shows_the_alert_counts(demo_db):
    total = al.alert_totals(latest(demo_db), demo_db).iloc[0]
    at = ok(page("overview").run())
    line = next(m.value for m in at.markdown if m.value.startswith("**本季度预警**"))
    assert f"红色 {total['red']} 条" in line and f"黄色 {total['yellow']} 条" in line


# ---- 报送进度 ------------------------------------------------------------------------------------------------
def test_progress_page_matches_the_registry(demo_db):
    p = latest(demo_db)
    at = ok(page("progress").run())
    school = scoring.submission_progress(p, demo_db).iloc[-1]
    assert metric(at, "已报送 / 应报送") == f"{school['submitted']} / {school['expected']}"
    assert metric(at, "报送截止日期") == "未设置"
    missing = scoring.missing_contacts(p, demo_db)
    tables = [d.value for d in at.dataframe if "联系电话" in d.value.columns]
    assert (tables and len(tables[0]) == len(missing)) or missing.empty
    assert not at.date_input  # not signed in: no way to set the deadline
    assert any("管理员" in c.value for c in at.caption)


def _as_admin(monkeypatch, at):
    monkeypatch.setenv(config.env_name("admins"), f"{ADMIN}:{auth.hash_password('pw-123456', rounds=4)}")
    config.settings.cache_clear()  # settings are read once per process; this test changes them
    at.secrets["dj_test"] = "isolated"
    at.session_state[access.ADMIN_KEY] = ADMIN
    return at


def test_an_admin_sets_the_deadline_and_it_is_audited(demo_db, monkeypatch):
    p = latest(demo_db)
    at = ok(_as_admin(monkeypatch, page("progress")).run())
    at.date_input(key="pg_due").set_value(dt.date(2030, 1, 15)).run()
    at.button(key="pg_save_due").click().run()
    ok(at)
    assert al.deadline_status(p, demo_db)["due_date"] == dt.date(2030, 1, 15)
    assert metric(at, "报送截止日期") == "2030-01-15"
    assert metric(at, "距截止") == f"剩余 {(dt.date(2030, 1, 15) - dt.date.today()).days} 天"
    with dbmod.connect(demo_db) as con:
        log = con.execute("SELECT actor, action, detail FROM audit_log WHERE action = 'deadline'").fetchall()
    assert log == [(ADMIN, "deadline", f"{p} 报送截止日期设为 2030-01-15")]


# ---- 二级党组织画像 -------------------------------------------------------------------------------------------
def test_college_page_shows_the_college_from_the_url(demo_db):
    p = latest(demo_db)
    cs = scoring.college_scores(p, demo_db).dropna(subset=["rank"]).sort_values("rank")
    college = cs["college"].iloc[-1]
    at = ok(page("college", period=p, college=college).run())
    assert at.selectbox(key="college").value == college
    row = cs.iloc[-1]
    assert metric(at, "平均分") == f"{scoring.shown(row['overall']):.1f}"
    assert metric(at, "二级党组织排名") == f"第 {int(row['rank'])} 名"
    bs = scoring.branch_scores(p, demo_db)
    ranked = next(d.value for d in at.dataframe if "院内排名" in d.value.columns)
    assert sorted(ranked["支部编码"]) == sorted(bs.loc[bs["college"] == college, "branch_code"])
    assert ranked["院内排名"].tolist() == sorted(ranked["院内排名"].tolist())
    items = scoring.college_items(p, college, demo_db)
    assert not [d for d in at.dataframe if "全校平均" in d.value.columns]  # drawn when its expander is opened
    at = open_box(at, "co_weakest_table")
    weakest = next(d.value for d in at.dataframe if "全校平均" in d.value.columns)
    assert weakest["考核要点"].tolist() == items["item_id"].head(8).tolist()


def test_college_page_draws_only_the_open_details_tab(demo_db):
    """预警 opens first with the college's alerts; the missing branches and the 红榜 are drawn when their tab is
    opened, and the missing tab's label counts them."""
    p = latest(demo_db)
    cs = scoring.college_scores(p, demo_db).dropna(subset=["rank"]).sort_values("rank")
    status = scoring.submission_status(p, demo_db)
    missing = status[status["status"] == "missing"]
    college = missing["college"].value_counts().index[0] if len(missing) else cs["college"].iloc[-1]
    mine = missing[missing["college"] == college]
    at = ok(page("college", period=p, college=college).run())
    alerts = al.alerts(p, demo_db)
    shown = [d.value for d in at.dataframe if "预警规则" in d.value.columns]
    assert len(shown) == 1 and len(shown[0]) == int((alerts["college"] == college).sum())
    assert not [d for d in at.dataframe if "联系电话" in d.value.columns]  # the missing branches: not drawn yet
    at = open_tab(at, f"未报送支部（{len(mine)}）", "co_details")
    assert not [d for d in at.dataframe if "预警规则" in d.value.columns]
    if len(mine):
        table = next(d.value for d in at.dataframe if "联系电话" in d.value.columns)
        assert sorted(table["支部编码"]) == sorted(mine["branch_code"])
    else:
        assert any("均已报送" in s.value for s in at.success)
    at = open_tab(at, "红榜", "co_details")
    assert any(h.value.startswith("红榜") for h in at.subheader)
    assert not [d for d in at.dataframe if "联系电话" in d.value.columns]


def figure_values(values) -> list:
    """A trace's x or y as a list: plotly's JSON may carry numbers as a typed array ({"dtype", "bdata"})."""
    if isinstance(values, dict) and "bdata" in values:
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def line_figures(at) -> list[dict]:
    """The line charts (cartesian scatter traces) the run drew, as plotly JSON."""
    import json

    figs = [json.loads(ch.proto.spec) for ch in at.get("plotly_chart")]
    return [f for f in figs if any(t.get("type") == "scatter" for t in f["data"])]


def test_college_trend_is_drawn_only_when_its_tab_is_opened(demo_db):
    """The college's mean over the quarters is the last details tab: the first view draws the radar and the
    weakest items only; opening the tab draws the trend, its points the query API's college_history."""
    from pages.charts import period_short

    p = latest(demo_db)
    college = scoring.college_scores(p, demo_db).dropna(subset=["rank"])["college"].iloc[0]
    at = ok(page("college", period=p, college=college).run())
    assert len(at.get("plotly_chart")) == 2 and not line_figures(at)  # radar and weakest items, no trend
    assert "历季度平均分" in [t.label for t in at.tabs]
    at = open_tab(at, "历季度平均分", "co_details")
    hist = scoring.college_history(college, demo_db).dropna(subset=["overall"])
    assert len(hist) >= 2
    (trend,) = line_figures(at)
    (line,) = trend["data"]
    assert figure_values(line["x"]) == [period_short(q) for q in hist["period"]]
    assert figure_values(line["y"]) == pytest.approx(list(scoring.shown(hist["overall"])))
    assert not [d for d in at.dataframe if "预警规则" in d.value.columns]  # the alerts' tab is closed now


def test_college_pages_show_hostile_names_as_text(hostile_db):  # noqa: F811
    at = ok(page("college", period=PERIOD, college=COLLEGE_A).run())
    heading = next(m.value for m in at.markdown if m.value.startswith("### "))
    assert shows_literally(heading[4:], COLLEGE_A)
    assert_charts_show_text(at, [COLLEGE_A])
    at = open_tab(at, "历季度平均分", "co_details")  # the trend's line is named by the college too
    assert line_figures(at)
    assert_charts_show_text(at, [COLLEGE_A])
    at = ok(page("progress", period=PERIOD).run())
    assert_charts_show_text(at, [COLLEGE_A])
    ok(page("alerts", period=PERIOD).run())


# ---- real Chromium: a college bar on the overview opens the college page -------------------------------------
@pytest.mark.browser
def test_clicking_a_college_bar_opens_the_college_page(server, page):  # noqa: F811
    from test_browser import ARTIFACTS, wait_finished

    base, db = server
    p = latest(db)
    cs = scoring.college_scores(p, db).dropna(subset=["overall", "rank"]).sort_values(["rank", "college"])
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{base}/")
    wait_finished(page, "全校总览", 3)
    chart = page.locator(".st-key-ov_colleges .js-plotly-plot")
    chart.scroll_into_view_if_needed()
    bar = chart.locator(".bars .point path").nth(1)  # the second college from the top
    box = bar.bounding_box()  # plotly's drag layer takes the pointer: click where a user would, on the bar
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_finished(page, "二级党组织画像", 2)
    college = cs["college"].iloc[1]
    assert page.get_by_role("heading", name=college).count() >= 1
    assert "/college" in page.url and "college=" in page.url
    assert page.locator('[data-testid="stException"]').count() == 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "college_from_overview_1366x768.png"))
