"""教师与学生支部对比: the two branch types side by side — their mean radar and its values, then in tabs the
per-item completion sorted by the gap, the distributions per dimension, the split by 二级党组织, and the two
means over the quarters."""
from __future__ import annotations

import sys
from pathlib import Path

if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402

from pages import common as c  # noqa: E402
from pages import charts  # noqa: E402
from pages import tables  # noqa: E402
from pages.fragments import opened, part  # noqa: E402
from pages.text import plot_text  # noqa: E402
from pipelines.scoring.compare import SPREAD_STATS  # noqa: E402

ITEM_BARS = 14  # items shown in the side-by-side chart (the full list is in the table)
TABS = ("各考核要点", "各一级指标得分分布", "分二级党组织", "季度变化")


@charts.kept
def box_chart(bs: pd.DataFrame) -> go.Figure:
    """Per-dimension distribution of both types (box with mean), same colours as everywhere. The boxes are drawn
    from scoring.dimension_spread (quartiles, mean, range as shown), not from every branch's score: at 1,000
    branches the points alone were most of the page's bytes and none of them was ever drawn."""
    fig = go.Figure()
    spread = c.scoring.dimension_spread(bs, c.dim_cols(), c.type_ids())
    names = c.dim_label_map()
    for t in c.type_ids():
        sub = spread[spread["branch_type"] == t]
        if sub.empty:
            continue
        fig.add_trace(go.Box(x=[names[d] for d in sub["dim"]], name=c.type_name(t), marker_color=charts.TYPE_COLORS[t],
                             **{k: list(sub[k]) for k in SPREAD_STATS}, boxmean=True, boxpoints=False,
                             line=dict(width=1.5),
                             hovertemplate="%{x}<br>%{y:.1f}<extra>" + c.type_name(t) + "</extra>"))
    fig.update_layout(boxmode="group", height=430, yaxis=dict(range=[0, 105], title_text="得分"),
                      margin=dict(l=10, r=10, t=50, b=10))
    return fig


# a bar's value inside its end when it fits, else just outside: on a phone's narrow plot a label outside a long
# bar would run past the plot's edge and be cut off
BAR_TEXT = dict(textposition="auto", insidetextanchor="end", insidetextfont=dict(color="white", size=12),
                outsidetextfont=dict(color=charts.INK, size=12), cliponaxis=False)


@charts.kept
def item_bars(df: pd.DataFrame) -> go.Figure:
    """Per-item completion of both types side by side (largest gap on top), values written on the bars."""
    labels = [c.item_label(i, 14) for i in df["item_id"]]
    fig = go.Figure()
    for t in c.type_ids():
        vals = c.scoring.shown_percent(df[f"{t}_mean"])
        fig.add_trace(go.Bar(y=labels, x=vals, orientation="h", name=c.type_name(t), marker_color=charts.TYPE_COLORS[t],
                             text=[c.scoring.percent(v) for v in df[f"{t}_mean"]], **BAR_TEXT,
                             hovertemplate="%{y}<br>%{x:.1f}%<extra>" + c.type_name(t) + "</extra>"))
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(range=[0, 118], title_text="平均完成率（%）")
    fig.update_layout(barmode="group", height=max(360, 46 * len(df) + 80), bargap=0.25, bargroupgap=0.05,
                      margin=dict(l=10, r=30, t=40, b=10))
    return fig


@charts.kept
def college_bars(bs: pd.DataFrame) -> go.Figure:
    """Mean overall score of each type within each 二级党组织."""
    g = c.scoring.group_means(bs, ["college", "branch_type"], ["overall"]).rename(columns={"overall": "mean",
                                                                                        "n": "count"})
    order = (c.scoring.group_means(bs, ["college"], ["overall"])
             .sort_values(["overall", "college"], ascending=[False, True], kind="stable")["college"].tolist())
    fig = go.Figure()
    for t in c.type_ids():
        sub = g[g["branch_type"] == t].set_index("college").reindex(order)
        fig.add_trace(go.Bar(
            y=[plot_text(col) for col in order], x=c.scoring.shown(sub["mean"]), orientation="h", name=c.type_name(t),
            marker_color=charts.TYPE_COLORS[t],
            # the score alone on the bar (with the branch count it ran off a phone's plot); the count in the hover
            text=[("" if pd.isna(m) else tables.fmt_score(m)) for m in sub["mean"]], **BAR_TEXT,
            customdata=sub["count"].fillna(0).astype(int),
            hovertemplate="%{y}<br>%{x:.1f}（%{customdata} 个支部）<extra>" + c.type_name(t) + "</extra>"))
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(range=[0, 122], title_text="平均总分", tickvals=[0, 20, 40, 60, 80, 100])
    fig.update_layout(barmode="group", height=max(360, 52 * len(order) + 80), bargap=0.25,
                      margin=dict(l=10, r=30, t=40, b=10))
    return fig


def render() -> None:
    """The 教师与学生支部对比 page body."""
    c.header("教师与学生支部对比", "同一季度教师党支部与学生党支部在七个一级指标和各考核要点上的差异")
    periods = c.scores("periods")
    if not periods:
        c.no_data()
        return
    top = st.columns([1, 3])
    period = c.period_select(periods, container=top[0])
    data = c.bundle(period)
    bs = data["branch_scores"]
    if bs.empty:
        st.info(f"{c.period_label(period)} 还没有任何支部报送，请选择其他季度。", icon=":material/event_busy:")
        return
    missing_type = type_metrics(bs, period)
    dimensions_section(data["type_comparison"].sort_values("dimension_id"))
    details_section(bs, data["item_type_comparison"], missing_type, period)


@part
def details_section(bs: pd.DataFrame, itc: pd.DataFrame, missing_type: list[str], period: str) -> None:
    """Items, the dimensions' distributions, colleges and quarters in tabs; only the open one is drawn
    (on_change="rerun", in this fragment: a tab click reruns this part alone), so the first view has two charts
    (the radar and the items), not five."""
    tabs = st.tabs(list(TABS), key="cmp_details", on_change="rerun")
    items, spread, colleges, quarters = tabs
    if items.open:
        with items:
            items_section(itc.copy(), missing_type, period)
    if spread.open:
        with spread:
            st.subheader("各一级指标得分分布", anchor=False)
            charts.show(box_chart(bs), key="cmp_box")
            st.caption("箱体为中间一半支部的得分范围，中线为中位数，虚线为平均数，须线为其余支部的范围。")
    if colleges.open:
        with colleges:
            st.subheader("分二级党组织对比", anchor=False)
            charts.show(college_bars(bs), key="cmp_colleges")
    if quarters.open:
        with quarters:
            st.subheader("两类支部平均分的季度变化", anchor=False)
            h = c.history()
            if h["period"].nunique() < 2:
                st.info("目前只有一个季度的数据，积累两个及以上季度后将显示变化趋势。", icon=":material/timeline:")
            charts.show(charts.type_mean_lines(h, "overall", suffix="", school_first=False, ytitle="平均总分",
                                               height=380), key="cmp_trend")


def type_metrics(bs: pd.DataFrame, period: str) -> list[str]:
    """Each type's mean overall score and the gap; returns the types without a submission this quarter."""
    by_type = c.scoring.group_means(bs, ["branch_type"], ["overall"]).set_index("branch_type")
    counts, means = by_type["n"], by_type["overall"]
    cols = st.columns(3)
    for col, t in zip(cols, c.type_ids()):
        col.metric(f"{c.type_name(t)}平均分（{int(counts.get(t, 0))} 个）", tables.fmt_score(means.get(t)), border=True, height=c.METRIC_H)
    first, second = (c.type_ids() + [None, None])[:2]
    gap = c.scoring.shown_change(means.get(first, float("nan")), means.get(second, float("nan")))
    cols[2].metric(f"差值（{c.guide().gap_label()}）", "—" if pd.isna(gap) else f"{gap:+.1f}", border=True, height=c.METRIC_H)
    missing_type = [t for t in c.type_ids() if counts.get(t, 0) == 0]
    if missing_type:
        st.info(f"{c.period_label(period)} 没有{('、'.join(c.type_name(t) for t in missing_type))}的报送，"
                "下方只显示有数据的一类。", icon=":material/info:")
    return missing_type


def dimensions_section(tc: pd.DataFrame) -> None:
    """The two types' mean radar and its values as a table beside it (the distributions are a tab below)."""
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("七个一级指标平均得分", anchor=False)
        series = []
        for t in c.type_ids():
            col = f"{t}_mean"
            if col in tc and tc[col].notna().any():
                series.append({"name": c.type_name(t), "values": list(tc[col]), "color": charts.TYPE_COLORS[t]})
        # values are in the table beside it, so neither series is written on the axes
        charts.show(charts.radar(series, height=430, labelled=None if len(series) > 1 else 0), key="cmp_radar")
    table = pd.DataFrame({
        "一级指标": c.dim_names(short=False),
        **{f"{c.type_name(t)}平均": c.scoring.shown(tc[f"{t}_mean"]).values for t in c.type_ids()},
    })
    first, second = c.type_ids()[:2]
    gap = f"差值（{c.guide().gap_label()}）"
    table[gap] = c.scoring.shown_change(tc[f"{first}_mean"], tc[f"{second}_mean"]).values
    with right:
        st.subheader("平均得分与差值", anchor=False)
        st.dataframe(table, hide_index=True, placeholder=tables.MISSING, width="stretch", key="cmp_dims",
                     column_config=tables.one_decimal(table, signed=[gap]))


def items_section(itc: pd.DataFrame, missing_type: list[str], period: str) -> None:
    """Per-item completion of both types, sorted by the gap (guide order when one type is missing)."""
    st.subheader("各考核要点完成率对比（按差距排序）", anchor=False)
    if itc.empty:
        st.info("本季度没有可比较的考核要点（可能都未到期）。")
        return
    g = c.guide()
    one_type = [it.id for it in g.items if sum(it.applies(t) for t in c.type_ids()) == 1]
    itc["gap"] = itc["diff"].abs()
    itc["order"] = itc["item_id"].map({it.id: k for k, it in enumerate(g.items)})
    if missing_type:  # one type only: no gap to sort by, the items in guide order
        itc = itc.sort_values("order")
        shown = itc.head(ITEM_BARS)
        st.caption(f"本季度只有{'、'.join(c.type_name(t) for t in c.type_ids() if t not in missing_type)}报送，"
                   f"暂无两类支部的差距；图中为其前 {len(shown)} 个考核要点的平均完成率，全部考核要点见下表。")
    else:
        itc = itc.sort_values(["gap", "order"], ascending=[False, True], na_position="last")
        shown = itc.head(ITEM_BARS)
        st.caption(f"显示差距最大的 {len(shown)} 项"
                   + (f"；只适用于一类支部的考核要点（如 {'、'.join(one_type[:2])}）在表中列出。" if one_type else "。"))
    charts.show(item_bars(shown), key="cmp_items")
    full = pd.DataFrame({
        "考核要点": itc["item_id"],
        "内容": [g.item(i).text for i in itc["item_id"]],
        **{f"{c.type_name(t)}平均完成率": c.scoring.shown_percent(itc[f"{t}_mean"]) for t in c.type_ids()},
    })
    # the gap of the two shown percentages, so the three columns agree to the last digit
    first, second = c.type_ids()[:2]
    gap = f"差值（{g.gap_label()}，百分点）"
    full[gap] = c.scoring.shown_change(c.scoring.shown_percent(itc[f"{first}_mean"]),
                                       c.scoring.shown_percent(itc[f"{second}_mean"]))
    box = opened("全部考核要点对比表与下载", key="cmp_items_table")  # a data grid and two downloads: drawn when opened
    if box:
        with box:
            st.dataframe(full, hide_index=True, placeholder=tables.MISSING, width="stretch",
                         column_config=tables.one_decimal(full, signed=[gap]))
            tables.download_buttons(full, f"教师学生考核要点对比_{period}", "dl_cmp_items")


c.require_entrypoint()
c.run_page(render)
