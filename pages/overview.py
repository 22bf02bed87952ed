"""全校总览: the quarter at a glance for the leadership — headline figures, ranking, radar, heat map,
weakest items, college ranking and missing submissions."""
from __future__ import annotations

import sys
from pathlib import Path

if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from pages import briefing_view as bv  # noqa: E402
from pages import common as c  # noqa: E402
from pages import charts  # noqa: E402
from pages import state  # noqa: E402
from pages import tables  # noqa: E402
from pages.fragments import opened, part  # noqa: E402
from pages.honours_view import honours_block  # noqa: E402
from pages.text import plot_text  # noqa: E402
from pipelines import scoring  # noqa: E402
from pipelines.report import briefing, quarterly

# Static page style (no user data): less empty space above the title, so 本季度要点 fits a laptop's first screen.
COMPACT_TOP = "<style>[data-testid='stMainBlockContainer'] { padding-top: 2rem; }</style>"
HEAT_ROWS = 40  # more rows than this stop being readable on a projector
WEAK_TAB = "全校薄弱考核要点"
RANKING_TAB = "支部排名与热力图"
TABS_KEY = "ov_details"


def summary_section(s) -> None:
    """本季度要点 (pipelines.report.summary) as plain text — st.text renders no Markdown, so names print as they
    are — one sentence a line, and the paragraph in a code block for its copy button."""
    with st.container(border=True, gap="small"):
        st.subheader("本季度要点", anchor=False)
        for sentence in s.sentences:
            st.text(sentence, width="stretch")


def copy_summary(s) -> None:
    """The summary as one paragraph in a code block, for its copy button. The block is drawn only once the
    expander is opened: a code block loads Streamlit's syntax highlighter, 0.5 MB more on a phone's first visit."""
    box = opened("复制本季度要点", icon=":material/content_copy:", key="ov_copy_summary")
    if box:
        box.caption("点击右上角的复制按钮，可粘贴到会议材料中。")
        box.code(s.text, language=None, wrap_lines=True)


def headline(bs: pd.DataFrame, status: pd.DataFrame, pbs: pd.DataFrame | None) -> None:
    """Branches, submitted / missing, school mean and the two type means, each against last quarter
    (pipelines.report.briefing), in two rows of three so they stay readable beside the radar."""
    registry = scoring.has_registry(status)
    submitted = int((status["status"] != "missing").sum()) if not status.empty else len(bs)
    missing = int((status["status"] == "missing").sum()) if registry else "—"
    total = len(status) if registry else "—"
    no_registry = "尚未导入支部名册，无法统计。请在“数据上传”页面导入本校支部名册。"
    row1, row2 = st.columns(3), st.columns(3)
    row1[0].metric("支部总数", total, border=True, height=c.METRIC_H,
                   help="支部名册中的支部数" if registry else no_registry)
    row1[1].metric("已报送", submitted, border=True, height=c.METRIC_H,
                   help="本季度已有有效报送表的支部数（含重报）")
    row1[2].metric("未报送", missing, border=True, height=c.METRIC_H,
                   help="支部名册中本季度尚未报送的支部数" if registry else no_registry)
    figs = briefing.headline_means(bs, pbs, {t: c.type_name(t) for t in c.type_ids()})
    helps = ["已报送支部总分的平均值；箭头为与上一季度相比的变化"] + [None] * (len(figs) - 1)
    for col, fig, hint in zip(row2, figs, helps):
        col.metric(fig.label, tables.fmt_score(fig.value), **tables.delta_args(fig.change), border=True, height=c.METRIC_H,
                   help=hint)
    types_now = set(bs["branch_type"]) if not bs.empty else set()
    types_before = set(pbs["branch_type"]) if pbs is not None and not pbs.empty else types_now
    if types_now != types_before:  # e.g. student branches on summer break: the school mean mixes other branches
        st.caption("注：本季度与上季度报送的支部类型不同（" + "；".join(
            f"{label}：{'、'.join(c.type_name(t) for t in c.type_ids() if t in ts) or '无'}"
            for label, ts in (("本季度", types_now), ("上季度", types_before)))
            + "），全校平均分的变化受支部构成影响，请以两类支部各自的变化为准。")


def ranking_table(bs: pd.DataFrame) -> pd.DataFrame:
    """The ranking as shown and downloaded: Chinese headers, rank-change arrows."""
    labels = c.dim_label_map()
    df = bs.sort_values(["rank", "branch_code"])
    # the score before the long name, so a phone shows it without scrolling sideways; nothing is pinned, since
    # Streamlit draws pinned columns in faded grey, unreadable on a projector
    out = pd.DataFrame({
        "排名": df["rank"].astype("Int64"),
        "总分": scoring.shown(df["overall"]),
        "较上季度": scoring.shown_change(df["overall"], df["prev_overall"]),
        "等次": df["grade"],
        "支部": df["branch_name"],
        "排名变化": [tables.rank_arrow(ch, pr) for ch, pr in zip(df["rank_change"], df["prev_rank"])],
        "核实率（%）": scoring.shown_share(df["verified"]),  # weight from the ledger or reviewed answers
        "二级党组织": df["college"],
        "类型": df["branch_type"].map(c.type_name),
        "支部编码": df["branch_code"],
    })
    for col, name in labels.items():
        out[name] = scoring.shown(df[col])
    return out.reset_index(drop=True)


def picked_cell(event) -> tuple[int | None, str | None]:
    """(row, column) picked in a dataframe with row and cell selection: a ticked row has no column."""
    selection = (event or {}).get("selection")
    if not selection:
        return None, None
    if selection.get("rows"):
        return selection["rows"][0], None
    if selection.get("cells"):
        row, column = selection["cells"][0]
        return row, column
    return None, None


def dimension_of_column(column: str | None) -> str | None:
    """The dimension id ('1'…'7') whose short name heads `column` (ranking and heat map), else None."""
    return next((str(d.id) for d in c.guide().dimensions if d.short == column), None)


def pdf_button(container, period: str) -> None:
    """The briefing as PDF: drawing its charts takes a few seconds, so it is built when asked for."""
    if not container.toggle("PDF 版（手机查看、打印）", key=f"want_pdf_{period}"):
        return
    tables.download(container, "下载本季度简报（PDF）", lambda: c.report_pdf_bytes(period),
               file_name=quarterly.file_name(period, "pdf"), mime="application/pdf", key="dl_report_pdf",
               icon=":material/picture_as_pdf:", width="stretch")


def render() -> None:
    """The 全校总览 page body: the briefing first (what a laptop shows without scrolling), details in tabs."""
    st.html(COMPACT_TOP)
    c.header("全校总览")  # no caption line: the first screen is for the briefing
    periods = c.scores("periods")
    if not c.period_options(periods):  # no submission and no registry yet
        c.no_data()
        return
    top = st.columns([1, 2, 1], vertical_alignment="bottom")
    period = c.period_select(periods, container=top[0])
    data = c.bundle(period)  # one scoring session for every frame of this quarter
    bs, status = data["branch_scores"], data["submission_status"]
    _prev, pbs = c.previous_scores(periods, period, data)
    top[1].caption(c.comparison_caption(periods, period))
    # built on click: a button's file is fetched by the browser as soon as the page shows (~110 KB at 1,000
    # branches), clicked or not; the report is cached on the data version, so a click is quick
    tables.download_later(
        top[2], "下载本季度报告（Excel）", lambda: c.report_bytes(period), file_name=quarterly.file_name(period),
        mime=tables.XLSX_MIME, key="dl_report", icon=":material/summarize:", width="stretch",
        help="简报（本季度要点、等次分布、需关注）、概况、支部排名、各支部一级指标得分、二级党组织、考核要点完成率和"
             "未报送支部，一个工作簿，按 A4 排版，可直接打印或用于会议材料")
    pdf_button(top[2], period)

    if bs.empty:
        headline(bs, status, pbs)
        st.info(f"{c.period_label(period)} 还没有任何支部报送，请选择其他季度，或待各支部报送后再查看。",
                icon=":material/event_busy:")
        missing_section(status, period)
        return
    briefing_section(period, periods)
    figures_section(bs, status, pbs)
    details_section(bs, data, status, period)


def briefing_section(period: str, periods: list[str]) -> None:
    """The first screen: 本季度要点 and the grade counts, then 需关注 beside the college bars."""
    s = c.summary(period, periods)
    left, right = st.columns([3, 1], gap="small")  # the summary wide enough to end above a laptop's fold
    with left:
        summary_section(s)
    with right:
        st.subheader("等次分布", anchor=False)
        counts = briefing.grade_counts(s.facts)
        bv.grade_counts(counts[:2])
        bv.grade_counts(counts[2:])
        st.caption(f"共 {s.facts.scored} 个支部有得分；等次按总分划定。")
        alert_counts_block(period)
        copy_summary(s)
    left, right = st.columns([2, 3], gap="large")
    with left:
        bv.attention_block(period, periods)
    with right:
        st.subheader("二级党组织排名", anchor=False)
        bv.college_bars(period, key="ov_colleges", clickable=True)


def figures_section(bs: pd.DataFrame, status: pd.DataFrame, pbs) -> None:
    """The headline figures beside the radar of the seven dimensions."""
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.subheader("全校七个一级指标得分", anchor=False)
        bv.radar(bs, key="ov_radar")
    with right:
        st.subheader("报送与平均分", anchor=False)
        headline(bs, status, pbs)


DETAIL_TABS = ("weak", "ranking", "missing", "honours")


@part
def details_section(bs: pd.DataFrame, data: dict[str, pd.DataFrame], status: pd.DataFrame, period: str) -> None:
    """The long sections in tabs. Only the open tab is drawn (st.tabs with on_change="rerun", in its own fragment:
    a tab click reruns this part alone), so the full ranking of every branch and its heat map are sent only when
    their tab is opened. The weakest items open first (ten bars); a weak item picked (?ov_item=…, also after Back)
    opens on that tab again."""
    missing = int((status["status"] == "missing").sum()) if scoring.has_registry(status) else 0
    weakest, empty_note = weakest_items(data["item_summary"])
    ids = list(weakest["item_id"])
    item = state.pick(f"ov_weakest_{state.url_param('ov_item')}", "ov_item", ids, "points")
    names = [WEAK_TAB, RANKING_TAB, f"未报送支部（{missing}）", "红榜"]
    if item in ids and state.url_changed("ov_item"):  # a link or Back to a weak item: its tab
        st.session_state.pop(TABS_KEY, None)
    tabs = st.tabs(names, default=WEAK_TAB, key=TABS_KEY, on_change="rerun")
    opened = dict(zip(DETAIL_TABS, tabs))
    if opened["weak"].open:
        with opened["weak"]:
            weakest_section(weakest, empty_note, item, period)
    if opened["ranking"].open:
        with opened["ranking"]:
            ranking_section(bs, period)
    if opened["missing"].open:
        with opened["missing"]:
            missing_section(status, period)
    if opened["honours"].open:
        with opened["honours"]:
            honours_block(period)


def alert_counts_block(period: str) -> None:
    """One compact line: the quarter's red and yellow alerts, linking to the 预警 page."""
    total = c.scores("alerts.alert_totals", period).iloc[0]
    row = st.container()  # in the narrow column beside the summary: the line, then the link
    row.markdown(f"**本季度预警**　:red[红色 {int(total['red'])} 条]　:orange[黄色 {int(total['yellow'])} 条]"
                 f"　涉及 {int(total['branches'])} 个支部")
    state.page_link(row, "pages/alerts.py", "查看预警明细", ":material/notifications:", {"period": period})


def ranking_section(bs: pd.DataFrame, period: str) -> None:
    """Filters (type, college, grade), the ranking table with downloads, and the branch × dimension heat map."""
    st.subheader("支部排名", anchor=False)
    f1, f2, f3 = st.columns([3, 4, 3])
    btype = state.state_widget("radio", "支部类型", ["all"] + c.type_ids(), "type", default="all", container=f1,
                           format_func=lambda t: "全部" if t == "all" else c.type_name(t), horizontal=True)
    colleges = state.state_widget("multi", "二级党组织", sorted(bs["college"].dropna().unique()), "colleges",
                              default=[], container=f2, placeholder="全部二级党组织")
    grades = state.state_widget("multi", "等次", [g.name for g in c.guide().grades], "grades", default=[],
                            container=f3, placeholder="全部等次")
    view = bs
    if btype != "all":
        view = view[view["branch_type"] == btype]
    if colleges:
        view = view[view["college"].isin(colleges)]
    if grades:
        view = view[view["grade"].isin(grades)]
    if view.empty:
        st.info("没有符合筛选条件的支部。请放宽“支部类型”“二级党组织”或“等次”的筛选。",
                icon=":material/filter_alt_off:")
        return
    table = ranking_table(view)
    st.caption(f"共 {len(table)} 个支部；排名为全校排名；“排名变化”与上一季度相比，↑ 为上升，“新”表示上季度无得分。"
               "勾选某一行或点击某个格子即可打开该支部画像；点击一级指标列的格子，直接显示该一级指标的考核要点。")
    # on screen the change reads 持平 / ↑1.4 / ↓0.8 (briefing.change_text, as in the briefing); the download keeps numbers
    shown = table.assign(较上季度=table["较上季度"].map(briefing.change_text))
    event = st.dataframe(
        shown, hide_index=True, width="stretch", height=tables.table_height(len(table)), key="ov_ranking",
        on_select="rerun", selection_mode=["single-row", "single-cell"],
        column_config={
            "排名": st.column_config.NumberColumn("排名", width=50),
            "支部": st.column_config.TextColumn("支部", width="medium"),
            "总分": st.column_config.ProgressColumn("总分", min_value=0, max_value=100, format="%.1f"),
            "较上季度": st.column_config.TextColumn("较上季度", help="与上一季度相比的总分变化：↑ 上升，↓ 下降；空白为上季度无得分"),
            "核实率（%）": st.column_config.NumberColumn(
                "核实率（%）", format="%.0f", help="总分中来自台账计算或经审核认定的权重占比，其余为支部自评"),
            **{name: st.column_config.NumberColumn(name, format="%.1f", width=tables.DIM_COLUMN_PX) for name in c.dim_names()},
        },
    )
    row, column = picked_cell(event)
    if row is not None and 0 <= row < len(table):
        picked = table.iloc[row]
        state.open_branch(period, picked["二级党组织"], picked["支部编码"], dim=dimension_of_column(column))
    tables.download_buttons(table, f"支部排名_{period}", "dl_ranking")

    st.subheader("支部 × 一级指标热力图", anchor=False)
    heat = view.sort_values(["rank", "branch_code"])
    if len(heat) > HEAT_ROWS:
        which = state.state_widget("radio", "显示范围", ["bottom", "top"], "heat", default="bottom",
                               format_func=lambda v: f"排名后 {HEAT_ROWS} 名" if v == "bottom" else f"排名前 {HEAT_ROWS} 名",
                               horizontal=True)
        heat = heat.tail(HEAT_ROWS) if which == "bottom" else heat.head(HEAT_ROWS)
        st.caption(f"筛选结果共 {len(view)} 个支部，热力图显示其中 {HEAT_ROWS} 个；可用上方筛选条件缩小范围。")
    names = charts.unique_labels(heat["branch_name"], heat["branch_code"])
    z = heat[c.dim_cols() + ["overall"]].set_axis(c.dim_names() + ["总分"], axis=1)
    z.index = [f"{int(r)}. {plot_text(n)}" for r, n in zip(heat["rank"], names)]
    st.caption("点击某个格子，可打开该支部画像并显示该一级指标的考核要点（“总分”列打开全部考核要点）。")
    cells = charts.show(charts.heatmap(z, clickable=True), key="ov_heatmap", selectable=True)
    if cells and 0 <= cells[0] < z.size:
        row, column = divmod(cells[0], z.shape[1])
        picked = heat.iloc[row]
        state.open_branch(period, picked["college"], picked["branch_code"], dim=dimension_of_column(z.columns[column]))


def weakest_items(summary: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """The 10 items with the lowest completion across the school (scoring.item_summary's school-wide rows,
    pending excluded: no figure is computed here), and why there are none when the frame is empty."""
    none = pd.DataFrame(columns=["item_id", "completion", "full_share", "w"])
    if summary.empty:
        return none, "本季度暂无考核要点完成情况。"
    s = summary[(summary["branch_type"] == "all") & (summary["branches"].fillna(0) > 0)].dropna(
        subset=["mean_completion"])
    if s.empty:
        return none, "本季度各考核要点均未到期，暂无可比较的完成率。"
    s = s.rename(columns={"mean_completion": "completion", "branches": "w"})
    return s.sort_values(["completion", "item_id"]).head(10)[["item_id", "completion", "full_share", "w"]] \
        .reset_index(drop=True), None


def weakest_section(weakest: pd.DataFrame, empty_note: str | None, item: str | None, period: str) -> None:
    """The weakest items as bars; a click on one lists the branches that fell short of it (common.shortfalls)."""
    st.subheader("全校薄弱考核要点", anchor=False)
    if weakest.empty:
        st.info(empty_note or "本季度暂无可比较的完成率。")
        return
    st.caption("按全校各支部的平均完成率排序，显示最低的 10 项（未到期的要求不计入）。"
               "点击某一项的柱条，可列出未完全完成该项的支部。")
    g = c.guide()
    charts.show(charts.hbar(
        [c.item_label(i, 16) for i in weakest["item_id"]], scoring.shown_percent(weakest["completion"]),
        # short enough (≤ 165 px) to sit after any bar too short to hold it on a 390 px phone
        text=[f"平均 {scoring.percent(v)}，全部完成 {scoring.percent(f)}"
              for v, f in zip(weakest["completion"], weakest["full_share"])],
        hover=[g.item(i).text[:60] for i in weakest["item_id"]], xmax=170, xtitle="平均完成率（%）",
        color=charts.DARK_RED, track=100, labels_above=True,
    ), key=f"ov_weakest_{item}", selectable=True)
    if item in set(weakest["item_id"]):
        tables.shortfalls(period, item, None, key="ov_shortfalls")
    table = pd.DataFrame({
        "考核要点": weakest["item_id"],
        "内容": [g.item(i).text for i in weakest["item_id"]],
        "平均完成率": c.scoring.shown_percent(weakest["completion"]),
        "完全完成的支部占比": c.scoring.shown_percent(weakest["full_share"]),
        "参与计算的支部数": weakest["w"].astype(int),
    })
    box = opened("查看明细与下载", key="ov_weakest_table")  # a data grid and two downloads: drawn when opened
    if box:
        with box:
            st.dataframe(table, hide_index=True, placeholder=tables.MISSING, width="stretch",
                         column_config=tables.one_decimal(table))
            tables.download_buttons(table, f"薄弱考核要点_{period}", "dl_weakest")


def missing_section(status: pd.DataFrame, period: str) -> None:
    """Branches of the registry that have not submitted this quarter."""
    st.subheader("未报送支部", anchor=False)
    if not scoring.has_registry(status):
        st.info("尚未导入支部名册，无法判断哪些支部未报送。请在“数据上传”页面导入支部名册。")
        return
    miss = status[status["status"] == "missing"].sort_values(["college", "branch_code"])
    if miss.empty:
        st.success(f"{c.period_label(period)} 名册中的全部支部均已报送。", icon=":material/task_alt:")
        return
    table = pd.DataFrame({
        "支部编码": miss["branch_code"], "支部名称": miss["branch_name"], "二级党组织": miss["college"],
        "类型": miss["branch_type"].map(c.type_name),
    }).reset_index(drop=True)
    st.caption(f"共 {len(table)} 个支部尚未报送 {c.period_label(period)} 的报送表。")
    st.dataframe(table, hide_index=True, placeholder=tables.MISSING, width="stretch", height=tables.table_height(len(table), 360))
    tables.download_buttons(table, f"未报送支部_{period}", "dl_missing")


c.require_entrypoint()
c.run_page(render)
