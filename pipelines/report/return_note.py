"""退回说明: for each branch whose workbook was rejected, one short A4 sheet the organization department can
forward as it is — the branch, the file(s), and each problem with its sheet, cell, what is wrong and how to fix
it — and a zip of all of them. Written through pipelines.report.export (every cell inert) with the report's print
layout (pipelines.report.layout: A4, one page wide, 第 X 页 / 共 Y 页 in the footer, wrapped rows that show).
"""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

from pipelines.report import export, layout
from pipelines.workbook.model import RegistryEntry
from pipelines.guide.period import Period
from pipelines.store.plan import FileResult, report_order
from pipelines.guide.vocab import FileStatus, Severity
from pipelines.workbook.problems import CATALOGUE, flatten

TITLE = "退回说明"
HEADER = "党建“双创”季度报送 · 退回说明"  # page header: our text only (user text could hold & codes)
COLUMNS = (("序号", 6), ("工作表", 11), ("单元格", 8), ("问题", 14), ("说明及修改方法", 46))
INTRO = (f"以下报送文件未通过校验，系统未写入。请按下表逐项修改（“{Severity.ERROR.label}”必须修改，"
         f"“{Severity.WARNING.label}”请核实），"
         "保存为 .xlsx 后重新报送；请勿改动工作表名称和表头。")
_THIN = Side(style="thin", color="BFBFBF")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


@dataclass(frozen=True)
class ReturnNote:
    """One branch's return note: its file name and the workbook's bytes."""

    branch: str  # branch code, or the file name when the file was unreadable
    file_name: str
    data: bytes


def branch_groups(results: Iterable[FileResult]) -> dict[str, list[FileResult]]:
    """The rejected files by branch (a file with no readable branch code is a group of its own), in
    report order."""
    groups: dict[str, list[FileResult]] = {}
    for r in report_order(results):
        if r.status == FileStatus.REJECTED:
            groups.setdefault(r.branch_code or r.file_name, []).append(r)
    return groups


def _period_of(files: list[FileResult]) -> str | None:
    return next((r.period for r in files if r.period), None)


def note_file_name(branch: str, entry: RegistryEntry | None, period: str | None) -> str:
    """退回说明_<branch name or code>_<quarter>.xlsx, safe as a file name inside a zip."""
    who = entry.branch_name if entry else branch.rsplit(".", 1)[0]
    stem = "_".join(x for x in (TITLE, who, Period.parse(period).short_label if period else "") if x)
    return _safe(stem) + ".xlsx"


def _safe(stem: str) -> str:
    # no path separators, reserved characters or control characters in a name inside a zip
    return "".join("_" if ch in '\\/:*?"<>|' or ord(ch) < 32 else ch for ch in stem).strip() or TITLE


def _head(ws, branch: str, files: list[FileResult], entry: RegistryEntry | None, today: dt.date) -> int:
    """Title and the branch lines; returns the next free row."""
    span, period = len(COLUMNS), _period_of(files)
    if period:
        layout.sheet_title(ws, TITLE, period)
    else:
        ws.cell(1, 1, TITLE).font = Font(size=14, bold=True, color=layout.RED)
        ws.row_dimensions[1].height = 24
    who = (f"{entry.branch_name}（{entry.branch_code}），{entry.college}" if entry
           else branch if branch not in {r.file_name for r in files} else "未能从文件中读出（见下表）")
    lines = [f"支部：{who}", f"季度：{Period.parse(period).label}" if period else "季度：未能读出",
             INTRO, f"组织部 {today.year} 年 {today.month} 月 {today.day} 日"]
    for i, text in enumerate(lines, 2):
        layout.paragraph(ws, i, text, span)
    return len(lines) + 3


def _file_table(ws, row: int, result: FileResult) -> int:
    """One file's name, then its problems (errors first); returns the next free row."""
    layout.paragraph(ws, row, f"文件：{result.file_name}", len(COLUMNS))
    ws.cell(row, 1).font = Font(size=11, bold=True)
    rows = []
    for n, p in enumerate(flatten(result.problems), 1):
        what = CATALOGUE[p["code"]].title if p["code"] in CATALOGUE else p["code"]
        rows.append((n, p["sheet"] or "—", p["cell"] or "—", f"{Severity.label_of(p['severity'])}：{what}",
                     p["message"]))
    return table(ws, row + 1, [name for name, _ in COLUMNS], rows) + 1


def table(ws, row: int, headers: list[str], rows: Iterable[tuple]) -> int:
    """A boxed table from `row`: a grey bold header, then one wrapped row per tuple (every cell inert), each as
    tall as its text needs; returns the next free row. Shared by the 退回说明 and the 整改通知."""
    for j, name in enumerate(headers, 1):
        cell = export.put(ws, row, j, name)
        cell.font, cell.border = Font(size=11, bold=True), _BOX
        cell.fill = PatternFill("solid", fgColor="F2F2F2")
    for values in rows:
        row += 1
        for j, value in enumerate(values, 1):
            cell = export.put(ws, row, j, value)
            cell.font, cell.border = Font(size=11), _BOX
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        layout.fit_row(ws, row)
    return row + 1


def sheet(title: str, columns: tuple[tuple[str, float], ...]):
    """A new workbook with one sheet named `title` whose columns have the given widths: (workbook, sheet)."""
    wb = Workbook()
    ws = wb.active
    ws.title = title
    for j, (_, chars) in enumerate(columns, 1):
        ws.column_dimensions[chr(64 + j)].width = chars
    return wb, ws


def one_page(ws) -> None:
    """Print the sheet on one A4 page: fit to one page wide and one tall, the print area its used range."""
    ws.page_setup.fitToWidth = ws.page_setup.fitToHeight = 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_area = f"A1:{chr(64 + ws.max_column)}{ws.max_row}"


def note_bytes(branch: str, files: list[FileResult], entry: RegistryEntry | None = None,
               today: dt.date | None = None) -> bytes:
    """One branch's return note as an .xlsx: a titled A4 sheet with the branch, each file and its problems."""
    wb, ws = sheet(TITLE, COLUMNS)
    period = _period_of(files)
    row = _head(ws, branch, files, entry, today or dt.date.today())
    for result in files:
        row = _file_table(ws, row, result)
    layout.paragraph(ws, row, "如对上述问题有疑问，请联系组织部。", len(COLUMNS))
    layout.page_setup(ws, period or "", orientation=layout.orientation(ws), header=HEADER)
    return export.workbook_bytes(wb)


def return_notes(results: Iterable[FileResult], registry: Mapping[str, RegistryEntry] | None = None,
                 today: dt.date | None = None) -> list[ReturnNote]:
    """One return note per rejected branch (report order); `registry` by code names the branch."""
    registry = registry or {}
    notes = []
    for branch, files in branch_groups(results).items():
        entry = registry.get(branch)
        notes.append(ReturnNote(branch, note_file_name(branch, entry, _period_of(files)),
                                note_bytes(branch, files, entry, today)))
    return notes


def notes_zip(notes: Iterable[ReturnNote]) -> bytes:
    """All return notes in one zip (names unique: a repeated one gets _2, _3 …)."""
    out, seen = io.BytesIO(), set()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for note in notes:
            name, k = note.file_name, 1
            while name in seen:
                k += 1
                name = note.file_name.replace(".xlsx", f"_{k}.xlsx")
            seen.add(name)
            zf.writestr(name, note.data)
    return out.getvalue()
