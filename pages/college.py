"""二级党组织画像: one college in a quarter — its branches ranked, its radar against the school, its weakest
items, then in tabs its alerts, its missing branches, its 红榜 and its trend. Reached from the overview's college
bars and from the college tables of 报送进度."""
from __future__ import annotations

import sys
from pathlib import Path

if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from pages import common as c  # noqa: E402
from pages import charts  # noqa: E402
from pages import state  # noqa: E402
from pages import tables  # noqa: E402
from pages.fragments import opened, part  # noqa: E402
from pages.honours_view import honours_block  # noqa: E402
from pages.text import md_text  # noqa: E402
from pipelines import scoring  # noqa: E402


def headline(period: str, college: str, row: pd.Series | None, progress: pd.DataFrame) -> None:
    """Mean score, rank among colleges, submissions and alerts of the college."""
    alerts = c.scores("alerts.alert_totals", period, by="college")
    mine = alerts[alerts["college"] == college]
    cols = st.columns(4)
    cols[0].metric("平均分", tables.fmt_score(row["overall"]) if row is not None else "—", border=True,
                   help="本二级党组织已报送支部总分的平均值")
    rank = row["rank"] if row is not None else None
    cols[1].metric("二级党组织排名", "—" if rank is None or pd.isna(rank) else f"第 {int(rank)} 名", border=True)
    p = progress[(progress["scope"] == "college") & (progress["college"] == college)]
    cols[2].metric("已报送 / 应报送", f"{int(p['submitted'].iloc[0])} / {int(p['expected'].iloc[0])}" if len(p)
                   else (f"{int(row['submitted'])} / {int(row['branches'])}" if row is not None else "—"), border=True)
    cols[3].metric("预警（红 / 黄）", f"{int(mine['red'].iloc[0])} / {int(mine['yellow'].iloc[0])}" if len(mine) else "0 / 0",
                   border=True)


def radar_section(period: str, college: str) -> None:
    st.subheader("七个一级指标：本单位与全校", anchor=False)
    radar = c.scores("college_radar", period, college).set_index("who")
    if "college" not in radar.index:
        st.info("本季度该二级党组织没有支部报送，暂无得分。")
        return
    series = [{"name": college, "values": radar.loc["college", c.dim_cols()].tolist(), "color": charts.RED, "fill": True}]
    if "school" in radar.index:
        series.append({"name": "全校平均", "values": radar.loc["school", c.dim_cols()].tolist(),
                       "color": charts.SCHOOL_COLOR, "dash": "dot"})
    charts.show(charts.radar(series, height=400), key="co_radar")


def branches_section(period: str, college: str, bs: pd.DataFrame) -> None:
    st.subheader("支部排名", anchor=False)
    mine = bs[bs["college"] == college].sort_values(["rank_in_college", "branch_code"])
    if mine.empty:
        st.info("本季度该二级党组织没有支部报送。")
        return
    table = pd.DataFrame({
        "院内排名": mine["rank_in_college"].astype("Int64"), "全校排名": mine["rank"].astype("Int64"),
        # the score before the long name, so a phone shows it without scrolling sideways
        "总分": scoring.shown(mine["overall"]), "等次": mine["grade"],
        "较上季度": scoring.shown_change(mine["overall"], mine["prev_overall"]), "支部": mine["branch_name"],
        "类型": mine["branch_type"].map(c.type_name), "支部编码": mine["branch_code"],
    }).reset_index(drop=True)
    st.caption("勾选某一行可打开该支部画像。")
    event = st.dataframe(table, hide_index=True, placeholder=tables.MISSING, width="stretch", height=tables.table_height(len(table), 400),
                         key="co_branches", on_select="rerun", selection_mode="single-row",
                         column_config={"总分": st.column_config.ProgressColumn("总分", min_value=0, max_value=100,
                                                                              format="%.1f"),
                                        "较上季度": st.column_config.NumberColumn("较上季度", format="%+.1f")})
    tables.download_buttons(table, f"支部排名_{college}_{period}", "dl_co_branches")
    if event is not None and event.selection.rows:
        state.open_branch(period, college, table.iloc[event.selection.rows[0]]["支部编码"])


def weakest_section(period: str, college: str) -> None:
    st.subheader("薄弱考核要点", anchor=False)
    items = c.scores("college_items", period, college).head(8)
    if items.empty:
        st.info("本季度暂无可比较的考核要点完成率。")
        return
    st.caption("按本单位各支部的平均完成率排序，显示最低的 8 项；“与全校相比”为本单位平均减全校平均（百分点）。"
               "点击某一项的柱条，可列出本单位未完全完成该项的支部。")
    ids = list(items["item_id"])
    item = state.pick(f"co_weakest_{state.url_param('co_item')}", "co_item", ids, "points")  # ?co_item=…
    charts.show(charts.hbar([c.item_label(i, 16) for i in ids], scoring.shown_percent(items["mean_completion"]), xmax=100,
                  text=[f"{tables.fmt_pct(m)}（全校 {tables.fmt_pct(s)}）" for m, s in zip(items["mean_completion"],
                                                                          items["school_mean"])],
                  xtitle="平均完成率（%）", color=charts.DARK_RED, track=100, labels_above=True),
           key=f"co_weakest_{item}", selectable=True)
    if item in ids:
        tables.shortfalls(period, item, college, key="co_shortfalls")
    table = pd.DataFrame({"考核要点": items["item_id"], "内容": [c.guide().item(i).text for i in items["item_id"]],
                          "平均完成率": scoring.shown_percent(items["mean_completion"]),
                          "全校平均": scoring.shown_percent(items["school_mean"]),
                          "与全校相比": scoring.shown_percent(items["gap"]), "参与计算的支部数": items["branches"]})
    box = opened("查看明细与下载", key="co_weakest_table")  # a data grid and two downloads: drawn when opened
    if box:
        with box:
            st.dataframe(table, hide_index=True, placeholder=tables.MISSING, width="stretch",
                         column_config=tables.one_decimal(table, ["与全校相比"]))
            tables.download_buttons(table, f"薄弱考核要点_{college}_{period}", "dl_co_weakest")


def alerts_section(period: str, college: str) -> None:
    df = c.scores("alerts.alerts", period)
    mine = df[df["college"] == college]
    if mine.empty:
        st.success("本季度该二级党组织没有触发预警。", icon=":material/task_alt:")
        return
    st.dataframe(pd.DataFrame({"等级": mine["level_label"], "支部": mine["branch_name"], "预警规则": mine["rule_name"],
                               "情况说明": mine["evidence"]}),
                 hide_index=True, placeholder=tables.MISSING, width="stretch", height=tables.table_height(len(mine), 320), key="co_alerts")
    state.page_link(st, "pages/alerts.py", "在预警页面查看预警依据", ":material/notifications:",
                {"period": period, "al_college": college})


def missing_branches(period: str, college: str) -> pd.DataFrame:
    miss = c.scores("missing_contacts", period)
    return miss[miss["college"] == college]


def missing_section(period: str, college: str) -> None:
    mine = missing_branches(period, college)
    if mine.empty:
        st.success(f"{c.period_label(period)} 本单位名册中的支部均已报送。", icon=":material/task_alt:")
        return
    st.dataframe(pd.DataFrame({"支部名称": mine["branch_name"], "支部编码": mine["branch_code"],
                               "书记": mine["secretary_name"].fillna("—"), "联系电话": mine["phone"].fillna("—")}),
                 hide_index=True, placeholder=tables.MISSING, width="stretch", key="co_missing")


def trend_section(college: str) -> None:
    """The college's mean score over the quarters (its tab of the details)."""
    hist = c.scores("college_history", college).dropna(subset=["overall"])
    if len(hist) < 2:
        st.caption("有得分的季度不足两个，暂无趋势。")
        return
    charts.show(charts.lines(hist.assign(who=college), "period", "overall", "who", colors={college: charts.RED}, height=320),
           key="co_trend")


def render() -> None:
    """The 二级党组织画像 page body."""
    c.header("二级党组织画像", "一个二级党组织本季度的支部排名、七个一级指标、薄弱环节、预警与报送情况")
    periods = c.scores("periods")
    if not c.period_options(periods):
        c.no_data()
        return
    top = st.columns([1, 2])
    period = c.period_select(periods, container=top[0])
    data = c.bundle(period)
    cs = data["college_scores"]
    colleges = sorted(cs["college"].dropna().unique())
    if not colleges:
        st.info(f"{c.period_label(period)} 没有任何二级党组织的数据。")
        return
    college = state.state_widget("select", "二级党组织", colleges, "college", container=top[1])
    rows = cs[cs["college"] == college]
    progress = c.scores("submission_progress", period)
    st.markdown(f"### {md_text(college)}")
    headline(period, college, rows.iloc[0] if len(rows) else None, progress)
    left, right = st.columns([1, 1], gap="large")
    with left:
        radar_section(period, college)
    with right:
        branches_section(period, college, data["branch_scores"])
    weakest_section(period, college)
    details_section(period, college)


DETAILS_KEY = "co_details"
TREND_TAB = "历季度平均分"


@part
def details_section(period: str, college: str) -> None:
    """The alerts, the missing branches, the 红榜 and the college's trend in tabs: only the open one is drawn
    (st.tabs with on_change="rerun", in its own fragment), so the page shows one table here instead of three
    tables and a chart, and its first screen two charts (the radar and the weakest items), not three."""
    missing = len(missing_branches(period, college))
    alerts, miss, honours, trend = st.tabs(["预警", f"未报送支部（{missing}）", "红榜", TREND_TAB], key=DETAILS_KEY,
                                           on_change="rerun")
    if alerts.open:
        with alerts:
            alerts_section(period, college)
    if miss.open:
        with miss:
            missing_section(period, college)
    if honours.open:
        with honours:
            honours_block(period, college)
    if trend.open:
        with trend:
            trend_section(college)


c.require_entrypoint()
c.run_page(render)
