"""数据上传 — the admin page: templates, batch upload (validate, preview, confirm), history and undo,
the branch registry and the audit log.

Nothing is written before the confirm button. The flow is plain functions on (file name, bytes) pairs —
`preview_batch` → `change_preview` → `commit_batch` — that the page calls with the uploader's files.

Scores before/after a re-submission are computed on a private copy of the database: the database file is
copied into a temporary folder under the database lock (so no writer is mid-transaction), the replaced
files are read and saved into the copy with the same reader and store code ingest uses (but without its
archive and manifest, which belong to the real database), and the copy is scored with the same scoring
code. The real database, archive and manifest are untouched until confirm. Only replaced files go into the
copy (new branch-quarters have no "before"), so uploading a whole new quarter costs no extra work.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # pages run directly (AppTest) have only pages/ on the path
    sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from pages import access  # noqa: E402
from pages import common as c  # noqa: E402
from pages.text import md_text  # noqa: E402
from pipelines import auth  # noqa: E402
from pipelines import db as dbmod  # noqa: E402
from pipelines.config import settings  # noqa: E402
from pipelines.guide import guide  # noqa: E402

log = logging.getLogger("dangjian.upload")

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BUSY_MESSAGE = "数据库正忙（其他管理员或命令行正在写入），请稍后再试。本次操作未写入任何数据。"

# Only .xlsx is read, but the picker also offers the formats secretaries save by mistake: the validator then
# says in Chinese how to convert them, instead of the browser's English "files are not allowed".
ACCEPTED_TYPES = ["xlsx", "xls", "et", "csv", "ods", "xlsm"]
PREVIEW_LABELS = {"accepted": "将新增", "replaced": "将替换", "unchanged": "无变化", "rejected": "未通过"}
DONE_LABELS = {"accepted": "已新增", "replaced": "已替换", "unchanged": "无变化（已存在）", "rejected": "未通过"}
SEVERITY_LABELS = {"error": "错误", "warning": "警告"}
SUBMISSION_LABELS = {"current": "当前版本", "superseded": "已被替换", "rolled_back": "已回退", "withdrawn": "已撤回"}
ACTION_LABELS = {
    "sign_in": "登录", "sign_out": "退出登录", "ingest": "导入报送", "upload": "上传报送", "replace": "替换报送",
    "rollback": "版本回退", "withdraw": "撤回报送", "registry": "更新支部名册", "load_registry": "更新支部名册",
    "rebuild": "重建数据库", "start_fresh": "清空演示数据",
}

# Session-state keys
ROUND_KEY = "dj_upload_round"  # bumped after a commit, so the uploader starts empty
PREVIEW_KEY = "dj_upload_preview"
DONE_KEY = "dj_upload_done"
REG_ROUND_KEY = "dj_registry_round"
REG_PREVIEW_KEY = "dj_registry_preview"
REG_DONE_KEY = "dj_registry_done"
FLASH_KEY = "dj_upload_flash"
FRESH_KEY = "dj_fresh_done"  # the message after the demo data was set aside


def _period_label(period: Any) -> str:
    return c.period_label(period) if period else "—"


_md = md_text  # user-supplied text (file names, branch names) inside a markdown message


# ---- the upload flow, as functions on (file name, bytes) pairs ---------------------------------------

@dataclass
class BatchPreview:
    """What a batch would do: one FileResult per file (from ingest.preview), and the files themselves."""

    key: tuple
    files: list[tuple[str, bytes]]
    results: list[Any]

    def of_status(self, *statuses: str) -> list[Any]:
        """Results with any of `statuses`."""
        return [r for r in self.results if r.status in statuses]

    def writable(self) -> list[tuple[str, bytes]]:
        """(name, bytes) of the files the confirm button writes: accepted and replaced ones, in upload order."""
        ok = {id(r) for r in self.of_status("accepted", "replaced")}
        return [f for f, r in zip(self.files, self.results) if id(r) in ok]


def batch_key(files: Sequence[tuple[str, bytes]], db=None) -> tuple:
    """Identity of a batch against the current data: file names and hashes plus the database's data version."""
    return (str(dbmod.db_path(db)), dbmod.data_version(db),
            tuple((name, hashlib.sha256(data).hexdigest()) for name, data in files))


def preview_batch(files: Sequence[tuple[str, bytes]], db=None, key: tuple | None = None,
                  progress: Callable[[int, int, str], None] | None = None) -> BatchPreview:
    """Validate a batch without writing anything (ingest.preview, which also notes files of the batch that
    repeat each other or the same branch-quarter)."""
    from pipelines import ingest

    files = list(files)
    results = list(ingest.preview(files, db=db, progress=progress)) if files else []
    return BatchPreview(key or batch_key(files, db), files, refuse_conflicts(results))


def refuse_conflicts(results: list[Any]) -> list[Any]:
    """Two different files for one branch-quarter in one upload: neither is written.

    ingest (and the CLI) would keep the later one, but on this page the order is only the order in which the
    files were picked, so which version wins would be an accident. The uploader keeps the right one and
    uploads again. Files identical to another file of the batch stay "unchanged" (harmless).
    """
    from pipelines.model import Problem

    groups: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(results):
        if r.status in ("accepted", "replaced"):
            groups.setdefault((r.branch_code, r.period), []).append(i)
    out = list(results)
    for (code, period), where in groups.items():
        if len(where) < 2:
            continue
        same = [results[i] for i in where]
        names = "、".join(f"「{r.file_name}」" for r in same)
        for i, r in zip(where, same):
            message = (f"本批次中有 {len(same)} 份内容不同的 {code} {period} 报送：{names}，无法确定以哪份为准，"
                       "均未写入。请只保留正确的一份后重新上传（如是其他支部的表，请核对其支部编码）。")
            fixed = dataclasses.replace(
                r, status="rejected",
                problems=[p for p in r.problems if p.code not in ("batch_replaces", "batch_replaced_later")]
                + [Problem(file=r.file_name, sheet="", cell="", value="", severity="error", code="batch_conflict",
                           message=message)])
            out[i] = fixed
    return out


def results_frame(results: Sequence[Any], labels: dict[str, str] = PREVIEW_LABELS) -> pd.DataFrame:
    """One row per file: 文件, 支部编码, 季度, 结果, 错误数, 警告数, SHA-256."""
    rows = []
    for r in results:
        errors = sum(p.severity == "error" for p in r.problems)
        rows.append({
            "文件": r.file_name, "支部编码": r.branch_code or "", "季度": r.period or "",
            "结果": labels.get(r.status, r.status), "错误数": errors, "警告数": len(r.problems) - errors,
            "SHA-256": (r.sha256 or "")[:12],
        })
    return pd.DataFrame(rows, columns=["文件", "支部编码", "季度", "结果", "错误数", "警告数", "SHA-256"])


def problems_frame(results: Sequence[Any]) -> pd.DataFrame:
    """Every problem of the batch in one table: 文件, 工作表, 单元格, 填写内容, 级别, 说明 (errors first)."""
    rows = [{"文件": p.file or r.file_name, "工作表": p.sheet, "单元格": p.cell, "填写内容": p.value,
             "级别": SEVERITY_LABELS.get(p.severity, p.severity), "问题代码": p.code, "说明": p.message}
            for r in results for p in r.problems]
    df = pd.DataFrame(rows, columns=["文件", "工作表", "单元格", "填写内容", "级别", "问题代码", "说明"])
    if not df.empty:
        df["_order"] = (df["级别"] != SEVERITY_LABELS["error"]).astype(int)
        df = df.sort_values(["_order", "文件"], kind="stable").drop(columns="_order").reset_index(drop=True)
    return df


def problems_workbook(results: Sequence[Any]) -> bytes:
    """The problems and the per-file results as an .xlsx to send back to branches (cells as typed are inert)."""
    from pipelines import export

    return export.xlsx_bytes({"校验问题": problems_frame(results), "文件结果": results_frame(results)})


@dataclass
class ChangePreview:
    """What confirming would change: new branch-quarters, replaced ones with overall before/after, and the
    registry branches still missing for each quarter of the batch."""

    new: pd.DataFrame
    replaced: pd.DataFrame
    missing: pd.DataFrame


def _copy_db(db, target: Path) -> bool:
    """Copy the database (and its WAL, if any) under the database lock; False when there is none yet."""
    src = dbmod.db_path(db)
    if not src.exists():
        return False
    with dbmod.connect(src):  # holds the lock: no writer is mid-transaction while we copy
        shutil.copy2(src, target)
        wal = Path(str(src) + ".wal")
        if wal.exists():
            shutil.copy2(wal, Path(str(target) + ".wal"))
    return True


def _overall(period: str, db) -> pd.DataFrame:
    from pipelines import scoring

    df = scoring.branch_scores(period, db=db)
    return df[["branch_code", "branch_name", "overall", "grade"]] if not df.empty else df


def simulate_scores(files: Sequence[tuple[str, bytes]], periods: Sequence[str], db=None) -> dict[str, pd.DataFrame]:
    """Overall scores per period after saving `files` into a temporary copy of the database.

    The files are read and saved with the reader and store code ingest uses, but not through ingest itself,
    whose archive and manifest belong to the real database (a preview must leave no trace there).
    """
    from pipelines import safe_read, store
    from pipelines.model import RegistryEntry

    if not files or not periods:
        return {}
    with tempfile.TemporaryDirectory(prefix="dj_preview_") as tmp:
        copy = Path(tmp) / "preview.duckdb"
        if not _copy_db(db, copy):
            return {}
        with dbmod.connect(copy, write=True) as con:
            rows = con.execute(
                "SELECT branch_code, branch_name, college, branch_type, members FROM registry").fetchall()
            registry = {r[0]: RegistryEntry(*r) for r in rows} or None
            for name, data in files:
                parsed = safe_read.read_workbook(data, name, registry=registry)
                if parsed.valid and parsed.info is not None:
                    store.save_parsed(con, parsed, actor="preview")
        return {p: _overall(p, copy) for p in periods}


def change_preview(batch: BatchPreview, db=None) -> ChangePreview:
    """New and replaced branch-quarters (replaced ones with overall score before and after) and missing branches."""
    from pipelines import scoring

    reg = dbmod.query_df("SELECT branch_code, branch_name FROM registry", path=db)
    names = dict(zip(reg["branch_code"], reg["branch_name"]))
    new = pd.DataFrame([{"支部编码": r.branch_code, "支部名称": names.get(r.branch_code, ""), "季度": r.period,
                         "文件": r.file_name} for r in batch.of_status("accepted")],
                       columns=["支部编码", "支部名称", "季度", "文件"])
    replaced_results = batch.of_status("replaced")
    periods = sorted({r.period for r in replaced_results if r.period})
    rows = []
    if replaced_results:
        after = simulate_scores([f for f, r in zip(batch.files, batch.results) if r.status == "replaced"],
                                periods, db)
        before = {p: _overall(p, db) for p in periods}
        for r in replaced_results:
            b = before.get(r.period, pd.DataFrame())
            a = after.get(r.period, pd.DataFrame())
            old = b[b["branch_code"] == r.branch_code] if not b.empty else b
            new_row = a[a["branch_code"] == r.branch_code] if not a.empty else a
            score_before = float(old["overall"].iloc[0]) if len(old) else None
            score_after = float(new_row["overall"].iloc[0]) if len(new_row) else None
            name = (new_row["branch_name"].iloc[0] if len(new_row) else old["branch_name"].iloc[0] if len(old) else "")
            rows.append({
                "支部编码": r.branch_code, "支部名称": name, "季度": r.period, "文件": r.file_name,
                "原总分": score_before, "新总分": score_after,
                "变化": None if score_before is None or score_after is None else score_after - score_before,
            })
    replaced = pd.DataFrame(rows, columns=["支部编码", "支部名称", "季度", "文件", "原总分", "新总分", "变化"])

    coming: dict[str, set[str]] = {}
    for r in batch.results:
        if r.status in ("accepted", "replaced", "unchanged") and r.period:
            coming.setdefault(r.period, set()).add(r.branch_code)
    missing = []
    for period in sorted(coming):
        status = scoring.submission_status(period, db=db)
        if status.empty:
            continue
        gap = status[(status["status"] == "missing") & ~status["branch_code"].isin(coming[period])]
        for _, s in gap.iterrows():
            missing.append({"季度": period, "支部编码": s["branch_code"], "支部名称": s.get("branch_name", ""),
                            "所属二级党组织": s.get("college", "")})
    missing_df = pd.DataFrame(missing, columns=["季度", "支部编码", "支部名称", "所属二级党组织"])
    return ChangePreview(new, replaced, missing_df)


def commit_batch(batch: BatchPreview, actor: str, db=None,
                 progress: Callable[[int, int, str], None] | None = None) -> list[Any]:
    """Write the accepted and replaced files of a previewed batch with one ingest.ingest call (each file in
    its own transaction, so a failure or a rejected file never touches the others).

    A repeated confirm (or a retry after DatabaseBusy) writes nothing twice: ingest reports a file identical
    to the current version as unchanged. Nothing is remembered in the session, so a file written, then rolled
    back or withdrawn (or set aside with the demo data), is written again when uploaded again.
    Rejected files are never handed to ingest.
    """
    from pipelines import ingest

    todo = batch.writable()
    return ingest.ingest(todo, db=db, actor=actor, progress=progress) if todo else []


# ---- cached helpers --------------------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=8)
def _template_bytes(kind: str, guide_version: str) -> bytes:
    from pipelines import workbook

    with tempfile.TemporaryDirectory(prefix="dj_template_") as tmp:
        path = Path(tmp) / "template.xlsx"
        if kind == "registry":
            workbook.write_registry_workbook(path)
        else:
            workbook.write_workbook(path, kind)
        return path.read_bytes()


@st.cache_data(show_spinner=False, max_entries=64)
def _read_df(sql: str, params: tuple, db: str, version: int) -> pd.DataFrame:
    return dbmod.query_df(sql, list(params), db)


def _query(sql: str, *params: Any) -> pd.DataFrame:
    """A read query on the app's database, cached on the data version (a write shows on the next rerun)."""
    path = dbmod.db_path()
    return _read_df(sql, tuple(params), str(path), dbmod.data_version(path))


def _registry_bytes(entries_df: pd.DataFrame) -> bytes:
    from pipelines import workbook
    from pipelines.model import RegistryEntry

    entries = [RegistryEntry(r.branch_code, r.branch_name, r.college, r.branch_type, int(r.members),
                             None if pd.isna(r.secretary_name) else r.secretary_name,
                             None if pd.isna(r.phone) else r.phone)
               for r in entries_df.itertuples()]
    with tempfile.TemporaryDirectory(prefix="dj_registry_") as tmp:
        return workbook.write_registry_workbook(Path(tmp) / "registry.xlsx", entries).read_bytes()


# ---- action guard ----------------------------------------------------------------------------------

def _guarded(action: Callable[[], Any], what: str) -> tuple[bool, Any]:
    """Run a write action; a busy database or any failure becomes a Chinese message, never a traceback."""
    try:
        return True, action()
    except dbmod.DatabaseBusy:
        st.error(BUSY_MESSAGE, icon=":material/hourglass_top:")
    except Exception as e:  # noqa: BLE001 - the page must never show a raw traceback
        log.exception("%s failed", what)
        st.error(f"{what}失败（{type(e).__name__}）。请稍后重试；若问题持续，请联系系统维护人员查看服务器日志。",
                 icon=":material/error:")
    return False, None


def _flash(kind: str, text: str) -> None:
    """A message shown once after the rerun that follows an action."""
    st.session_state[FLASH_KEY] = (kind, text)


def _show_flash() -> None:
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        getattr(st, flash[0])(flash[1])


# ---- page sections ---------------------------------------------------------------------------------

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


def _show_summary(done: dict) -> None:
    results = done["results"]
    counts = {s: sum(r.status == s for r in results) for s in DONE_LABELS}
    st.success(
        f"写入完成（操作人：{_md(done['actor'])}，{done['at']}）：新增 {counts['accepted']} 份，"
        f"替换 {counts['replaced']} 份，无变化 {counts['unchanged']} 份"
        + (f"，写入时未通过 {counts['rejected']} 份" if counts["rejected"] else "")
        + (f"；另有 {done['rejected']} 份文件未通过校验，未写入" if done["rejected"] else "") + "。"
        + "所有页面在下次操作时即显示新数据。",
        icon=":material/check_circle:",
    )
    with st.expander("本次写入明细", expanded=False):
        st.dataframe(results_frame(results, DONE_LABELS), hide_index=True, width="stretch")


def _demo_section(actor: str) -> None:
    """While demo data is loaded: one confirmed step to set it aside and start from an empty database."""
    from pipelines import ingest
    from pipelines.demo import ACTOR as DEMO_ACTOR

    n = _query("SELECT count(*) AS n FROM submissions WHERE uploaded_by = ?", DEMO_ACTOR)
    if int(n.at[0, "n"]) == 0:
        return
    real = int(_query("SELECT count(*) AS n FROM submissions WHERE uploaded_by <> ?", DEMO_ACTOR).at[0, "n"])
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
            ok, backup = _guarded(lambda: ingest.start_fresh(actor=actor), "清空演示数据")
            if not ok:
                return
            for key in ("dj_fresh_sure", "dj_fresh_sure_real", DONE_KEY, PREVIEW_KEY, REG_PREVIEW_KEY, REG_DONE_KEY,
                        "dj_upload_changes"):
                st.session_state.pop(key, None)  # nothing from before the clear is shown as if it were current
            st.session_state[ROUND_KEY] = st.session_state.get(ROUND_KEY, 0) + 1
            st.session_state[FRESH_KEY] = (f"已清空演示数据，原数据库与归档已备份到数据库所在文件夹中的 {_md(backup.name)}。"
                                           "请先在“支部名册”中上传本校支部名册。")
            st.rerun()


def _upload_tab(actor: str) -> None:
    if FRESH_KEY in st.session_state:
        st.success(st.session_state.pop(FRESH_KEY), icon=":material/check_circle:")
    _demo_section(actor)
    _templates_section()
    st.divider()
    summary = st.container()  # the last commit's summary, above the (now empty) uploader
    limit = settings().max_upload_files
    round_no = st.session_state.setdefault(ROUND_KEY, 0)
    uploaded = st.file_uploader(
        f"选择各支部的季度填报表（.xlsx，可一次选择多个，最多 {limit} 个）",
        type=ACCEPTED_TYPES, accept_multiple_files=True, key=f"dj_uploader_{round_no}",
        help="选择文件后系统先逐一校验并显示结果，点击“确认写入”之前不会写入任何数据。",
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
    files = [(f.name, f.getvalue()) for f in uploaded]
    key = batch_key(files)
    batch: BatchPreview | None = st.session_state.get(PREVIEW_KEY)
    if batch is None or batch.key != key:
        bar = st.progress(0.0, text=f"正在校验 {len(files)} 个文件…")

        def progress(done: int, total: int, name: str) -> None:
            bar.progress(done / max(total, 1), text=f"正在校验 {done}/{total}：{_md(name)}")

        ok, batch = _guarded(lambda: preview_batch(files, key=key, progress=progress), "校验")
        bar.empty()
        if not ok:
            return
        st.session_state[PREVIEW_KEY] = batch

    _preview_section(batch)
    _confirm_section(batch, actor)


def _preview_section(batch: BatchPreview) -> None:
    results = batch.results
    st.subheader("校验结果", anchor=False)
    cols = st.columns(4)
    for col, status in zip(cols, ("accepted", "replaced", "unchanged", "rejected")):
        col.metric(PREVIEW_LABELS[status], sum(r.status == status for r in results))
    st.dataframe(results_frame(results), hide_index=True, width="stretch", key="dj_results_table")

    problems = problems_frame(results)
    n_err = int((problems["级别"] == "错误").sum()) if not problems.empty else 0
    n_warn = len(problems) - n_err
    if problems.empty:
        st.success("所有文件均未发现问题。", icon=":material/check:")
    else:
        st.markdown(f"**校验问题**：错误 {n_err} 条（文件未通过，不会写入），警告 {n_warn} 条（可写入，请支部核实）")
        show = st.radio("显示", ["全部", "仅错误", "仅警告"], horizontal=True, key="dj_problem_filter",
                        label_visibility="collapsed")
        view = problems if show == "全部" else problems[problems["级别"] == ("错误" if show == "仅错误" else "警告")]
        st.dataframe(view, hide_index=True, width="stretch", key="dj_problems_table",
                     column_config={"说明": st.column_config.TextColumn(width="large")})
    c.download(st, "下载校验结果（Excel，可发回各支部）", lambda: problems_workbook(results),
               file_name=f"校验结果_{dt.date.today():%Y%m%d}.xlsx", mime=XLSX_MIME, key="dj_problems_download",
               icon=":material/download:")


def _confirm_section(batch: BatchPreview, actor: str) -> None:
    todo = batch.writable()
    st.subheader("写入后的变化", anchor=False)
    cache_key = ("changes", batch.key)
    changes = st.session_state.get("dj_upload_changes")
    if changes is None or changes[0] != cache_key:
        ok, value = _guarded(lambda: change_preview(batch), "计算变化预览")
        if not ok:
            return
        changes = (cache_key, value)
        st.session_state["dj_upload_changes"] = changes
    cp: ChangePreview = changes[1]
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

    if not todo:
        st.info("没有需要写入的文件（全部未通过校验或与已导入的版本相同）。", icon=":material/info:")
        return
    rejected = len(batch.of_status("rejected"))
    note = f"；{rejected} 个未通过校验的文件不会写入" if rejected else ""
    st.caption(f"将写入 {len(todo)} 个文件（每个文件单独提交，互不影响）{note}。写入过程中请勿操作本页面；"
               "如被打断，重新上传并确认即可，已写入的文件会显示为“无变化”，不会重复写入。")
    if st.button(f"确认写入 {len(todo)} 个文件", type="primary", key="dj_upload_confirm", icon=":material/save:"):
        bar = st.progress(0.0, text="正在写入…")

        def progress(done: int, total: int, name: str) -> None:
            bar.progress(done / max(total, 1), text=f"正在写入 {done}/{total}" + (f"：{_md(name)}" if name else ""))

        ok, results = _guarded(lambda: commit_batch(batch, actor, progress=progress), "写入")
        if not ok:
            st.info("已写入的文件不会重复写入：稍后再次点击确认即可继续。")
            st.session_state.pop(PREVIEW_KEY, None)  # statuses changed; preview again on the next run
            return
        st.session_state[DONE_KEY] = {"results": results, "actor": actor, "rejected": rejected,
                                      "at": dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")}
        st.session_state[ROUND_KEY] = st.session_state.get(ROUND_KEY, 0) + 1
        st.session_state.pop(PREVIEW_KEY, None)
        st.session_state.pop("dj_upload_changes", None)
        st.rerun()


SUBMISSIONS_SQL = """
SELECT s.submission_id, s.branch_code, coalesce(r.branch_name, i.branch_name) AS branch_name, s.period,
       s.version, s.file_name, s.sha256, s.uploaded_at, s.uploaded_by, s.status
FROM submissions s
LEFT JOIN raw_info i USING (submission_id)
LEFT JOIN registry r ON r.branch_code = s.branch_code
ORDER BY s.uploaded_at DESC, s.submission_id DESC
"""


def _unconfirm() -> None:
    """Untick the rollback / withdraw confirmation."""
    st.session_state.pop("dj_undo_sure", None)


def _history_tab(actor: str) -> None:
    from pipelines import ingest

    _show_flash()
    subs = _query(SUBMISSIONS_SQL)
    if subs.empty:
        st.info("还没有任何报送记录。")
        return
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
    table = pd.DataFrame({
        "支部编码": view["branch_code"], "支部名称": view["branch_name"], "季度": view["period"],
        "版本": view["version"], "文件名": view["file_name"], "SHA-256": view["sha256"].str[:12],
        "上传时间": view["uploaded_at"], "上传人": view["uploaded_by"],
        "状态": view["status"].map(lambda s: SUBMISSION_LABELS.get(s, s)),
    })
    st.caption(f"共 {len(table)} 条报送记录")
    st.dataframe(table, hide_index=True, width="stretch", key="dj_history_table",
                 column_config={"上传时间": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")})

    st.subheader("回退或撤回", anchor=False)
    groups = (view.groupby(["branch_code", "period"], sort=False)
              .agg(name=("branch_name", "first"), versions=("version", "max")).reset_index())
    current = {(r.branch_code, r.period): int(r.version) for r in view[view["status"] == "current"].itertuples()}
    earlier = {(r.branch_code, r.period) for r in view[view["status"] == "superseded"].itertuples()
               if (r.branch_code, r.period) in current and r.version < current[(r.branch_code, r.period)]}
    options = [f"{r.branch_code}|{r.period}" for r in groups.itertuples()]
    labels = {}
    for r in groups.itertuples():
        cur = current.get((r.branch_code, r.period))
        labels[f"{r.branch_code}|{r.period}"] = (
            f"{r.branch_code} {r.name or ''} · {_period_label(r.period)} · 共 {r.versions} 版，"
            + (f"当前第 {cur} 版" if cur else "当前无有效版本（已撤回）"))
    choice = st.selectbox("选择支部季度", options, key="dj_undo_target", format_func=lambda o: labels.get(o, o),
                          on_change=_unconfirm)  # a tick given for one branch-quarter does not carry over
    if choice:
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
            ok, sub_id = _guarded(lambda: ingest.rollback(branch, per, actor=actor), "版本回退")
            if ok:
                if sub_id is None:
                    _flash("warning", f"{_md(branch)} {_period_label(per)} 没有可回退的更早版本（或当前已撤回），未做任何修改。")
                else:
                    ver = _query("SELECT version FROM submissions WHERE submission_id = ?", int(sub_id))
                    v = int(ver["version"].iloc[0]) if len(ver) else "?"
                    _flash("success", f"已将 {_md(branch)} {_period_label(per)} 回退到第 {v} 版。")
                _unconfirm()  # each action needs its own tick
                st.rerun()
        if b2.button("撤回该季度报送", key="dj_withdraw", disabled=not (sure and can_withdraw),
                     icon=":material/block:", width="stretch"):
            ok, sub_id = _guarded(lambda: ingest.withdraw(branch, per, actor=actor), "撤回")
            if ok:
                _flash("success" if sub_id is not None else "warning",
                       f"已撤回 {_md(branch)} {_period_label(per)} 的报送，该支部本季度视为未报送。" if sub_id is not None
                       else f"{_md(branch)} {_period_label(per)} 当前没有有效版本，未做任何修改。")
                _unconfirm()
                st.rerun()

    st.subheader("下载原始文件", anchor=False)
    file_opts = list(view["submission_id"])
    file_labels = {r.submission_id: f"{r.file_name} · {r.branch_code} · {r.period} · 第 {r.version} 版"
                   for r in view.itertuples()}
    sid = st.selectbox("选择报送版本", file_opts, key="dj_archive_pick", format_func=lambda s: file_labels.get(s, s))
    if sid is not None:
        _archive_download(view[view["submission_id"] == sid].iloc[0])


def _archive_download(row: Any) -> None:
    """A link to one archived original, served by serve.py's route to this signed-in session only
    (pipelines.archive_links), never through Streamlit's media store: its URL dies at sign-out, when the
    browser disconnects, and `archive_link_ttl_s` after its first download."""
    from pipelines import archive_links, ingest

    if not archive_links.mounted():
        st.warning(archive_links.NOT_MOUNTED_MESSAGE)
        return
    try:
        ingest.archived_file(row["sha256"])
    except FileNotFoundError:
        st.warning("该版本的原始文件在归档中不存在（可能已被手工删除）。")
        return
    token = archive_links.LINKS.issue(access.session_id(), str(row["sha256"]), str(row["file_name"]))
    st.link_button("下载该版本的原始文件", archive_links.url(token), key="dj_archive_download",
                   icon=":material/download:")
    ttl = settings().archive_link_ttl_s
    st.caption(f"下载链接只在本次登录中有效：退出登录或关闭浏览器即失效，首次下载 {ttl:g} 秒后也会失效"
               "（在本页任意操作后会换上新链接）。")


REGISTRY_SQL = ("SELECT branch_code, branch_name, college, branch_type, members, secretary_name, phone, updated_at "
                "FROM registry ORDER BY branch_code")


def registry_diff(entries: Sequence[Any], current: pd.DataFrame) -> pd.DataFrame:
    """The registry upload against the current registry: each branch 新增 / 修改 / 不变, plus 移除 for current
    branches the workbook no longer lists (a registry workbook replaces the whole registry)."""
    cur = {r.branch_code: r for r in current.itertuples()} if not current.empty else {}
    rows = []
    for e in entries:
        old = cur.get(e.branch_code)
        if old is None:
            change, detail = "新增", ""
        else:
            diffs = [f"{label}：{_cell_text(getattr(old, f, None))} → {_cell_text(getattr(e, f))}" for f, label in
                     (("branch_name", "名称"), ("college", "二级党组织"), ("branch_type", "类型"), ("members", "党员数"),
                      ("secretary_name", "书记姓名"), ("phone", "联系电话"))
                     if _cell_text(getattr(old, f, None)) != _cell_text(getattr(e, f))]
            change, detail = ("修改", "；".join(diffs)) if diffs else ("不变", "")
        rows.append({"支部编码": e.branch_code, "支部名称": e.branch_name, "所属二级党组织": e.college,
                     "支部类型": _type_name(e.branch_type), "党员数": e.members, "变化": change, "变化内容": detail})
    listed = {e.branch_code for e in entries}
    for code, old in cur.items():
        if code not in listed:
            rows.append({"支部编码": code, "支部名称": old.branch_name, "所属二级党组织": old.college,
                         "支部类型": _type_name(old.branch_type), "党员数": old.members, "变化": "移除",
                         "变化内容": "新名册中没有该支部，将从名册中移除（已报送的数据保留）"})
    return pd.DataFrame(rows, columns=["支部编码", "支部名称", "所属二级党组织", "支部类型", "党员数", "变化", "变化内容"])


def _cell_text(value: Any) -> str:
    """A registry value as compared and shown in the diff: blank (None / NaN) as （空）."""
    return "（空）" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _type_name(type_id: str) -> str:
    try:
        return guide().branch_type_name(type_id)
    except StopIteration:
        return str(type_id)


def _registry_tab(actor: str) -> None:
    from pipelines import ingest, safe_read

    done = st.session_state.pop(REG_DONE_KEY, None)
    if done:
        st.success(done, icon=":material/check_circle:")
    current = _query(REGISTRY_SQL)
    st.markdown(f"**当前支部名册**：{len(current)} 个支部")
    if not current.empty:
        shown = current.assign(branch_type=current["branch_type"].map(_type_name)).rename(columns={
            "branch_code": "支部编码", "branch_name": "支部名称", "college": "所属二级党组织",
            "branch_type": "支部类型", "members": "党员数", "secretary_name": "书记姓名", "phone": "联系电话",
            "updated_at": "更新时间"})
        st.dataframe(shown, hide_index=True, width="stretch", key="dj_registry_table", height=260)
        st.download_button("下载当前名册（Excel，可修改后重新上传）", data=lambda: _registry_bytes(current),
                           file_name="支部名册.xlsx", mime=XLSX_MIME, key="dj_registry_download",
                           on_click="ignore", icon=":material/download:")

    round_no = st.session_state.setdefault(REG_ROUND_KEY, 0)
    up = st.file_uploader("上传支部名册（.xlsx）：名册应列出全部支部，确认后将整体替换当前名册",
                          type=ACCEPTED_TYPES, key=f"dj_registry_uploader_{round_no}")
    if up is None:
        return
    data = up.getvalue()
    key = (up.name, hashlib.sha256(data).hexdigest(), dbmod.data_version())
    cached = st.session_state.get(REG_PREVIEW_KEY)
    if cached is None or cached[0] != key:
        ok, parsed = _guarded(lambda: safe_read.read_registry(data, up.name), "读取名册")
        if not ok:
            return
        cached = (key, parsed)
        st.session_state[REG_PREVIEW_KEY] = cached
    entries, problems = cached[1]
    errors = [p for p in problems if p.severity == "error"]
    if problems:
        st.dataframe(pd.DataFrame([{"工作表": p.sheet, "单元格": p.cell, "填写内容": p.value,
                                    "级别": SEVERITY_LABELS.get(p.severity, p.severity), "说明": p.message}
                                   for p in problems]), hide_index=True, width="stretch", key="dj_registry_problems")
    if errors:
        st.error(f"名册有 {len(errors)} 处错误，请修改后重新上传；本次不会写入任何数据。")
        return
    diff = registry_diff(entries, current)
    counts = diff["变化"].value_counts()
    st.markdown(f"新名册共 {len(entries)} 个支部：新增 {counts.get('新增', 0)} 个，修改 {counts.get('修改', 0)} 个，"
                f"不变 {counts.get('不变', 0)} 个；将移除 {counts.get('移除', 0)} 个。")
    st.dataframe(diff, hide_index=True, width="stretch", key="dj_registry_diff")
    renamed = diff[diff["变化内容"].str.contains("名称：", regex=False)]
    if len(renamed):
        st.info(f"{len(renamed)} 个支部的名称有变更：确认后，这些支部今后报送表中的“支部名称”须与新名称一致，"
                "否则会被退回（已导入的数据不受影响）。请通知相关支部使用新名称。", icon=":material/info:")
    if not entries:
        st.error("名册中没有任何支部，本次不会写入。")
        return
    if st.button("确认更新支部名册", type="primary", key="dj_registry_confirm", icon=":material/save:"):
        ok, out = _guarded(lambda: ingest.load_registry((up.name, data), actor=actor), "更新支部名册")
        if ok:
            written, problems_after = out
            if not written:
                st.error("名册未能写入：" + "；".join(_md(p.message) for p in problems_after if p.severity == "error"))
                return
            st.session_state[REG_DONE_KEY] = f"支部名册已更新：共 {written} 个支部。"
            st.session_state[REG_ROUND_KEY] = round_no + 1
            st.session_state.pop(REG_PREVIEW_KEY, None)
            st.rerun()


def _audit_tab() -> None:
    log_df = _query("SELECT logged_at, actor, action, detail FROM audit_log ORDER BY logged_at DESC, rowid DESC LIMIT 2000")
    if log_df.empty:
        st.info("暂无操作记录。")
        return
    actors = ["全部"] + sorted(log_df["actor"].unique())
    who = st.selectbox("操作人", actors, key="dj_audit_actor")
    if who != "全部":
        log_df = log_df[log_df["actor"] == who]
    st.dataframe(pd.DataFrame({
        "时间": log_df["logged_at"], "操作人": log_df["actor"],
        "操作": log_df["action"].map(lambda a: ACTION_LABELS.get(a, a)), "详情": log_df["detail"],
    }), hide_index=True, width="stretch", key="dj_audit_table",
        column_config={"时间": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")})
    st.caption("最近 2000 条记录。")


def render() -> None:
    """The page body: sign-in gate, then the four tabs."""
    st.title("数据上传", anchor=False)
    st.caption("组织部管理员上传各支部季度填报表、查看报送记录、回退版本和维护支部名册。")
    config = auth.load_access_config()
    actor = access.admin_gate(config)
    if not actor:
        return
    access.sign_out_button(actor, config)
    upload, history, registry, audit_tab = st.tabs(["上传报送", "报送记录与撤回", "支部名册", "操作日志"])
    with upload:
        _upload_tab(actor)
    with history:
        _history_tab(actor)
    with registry:
        _registry_tab(actor)
    with audit_tab:
        _audit_tab()


def main() -> None:
    """Run the page, turning any failure into a Chinese message instead of a traceback."""
    try:
        render()
    except dbmod.DatabaseBusy:
        st.error(BUSY_MESSAGE, icon=":material/hourglass_top:")
    except Exception as e:  # noqa: BLE001 - the page must never show a raw traceback
        log.exception("upload page failed")
        st.error(f"页面加载失败（{type(e).__name__}）。请刷新重试；若问题持续，请联系系统维护人员。",
                 icon=":material/error:")


if __name__ == "__main__":  # Streamlit runs pages as __main__; tests may import the functions
    c.require_entrypoint()
    main()
