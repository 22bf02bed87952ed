"""The leadership briefing's blocks, shared by 全校总览 (first screen) and the 会议大屏: grade counts, 需关注,
the college bars and the radar. Every figure comes from pipelines.report.briefing / pipelines.scoring.attention through the
cached layer; these functions only lay them out (`big` is the meeting screen's larger type), and their figures are
kept per content (charts.kept)."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from pages import common as c
from pages import charts
from pages import state
from pages import tables
from pages.text import md_text, plot_text
from pipelines.report import briefing


def grade_counts(counts: Sequence[briefing.GradeCount]) -> None:
    """优秀 / 良好 / 一般 / 较差 with the change in count: more 优秀/良好 is good news (red), more 一般/较差 bad
    (orange), whatever the direction of the arrow."""
    cols = st.columns(len(counts))
    for i, (col, g) in enumerate(zip(cols, counts)):
        worse_up = i >= len(counts) // 2  # the lower half of the grades
        if g.change is None:
            delta = {"delta": None}
        elif g.change == 0:
            delta = {"delta": "持平", "delta_color": "off", "delta_arrow": "off"}
        else:
            bad = (g.change > 0) == worse_up
            delta = {"delta": f"{g.change:+d}", "delta_color": "orange" if bad else "red"}
        col.metric(g.grade, g.count, **delta, border=True, help="本季度该等次的支部数；箭头为与上一季度相比的变化")


def _line(name: str, college: str, tail: str) -> str:
    return f"- {md_text(name)}（{md_text(college)}）{tail}"


def _change_md(change) -> str:
    text = briefing.change_text(change)
    return f" :orange[**{text}**]" if text.startswith(briefing.DOWN) else (f" {text}" if text else "")


def attention_block(period: str, periods: Sequence[str]) -> None:
    """需关注: the lowest branches, the largest falls, and branches that missed this quarter and the one before
    (common.attention: computed once per data version)."""
    a = c.attention(period, periods)
    with st.container(border=True):
        st.subheader("需关注", anchor=False)
        if a.empty:
            st.caption("本季度没有需要特别关注的支部。")
            return
        parts = []
        if not a.lowest.empty:
            parts.append(f"**总分最低的 {len(a.lowest)} 个支部**")
            parts += [_line(r.branch_name, r.college, f" **{tables.fmt_score(r.overall)}** {r.grade}{_change_md(r.change)}")
                      for r in a.lowest.itertuples()]
        if not a.falls.empty:
            parts.append(f"**较上季度下降最多的 {len(a.falls)} 个支部**")
            parts += [_line(r.branch_name, r.college, f" {tables.fmt_score(r.overall)}{_change_md(r.change)}")
                      for r in a.falls.itertuples()]
        if not a.repeat_missing.empty:
            parts.append("**连续未报送的支部**")
            parts += [_line(r.branch_name, r.college, f" :orange[**连续 {int(r.quarters)} 个季度**]")
                      for r in a.repeat_missing.itertuples()]
        st.markdown("\n".join(parts))


def college_bars(period: str, key: str, big: bool = False, clickable: bool = False) -> None:
    """二级党组织 bars of `period` coloured by grade, each labelled with its score and change ('64.5 ↓12.7')
    (common.college_bars: computed once per data version). When `clickable`, a click on a bar opens that
    college's 二级党组织画像."""
    bars, unscored = c.college_bars(period)
    if bars.empty:
        st.info("暂无二级党组织得分。")
        return
    if unscored:
        st.caption(f"本季度没有支部报送、暂无得分的二级党组织：{'、'.join(map(md_text, unscored))}")
    grades = [g.name for g in c.guide().grades]
    st.caption("柱色表示等次（" + "、".join(grades) + "由深到浅，较差为橙色）；箭头为较上季度的变化，"
               "只比较两个季度都报送的支部。")
    picked = charts.show(college_bars_figure(bars, big), key=key, selectable=clickable)
    if clickable:
        st.caption("点击某个二级党组织的柱条，可打开该二级党组织画像。")
        if picked and 0 <= picked[0] < len(bars):
            state.open_college(period, bars["college"].iloc[picked[0]])


@charts.kept
def college_bars_figure(bars: pd.DataFrame, big: bool = False) -> charts.KeptFigure:
    """The bars of briefing.college_bars (`bars`): colour by grade, score and change written on each bar."""
    colors = dict(zip([g.name for g in c.guide().grades], charts.GRADE_COLORS))
    text = [f"<b>{plot_text(lab)}</b>" if briefing.DOWN in lab else plot_text(lab) for lab in bars["label"]]
    hover = [f"第 {r} 名 · {plot_text(col)} · {g}<br>{int(sub)}/{int(n)} 个支部报送"
             + (f"<br>较上季度（同一批 {int(k)} 个支部）：{briefing.change_text(d)}" if d == d else "")
             for r, col, g, sub, n, d, k in zip(bars["rank"], bars["college"], bars["grade"], bars["submitted"],
                                               bars["branches"], bars["change"], bars["same_branches"])]
    row_h = 46 if big else 32
    return charts.hbar([plot_text(col) for col in bars["college"]], bars["overall"], text=text, hover=hover,
                       xmax=100, inside=True, color=[colors.get(g, charts.GREY) for g in bars["grade"]],
                       height=max(300, row_h * len(bars) + 60), big=big)


def radar(bs: pd.DataFrame, key: str, height: int = 440, big: bool = False) -> None:
    """The school's seven dimension means in Party red, the two branch types' beside it."""
    charts.show(radar_figure(bs, height, big), key=key)


@charts.kept
def radar_figure(bs: pd.DataFrame, height: int = 440, big: bool = False) -> charts.KeptFigure:
    """The radar of `radar`, kept per content of the quarter's branch scores."""
    dims = c.dim_cols()
    hover = [f"平均核实率 {v}%" if v is not None else "" for v in briefing.verified_means(bs, dims)]
    series = [{"name": "全校平均", "values": briefing.dimension_means(bs, dims), "color": charts.RED, "fill": True,
               "hover": hover}]
    for t in c.type_ids():
        if (bs["branch_type"] == t).any():
            series.append({"name": f"{c.type_name(t)}平均", "values": briefing.dimension_means(bs, dims, t),
                           "color": charts.TYPE_COLORS.get(t, charts.GREY), "dash": "dot"})
    return charts.radar(series, height=height, big=big)
