"""支部画像: drill down 二级党组织 → branch; its radar against the same-type and school means, every item
with its measures, the ledger rows behind an item, and its score and rank over the quarters."""
from __future__ import annotations

import sys
from pathlib import Path

if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402
from plotly.subplots import make_subplots  # noqa: E402

from pages import common as c  # noqa: E402
from pages import charts  # noqa: E402
from pages import state  # noqa: E402
from pages import tables  # noqa: E402
from pages.fragments import opened, part  # noqa: E402
from pages.text import md_text  # noqa: E402
from pages.evidence_view import evidence_section  # noqa: E402
from pipelines.guide.vocab import MeasureKind, MeasureStatus, TraceSource  # noqa: E402

TRACE_COLUMNS = {  # trace() columns shown, with their Chinese headers
    "source": "来源", "measure_name": "测评规则", "period": "报送季度", "source_file": "文件", "sheet": "工作表",
    "row_no": "行号", "counted": "是否计入", "date": "日期", "activity_raw": "活动类型（原文）", "topic": "主题",
    "expected": "应到人数", "attended": "实到人数", "hours": "学时", "field": "统计项", "value": "数值",
    "status": "自评", "evidence": "佐证材料",
}


def measure_text(m: dict, self_status: str | None) -> str:
    """One measure as 'name：actual / required unit（状态）' — readable in a table cell."""
    status = MeasureStatus.label_of(m["status"])
    if m["kind"] == "self_assessed":
        return f"{m['measure_name']}：自评“{self_status or '未填写'}”"
    if pd.isna(m.get("actual")):
        return f"{m['measure_name']}（{status}）"

    def num(x) -> str:  # one decimal, half up (the one rounding rule), without a trailing .0
        return f"{c.scoring.half_up(x, 1):.1f}".rstrip("0").rstrip(".")

    required = "" if pd.isna(m.get("required")) else f" / {num(m['required'])}"
    unit = MeasureKind(m["kind"]).unit if m["kind"] in MeasureKind.labels() else ""
    if m["kind"] == "hours":  # the yearly requirement is spread over the quarters (8, 16, 24, 32)
        annual = next((x.required for x in c.guide().item(m["item_id"]).measures if x.id == m["measure_id"]), None)
        unit += f"；截至本季度应达 {num(m['required'])}" + (f"，全年 {num(annual)}" if annual else "")
    return f"{m['measure_name']}：{num(m['actual'])}{required} {unit}（{status}）"


def item_table(items: pd.DataFrame, measures: pd.DataFrame) -> pd.DataFrame:
    """The dimension → item table of one branch: completion, pending, measures, evidence, warnings."""
    g = c.guide()
    by_item: dict[str, list[dict]] = {}  # the measures of each item, in their order (rows as dicts: no per-row Series)
    for m in measures.to_dict("records"):
        by_item.setdefault(m["item_id"], []).append(m)
    rows = []
    for it in items.to_dict("records"):
        ms = by_item.get(it["item_id"], [])
        warning = it.get("flag_message") or ""
        pending = bool(it["pending"])
        rows.append({
            "考核要点": it["item_id"],
            "一级指标": g.dimensions[int(it["dimension_id"]) - 1].short,
            "内容": g.item(it["item_id"]).text,
            "完成率": c.scoring.shown_percent(it["completion"]),
            "未到期": "未到期" if pending else "",
            "测评情况": "；".join(measure_text(m, it.get("self_status")) for m in ms),
            "佐证材料": it.get("evidence") or "",
            "台账佐证": c.scoring.support_label(it.get("linked"), it.get("evidence_rows")),
            "审核": c.scoring.review_state(it.get("review_decision")) if g.item(it["item_id"]).self_assessed else "",
            "提示": warning,
        })
    return pd.DataFrame(rows)


@charts.kept
def history_chart(h: pd.DataFrame) -> go.Figure:
    """Score (top) and school rank (bottom, 1 at the top) over the quarters, every point labelled."""
    fig = make_subplots(rows=2, cols=1, subplot_titles=("总分", "全校排名"), vertical_spacing=0.16,
                        shared_xaxes=True)
    x = [charts.period_short(p) for p in h["period"]]
    fig.add_trace(go.Scatter(x=x, y=c.scoring.shown(h["overall"]), mode="lines+markers+text", name="总分",
                             text=[tables.fmt_score(v) if pd.notna(v) else "" for v in h["overall"]], textposition="top center",
                             connectgaps=False,
                             line=dict(color=charts.RED, width=3), marker=dict(size=8),
                             hovertemplate="%{x}<br>总分 %{y:.1f}<extra></extra>"), row=1, col=1)
    rank = h["rank"].astype("float")  # a missed quarter is NaN (a gap), not pandas' NA
    fig.add_trace(go.Scatter(x=x, y=rank, mode="lines+markers+text", name="全校排名",
                             text=[f"第{int(r)}名" if pd.notna(r) else "" for r in rank], textposition="bottom center",
                             connectgaps=False,
                             line=dict(color=charts.SCHOOL_COLOR, width=3), marker=dict(size=8),
                             hovertemplate="%{x}<br>第 %{y} 名<extra></extra>"), row=2, col=1)
    fig.update_yaxes(range=[0, 112], row=1, col=1, title_text="分")
    worst = int(rank.max())
    fig.update_yaxes(range=[worst + max(2, worst * 0.15), 0.5], row=2, col=1, title_text="名次")
    fig.update_xaxes(type="category")
    fig.update_layout(height=470, showlegend=False, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def render() -> None:
    """The 支部画像 page body: quarter, 二级党组织 and branch pickers, then the branch's profile."""
    c.header("支部画像", "选择二级党组织和支部，查看其各项指标完成情况、佐证材料与历史变化")
    periods = c.scores("periods")
    if not c.period_options(periods):  # no submission and no registry yet
        c.no_data()
        return
    top = st.columns([1.3, 2, 3])  # wide enough for "2026 年第 3 季度" on a laptop
    period = c.period_select(periods, container=top[0])
    data = c.bundle(period)
    bs, status = data["branch_scores"], data["submission_status"]
    roster = pd.concat([
        status[["branch_code", "branch_name", "college", "branch_type"]],
        bs[["branch_code", "branch_name", "college", "branch_type"]],
    ]).drop_duplicates("branch_code")
    if roster.empty:
        st.info(f"{c.period_label(period)} 没有支部名册，也没有支部报送。请选择其他季度。", icon=":material/event_busy:")
        return
    colleges = sorted(roster["college"].dropna().unique())
    # a link naming only a branch (?branch=…) opens that branch: its college is the default
    linked = roster.set_index("branch_code")["college"].get(st.query_params.get("branch"))
    college = state.state_widget("select", "二级党组织", colleges, "college", container=top[1],
                             default=linked if linked in colleges else None)
    in_college = roster[roster["college"] == college].sort_values("branch_code")
    names = dict(zip(in_college["branch_code"], in_college["branch_name"]))
    code = state.state_widget("select", "支部", list(names), "branch", container=top[2],
                          format_func=lambda k: f"{names.get(k, k)}（{k}）")
    if code is None:
        st.info("该二级党组织下没有支部。")
        return
    branch = roster.set_index("branch_code").loc[code]
    row = bs[bs["branch_code"] == code]
    st.subheader(f"{md_text(branch['branch_name'])}　·　{c.type_name(branch['branch_type'])}　·　"
                 f"{md_text(branch['college'])}",
                 anchor=False)
    if row.empty:
        st.info(f"该支部未报送 {c.period_label(period)} 的报送表，本季度没有得分。可切换季度，或在下方查看历史得分。",
                icon=":material/event_busy:")
        history_section(code)
    else:
        profile(row.iloc[0], bs, data, period)


def profile(r: pd.Series, bs: pd.DataFrame, data: dict, period: str) -> None:
    """Metrics, radar, item table, ledger trace and warnings of one branch in one period."""
    code = r["branch_code"]
    cols = st.columns(5)
    cols[0].metric("总分", tables.fmt_score(r["overall"]), **tables.delta_args(c.scoring.shown_change(r["overall"], r["prev_overall"])), border=True, height=c.METRIC_H, help="与上一季度相比")
    cols[1].metric("等次", r["grade"], border=True, height=c.METRIC_H)
    n_all = len(bs)
    n_type = int((bs["branch_type"] == r["branch_type"]).sum())
    n_college = int((bs["college"] == r["college"]).sum())
    change = None if pd.isna(r["rank_change"]) else int(r["rank_change"])
    cols[2].metric("全校排名", f"{int(r['rank'])} / {n_all}", **tables.delta_args(change, " 名", 0), border=True, height=c.METRIC_H, help="与上一季度相比，+ 为名次上升")
    cols[3].metric(f"{c.type_name(r['branch_type'])}中排名", f"{int(r['rank_in_type'])} / {n_type}", border=True, height=c.METRIC_H)
    cols[4].metric("二级党组织内排名", f"{int(r['rank_in_college'])} / {n_college}", border=True, height=c.METRIC_H)
    st.caption(verified_caption(r))

    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("**七个一级指标：本支部与同类支部、全校平均对比**")
        # the type's and the school's means of this quarter, from the query API (group_means)
        same = c.scoring.group_means(bs, ["branch_type"]).set_index("branch_type").loc[r["branch_type"]]
        school = c.scoring.group_means(bs).iloc[0]
        series = [
            {"name": "本支部", "values": [r[col] for col in c.dim_cols()], "color": charts.RED, "fill": True,
             "hover": [f"核实率 {c.scoring.shown_share(r[f'v{k}'])}%" if pd.notna(r[f"v{k}"]) else ""
                       for k in range(1, len(c.dim_cols()) + 1)]},
            {"name": f"{c.type_name(r['branch_type'])}平均", "values": [same[col] for col in c.dim_cols()],
             "color": charts.TYPE_COLORS.get(r["branch_type"], charts.GREY), "dash": "dot"},
            {"name": "全校平均", "values": [school[col] for col in c.dim_cols()], "color": charts.LIGHT_GREY_LINE,
             "dash": "dash"},  # lighter than the type's line, so the two averages stay apart on a projector
        ]
        charts.show(charts.radar(series, height=440), key="br_radar")
    with right:
        history_section(code)

    items = data["item_scores"]
    measures = data["measure_scores"]
    items_part(code, period, items[items["branch_code"] == code],  # in the guide's item order
               measures[measures["branch_code"] == code])
    problems_section(code, period)


@part
def items_part(code: str, period: str, items: pd.DataFrame, measures: pd.DataFrame) -> None:
    """The branch's items (filtered by dimension) and the ledger rows of a ticked one: its own fragment, so a
    dimension chosen or a row ticked reruns this part, not the radar and the history above it."""
    st.markdown("**各考核要点完成情况**")
    dims = ["all"] + [str(d.id) for d in c.guide().dimensions]
    dim = state.state_widget("radio", "一级指标", dims, "dim", default="all", horizontal=True,
                         format_func=lambda d: "全部" if d == "all" else c.guide().dimensions[int(d) - 1].name)
    table = item_table(items if dim == "all" else items[items["dimension_id"].astype(int) == int(dim)], measures)
    # the item whose ledger rows are open: ?item=…, set by ticking its row
    item = state.pick(f"br_items_{state.url_param('item')}", "item", list(table.get("考核要点", [])))
    if table.empty:
        st.info("该一级指标下没有适用于本支部类型的考核要点。")
    else:
        st.caption("勾选某一行，可在表格下方查看该考核要点的台账明细。")
        st.dataframe(
            table, hide_index=True, placeholder=tables.MISSING, width="stretch", height=tables.table_height(len(table), 520),
            key=f"br_items_{item}", on_select="rerun", selection_mode="single-row",
            column_config={
                "完成率": st.column_config.ProgressColumn("完成率", min_value=0, max_value=100, format="%.0f%%",
                                                       width="small"),
                "内容": st.column_config.TextColumn("内容", width="large"),
                "测评情况": st.column_config.TextColumn("测评情况", width="large"),
                "佐证材料": st.column_config.TextColumn("佐证材料", width="medium"),
            },
        )
        tables.download_buttons(table, f"支部考核要点_{code}_{period}", "dl_items")

    trace_section(code, period, items, item)


def verified_caption(r: pd.Series) -> str:
    """核实率 and which 党员数 the hours and coverage used, under the branch's metrics."""
    text = (f"核实率 {c.scoring.shown_share(r['verified'])}%：总分中来自台账、统计数据计算或经审核认定的权重占比，"
            "其余为支部自评、尚未核实。")
    members = f"学时人均和覆盖率按本季度报送表的党员数 {int(r['members'])} 人计算"
    reg = r.get("registry_members")
    if reg is not None and pd.notna(reg) and int(reg) != int(r["members"]):
        members += f"（支部名册为 {int(reg)} 人）"
    return text + members + "。"


def trace_section(code: str, period: str, items: pd.DataFrame, item: str | None) -> None:
    """The ledger, count and self-assessment rows behind the item picked in the item table (`items`: the
    branch's item_scores rows)."""
    if item not in set(items["item_id"]):
        return
    st.markdown(f"**{md_text(c.item_label(item, 40))}：数据来源（台账明细）**")
    evidence_section(code, period, item, key="br_evidence")
    rows = c.scores("trace", period, code, item)
    if rows.empty:
        st.info("该考核要点在本季度没有对应的台账、统计或自评记录（可能尚未开展或未填写）。", icon=":material/info:")
        return
    g = c.guide()
    names = {m.id: m.name for m in g.item(item).measures}
    df = rows.copy()
    df["measure_name"] = df.get("measure_id", pd.Series(dtype=str)).map(names)
    df["source"] = df["source"].map(TraceSource.labels()).fillna(df["source"])
    if "counted" in df:
        df["counted"] = df["counted"].map({True: "是", False: "否"}).fillna("")
    if "field" in df:
        fields = {f.id: f.name for f in g.count_fields}
        df["field"] = df["field"].map(lambda v: fields.get(v, v) if isinstance(v, str) else v)
    if "status" in df and "status_id" in df:
        pass  # status already holds the Chinese answer
    keep = [k for k in TRACE_COLUMNS if k in df.columns]
    df = df[keep].rename(columns=TRACE_COLUMNS)
    df = df.loc[:, [col for col in df.columns if df[col].notna().any() and (df[col].astype(str) != "").any()]]
    df = df.astype(object).where(df.notna(), "")
    st.caption(f"共 {len(df)} 行；“是否计入”为“否”的行（如日期不在所属季度）仅供核对，不参与计分。")
    st.dataframe(df, hide_index=True, placeholder=tables.MISSING, width="stretch", height=tables.table_height(len(df), 360), key="br_trace")
    tables.download_buttons(df, f"台账明细_{code}_{item}_{period}", "dl_trace")


def problems_section(code: str, period: str) -> None:
    """Validation warnings recorded when this branch's current workbook was accepted."""
    probs = c.query(
        "SELECT p.sheet, p.cell, p.value, p.message FROM raw_problems p "
        "JOIN stg_submissions s USING (submission_id) WHERE s.branch_code = ? AND s.period = ? "
        "ORDER BY p.sheet, p.cell", code, period)
    if probs.empty:
        return
    with st.expander(f"报送表校验提示（{len(probs)} 条）", icon=":material/warning:"):
        st.dataframe(probs.rename(columns={"sheet": "工作表", "cell": "单元格", "value": "填写内容", "message": "提示"}),
                     hide_index=True, placeholder=tables.MISSING, width="stretch")


HISTORY_BOX = "br_history_box"


def history_table(h: pd.DataFrame) -> str:
    """The branch's quarters (`h`: one row per quarter from its first, a missed one with no score) as a markdown
    table: quarter, score and school rank, as the chart labels them."""
    rows = ["| 季度 | 总分 | 全校排名 |", "|:--|--:|--:|"]
    for p, overall, rank in zip(h["period"], h["overall"], h["rank"].astype("float")):
        shown = ("未报送", "—") if pd.isna(overall) else (tables.fmt_score(overall), f"第 {int(rank)} 名")
        rows.append(f"| {c.period_label(p)} | {shown[0]} | {shown[1]} |")
    return "\n".join(rows)


@part
def history_section(code: str) -> None:
    """The branch's overall score and school rank over every quarter it was scored: a table of them, and their
    chart in a box drawn when opened (two charts on the first screen were most of the page's drawing in the
    browser: the radar and this one). Its own fragment, so opening the box reruns this part alone."""
    st.markdown("**历史得分与全校排名**")
    everything = c.history()
    h = everything[everything["branch_code"] == code].sort_values("period")
    if h.empty:
        st.info("该支部还没有任何季度的得分。")
        return
    # every quarter the school has data for, from the branch's first: a quarter it missed is a gap, not a jump
    quarters = [p for p in sorted(everything["period"].unique()) if h["period"].min() <= p <= h["period"].max()]
    missed = [p for p in quarters if p not in set(h["period"])]
    h = h.set_index("period").reindex(quarters).reset_index()
    st.markdown(history_table(h))
    if h["overall"].notna().sum() == 1:
        st.info(f"该支部目前只有 {c.period_label(h['period'].iloc[0])} 一个季度的数据，"
                "积累两个及以上季度后将显示变化趋势。", icon=":material/timeline:")
        return
    box = opened("查看走势图", key=HISTORY_BOX, icon=":material/show_chart:")
    if box:
        with box:
            if missed:
                st.caption(f"未报送的季度（图中断开）：{'、'.join(c.period_label(p) for p in missed)}")
            charts.show(history_chart(h), key="br_history")


c.require_entrypoint()
c.run_page(render)
