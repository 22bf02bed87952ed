"""督办整改: follow-up tasks with their 整改 status in the chosen quarter, filters, the 督办清单 download;
admins open tasks from the quarter's alerts and close them with a comment (pipelines.store.followup writes)."""
from __future__ import annotations

import sys
from pathlib import Path

if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st  # noqa: E402

from pages import access  # noqa: E402
from pages import common as c  # noqa: E402
from pages import tables  # noqa: E402
from pipelines.scoring import alerts  # noqa: E402
from pipelines.store import followup
from pipelines.store.actor import Actor  # noqa: E402


def _admin() -> Actor | None:
    return access.current_actor()


def open_form(period: str, admin: Actor) -> None:
    """Open a task from one of the quarter's alerts."""
    df = alerts.alerts(period, str(c.db_file()))
    if admin.scope is not None and not df.empty:  # a college admin opens tasks for its own branches only
        df = df[df["college"] == admin.scope].reset_index(drop=True)
    if df.empty:
        st.caption("本季度没有预警，无需开立督办。")
        return
    labels = [f"{r.branch_name}（{r.branch_code}）· {r.rule_name} · {r.level_label}" for r in df.itertuples()]
    with st.form("fu_open", clear_on_submit=True):
        pick = st.selectbox("预警", range(len(df)), format_func=labels.__getitem__, key="fu_alert")
        note = st.text_input("督办要求", key="fu_note")
        due = st.date_input("整改期限", value=None, key="fu_due")
        sent = st.form_submit_button("开立督办", type="primary")
    if sent:
        r = df.iloc[pick]
        try:
            task = followup.open_followup(period, branch_code=r["branch_code"], rule_id=r["rule_id"], note=note,
                                          due_date=due, db=str(c.db_file()), actor=admin)
        except (ValueError, PermissionError) as e:
            st.error(str(e))
        else:
            st.success(f"已开立督办任务 {task}。")


def close_form(df, admin: Actor) -> None:
    """Close an open task with a comment."""
    open_ = df[(df["state"] == followup.OPEN) & ((df["college"] == admin.scope) if admin.scope else True)]
    if open_.empty:
        return
    labels = {int(r.id): f"{r.id} · {r.branch_name or r.college} · {r.subject}" for r in open_.itertuples()}
    with st.form("fu_close", clear_on_submit=True):
        task = st.selectbox("督办任务", list(labels), format_func=labels.__getitem__, key="fu_task")
        comment = st.text_input("办结说明", key="fu_comment")
        sent = st.form_submit_button("办结")
    if sent:
        try:
            followup.close_followup(task, comment, str(c.db_file()), actor=admin)
        except (ValueError, PermissionError) as e:
            st.error(str(e))
        else:
            st.success(f"督办任务 {task} 已办结。")


def render() -> None:
    c.header("督办整改", "由预警开立的督办任务，按所选季度的数据核实整改情况。")
    periods = c.scores("periods")
    if not periods:
        c.no_data()
        return
    period = c.period_select(periods, key="fu_period")
    df = c.scores("followup.followups", period=period)
    colleges = sorted(set(df["college"]))
    college = st.selectbox("二级党组织", [None] + colleges, format_func=lambda x: x or "全校", key="fu_college")
    status = st.multiselect("整改情况", [followup.RESOLVED, followup.UNRESOLVED, followup.UNCHECKED], key="fu_status")
    shown = df[(df["college"] == college) if college else df["college"].notna()]
    if status:
        shown = shown[shown["status"].isin(status)]
    if shown.empty:
        st.info("暂无督办任务。", icon=":material/task_alt:")
    else:
        st.dataframe(followup.list_frame(shown), hide_index=True, placeholder=tables.MISSING, width="stretch")
    tables.download(st, "下载督办清单（Excel，可 A4 打印）",
               lambda: c.scores("followup.followup_workbook", period=period, college=college),  # once per data version
               file_name=followup.file_name(period, college), mime=tables.XLSX_MIME, key="fu_download",
               icon=":material/download:")
    admin = _admin()
    if not admin:
        st.caption("开立和办结督办任务需要管理员登录（见“数据上传”页面）。")
        return
    st.subheader("开立督办", anchor=False)
    open_form(period, admin)
    st.subheader("办结督办", anchor=False)
    close_form(df, admin)


c.require_entrypoint()
c.run_page(render)
