"""趋势分析: school, type and 二级党组织 lines for the overall score and each dimension; the most improved
and declined branches with the dimension that moved them; chosen branches compared over the quarters."""
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
from pages.text import plot_text  # noqa: E402

MOVERS_TAB, BRANCHES_TAB = "进步与退步最大的支部", "支部对比"



def default_colleges(period: str) -> list[str]:
    """The college lines drawn when none is chosen: the lowest and the largest fallers of `period`
    (pipelines.scoring.attention.trend_default_colleges on its college_scores), so the weakest always appear."""
    return c.trend_colleges(period)


def metric_name(m: str) -> str:
    """'overall' -> 总分, 'd3' -> the third dimension's name."""
    return "总分" if m == "overall" else c.dim_label_map(short=False).get(m, m)


@charts.kept
def movers_chart(df: pd.DataFrame, up: bool) -> charts.KeptFigure:
    """Biggest movers: bars of the change; under each branch name, the dimension that moved it most.

    The dimension sits on the axis, not beside the bar: in a half-width column a long label beside the
    longest bar would run out of the chart.
    """
    names = [plot_text(n) for n in charts.unique_labels(df["branch_name"], df["branch_code"])]
    labels = [f"{n}<br><span style='font-size:12px;color:{charts.GREY}'>主要变化：{dim} {ct:+.1f}</span>"
              for n, dim, ct in zip(names, df["main_dimension_name"], c.scoring.shown(df["main_contribution"]))]
    change = c.scoring.shown_change(df["overall"], df["prev_overall"])  # as the two scores are shown
    values = change.abs()
    hover = [f"{plot_text(n)}（{plot_text(col)}）<br>{tables.fmt_score(p)} → {tables.fmt_score(o)}<br>主要来自“{dim}”"
             for n, col, p, o, dim in zip(df["branch_name"], df["college"], df["prev_overall"], df["overall"],
                                          df["main_dimension_name"])]
    return charts.hbar(labels, values, text=[f"{d:+.1f}" for d in change], color=charts.UP_COLOR if up else charts.DOWN_COLOR,
                 hover=hover, xmax=max(float(values.max()) * 1.25, 1), height=max(260, 56 * len(df) + 70),
                 xtitle="总分变化（分）", xticks=False)


def in_progress_filter(h: pd.DataFrame, periods: list[str], container) -> tuple[pd.DataFrame, list[str]]:
    """The history and periods the lines are drawn from: a quarter still in progress only partly collected
    would pull every line down, so it is left out unless the user ticks 包含进行中的季度."""
    if len(c.ended_periods(periods)) == len(periods):
        return h, periods
    container.space("small")  # line the checkbox up with the select boxes beside it
    include = container.checkbox("包含进行中的季度", key="include_in_progress",
                                 help="进行中的季度尚未结束，报送和台账都不完整，默认不计入趋势线。")
    shown = c.ended_periods(periods, include) or periods
    return h[h["period"].isin(shown)], shown


def render() -> None:
    """The 趋势分析 page body."""
    c.header("趋势分析", "全校、两类支部和各二级党组织的得分变化，进步与退步最大的支部")
    periods = c.scores("periods")
    if not periods:
        c.no_data()
        return
    top = st.columns([1, 1, 2])
    period = c.period_select(periods, container=top[0])
    metric = state.state_widget("select", "指标", ["overall"] + c.dim_cols(), "metric", container=top[1],
                            format_func=metric_name)
    h, shown = in_progress_filter(c.history(), periods, top[2])
    name = metric_name(metric)
    if len(periods) < 2:
        st.info(f"目前只有 {c.period_label(periods[0])} 一个季度的数据。积累两个及以上季度后，"
                "这里将显示得分变化和进步、退步最大的支部。", icon=":material/timeline:")

    left, right = st.columns(2, gap="large")
    with left:
        st.subheader(f"全校与两类支部：{name}", anchor=False)
        charts.show(charts.type_mean_lines(h, metric, suffix="平均", school_first=True, ytitle=name, height=400),
               key="tr_school")
    with right:
        college_lines(h, period, shown, metric, name)
    movers_and_branches(h, period, periods, metric, name)


@part
def movers_and_branches(h: pd.DataFrame, period: str, periods: list[str], metric: str, name: str) -> None:
    """The quarter's movers and the chosen branches' lines in two tabs; only the open one is drawn
    (on_change="rerun", in this fragment). The branches compared default to the biggest riser and faller."""
    if st.query_params.get("branches") and state.url_changed("branches"):  # a link naming branches: their tab
        st.session_state["tr_details"] = BRANCHES_TAB
    movers, branches = st.tabs([MOVERS_TAB, BRANCHES_TAB], key="tr_details", on_change="rerun")
    if movers.open:
        with movers:
            movers_section(period, periods)
    if branches.open:
        with branches:
            up, down = c.scores("movers", period, 5)
            branch_lines(h, metric, name, up, down)


@part
def college_lines(h: pd.DataFrame, period: str, periods: list[str], metric: str, name: str) -> None:
    """The chosen 二级党组织 over the quarters; by default the ones that need attention (default_colleges).
    Its own fragment: choosing colleges redraws this chart alone."""
    st.subheader(f"各二级党组织：{name}", anchor=False)
    all_colleges = sorted(h["college"].dropna().unique())
    # its own key: the overview's 二级党组织 filter (?colleges=) is a different choice
    chosen = state.state_widget("multi", "二级党组织", all_colleges, "college_lines", default=[],
                            placeholder="默认显示需关注的二级党组织，可选择其他")
    shown = chosen or default_colleges(period if period in periods else periods[-1])
    if not chosen:
        st.caption("默认显示所选季度总分最低和较上季度下降最多的二级党组织；可在上方选择其他二级党组织。")
    by_college = c.scoring.group_means(h[h["college"].isin(shown)], ["period", "college"], [metric])
    colors = {col: charts.LINE_PALETTE[i % len(charts.LINE_PALETTE)] for i, col in enumerate(shown)}
    charts.show(charts.lines(by_college, "period", metric, "college", colors=colors, ytitle=name, label_last=False,
                   height=400, order=shown), key="tr_colleges")


def no_movers_reason(period: str, periods: list[str]) -> str:
    """Why a quarter has no improved or declined branch, in the words a secretary would use."""
    prev = str(c.Period.parse(period).previous)
    if period not in periods:
        return "所选季度还没有支部报送，无法计算进步与退步。"
    if c.previous_period(periods, period) is None:
        return "所选季度是第一个有数据的季度，没有可比较的上一季度得分，无法计算进步与退步。"
    if prev not in periods:
        return f"上一季度（{c.period_label(prev)}）没有报送数据，无法计算进步与退步。"
    return "所选季度与上一季度相比，没有支部的总分发生变化。"


def movers_section(period: str, periods: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The most improved and declined branches of the quarter: two charts and the table; returns both lists."""
    st.subheader(f"{c.period_label(period)} 进步与退步最大的支部（总分，与上一季度相比）", anchor=False)
    up, down = c.scores("movers", period, 5)
    if up.empty and down.empty:
        st.info(no_movers_reason(period, periods), icon=":material/info:")
        return up, down
    l2, r2 = st.columns(2, gap="large")
    for col, df, is_up in ((l2, up, True), (r2, down, False)):
        with col:
            st.markdown("**进步最大**" if is_up else "**退步最大**")
            if df.empty:
                st.info("本季度没有总分上升的支部。" if is_up else "本季度没有总分下降的支部。")
            else:
                charts.show(movers_chart(df, is_up), key="tr_up" if is_up else "tr_down")
    table = movers_table(up, down)
    box = opened("明细与下载", key="tr_movers_table")  # a data grid and two downloads: drawn when opened
    if box:
        with box:
            st.dataframe(table, hide_index=True, placeholder=tables.MISSING, width="stretch",
                         column_config=tables.one_decimal(table, signed=["变化", "该指标的贡献"]))
            tables.download_buttons(table, f"进步退步支部_{period}", "dl_movers")
    return up, down


def movers_table(up: pd.DataFrame, down: pd.DataFrame) -> pd.DataFrame:
    """Both lists in one table with Chinese headers, scores as displayed."""
    table = pd.concat([up.assign(方向="进步"), down.assign(方向="退步")])
    return pd.DataFrame({
        "方向": table["方向"], "支部": table["branch_name"], "支部编码": table["branch_code"],
        "二级党组织": table["college"], "类型": table["branch_type"].map(c.type_name),
        "上季度总分": c.scoring.shown(table["prev_overall"]), "本季度总分": c.scoring.shown(table["overall"]),
        "变化": c.scoring.shown_change(table["overall"], table["prev_overall"]),
        "主要变化的一级指标": table["main_dimension_name"],
        "该指标的贡献": c.scoring.shown(table["main_contribution"]),
    })


def branch_lines(h: pd.DataFrame, metric: str, name: str, up: pd.DataFrame, down: pd.DataFrame) -> None:
    """Chosen branches over the quarters; by default the quarter's biggest riser and faller."""
    st.subheader(f"支部对比：{name}", anchor=False)
    roster = h.sort_values("period").drop_duplicates("branch_code", keep="last")
    names = dict(zip(roster["branch_code"], roster["branch_name"]))
    default = list(up["branch_code"].head(1)) + list(down["branch_code"].head(1))
    picked = state.state_widget("multi", "选择要对比的支部（可多选）", sorted(names), "branches", default=default,
                            format_func=lambda k: f"{names.get(k, k)}（{k}）", max_selections=8,
                            placeholder="输入支部名称或编码搜索")
    if not picked:
        st.info("请在上方选择一个或多个支部，对比它们在各季度的得分。", icon=":material/touch_app:")
        return
    sel = h[h["branch_code"].isin(picked)].assign(
        who=lambda d: d["branch_code"].map(lambda k: f"{names.get(k, k)}"))
    colors = {names.get(k, k): charts.LINE_PALETTE[i % len(charts.LINE_PALETTE)] for i, k in enumerate(picked)}
    charts.show(charts.lines(sel, "period", metric, "who", colors=colors, ytitle=name, height=400,
                   label_last=len(picked) <= 3, order=[names.get(k, k) for k in picked]), key="tr_branches")
    if sel["period"].nunique() < 2:
        st.caption("所选支部目前只有一个季度的得分。")


c.require_entrypoint()
c.run_page(render)
