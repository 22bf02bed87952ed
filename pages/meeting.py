"""会议大屏: the quarter's briefing for a projector or LED wall at 1920×1080, opened by a link (/?screen=1,
no sidebar) — large type, three views that rotate (本季度要点 · 二级党组织与需关注 · 一级指标与进步退步),
refreshed in place: a fragment reruns every few seconds and reads through the cached layer, which is keyed
on the data version, so a new upload shows within REFRESH_S without anyone touching the screen.

Link parameters: ?view=1..3 holds one view (no rotation); ?rotate=seconds sets the rotation (default 20).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st  # noqa: E402

from pages import briefing_view as bv  # noqa: E402
from pages import common as c  # noqa: E402
from pages import tables  # noqa: E402
from pages.text import md_text  # noqa: E402
from pipelines.report import briefing  # noqa: E402

REFRESH_S = 10  # how often the screen looks for new data and moves on to the next view
ROTATE_S = 20  # seconds per view when rotating
VIEWS = ["本季度要点", "二级党组织与需关注", "一级指标与进步退步"]

# Static page style (no user data): large type readable from the back of a room; in full-screen mode
# (?screen=1) no Streamlit header or sidebar control.
BIG_TYPE = """<style>
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li,
[data-testid="stMain"] [data-testid="stText"] { font-size: 1.75rem; line-height: 1.45; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] p { font-size: 1.25rem; }
[data-testid="stMain"] h1 { font-size: 2.8rem; }
[data-testid="stMain"] h2, [data-testid="stMain"] h3 { font-size: 2.1rem; }
[data-testid="stMetricLabel"] p { font-size: 1.6rem !important; }
[data-testid="stMetricValue"] { font-size: 3.4rem; }
[data-testid="stMetricDelta"] { font-size: 1.5rem; }
</style>"""
FULL_SCREEN = """<style>
[data-testid="stHeader"], [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding-top: 1.5rem; }
</style>"""


def view_index(now: float, rotate_s: int) -> int:
    """The view held by ?view=, else the one the clock points at (every screen shows the same view)."""
    held = st.query_params.get("view")
    if held in {str(i + 1) for i in range(len(VIEWS))}:
        return int(held) - 1
    return int(now // max(rotate_s, 5)) % len(VIEWS)


def _rotate_s() -> int:
    try:
        return max(5, int(st.query_params.get("rotate", ROTATE_S)))
    except ValueError:
        return ROTATE_S


def summary_view(period: str, data: dict, periods: list[str]) -> None:
    s = c.summary(period, periods)
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.subheader("本季度要点", anchor=False)
        for sentence in s.sentences:
            st.text(sentence, width="stretch")
    with right:
        st.subheader("等次分布", anchor=False)
        counts = briefing.grade_counts(s.facts)
        half = len(counts) // 2
        bv.grade_counts(counts[:half])
        bv.grade_counts(counts[half:])
        st.subheader("平均分", anchor=False)
        _prev, pbs = c.previous_scores(periods, period, data)
        for fig in briefing.headline_means(data["branch_scores"], pbs, {t: c.type_name(t) for t in c.type_ids()}):
            st.metric(fig.label, tables.fmt_score(fig.value), **tables.delta_args(fig.change), border=True)


def college_view(period: str, data: dict, periods: list[str]) -> None:
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.subheader("二级党组织", anchor=False)
        bv.college_bars(period, key="mt_colleges", big=True)
    with right:
        bv.attention_block(period, periods)


def _movers_md(df, title: str) -> str:
    lines = [f"**{title}**"]
    for r in df.itertuples():
        change = briefing.change_text(c.scoring.shown_change(r.overall, r.prev_overall))
        tail = f":orange[**{change}**]" if change.startswith(briefing.DOWN) else f":red[**{change}**]"
        lines.append(f"- {md_text(r.branch_name)}（{md_text(r.college)}）{tail}")
    return "\n".join(lines) if len(df) else f"**{title}**\n\n无"


def radar_view(period: str, data: dict, periods: list[str]) -> None:
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.subheader("全校七个一级指标得分", anchor=False)
        bv.radar(data["branch_scores"], key="mt_radar", height=620, big=True)
    with right:
        st.subheader("进步与退步最大的支部", anchor=False)
        up, down = c.scores("movers", period, 5)
        if up.empty and down.empty:
            st.markdown("与上一季度相比暂无变化可比较。")
        else:
            st.markdown(_movers_md(up, "进步最大"))
            st.markdown(_movers_md(down, "退步最大"))


@st.fragment(run_every=REFRESH_S)
def screen() -> None:
    """One view of the latest ended quarter (common.default_period); reruns itself every REFRESH_S seconds (new data, next view)."""
    periods = c.scores("periods")
    if not periods:
        c.no_data()
        return
    period = c.default_period(periods)  # the latest ended quarter: one still in progress only when asked for elsewhere
    data = c.bundle(period)
    index = view_index(time.time(), _rotate_s())
    st.title(f"党建“双创”工作季度简报 · {c.period_label(period)}", anchor=False)
    st.caption(" · ".join(f"**{name}**" if i == index else name for i, name in enumerate(VIEWS))
               + f"　（数据版本 {c.data_version()}，每 {REFRESH_S} 秒自动刷新）")
    if data["branch_scores"].empty:
        st.info(f"{c.period_label(period)} 还没有任何支部报送。")
        return
    (summary_view, college_view, radar_view)[index](period, data, periods)


def render() -> None:
    st.html(BIG_TYPE)
    if st.query_params.get("screen") == "1":
        st.html(FULL_SCREEN)
    else:
        st.caption("投影或大屏请使用全屏链接：在本页地址后加上 ?screen=1（无侧边栏、自动刷新并轮播）。")
    screen()


c.require_entrypoint()
c.run_page(render)
