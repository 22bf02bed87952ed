"""整改通知: for each branch with answers sent back in review (退回补充), one printable A4 page the 组织部 or the
college can send as it is — the branch, the quarter, and each sent-back item with the answer, the evidence the
branch gave and the reviewer's comment. Written with the 退回说明's sheet, table and print layout
(pipelines.report.return_note, pipelines.report.layout) through pipelines.report.export (every cell inert); fitted to one page.
A college's 督办清单 lists the same items beside its follow-up tasks (followup.followup_workbook).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipelines.report import export, layout, return_note
from pipelines import scoring
from pipelines.guide import guide
from pipelines.guide.period import Period

TITLE = "整改通知"
HEADER = "党建“双创”季度报送 · 整改通知"  # page header: our text only
COLUMNS = (("序号", 5), ("考核要点", 24), ("自评", 7), ("原佐证材料", 16), ("审核意见", 26), ("审核人", 9))
INTRO = ("经审核，贵支部本季度以下自评事项的佐证不足，已退回补充。请按审核意见补充会议记录、照片、台账等材料，"
         "在“自评”工作表中更新对应事项的佐证材料（或在“活动台账”中补登相关活动），重新报送本季度报送表；"
         "重新报送后，这些事项将重新进入审核。")


class NothingSentBack(ValueError):
    """The branch has no answer sent back in the quarter: there is no notice to write."""


def file_name(period: str, branch_code: str, branch_name: str | None = None) -> str:
    """整改通知_<branch name>_<quarter>.xlsx (the code when the name is unknown), safe as a file name."""
    stem = "_".join((TITLE, branch_name or branch_code, Period.parse(period).short_label))
    return "".join("_" if ch in '\\/:*?"<>|' or ord(ch) < 32 else ch for ch in stem) + ".xlsx"


def items(period: str, branch_code: str, db: str | Path | None = None, *, scope: str | None = None):
    """The branch's answers now sent back in `period` (scoring.sent_back); NothingSentBack when there is none."""
    rows = scoring.sent_back(period, db, branch_code=branch_code, scope=scope)
    if rows.empty:
        raise NothingSentBack(f"支部 {branch_code} 在 {Period.parse(period).label}没有退回补充的自评事项，无需整改通知。")
    return rows


def notice_bytes(period: str, branch_code: str, db: str | Path | None = None, *, scope: str | None = None,
                 today: dt.date | None = None) -> bytes:
    """One branch's 整改通知 of one quarter as .xlsx bytes: titled, the branch and quarter, what to do, then one
    row per sent-back item (考核要点, 自评, 原佐证材料, 审核意见, 审核人); A4 portrait on one page.
    NothingSentBack (a ValueError, Chinese) when nothing of the branch is sent back; `scope` as scoring.review_board."""
    period = str(Period.parse(period))
    rows = items(period, branch_code, db, scope=scope)
    first = rows.iloc[0]
    today = today or dt.date.today()
    wb, ws = return_note.sheet(TITLE, COLUMNS)
    layout.sheet_title(ws, TITLE, period)
    span = len(COLUMNS)
    lines = [f"支部：{first['branch_name']}（{branch_code}），{first['college']}",
             f"季度：{Period.parse(period).label}", INTRO, f"组织部 {today.year} 年 {today.month} 月 {today.day} 日"]
    for i, text in enumerate(lines, 2):
        layout.paragraph(ws, i, text, span)
    g = guide()
    table = [(n, g.item_label(r.item_id, 40), r.status_name if isinstance(r.status_name, str) else "未填写",
              r.evidence or "（未填写）", r.comment, r.reviewer)
             for n, r in enumerate(rows.itertuples(), 1)]
    row = return_note.table(ws, len(lines) + 3, [name for name, _ in COLUMNS], table)
    layout.paragraph(ws, row + 1, "如对审核意见有疑问，请联系组织部。", span)
    layout.page_setup(ws, period, orientation="portrait", header=HEADER)
    return_note.one_page(ws)
    return export.workbook_bytes(wb)
