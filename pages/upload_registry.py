"""数据上传 page, tab 支部名册: the current registry, a registry upload compared with it, and the confirmed
replace. UI only: the comparison is pipelines.store.changes.registry_diff, the write pipelines.store.registry's."""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from pages import common as c
from pages import tables
from pages.text import md_text as _md
from pipelines.store import db as dbmod
from pipelines.store.actor import Actor
from pipelines.store.changes import registry_diff
from pipelines.guide.vocab import Severity


XLSX_MIME = tables.XLSX_MIME
ACCEPTED_TYPES = ["xlsx", "xls", "et", "csv", "ods", "xlsm"]
REG_ROUND_KEY = "dj_registry_round"
REG_PREVIEW_KEY = "dj_registry_preview"
REG_DONE_KEY = "dj_registry_done"
REGISTRY_SQL = ("SELECT branch_code, branch_name, college, branch_type, members, secretary_name, phone, updated_at "
                "FROM registry ORDER BY branch_code")


def _registry_bytes(entries_df: pd.DataFrame) -> bytes:
    from pipelines.workbook import template
    from pipelines.workbook.model import RegistryEntry

    entries = [RegistryEntry(r.branch_code, r.branch_name, r.college, r.branch_type, int(r.members),
                             None if pd.isna(r.secretary_name) else r.secretary_name,
                             None if pd.isna(r.phone) else r.phone)
               for r in entries_df.itertuples()]
    with tempfile.TemporaryDirectory(prefix="dj_registry_") as tmp:
        return template.write_registry_workbook(Path(tmp) / "registry.xlsx", entries).read_bytes()


def _current_section(current: pd.DataFrame) -> None:
    st.markdown(f"**当前支部名册**：{len(current)} 个支部")
    if current.empty:
        return
    shown = current.assign(branch_type=current["branch_type"].map(c.type_name)).rename(columns={
        "branch_code": "支部编码", "branch_name": "支部名称", "college": "所属二级党组织",
        "branch_type": "支部类型", "members": "党员数", "secretary_name": "书记姓名", "phone": "联系电话",
        "updated_at": "更新时间"})
    st.dataframe(shown, hide_index=True, width="stretch", key="dj_registry_table", height=260)
    st.download_button("下载当前名册（Excel，可修改后重新上传）", data=lambda: _registry_bytes(current),
                       file_name="支部名册.xlsx", mime=XLSX_MIME, key="dj_registry_download",
                       on_click="ignore", icon=":material/download:")


def _read(up, data: bytes):
    """(entries, problems) of the uploaded registry workbook, read once per file and data version."""
    from pipelines.workbook import safe_read

    key = (up.name, hashlib.sha256(data).hexdigest(), dbmod.data_version())
    cached = st.session_state.get(REG_PREVIEW_KEY)
    if cached is None or cached[0] != key:
        ok, parsed = c.guarded(lambda: safe_read.read_registry(data, up.name), "读取名册")
        if not ok:
            return None
        cached = (key, parsed)
        st.session_state[REG_PREVIEW_KEY] = cached
    return cached[1]


def _diff_section(entries, current: pd.DataFrame) -> None:
    diff = registry_diff(entries, current)
    counts = diff["变化"].value_counts()
    st.markdown(f"新名册共 {len(entries)} 个支部：新增 {counts.get('新增', 0)} 个，修改 {counts.get('修改', 0)} 个，"
                f"不变 {counts.get('不变', 0)} 个；将移除 {counts.get('移除', 0)} 个。")
    st.dataframe(diff, hide_index=True, width="stretch", key="dj_registry_diff")
    renamed = diff[diff["变化内容"].str.contains("名称：", regex=False)]
    if len(renamed):
        st.info(f"{len(renamed)} 个支部的名称有变更：确认后，这些支部今后报送表中的“支部名称”须与新名称一致，"
                "否则会被退回（已导入的数据不受影响）。请通知相关支部使用新名称。", icon=":material/info:")


def _confirm(up, data: bytes, actor: Actor, round_no: int) -> None:
    from pipelines.store import registry

    ok, out = c.guarded(lambda: registry.load_registry((up.name, data), actor=actor), "更新支部名册")
    if not ok:
        return
    written, problems_after = out
    if not written:
        st.error("名册未能写入：" + "；".join(_md(p.message) for p in problems_after if p.severity == "error"))
        return
    st.session_state[REG_DONE_KEY] = f"支部名册已更新：共 {written} 个支部。"
    st.session_state[REG_ROUND_KEY] = round_no + 1
    st.session_state.pop(REG_PREVIEW_KEY, None)
    st.rerun()


# The file boxes' own English text ("Drag and drop files here", "10MB per file • XLSX", the "Upload" button)
# cannot be set through st.file_uploader or config in Streamlit 1.67 (docs/admin.md, 已知限制): hidden or replaced
# by Chinese; a constant style (no user data) for the submissions and the registry uploaders. The real limits
# are in the caption above each box.
UPLOADER_STYLE = """<style>
:is([class*="st-key-dj_uploader_"], [class*="st-key-dj_registry_uploader_"])
  [data-testid="stFileUploaderDropzoneInstructions"] { display: none; }
:is([class*="st-key-dj_uploader_"], [class*="st-key-dj_registry_uploader_"])
  [data-testid="stFileUploaderDropzone"] button p { font-size: 0; }
:is([class*="st-key-dj_uploader_"], [class*="st-key-dj_registry_uploader_"])
  [data-testid="stFileUploaderDropzone"] button p::after { content: "选择文件"; font-size: 1rem; }
</style>"""

def registry_tab(actor: Actor) -> None:
    """支部名册: the current registry; an uploaded one is checked and compared before the confirm writes it."""
    done = st.session_state.pop(REG_DONE_KEY, None)
    if done:
        st.success(done, icon=":material/check_circle:")
    current = c.query(REGISTRY_SQL)
    _current_section(current)
    round_no = st.session_state.setdefault(REG_ROUND_KEY, 0)
    st.caption(f"只接受 .xlsx（Excel 工作簿），不超过 {c.guide().limits.max_file_mb:g} MB；"
               "可把文件拖到下面的框内，或点击“选择文件”。")
    st.html(UPLOADER_STYLE)
    up = st.file_uploader("上传支部名册（.xlsx）：名册应列出全部支部，确认后将整体替换当前名册",
                          type=ACCEPTED_TYPES, key=f"dj_registry_uploader_{round_no}")
    if up is None:
        return
    data = up.getvalue()
    parsed = _read(up, data)
    if parsed is None:
        return
    entries, problems = parsed
    if problems:
        st.dataframe(pd.DataFrame([{"工作表": p.sheet, "单元格": p.cell, "填写内容": p.value,
                                    "级别": Severity.label_of(p.severity), "说明": p.message}
                                   for p in problems]), hide_index=True, width="stretch", key="dj_registry_problems")
    if any(p.severity == "error" for p in problems):
        n = sum(p.severity == "error" for p in problems)
        st.error(f"名册有 {n} 处错误，请修改后重新上传；本次不会写入任何数据。")
        return
    _diff_section(entries, current)
    if not entries:
        st.error("名册中没有任何支部，本次不会写入。")
        return
    if st.button("确认更新支部名册", type="primary", key="dj_registry_confirm", icon=":material/save:"):
        _confirm(up, data, actor, round_no)
