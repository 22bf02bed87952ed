"""数据上传 page, tabs 报送记录与撤回 and 操作日志: the submissions, rollback / withdraw, the archived
originals and the audit log. UI only: the writes are pipelines.store.versions'."""
from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from pages import access
from pages import common as c
from pages.text import md_text as _md
from pipelines.store.actor import Actor, branches_in_scope
from pipelines.config import settings
from pipelines.guide.vocab import AuditAction, SubmissionStatus

FLASH_KEY = "dj_upload_flash"
SUBMISSIONS_SQL = """
SELECT s.submission_id, s.branch_code, coalesce(r.branch_name, i.branch_name) AS branch_name, s.period,
       s.version, s.file_name, s.sha256, s.uploaded_at, s.uploaded_by, s.status
FROM submissions s
LEFT JOIN raw_info i USING (submission_id)
LEFT JOIN registry r ON r.branch_code = s.branch_code
ORDER BY s.uploaded_at DESC, s.submission_id DESC
"""


def _period_label(period: Any) -> str:
    return c.period_label(period) if period else "—"


def flash(kind: str, text: str) -> None:
    """A message shown once after the rerun that follows an action."""
    st.session_state[FLASH_KEY] = (kind, text)


def _show_flash() -> None:
    shown = st.session_state.pop(FLASH_KEY, None)
    if shown:
        getattr(st, shown[0])(shown[1])


def _unconfirm() -> None:
    """Untick the rollback / withdraw confirmation."""
    st.session_state.pop("dj_undo_sure", None)


def _filtered(subs: pd.DataFrame) -> pd.DataFrame:
    periods = sorted(subs["period"].unique(), reverse=True)
    c1, c2 = st.columns([1, 2])
    period = c1.selectbox("季度", ["全部"] + periods, key="dj_hist_period",
                          format_func=lambda p: p if p == "全部" else _period_label(p))
    text = c2.text_input("按支部编码或名称筛选", key="dj_hist_filter", placeholder="例如：JX01 或 机械")
    view = subs if period == "全部" else subs[subs["period"] == period]
    if text:
        t = text.strip()
        view = view[view["branch_code"].str.contains(t, case=False, regex=False)
                    | view["branch_name"].fillna("").str.contains(t, case=False, regex=False)]
    return view


def _history_table(view: pd.DataFrame) -> None:
    table = pd.DataFrame({
        "支部编码": view["branch_code"], "支部名称": view["branch_name"], "季度": view["period"],
        "版本": view["version"], "文件名": view["file_name"], "SHA-256": view["sha256"].str[:12],
        "上传时间": view["uploaded_at"], "上传人": view["uploaded_by"],
        "状态": view["status"].map(SubmissionStatus.label_of),
    })
    st.caption(f"共 {len(table)} 条报送记录")
    st.dataframe(table, hide_index=True, width="stretch", key="dj_history_table",
                 column_config={"上传时间": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")})


def _undo_targets(view: pd.DataFrame) -> tuple[dict[str, str], dict, set]:
    """(label per "code|period" option, current version per branch-quarter, branch-quarters with an earlier one)."""
    groups = (view.groupby(["branch_code", "period"], sort=False)
              .agg(name=("branch_name", "first"), versions=("version", "max")).reset_index())
    current = {(r.branch_code, r.period): int(r.version) for r in view[view["status"] == "current"].itertuples()}
    earlier = {(r.branch_code, r.period) for r in view[view["status"] == "superseded"].itertuples()
               if (r.branch_code, r.period) in current and r.version < current[(r.branch_code, r.period)]}
    labels = {}
    for r in groups.itertuples():
        cur = current.get((r.branch_code, r.period))
        labels[f"{r.branch_code}|{r.period}"] = (
            f"{r.branch_code} {r.name or ''} · {_period_label(r.period)} · 共 {r.versions} 版，"
            + (f"当前第 {cur} 版" if cur else "当前无有效版本（已撤回）"))
    return labels, current, earlier


def _rollback(branch: str, per: str, actor: Actor) -> None:
    from pipelines.store import versions

    ok, sub_id = c.guarded(lambda: versions.rollback(branch, per, actor=actor), "版本回退")
    if not ok:
        return
    if sub_id is None:
        flash("warning", f"{_md(branch)} {_period_label(per)} 没有可回退的更早版本（或当前已撤回），未做任何修改。")
    else:
        ver = c.query("SELECT version FROM submissions WHERE submission_id = ?", int(sub_id))
        v = int(ver["version"].iloc[0]) if len(ver) else "?"
        flash("success", f"已将 {_md(branch)} {_period_label(per)} 回退到第 {v} 版。")
    _unconfirm()  # each action needs its own tick
    st.rerun()


def _withdraw(branch: str, per: str, actor: Actor) -> None:
    from pipelines.store import versions

    ok, sub_id = c.guarded(lambda: versions.withdraw(branch, per, actor=actor), "撤回")
    if not ok:
        return
    flash("success" if sub_id is not None else "warning",
          f"已撤回 {_md(branch)} {_period_label(per)} 的报送，该支部本季度视为未报送。" if sub_id is not None
          else f"{_md(branch)} {_period_label(per)} 当前没有有效版本，未做任何修改。")
    _unconfirm()
    st.rerun()


def _undo_section(view: pd.DataFrame, actor: Actor) -> None:
    st.subheader("回退或撤回", anchor=False)
    labels, current, earlier = _undo_targets(view)
    choice = st.selectbox("选择支部季度", list(labels), key="dj_undo_target", format_func=lambda o: labels.get(o, o),
                          on_change=_unconfirm)  # a tick given for one branch-quarter does not carry over
    if not choice:
        return
    branch, per = choice.split("|", 1)
    can_rollback, can_withdraw = (branch, per) in earlier, (branch, per) in current
    if not can_rollback:
        st.caption("该支部季度没有可回退的更早版本。" if can_withdraw else "该支部季度当前没有有效版本。")
    if can_withdraw:
        st.caption("撤回后该支部本季度视为未报送，无法在本页恢复；如需恢复，请重新上传该支部本季度的报送表。")
    sure = st.checkbox("我已核对，确认执行此操作（操作会记录在操作日志中）", key="dj_undo_sure")
    b1, b2 = st.columns(2)
    if b1.button("回退到上一版本", key="dj_rollback", disabled=not (sure and can_rollback),
                 icon=":material/undo:", width="stretch"):
        _rollback(branch, per, actor)
    if b2.button("撤回该季度报送", key="dj_withdraw", disabled=not (sure and can_withdraw),
                 icon=":material/block:", width="stretch"):
        _withdraw(branch, per, actor)


def _download_section(view: pd.DataFrame) -> None:
    st.subheader("下载原始文件", anchor=False)
    file_labels = {r.submission_id: f"{r.file_name} · {r.branch_code} · {r.period} · 第 {r.version} 版"
                   for r in view.itertuples()}
    sid = st.selectbox("选择报送版本", list(view["submission_id"]), key="dj_archive_pick",
                       format_func=lambda s: file_labels.get(s, s))
    if sid is not None:
        _archive_download(view[view["submission_id"] == sid].iloc[0])


def history_tab(actor: Actor) -> None:
    """报送记录与撤回: the submissions (filtered; a college admin's own branches only), rollback / withdraw, the
    archived originals."""
    _show_flash()
    subs = c.query(SUBMISSIONS_SQL)
    if actor.scope is not None and not subs.empty:
        subs = subs[subs["branch_code"].isin(branches_in_scope(actor, subs["branch_code"].unique(), c.db_file()))]
    if subs.empty:
        st.info("还没有任何报送记录。")
        return
    view = _filtered(subs)
    _history_table(view)
    _undo_section(view, actor)
    _download_section(view)


def _archive_download(row: Any) -> None:
    """A link to one archived original, served by serve.py's route to this signed-in session only
    (pages.archive_links), never through Streamlit's media store: its URL dies at sign-out, when the
    browser disconnects, and `archive_link_ttl_s` after its first download."""
    from pages import archive_links
    from pipelines.store import journal

    if not archive_links.mounted():
        st.warning(archive_links.NOT_MOUNTED_MESSAGE)
        return
    try:
        journal.archived_file(row["sha256"])
    except FileNotFoundError:
        st.warning("该版本的原始文件在归档中不存在（可能已被手工删除）。")
        return
    token = archive_links.LINKS.issue(access.session_id(), str(row["sha256"]), str(row["file_name"]))
    st.link_button("下载该版本的原始文件", archive_links.url(token), key="dj_archive_download",
                   icon=":material/download:")
    ttl = settings().archive_link_ttl_s
    st.caption(f"下载链接只在本次登录中有效：退出登录或关闭浏览器即失效，首次下载 {ttl:g} 秒后也会失效"
               "（在本页任意操作后会换上新链接）。")


def audit_tab() -> None:
    """操作日志: the latest 2000 audit rows, filtered by actor."""
    log_df = c.query("SELECT logged_at, actor, action, detail FROM audit_log ORDER BY logged_at DESC, rowid DESC "
                     "LIMIT 2000")
    if log_df.empty:
        st.info("暂无操作记录。")
        return
    actors = ["全部"] + sorted(log_df["actor"].unique())
    who = st.selectbox("操作人", actors, key="dj_audit_actor")
    if who != "全部":
        log_df = log_df[log_df["actor"] == who]
    st.dataframe(pd.DataFrame({
        "时间": log_df["logged_at"], "操作人": log_df["actor"],
        "操作": log_df["action"].map(AuditAction.label_of), "详情": log_df["detail"],
    }), hide_index=True, width="stretch", key="dj_audit_table",
        column_config={"时间": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")})
    st.caption("最近 2000 条记录。")
