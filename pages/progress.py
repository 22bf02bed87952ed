"""报送进度（催报）: each college's submissions of a quarter against the registry and the deadline, and the
branches still missing with whom to call; a signed-in admin sets the quarter's deadline here."""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from pages import access  # noqa: E402
from pages import common as c  # noqa: E402
from pages import charts  # noqa: E402
from pages import state  # noqa: E402
from pages import tables  # noqa: E402
from pages.text import md_text, plot_text  # noqa: E402
from pipelines.store import versions  # noqa: E402
from pipelines.store import db as dbmod  # noqa: E402


def deadline_form(period: str, status: dict) -> None:
    """The deadline setter, for a signed-in admin only (versions.set_deadline audits and journals the change)."""
    admin = access.current_actor()  # name and scope: a college admin may not set the school-wide deadline
    if not admin or admin.scope is not None:
        st.caption("报送截止日期由组织部（全校）管理员设置：请先在“数据上传”页面登录，再回到本页设置。")
        return
    with st.expander("设置本季度报送截止日期（管理员）", icon=":material/event:"):
        due = st.date_input("报送截止日期", value=status["due_date"] or dt.date.today(), key="pg_due",
                            format="YYYY-MM-DD")
        row = st.container(horizontal=True)
        if row.button("保存截止日期", key="pg_save_due", type="primary"):
            _write_deadline(period, due, admin, f"{c.period_label(period)} 报送截止日期已设为 {due.isoformat()}。")
        if status["due_date"] is not None and row.button("清除截止日期", key="pg_clear_due"):
            _write_deadline(period, None, admin, f"{c.period_label(period)} 报送截止日期已清除。")
    flash = st.session_state.pop("pg_flash", None)
    if flash:
        st.success(flash, icon=":material/check_circle:")


def _write_deadline(period: str, due: dt.date | None, admin: access.Actor, done: str) -> None:
    try:
        versions.set_deadline(period, due, actor=admin)
    except dbmod.DatabaseBusy:
        st.warning("数据库正忙，截止日期未保存，请稍后重试。", icon=":material/hourglass_top:")
        return
    st.session_state["pg_flash"] = done
    st.rerun()


def progress_section(period: str, progress: pd.DataFrame) -> None:
    """Per college: submitted / expected as bars (lowest first) and a table whose rows open the college."""
    colleges = progress[progress["scope"] == "college"].reset_index(drop=True)
    st.subheader("各二级党组织报送进度", anchor=False)
    charts.show(charts.hbar(list(map(plot_text, colleges["college"])), c.scoring.shown_percent(colleges["share"]), xmax=100,
                  text=[f"{int(s)}/{int(e)}（{tables.fmt_pct(r)}）" for s, e, r in
                        zip(colleges["submitted"], colleges["expected"], colleges["share"])],
                  hover=list(map(plot_text, colleges["college"])), xtitle="已报送占比（%）"), key="pg_bars")
    table = pd.DataFrame({"二级党组织": colleges["college"], "应报送": colleges["expected"],
                          "已报送": colleges["submitted"], "未报送": colleges["missing"],
                          "报送率": colleges["share"].map(tables.fmt_pct)})
    event = st.dataframe(table, hide_index=True, placeholder=tables.MISSING, width="stretch", height=tables.table_height(len(table), 360),
                         key="pg_colleges", on_select="rerun", selection_mode="single-row")
    st.caption("勾选某一行可打开该二级党组织画像。")
    tables.download_buttons(table, f"报送进度_{period}", "dl_progress")
    if event is not None and event.selection.rows:
        state.open_college(period, table.iloc[event.selection.rows[0]]["二级党组织"])


def missing_section(period: str) -> None:
    """The branches still missing, with their secretary and phone, to call."""
    st.subheader("未报送支部及联系人", anchor=False)
    miss = c.scores("missing_contacts", period)
    if miss.empty:
        st.success(f"{c.period_label(period)} 名册中的全部支部均已报送。", icon=":material/task_alt:")
        return
    table = pd.DataFrame({
        "二级党组织": miss["college"], "支部名称": miss["branch_name"], "支部编码": miss["branch_code"],
        "类型": miss["branch_type"].map(c.type_name), "书记": miss["secretary_name"].fillna("—"),
        "联系电话": miss["phone"].fillna("—"),
    })
    st.caption(f"共 {len(table)} 个支部尚未报送。书记姓名、联系电话来自支部名册（名册未填书记时取该支部最近一次报送表中的书记）；"
               "可在“数据上传 → 支部名册”补充。")
    st.dataframe(table, hide_index=True, placeholder=tables.MISSING, width="stretch", height=tables.table_height(len(table), 420), key="pg_missing")
    tables.download_buttons(table, f"未报送支部联系人_{period}", "dl_missing_contacts")


def render() -> None:
    """The 报送进度 page body."""
    c.header("报送进度", "本季度各二级党组织的报送情况、截止日期和未报送支部的联系人，便于催报")
    periods = c.scores("periods")
    options = c.period_options(periods)
    if not options:
        c.no_data()
        return
    period = c.period_select(periods, container=st.columns([1, 3])[0])
    progress = c.scores("submission_progress", period)
    status = c.scores("alerts.deadline_status", period, today=dt.date.today())
    due, left = c.deadline_text(status)
    if progress.empty:
        st.info("尚未导入支部名册，无法统计报送进度。请在“数据上传”页面导入本校支部名册。", icon=":material/inbox:")
        deadline_form(period, status)
        return
    school = progress[progress["scope"] == "school"].iloc[0]
    cols = st.columns(4)
    cols[0].metric("已报送 / 应报送", f"{int(school['submitted'])} / {int(school['expected'])}", border=True)
    cols[1].metric("报送率", tables.fmt_pct(school["share"]), border=True)
    cols[2].metric("报送截止日期", due, border=True,
                   help=f"由 {md_text(status['set_by'])} 设置" if status["set_by"] else "尚未设置")
    cols[3].metric("距截止", left, border=True)
    deadline_form(period, status)
    progress_section(period, progress)
    missing_section(period)


c.require_entrypoint()
c.run_page(render)
