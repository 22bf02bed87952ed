"""数据上传 — the admin page: templates, batch upload (validate, preview, confirm), history and undo,
the branch registry and the audit log.

UI only. Choosing files makes one `pipelines.store.plan.plan(files, on_conflict="refuse", with_scores=True)`: each
file is read once, the plan (kept in the session, keyed by the files' SHA-256s and the data version, so a
rerun reads nothing again) holds the per-file results, the parsed workbooks, the scores before/after and the
branches still missing. Nothing is written before the confirm button, which calls
`pipelines.store.ingest.apply(plan, actor)` with those parsed workbooks. The history and registry tabs are in
pages/upload_history.py and pages/upload_registry.py. Every write gets the signed-in admin's Actor (name and
scope): a college admin's plan rejects other colleges' files, its history shows its own branches, and the
registry tab and the demo reset (school-wide writes) are not shown to it.
"""
from __future__ import annotations

import datetime as dt
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # pages run directly (AppTest) have only pages/ on the path
    sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from pages import access  # noqa: E402
from pages import common as c  # noqa: E402
from pages import tables  # noqa: E402
from pages.text import md_text  # noqa: E402
from pages.upload_history import audit_tab, history_tab  # noqa: E402
from pages.upload_registry import ACCEPTED_TYPES, REG_DONE_KEY, REG_PREVIEW_KEY, UPLOADER_STYLE, registry_tab  # noqa: E402
from pipelines.store import db as dbmod  # noqa: E402
from pipelines.store import sources  # noqa: E402
from pipelines.store.actor import Actor  # noqa: E402
from pipelines.store.changes import ChangePreview, change_preview  # noqa: E402
from pipelines.config import settings  # noqa: E402
from pipelines.guide import guide  # noqa: E402
from pipelines.guide.vocab import FileStatus, Severity  # noqa: E402
from pipelines.store.plan import Plan  # noqa: E402

XLSX_MIME = tables.XLSX_MIME

# Session-state keys
ROUND_KEY = "dj_upload_round"  # bumped after a commit, so the uploader starts empty
PREVIEW_KEY = "dj_upload_preview"  # the Plan of the chosen files
DONE_KEY = "dj_upload_done"
FRESH_KEY = "dj_fresh_done"  # the message after the demo data was set aside


_md = md_text  # user-supplied text (file names, branch names) inside a markdown message


WARNINGS = f"{Severity.WARNING.label}数"
RESULT_COLUMNS = ["文件", "支部编码", "季度", "结果", "错误数", WARNINGS, "逾期报送"]
PROBLEM_COLUMNS = {"file": "文件", "sheet": "工作表", "cell": "单元格", "message": "说明", "severity": "级别",
                   "value": "填写内容"}  # what a busy officer reads, in pipelines.store.plan.PROBLEM_COLUMNS order
DETAIL_COLUMNS = {"file": "文件", "sheet": "工作表", "cell": "单元格", "code": "问题代码", "sha256": "SHA-256"}


def results_frame(results: Sequence[Any], done: bool = False,
                  late: dict[tuple[str, str], str] | None = None, *, sha: bool = False) -> pd.DataFrame:
    """One row per file, rejected first (plan.report_order): 文件, 支部编码, 季度, 结果, 错误数, 提醒数, 逾期报送
    (`late`: plan.late_notes), and with `sha` the file's SHA-256. 结果 words the status as a preview (将新增 …)
    or, with `done`, as written (已新增 …)."""
    from pipelines.store.plan import report_order

    rows = []
    for r in report_order(results):
        errors = sum(p.severity == Severity.ERROR for p in r.problems)
        status = FileStatus(r.status)
        rows.append({
            "文件": r.file_name, "支部编码": r.branch_code or "", "季度": r.period or "",
            "结果": status.done if done else status.preview, "错误数": errors, WARNINGS: len(r.problems) - errors,
            "逾期报送": (late or {}).get((r.branch_code, r.period), ""), "SHA-256": r.sha256 or "",
        })
    return pd.DataFrame(rows, columns=RESULT_COLUMNS + (["SHA-256"] if sha else []))


def problems_frame(results: Sequence[Any], columns: dict[str, str] = PROBLEM_COLUMNS) -> pd.DataFrame:
    """Every problem of the batch (pipelines.store.plan.problem_rows: rejected files first, errors first in each),
    with `columns` renamed to Chinese: by default 文件, 工作表, 单元格, 说明, 级别, 填写内容."""
    from pipelines.store.plan import problem_rows

    rows = [{name: Severity.label_of(row[k]) if k == "severity" else row[k] for k, name in columns.items()}
            for row in problem_rows(results)]
    return pd.DataFrame(rows, columns=list(columns.values()))


def problems_workbook(results: Sequence[Any], late: dict[tuple[str, str], str] | None = None) -> bytes:
    """The problems and the per-file results as an .xlsx to send back to branches (cells as typed are inert)."""
    from pipelines.report import export

    return export.xlsx_bytes({"校验问题": problems_frame(results, PROBLEM_COLUMNS | {"code": "问题代码"}),
                              "文件结果": results_frame(results, late=late, sha=True)})


def return_notes(results: Sequence[Any]) -> list:
    """One 退回说明 per rejected branch (pipelines.report.return_note), named from the stored registry."""
    from pipelines.store import plan
    from pipelines.report import return_note

    registry = {e.branch_code: e for e in plan.registry_entries()}
    return return_note.return_notes(results, registry)


@st.cache_data(show_spinner=False, max_entries=8)
def _template_bytes(kind: str, guide_version: str) -> bytes:
    from pipelines.workbook import template

    with tempfile.TemporaryDirectory(prefix="dj_template_") as tmp:
        path = Path(tmp) / "template.xlsx"
        if kind == "registry":
            template.write_registry_workbook(path)
        else:
            template.write_workbook(path, kind)
        return path.read_bytes()



def _templates_section() -> None:
    gv = guide().version
    st.markdown("**下载空白模板**（下发给各支部填写；名册模板供组织部维护支部名单）")
    c1, c2, c3 = st.columns(3)
    for col, kind, label, fname in (
        (c1, "teacher", "教师党支部填报模板", "教师党支部季度填报模板.xlsx"),
        (c2, "student", "学生党支部填报模板", "学生党支部季度填报模板.xlsx"),
        (c3, "registry", "支部名册模板", "支部名册模板.xlsx"),
    ):
        col.download_button(label, data=_template_bytes(kind, gv), file_name=fname, mime=XLSX_MIME,
                            key=f"dj_tpl_{kind}", on_click="ignore", icon=":material/download:", width="stretch")


def plan_key(files: Sequence[tuple[str, bytes]]) -> tuple:
    """Identity of a batch against the current data: database, data version, file names and hashes."""
    path = dbmod.db_path()
    return (str(path), dbmod.data_version(path), tuple((name, sources.sha(data)) for name, data in files))


def _show_summary(done: dict) -> None:
    results = done["results"]
    counts = {s: sum(r.status == s for r in results) for s in FileStatus}
    st.success(
        f"写入完成（操作人：{_md(done['actor'])}，{done['at']}）：新增 {counts['accepted']} 份，"
        f"替换 {counts['replaced']} 份，无变化 {counts['unchanged']} 份"
        + (f"，写入时未通过 {counts['rejected']} 份" if counts["rejected"] else "")
        + (f"；另有 {done['rejected']} 份文件未通过校验，未写入" if done["rejected"] else "") + "。"
        + "所有页面在下次操作时即显示新数据。",
        icon=":material/check_circle:",
    )
    with st.expander("本次写入明细", expanded=False):
        st.dataframe(results_frame(results, done=True), hide_index=True, width="stretch")


def _demo_section(actor: Actor) -> None:
    """While demo data is loaded: one confirmed step to set it aside and start from an empty database
    (school-wide admins only)."""
    from pipelines.demo.build import ACTOR as DEMO_ACTOR

    if actor.scope is not None:
        return
    n = c.query("SELECT count(*) AS n FROM submissions WHERE uploaded_by = ?", DEMO_ACTOR)
    if int(n.at[0, "n"]) == 0:
        return
    real = int(c.query("SELECT count(*) AS n FROM submissions WHERE uploaded_by <> ?", DEMO_ACTOR).at[0, "n"])
    with st.container(border=True):
        st.markdown("**当前数据库含演示数据。** 开始使用真实数据前，请先清空演示数据："
                    "现有数据库和归档文件将整体移入数据库所在文件夹中的备份目录（不会删除），看板从空白开始；"
                    "随后在“支部名册”中上传本校支部名册，再在此上传各支部报送表。")
        if real:
            st.warning(f"数据库中还有 **{real} 份管理员上传的报送**（非演示数据），清空时会和演示数据一起移入备份，"
                       "看板上不再显示，需要重新上传。", icon=":material/warning:")
        sure = st.checkbox("我已了解：清空后看板将暂无数据，直到上传真实数据", key="dj_fresh_sure")
        sure_real = st.checkbox(f"我确认这 {real} 份已上传的报送也一并移走", key="dj_fresh_sure_real") if real else True
        if st.button("清空演示数据，开始使用真实数据", key="dj_fresh", disabled=not (sure and sure_real),
                     icon=":material/restart_alt:"):
            _start_fresh(actor)


def _start_fresh(actor: Actor) -> None:
    from pipelines.store import versions

    ok, backup = c.guarded(lambda: versions.start_fresh(actor=actor), "清空演示数据")
    if not ok:
        return
    for key in ("dj_fresh_sure", "dj_fresh_sure_real", DONE_KEY, PREVIEW_KEY, REG_PREVIEW_KEY, REG_DONE_KEY):
        st.session_state.pop(key, None)  # nothing from before the clear is shown as if it were current
    st.session_state[ROUND_KEY] = st.session_state.get(ROUND_KEY, 0) + 1
    st.session_state[FRESH_KEY] = (f"已清空演示数据，原数据库与归档已备份到数据库所在文件夹中的 {_md(backup.name)}。"
                                   "请先在“支部名册”中上传本校支部名册。")
    st.rerun()


def _plan(files: list[tuple[str, bytes]], scope: str | None) -> Plan | None:
    """The plan of the chosen files for this account's scope: made once per batch, data version and scope,
    kept in the session."""
    from pipelines.store import plan

    key = (plan_key(files), scope)
    cached = st.session_state.get(PREVIEW_KEY)
    if cached is not None and cached[0] == key:
        return cached[1]
    bar = st.progress(0.0, text=f"正在校验 {len(files)} 个文件…")

    def progress(done: int, total: int, name: str) -> None:
        bar.progress(done / max(total, 1), text=f"正在校验 {done}/{total}：{_md(name)}")

    ok, made = c.guarded(lambda: plan.plan(files, on_conflict="refuse", with_scores=True, progress=progress,
                                                   scope=scope),
                         "校验")
    bar.empty()
    if not ok:
        return None
    st.session_state[PREVIEW_KEY] = (key, made)
    return made


def _max_mb() -> str:
    return f"{guide().limits.max_file_mb:g}"


def _deadline_caption() -> None:
    """The deadline of the quarter being collected now (set on 报送进度; alerts.deadline_status)."""
    from pipelines.guide.period import Period

    period = str(Period.latest_completed(dt.date.today()))
    status = c.scores("alerts.deadline_status", period, today=dt.date.today())
    due, left = c.deadline_text(status)
    if status["due_date"] is None:
        st.caption(f"{c.period_label(period)}报送截止日期：未设置（可在“报送进度”页面设置）。")
    else:
        st.caption(f"{c.period_label(period)}报送截止日期：{due}（{left}）。截止后首次上传的报送将标注“逾期报送”。")


def _upload_tab(actor: Actor) -> None:
    if FRESH_KEY in st.session_state:
        st.success(st.session_state.pop(FRESH_KEY), icon=":material/check_circle:")
    _demo_section(actor)
    _templates_section()
    st.divider()
    summary = st.container()  # the last commit's summary, above the (now empty) uploader
    limit = settings().max_upload_files
    round_no = st.session_state.setdefault(ROUND_KEY, 0)
    _deadline_caption()
    st.caption(f"只接受 .xlsx（Excel 工作簿），每个文件不超过 {_max_mb()} MB，一次最多 {limit} 个；"
               "可把文件拖到下面的框内，或点击“选择文件”。")
    st.html(UPLOADER_STYLE)
    uploaded = st.file_uploader(
        f"选择各支部的季度填报表（.xlsx，可一次选择多个，最多 {limit} 个）",
        type=ACCEPTED_TYPES, accept_multiple_files=True, key=f"dj_uploader_{round_no}",
        help="选择文件后系统先逐一校验并显示结果，点击“确认写入”之前不会写入任何数据。"
             "其他格式（.xls、WPS、CSV 等）也可选择，系统会说明如何另存为 .xlsx。",
    )
    if not uploaded:
        st.session_state.pop(PREVIEW_KEY, None)
        done = st.session_state.get(DONE_KEY)
        if done:
            with summary:
                _show_summary(done)
        st.caption("尚未选择文件。")
        return
    st.session_state.pop(DONE_KEY, None)  # a new batch: the previous summary is history
    if len(uploaded) > limit:
        st.error(f"一次最多上传 {limit} 个文件，当前选择了 {len(uploaded)} 个。请分批上传。")
        return
    the_plan = _plan([(f.name, f.getvalue()) for f in uploaded], actor.scope)
    if the_plan is None:
        return
    _preview_section(the_plan.results)
    _confirm_section(the_plan, actor)


def _preview_section(results: Sequence[Any]) -> None:
    from pipelines.store import plan

    st.subheader("校验结果", anchor=False)
    cols = st.columns(4)
    for col, status in zip(cols, (FileStatus.REJECTED, FileStatus.ACCEPTED, FileStatus.REPLACED, FileStatus.UNCHANGED)):
        col.metric(status.preview, sum(r.status == status for r in results))
    ok, late = c.guarded(lambda: plan.late_notes(results), "核对报送截止日期")
    late = late or {}
    for note in late.values():
        st.warning(note, icon=":material/schedule:")
    st.dataframe(results_frame(results, late=late), hide_index=True, width="stretch", key="dj_results_table",
                 column_config={"逾期报送": st.column_config.TextColumn(width="medium")})
    _problems_section(results)
    _downloads_section(results, late)


def _problems_section(results: Sequence[Any]) -> None:
    problems = problems_frame(results)
    if problems.empty:
        st.success("所有文件均未发现问题。", icon=":material/check:")
        return
    error, warning = Severity.ERROR.label, Severity.WARNING.label
    n_err = int((problems["级别"] == error).sum())
    st.markdown(f"**校验问题**：{error} {n_err} 条（文件未通过，不会写入），{warning} {len(problems) - n_err} 条"
                "（可写入，请支部核实）。未通过的文件排在最前。")
    show = st.radio("显示", ["全部", f"仅{error}", f"仅{warning}"], horizontal=True, key="dj_problem_filter",
                    label_visibility="collapsed")
    keep = problems["级别"] == (error if show == f"仅{error}" else warning) if show != "全部" else problems["级别"].notna()
    st.dataframe(problems[keep], hide_index=True, width="stretch", key="dj_problems_table",
                 column_config={"文件": st.column_config.TextColumn(width="small"),
                                "工作表": st.column_config.TextColumn(width="small"),
                                "单元格": st.column_config.TextColumn(width="small"),
                                "说明": st.column_config.TextColumn(width="large")})
    with st.expander("技术信息（问题代码、文件 SHA-256，供系统维护人员排查）"):
        st.dataframe(problems_frame(results, DETAIL_COLUMNS)[keep], hide_index=True, width="stretch",
                     key="dj_problem_codes_table")


def _downloads_section(results: Sequence[Any], late: dict) -> None:
    """One 退回说明 per rejected branch (all in a zip, or one by one) and the combined 校验结果 workbook."""
    from pipelines.report import return_note

    today = f"{dt.date.today():%Y%m%d}"
    notes: list = []
    if any(r.status == "rejected" for r in results):
        notes = c.guarded(lambda: return_notes(results), "生成退回说明")[1] or []
    row = st.container(horizontal=True, gap="small")
    if notes:
        tables.download(row, f"下载退回说明（{len(notes)} 个支部，zip）", lambda: return_note.notes_zip(notes),
                   file_name=f"退回说明_{today}.zip", mime="application/zip", key="dj_return_zip",
                   icon=":material/folder_zip:", type="primary")
    tables.download(row, "下载校验结果（Excel，全部文件）", lambda: problems_workbook(results, late),
               file_name=f"校验结果_{today}.xlsx", mime=XLSX_MIME, key="dj_problems_download",
               icon=":material/download:")
    if notes:
        with st.expander("逐个下载退回说明（每个未通过的支部一份，A4 可打印，可直接转发给支部）",
                         expanded=len(notes) <= 6):
            for i, note in enumerate(notes):
                tables.download(st, _md(note.file_name), lambda note=note: note.data, file_name=note.file_name,
                           mime=XLSX_MIME, key=f"dj_return_note_{i}", icon=":material/description:")


def _changes_section(cp: ChangePreview) -> None:
    st.subheader("写入后的变化", anchor=False)
    c1, c2, c3 = st.columns(3)
    c1.metric("新增支部季度", len(cp.new))
    c2.metric("替换支部季度", len(cp.replaced))
    c3.metric("写入后仍未报送的支部", len(cp.missing))
    if len(cp.new):
        with st.expander(f"新增的支部季度（{len(cp.new)}）", expanded=len(cp.new) <= 20):
            st.dataframe(cp.new, hide_index=True, width="stretch", key="dj_new_table")
    if len(cp.replaced):
        st.markdown("**将被替换的支部季度**（新总分按新文件在数据库副本中试算，确认前不影响正式数据）")
        st.dataframe(cp.replaced, hide_index=True, width="stretch", key="dj_replaced_table",
                     column_config={c: st.column_config.NumberColumn(format="%.1f") for c in ("原总分", "新总分", "变化")})
    if len(cp.missing):
        with st.expander(f"写入后仍未报送的支部（{len(cp.missing)}）", expanded=False):
            st.dataframe(cp.missing, hide_index=True, width="stretch", key="dj_missing_table")


def _confirm_section(the_plan: Plan, actor: Actor) -> None:
    ok, cp = c.guarded(lambda: change_preview(the_plan), "计算变化预览")
    if not ok:
        return
    _changes_section(cp)
    todo = the_plan.writable()
    if not todo:
        st.info("没有需要写入的文件（全部未通过校验或与已导入的版本相同）。", icon=":material/info:")
        return
    rejected = len(the_plan.of_status("rejected"))
    note = f"；{rejected} 个未通过校验的文件不会写入" if rejected else ""
    st.caption(f"将写入 {len(todo)} 个文件（每个文件单独提交，互不影响）{note}。写入过程中请勿操作本页面；"
               "如被打断，重新上传并确认即可，已写入的文件会显示为“无变化”，不会重复写入。")
    if st.button(f"确认写入 {len(todo)} 个文件", type="primary", key="dj_upload_confirm", icon=":material/save:"):
        _write(the_plan, actor, rejected)


def _write(the_plan: Plan, actor: Actor, rejected: int) -> None:
    from pipelines.store import ingest

    bar = st.progress(0.0, text="正在写入…")

    def progress(done: int, total: int, name: str) -> None:
        bar.progress(done / max(total, 1), text=f"正在写入 {done}/{total}" + (f"：{_md(name)}" if name else ""))

    ok, results = c.guarded(lambda: ingest.apply(the_plan, actor, progress=progress), "写入")
    if not ok:
        st.info("已写入的文件不会重复写入：稍后再次点击确认即可继续。")
        st.session_state.pop(PREVIEW_KEY, None)  # statuses changed; plan again on the next run
        return
    planned = {id(r) for r in the_plan.writable()}
    written = [done for r, done in zip(the_plan.results, results) if id(r) in planned]
    st.session_state[DONE_KEY] = {"results": written, "actor": actor.name, "rejected": rejected,
                                  "at": dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")}
    st.session_state[ROUND_KEY] = st.session_state.get(ROUND_KEY, 0) + 1
    st.session_state.pop(PREVIEW_KEY, None)
    st.rerun()


def render() -> None:
    """The page body: sign-in gate, then the four tabs."""
    st.title("数据上传", anchor=False)
    st.caption("组织部管理员上传各支部季度填报表、查看报送记录、回退版本和维护支部名册。")
    actor = access.signed_in_actor()
    if actor is None:
        return
    names = ["上传报送", "报送记录与撤回"] + (["支部名册"] if actor.scope is None else []) + ["操作日志"]
    tabs = dict(zip(names, st.tabs(names)))
    with tabs["上传报送"]:
        _upload_tab(actor)
    with tabs["报送记录与撤回"]:
        history_tab(actor)
    if "支部名册" in tabs:  # the registry is school-wide: not offered to a college admin
        with tabs["支部名册"]:
            registry_tab(actor)
    with tabs["操作日志"]:
        audit_tab()


if __name__ == "__main__":  # Streamlit runs pages as __main__; tests may import the functions
    c.require_entrypoint()
    c.run_page(render)
