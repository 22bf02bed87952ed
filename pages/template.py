"""填报模板: the public page for branch secretaries (no sign-in; behind the view password when one is set).

The blank template of each branch type, a branch's pre-filled workbook and a college's pre-filled zip (from
the registry in the database), the deadline of the quarter being collected, what the guide asks of a branch
type that quarter (pipelines.workbook.checklist), how to fill in and the common mistakes (the template's own 使用说明
text, pipelines.workbook.template), plus the reminders most often raised by accepted workbooks when there are any.
"""
from __future__ import annotations

import datetime as dt
import sys
from io import BytesIO
from pathlib import Path

if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from pages import common as c  # noqa: E402
from pages import state  # noqa: E402
from pages import tables  # noqa: E402
from pages.text import md_text  # noqa: E402
from pipelines.workbook import prefilled
from pipelines.workbook.checklist import checklist  # noqa: E402
from pipelines.guide import guide  # noqa: E402
from pipelines.workbook.model import RegistryEntry  # noqa: E402
from pipelines.guide.period import Period  # noqa: E402
from pipelines.workbook.problems import CATALOGUE  # noqa: E402
from pipelines.workbook.template_text import guide_steps, mistakes  # noqa: E402
from pipelines.workbook.template import write_workbook  # noqa: E402

ZIP_MIME = "application/zip"
FREQUENT = 5  # reminders listed from the accepted workbooks


# ---- data ----------------------------------------------------------------------------------------
def registry() -> list[RegistryEntry]:
    """The branch registry stored in the database (common.scores: cached on the data version and, right after an
    upload, served from the previous version while the new one is computed, like every other page's reads)."""
    return c.scores("plan.registry_entries")


def deadline(period: str) -> dt.date | None:
    """The submission deadline an admin set for `period` (pipelines.scoring.alerts.deadlines), or None."""
    df = c.scores("alerts.deadlines")
    hit = df[df["period"] == period]
    return None if hit.empty else pd.Timestamp(hit["due_date"].iloc[0]).date()


def frequent_reminders() -> pd.DataFrame:
    """The reminders (warnings) most often raised by the accepted workbooks: code, files (errors are never
    stored: a refused workbook is not in the database)."""
    return c.query("SELECT code, count(DISTINCT submission_id) AS files FROM raw_problems "
                   "WHERE severity = 'warning' GROUP BY code ORDER BY files DESC, code LIMIT ?", FREQUENT)


def period_choices(today: dt.date | None = None) -> list[str]:
    """The quarter being collected (the latest ended one), the one in progress after it and the one before,
    latest first."""
    collected = Period.latest_completed(today)
    return [str(p) for p in (collected.next, collected, collected.previous)]


# ---- sections ------------------------------------------------------------------------------------
def deadline_box(period: str) -> None:
    """The deadline of the chosen quarter, with the days left; or that none is set yet."""
    label = c.period_label(period)
    due = deadline(period)
    if due is None:
        st.info(f"{label}的报送截止日期组织部尚未公布，请留意组织部通知。季度结束后即可填写报送。",
                icon=":material/event:")
        return
    days = (due - dt.date.today()).days
    when = f"{due.year} 年 {due.month} 月 {due.day} 日"
    if days < 0:
        st.warning(f"{label}的报送截止日期：**{when}**（已过 {-days} 天）。尚未报送的支部请尽快报送。",
                   icon=":material/event_busy:")
    else:
        left = "今天截止" if days == 0 else f"还有 {days} 天"
        st.success(f"{label}的报送截止日期：**{when}**（{left}）。", icon=":material/event_available:")


def blank_downloads(container) -> None:
    """One blank template per branch type."""
    g = guide()
    container.markdown("**空白模板**")
    container.caption("不含支部信息，适用于任何季度。")
    for t in g.branch_types:
        tables.download_later(container, f"{t.name}空白模板", lambda t=t.id: write_workbook(BytesIO(), t).getvalue(),
                         file_name=f"{t.name}季度填报模板.xlsx", mime=tables.XLSX_MIME, key=f"tpl_blank_{t.id}",
                         icon=":material/download:", width="stretch")


def prefilled_downloads(container, period: str) -> None:
    """A branch's pre-filled workbook, and a college's as one zip, from the registry."""
    container.markdown("**预填模板**（支部编码、名称、二级党组织、类型、年度和季度已按名册填好）")
    entries = registry()
    if not entries:
        container.info("组织部尚未导入支部名册，暂时不能下载预填模板，请先使用空白模板。", icon=":material/info:")
        return
    colleges = list(dict.fromkeys(e.college for e in prefilled.select(entries)))
    college = state.state_widget("select", "二级党组织", colleges, "tpl_college", container=container)
    mine = prefilled.select(entries, college)
    codes = [e.branch_code for e in mine]
    names = {e.branch_code: e.branch_name for e in mine}
    code = container.selectbox("支部", codes, key="tpl_branch", format_func=lambda k: f"{names[k]}（{k}）")
    entry = next(e for e in mine if e.branch_code == code)
    tables.download_later(container, "下载本支部预填模板",
                     lambda: prefilled.write_prefilled(BytesIO(), entry, period).getvalue(),
                     file_name=prefilled.prefilled_name(entry, period), mime=tables.XLSX_MIME, key="tpl_branch_file",
                     check=lambda: prefilled.check_period(period), icon=":material/download:", width="stretch")
    tables.download_later(container, f"下载{college}全部 {len(mine)} 个支部的预填模板（zip）",
                     lambda: prefilled.prefilled_zip(entries, period, college), file_name=prefilled.zip_name(period, college), mime=ZIP_MIME,
                     key="tpl_college_zip", check=lambda: prefilled.select(entries, college),
                     icon=":material/folder_zip:", width="stretch")


def as_markdown(lines: list[str]) -> str:
    """Guide-written lines as a Markdown list (their text escaped); '    · x' lines nest under the one before."""
    out = []
    for line in lines:
        text = line.strip()
        if not text:
            continue
        nested = line.startswith("    ")
        out.append(("    - " if nested else "- ") + md_text(text.lstrip("·").strip()))
    return "\n".join(out)


def checklist_section(period: str, branch_type: str) -> None:
    """What the guide asks of the branch type in the chosen quarter (pipelines.workbook.checklist)."""
    st.subheader(f"{c.period_label(period)}须完成的工作", anchor=False)
    st.caption(f"{c.type_name(branch_type)} · 根据指标指南（{guide().version}）自动生成，供逐项自查；"
               "全年任务列出全部，已完成的可略过。")
    st.markdown(as_markdown(checklist(branch_type, period)))


def how_to_fill(prefilled_first: bool) -> None:
    """The template's own 填写步骤 (pipelines.workbook.template.guide_steps)."""
    st.subheader("填写方法", anchor=False)
    st.markdown(as_markdown([text for text, _bold in guide_steps(guide(), prefilled_first)]))


def mistakes_section() -> None:
    """The guide's common mistakes, and the reminders accepted workbooks raised most often."""
    st.subheader("常见错误", anchor=False)
    st.caption("上传时系统会逐条指出所在工作表和单元格，并退回修改。")
    st.markdown(as_markdown(mistakes(guide())))
    seen = frequent_reminders()
    if not seen.empty:
        st.markdown("**近期报送中出现最多的提醒**（不影响报送，但请留意）")
        st.dataframe(pd.DataFrame({
            "提醒": [CATALOGUE[k].title if k in CATALOGUE else k for k in seen["code"]],
            "涉及报送表（份）": seen["files"].astype(int),
        }), hide_index=True, width="content")


def render() -> None:
    """The 填报模板 page body."""
    c.header("填报模板", "各支部下载季度填报表、对照本季度须完成的工作自查，并避开常见错误")
    top = st.columns([1, 1, 2])
    options = period_choices()
    period = state.state_widget("select", "填报季度", options, "tpl_period", default=options[1], container=top[0],
                            format_func=c.period_label)
    types = c.type_ids()
    branch_type = state.state_widget("select", "支部类型", types, "tpl_type", container=top[1], format_func=c.type_name)
    deadline_box(period)
    st.subheader("下载模板", anchor=False)
    left, right = st.columns([1, 2], gap="large")
    blank_downloads(left)
    prefilled_downloads(right, period)
    st.divider()
    a, b = st.columns(2, gap="large")
    with a:
        checklist_section(period, branch_type)
    with b:
        how_to_fill(bool(registry()))
    st.divider()
    mistakes_section()


c.require_entrypoint()
c.run_page(render)
