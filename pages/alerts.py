"""预警: the quarter's alerts (pipelines.scoring.alerts) for the 组织部 — counts by level, rule and college, a table to
filter, search and export, shown a page at a time (red first), and the rows behind a selected alert with a way
to its branch."""
from __future__ import annotations

import sys
from pathlib import Path

if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from pages import common as c  # noqa: E402
from pages import state  # noqa: E402
from pages import tables  # noqa: E402
from pages.fragments import part  # noqa: E402
from pages.text import md_text  # noqa: E402
from pipelines.guide.vocab import AlertColor  # noqa: E402
from pipelines.report import export  # noqa: E402

PAGE_ROWS = 50  # alerts per page: at 1,000 branches a quarter has thousands, each with its 情况说明

EVIDENCE_HEADERS = {  # alert_evidence's columns as shown; the others stay out of the way
    "source_file": "来源文件", "sheet": "工作表", "row_no": "行号", "date": "日期", "activity_type": "活动类型",
    "topic": "主题", "expected": "应到人数", "attended": "实到人数", "hours": "学时", "evidence": "佐证材料",
    "field": "统计项", "value": "数值", "version": "版本", "file_name": "文件名", "uploaded_at": "上传时间",
    "uploaded_by": "上传人", "status": "状态",
}


def counts_section(period: str) -> None:
    """红 / 黄 totals, then the counts by rule and by college side by side."""
    total = c.scores("alerts.alert_totals", period).iloc[0]
    cols = st.columns(3)
    cols[0].metric("红色预警", int(total["red"]), border=True, help="需立即督办的预警条数")
    cols[1].metric("黄色预警", int(total["yellow"]), border=True, help="需关注、提醒整改的预警条数")
    cols[2].metric("涉及支部", int(total["branches"]), border=True, help="至少有一条预警的支部数")
    left, right = st.columns(2, gap="large")
    for col, by, title, label in ((left, "rule_name", "按预警规则", "预警规则"), (right, "college", "按二级党组织", "二级党组织")):
        df = c.scores("alerts.alert_totals", period, by=by)
        with col:
            st.subheader(title, anchor=False)
            st.dataframe(df.rename(columns={by: label, **AlertColor.labels(), "total": "合计",
                                            "branches": "涉及支部"}),
                         hide_index=True, placeholder=tables.MISSING, width="stretch", height=tables.table_height(len(df), 320), key=f"al_by_{by}")


def alert_table(df: pd.DataFrame) -> pd.DataFrame:
    """The alerts as shown and exported: Chinese headers, item id with its text."""
    return pd.DataFrame({
        "等级": df["level_label"], "二级党组织": df["college"], "支部": df["branch_name"],
        "类型": df["branch_type"].map(c.type_name), "预警规则": df["rule_name"],
        "考核要点": [c.item_label(i, 14) if i else "—" for i in df["item_id"]], "情况说明": df["evidence"],
        "截止日期": [d.isoformat() if d is not None and not pd.isna(d) else "—" for d in df["deadline"]],
        "支部编码": df["branch_code"], "规则编号": df["rule_id"],
    }).reset_index(drop=True)


def filters(df: pd.DataFrame) -> pd.DataFrame:
    """Level, rule, college and branch type filters (kept in the URL like every choice)."""
    f1, f2, f3, f4 = st.columns([2, 4, 4, 3])
    levels = state.state_widget("multi", "等级", list(AlertColor.labels()), "al_level", default=[],
                            container=f1, format_func=AlertColor.label_of, placeholder="全部")
    rules = state.state_widget("multi", "预警规则", list(dict.fromkeys(r.name for r in c.guide().alerts)), "al_rule",
                           default=[], container=f2, placeholder="全部规则")
    colleges = state.state_widget("multi", "二级党组织", sorted(df["college"].dropna().unique()), "al_college",
                              default=[], container=f3, placeholder="全部二级党组织")
    btype = state.state_widget("radio", "支部类型", ["all"] + c.type_ids(), "al_type", default="all", container=f4,
                           format_func=lambda t: "全部" if t == "all" else c.type_name(t), horizontal=True)
    for column, chosen in (("level", levels), ("rule_name", rules), ("college", colleges)):
        if chosen:
            df = df[df[column].isin(chosen)]
    return df if btype == "all" else df[df["branch_type"] == btype]


def evidence_section(period: str, row: pd.Series) -> None:
    """One alert: its evidence in words, the rows behind it and a way to its branch."""
    with st.container(border=True):
        st.subheader(f"{row['等级']}色预警：{md_text(row['支部'])} · {md_text(row['预警规则'])}", anchor=False)
        st.text(row["情况说明"])
        rows = c.scores("alerts.alert_evidence", period, row["支部编码"], row["规则编号"])
        shown = rows[[k for k in EVIDENCE_HEADERS if k in rows.columns]].rename(columns=EVIDENCE_HEADERS)
        shown = shown.dropna(axis=1, how="all")
        if shown.empty:
            st.caption("该预警没有对应的台账或统计数据行（例如本季度未报送，或全年尚未开展该项活动）。")
        else:
            st.caption(f"预警依据的数据行（共 {len(shown)} 行），来自该支部报送表：")
            st.dataframe(shown, hide_index=True, placeholder=tables.MISSING, width="stretch", height=tables.table_height(len(shown), 320),
                         key="al_evidence", column_config=tables.one_decimal(shown))
        if st.button("打开该支部画像", key="al_open_branch", icon=":material/account_tree:"):
            state.open_branch(period, row["二级党组织"], row["支部编码"])


def search(df: pd.DataFrame, q: str) -> pd.DataFrame:
    """The alerts whose branch, code, college, rule, item or 情况说明 contains `q` (case-insensitive)."""
    q = q.strip().casefold()
    if not q:
        return df
    text = (df["branch_name"].fillna("") + "\n" + df["branch_code"].fillna("") + "\n" + df["college"].fillna("")
            + "\n" + df["rule_name"].fillna("") + "\n" + df["item_id"].fillna("") + "\n" + df["evidence"].fillna(""))
    return df[text.str.casefold().str.contains(q, regex=False)]


def page_count(rows: int) -> int:
    return max(1, -(-rows // PAGE_ROWS))


@part
def alerts_list(period: str, view: pd.DataFrame) -> None:
    """The filtered alerts a page at a time (red first, as scoring.alerts orders them), the evidence of a ticked
    one and the downloads of all of them. Its own fragment: paging or ticking a row reruns only this part."""
    pages = page_count(len(view))
    key = f"al_page_{period}_{len(view)}"  # a new filter or search starts again at the first page
    number = st.number_input("页码", min_value=1, max_value=pages, value=1, step=1, key=key,
                             help=f"每页 {PAGE_ROWS} 条；红色预警在前") if pages > 1 else 1
    first = (int(number) - 1) * PAGE_ROWS
    table = alert_table(view.iloc[first:first + PAGE_ROWS])
    shown = f"第 {first + 1}–{first + len(table)} 条（第 {int(number)} / {pages} 页）" if pages > 1 else f"{len(table)} 条"
    st.caption(f"共 {len(view)} 条预警，红色在前；当前显示{shown}。勾选某一行可查看预警依据并打开该支部画像；"
               "下载的文件包含全部符合条件的预警。")
    event = st.dataframe(table, hide_index=True, placeholder=tables.MISSING, width="stretch",
                         height=tables.table_height(len(table)), key=f"al_table_{int(number)}",
                         on_select="rerun", selection_mode="single-row",
                         column_config={"情况说明": st.column_config.TextColumn("情况说明", width="large")})
    download_all(view, period)
    picked = event.selection.rows if event is not None else []
    if picked and 0 <= picked[0] < len(table):
        evidence_section(period, table.iloc[picked[0]])


def download_all(view: pd.DataFrame, period: str) -> None:
    """CSV and Excel of every alert of the filter (not just the page shown), built when clicked."""
    name = f"预警_{period}"
    row = st.container(horizontal=True, gap="small")
    whole = lambda: alert_table(view).drop(columns=["规则编号"])  # noqa: E731
    tables.download_later(row, "下载 CSV", lambda: export.csv_bytes(whole()), file_name=f"{name}.csv",
                          mime="text/csv", key="dl_alerts_csv", icon=":material/download:")
    tables.download_later(row, "下载 Excel", lambda: export.xlsx_bytes({name: whole()}), file_name=f"{name}.xlsx",
                          mime=tables.XLSX_MIME, key="dl_alerts_xlsx", icon=":material/table_view:")


def render() -> None:
    """The 预警 page body."""
    c.header("预警", "按《指标指南》中的预警规则，逐支部检查本季度应完成而未完成的事项（红色须督办，黄色须关注）")
    periods = c.scores("periods")
    if not c.period_options(periods):
        c.no_data()
        return
    period = c.period_select(periods, container=st.columns([1, 3])[0])
    df = c.scores("alerts.alerts", period)
    if df.empty:
        st.success(f"{c.period_label(period)} 没有触发任何预警。", icon=":material/task_alt:")
        return
    counts_section(period)
    st.subheader("预警明细", anchor=False)
    view = filters(df)
    q = st.text_input("搜索", key="al_q", placeholder="支部名称或编码、二级党组织、预警规则、考核要点或情况说明中的文字")
    view = search(view, q or "")
    if view.empty:
        st.info("没有符合筛选条件的预警。请放宽“等级”“预警规则”“二级党组织”“支部类型”的筛选或搜索的文字。",
                icon=":material/filter_alt_off:")
        return
    alerts_list(period, view)


c.require_entrypoint()
c.run_page(render)
