"""The branch's quarterly workbook and the registry workbook, written with openpyxl entirely from the guide.

Sheet names, headers, field names, activity types, count fields and self-assessment items all come from
`guide()`; nothing here repeats them. Header and prefilled cells are locked by sheet protection without a
password (Excel, WPS and LibreOffice all open it cleanly; 审阅 → 撤销工作表保护 needs no password); input
cells are unlocked.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from io import BytesIO
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO, Iterable
from zipfile import ZIP_DEFLATED, ZipFile

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.dimensions import SheetDimension
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from pipelines.guide import Guide, guide
from pipelines import export
from pipelines.checklist import checklist
from pipelines.model import BranchInfo, LedgerRow, RegistryEntry
from pipelines.palette import RED, excel
from pipelines.period import Period

# Headers of the 支部信息 sheet, fixed by the contract in docs/design.md (not part of the guide).
INFO_HEADERS = ("项目", "填写内容", "说明")
# The registry workbook is not a branch workbook, so its sheet is not in the guide's workbook section;
# its columns are the guide's info fields with these ids.
REGISTRY_SHEET = "支部名册"
REGISTRY_FIELDS = ("branch_code", "branch_name", "college", "branch_type", "members")
LEDGER_TEMPLATE_ROWS = 300
# 支部信息 fields a pre-filled template takes from the registry and locks: a file can never be refused for them.
IDENTITY_FIELDS = ("branch_code", "branch_name", "college", "branch_type", "year", "quarter")
# A template's 活动台账 has one grey example row; the reader skips a row whose 主题 begins with this marker.
EXAMPLE_PREFIX = "示例："
EXAMPLE_ROW = 2
EXAMPLE_TOPIC = "学习贯彻党的二十届四中全会精神"
FONT_NAME = "微软雅黑"  # present in Office/WPS on Windows; LibreOffice substitutes a CJK font

_FONT = Font(name=FONT_NAME, size=11)
_HEADER_FONT = Font(name=FONT_NAME, size=11, bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor=excel(RED))
_EXAMPLE_FONT = Font(name=FONT_NAME, size=11, italic=True, color="808080")
_LOCKED_FILL = PatternFill("solid", fgColor="F2F2F2")
_INPUT_FILL = PatternFill("solid", fgColor="FFFFFF")
_THIN = Side(style="thin", color="BFBFBF")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP = Alignment(wrap_text=True, vertical="top")
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_LOCKED, _UNLOCKED = Protection(locked=True), Protection(locked=False)
_GUIDE_FONTS = {(size, bold): Font(name=FONT_NAME, size=size, bold=bold)
                for size in (11, 14) for bold in (False, True)}
DATE_FORMAT = "yyyy-mm-dd"
# Data-validation date bounds as Excel serials (2000-01-01 .. 2100-12-31): a plain number works in every app.
_DATE_MIN, _DATE_MAX = 36526, 73415


def sheet_names(g: Guide | None = None) -> dict[str, str]:
    """Sheet key (guide, info, ledger, counts, self_assessment) -> the Chinese sheet name."""
    return dict((g or guide()).workbook.sheets.model_dump())


class _Styles:
    """The cell styles of one workbook, each built once and then copied.

    Assigning font, border, alignment, fill and protection hashes each object into the workbook's style
    lists; doing it once per kind of cell and copying the resulting style array to the others is ~50x
    cheaper. Kinds are built in first-use order, so the workbook's style table comes out as before.
    """

    def __init__(self) -> None:
        self._arrays: dict[tuple, StyleArray] = {}

    def _array(self, ws: Worksheet, key: tuple) -> StyleArray:
        arr = self._arrays.get(key)
        if arr is None:
            cell = Cell(ws)  # a scratch cell, not on the sheet: styling it registers the objects with the workbook
            if key[0] == "header":
                cell.font, cell.fill, cell.alignment, cell.border = _HEADER_FONT, _HEADER_FILL, _CENTER, _BORDER
                cell.protection = _LOCKED
            elif key[0] == "example":  # the ledger's example row: grey italic on grey, locked
                cell.font, cell.fill, cell.alignment, cell.border = _EXAMPLE_FONT, _LOCKED_FILL, _WRAP, _BORDER
                cell.protection = _LOCKED
                if key[1]:
                    cell.number_format = key[1]
            else:
                _, locked, number_format, center = key
                cell.font = _FONT
                cell.border = _BORDER
                cell.alignment = _CENTER if center else _WRAP
                cell.fill = _LOCKED_FILL if locked else _INPUT_FILL
                cell.protection = _LOCKED if locked else _UNLOCKED
                if number_format:
                    cell.number_format = number_format
            arr = self._arrays[key] = cell._style
        return arr

    def body_array(self, ws: Worksheet, *, locked: bool, number_format: str | None = None,
                   center: bool = False) -> StyleArray:
        """The style of a body cell: thin border, wrapped text, grey and locked or white and unlocked."""
        return self._array(ws, ("body", locked, number_format, center))

    def body(self, cell: Cell, *, locked: bool, number_format: str | None = None, center: bool = False) -> None:
        cell._style = StyleArray(self.body_array(cell.parent, locked=locked, number_format=number_format,
                                                 center=center))

    def header(self, cell: Cell) -> None:
        cell._style = StyleArray(self._array(cell.parent, ("header",)))

    def example(self, cell: Cell, number_format: str | None = None) -> None:
        cell._style = StyleArray(self._array(cell.parent, ("example", number_format)))


@dataclass
class _BlankRows:
    """A block of formatted empty rows (the ledger's template rows): rows `first`..`last`, one style per column.

    They are not openpyxl cells: 2,000+ Cell objects cost a third of the writing time (creating, sorting and
    garbage-collecting them). `_SheetWriter` writes these rows as openpyxl writes such cells, so the file is
    the same; a row that gets a value (`raw_cells`) becomes real cells through `fill`.
    """

    first: int
    last: int
    styles: list[tuple[int, StyleArray]]  # (column number, style)

    def __contains__(self, row: int) -> bool:
        return self.first <= row <= self.last

    def fill(self, ws: Worksheet, row: int) -> None:
        """Make `row` real cells in the block's format (cells already formatted are left as they are)."""
        for col, arr in self.styles:
            cell = ws.cell(row=row, column=col)
            if not cell.has_style:
                cell._style = StyleArray(arr)


def _header(ws: Worksheet, st: _Styles, names: Iterable[str]) -> None:
    for col, name in enumerate(names, start=1):
        st.header(ws.cell(row=1, column=col, value=name))
    ws.freeze_panes = "A2"
    ws.row_dimensions[1].height = 24


def _protect(ws: Worksheet) -> None:
    # No password: a blank one would prompt in some apps; formatting and row sizing stay allowed.
    for dv in ws.data_validations.dataValidation:  # clearing a cell must never trip a validation
        dv.allow_blank = True
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    ws.protection.formatCells = False


def _widths(ws: Worksheet, widths: Iterable[float]) -> None:
    for col, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = w


def _fit_height(ws: Worksheet, row: int, texts: Iterable[tuple[str, float]]) -> None:
    # Excel does not auto-size wrapped rows written by openpyxl: estimate from CJK chars per column width.
    lines = 1
    for text, width in texts:
        per_line = max(1, int(width / 2.1))
        lines = max(lines, sum(-(-max(len(part), 1) // per_line) for part in str(text).split("\n")))
    ws.row_dimensions[row].height = max(20, 16 * lines + 4)


def _list_validation(options: list[str], title: str, prompt: str, error: str) -> DataValidation:
    formula = '"' + ",".join(options) + '"'
    if len(formula) > 255:  # Excel's limit for an inline list; the guide would need a helper sheet
        raise ValueError(f"dropdown list too long for an inline validation: {formula[:60]}…")
    return DataValidation(type="list", formula1=formula, allow_blank=True, showDropDown=False,
                          showInputMessage=True, promptTitle=title[:32], prompt=prompt[:255],
                          showErrorMessage=True, errorStyle="stop", errorTitle="输入有误", error=error[:255])


def example_activity(g: Guide) -> str:
    """The activity type named in examples and messages (主题党日 in the current guide: every branch knows it)."""
    return g.activity_types[min(4, len(g.activity_types) - 1)].name


def catch_all_activity(g: Guide) -> str:
    """The guide lists its catch-all activity type (其他) last."""
    return g.activity_types[-1].name


def _example_date(year: int, quarter: int) -> dt.date:
    return Period(year, quarter).start.replace(day=5)


def example_row(g: Guide, year: int, quarter: int) -> dict[str, object]:
    """The grey example row of a template's 活动台账 (row EXAMPLE_ROW), by ledger column id, for a quarter.

    Its 主题 begins with EXAMPLE_PREFIX; the reader skips such a row (silently when it is this row unchanged)."""
    return {"date": _example_date(year, quarter), "activity_type": example_activity(g),
            "topic": f"{EXAMPLE_PREFIX}{EXAMPLE_TOPIC}（本行为填写示例，不计入台账，"
                     f"请从第 {EXAMPLE_ROW + 1} 行起填写）",
            "expected": 25, "attended": 23, "hours": None, "evidence": "会议记录、签到表、活动照片"}


# ---- sheets --------------------------------------------------------------------------------------
def _guide_sheet(ws: Worksheet, g: Guide, branch_type: str, example: dict[str, object], period: str | None,
                 prefilled: bool) -> None:
    """使用说明: how to fill in, what the guide asks this quarter (`checklist`), an example, common mistakes."""
    type_name = g.branch_type_name(branch_type)
    due = (f"二、{Period.parse(period).label}须完成的工作" if period else "二、全年须完成的工作（按季度填报时对照）")
    lines: list[tuple[str, bool]] = [
        (f"{g.title} · {type_name}季度填报表 · 填写说明", True),
        (f"本表由各{type_name}书记或支部委员每季度填写一份，季度结束后报送组织部。"
         f"灰色单元格为模板内容（已保护，不能修改），白色单元格请填写。", False),
        ("", False),
        ("一、填写步骤", True),
        *_guide_steps(g, prefilled),
        ("", False),
        (due + "（根据指标指南自动生成，供逐项自查）", True),
        *[(f"    {i}. {line}", False) for i, line in enumerate(checklist(branch_type, period), start=1)],
        ("", False),
        (f"三、填写示例（「{g.workbook.sheets.ledger}」第 {EXAMPLE_ROW} 行的灰色示例行，系统不读取）", True),
        *[(line, False) for line in _example_lines(g, example)],
        ("", False),
        ("四、常见错误（系统会逐条提示并退回修改）", True),
        *[(line, False) for line in _mistakes(g)],
        ("", False),
        (f"指南版本：{g.version}。如有疑问，请联系学校党委组织部。", False),
    ]
    ws.column_dimensions["A"].width = 110
    for r, (text, bold) in enumerate(lines, start=1):
        c = ws.cell(row=r, column=1, value=text)
        c.font = _GUIDE_FONTS[(14 if r == 1 else 11, bold)]
        c.alignment = _WRAP
        if text:
            _fit_height(ws, r, [(text, 110)])
    _protect(ws)


def _guide_steps(g: Guide, prefilled: bool) -> list[tuple[str, bool]]:
    s = sheet_names(g)
    acts = "、".join(a.name for a in g.activity_types)
    statuses = "、".join(o.name for o in g.self_assessment)
    statuses_meaning = "（" + "；".join(f"{o.name}计 {o.value:g} 分" for o in g.self_assessment) + "）"
    training = next((a.name for m in (m for it in g.items for m in it.measures) if m.kind == "hours"
                     for a in g.activity_types if a.id == m.activity), "集中学习培训")
    lecture = next((a.name for a in g.activity_types if a.id == "secretary_lecture"), None)
    fields = {f.id: f.name for f in g.workbook.info_fields}
    if prefilled:
        fixed = "、".join(fields[f] for f in IDENTITY_FIELDS if f in fields)
        info = [(f"1. 「{s['info']}」：{fixed}已按组织部支部名册预先填好并锁定，请核对；如有误请联系组织部更正名册，"
                 f"不要另建文件。党员数已按名册预填，如有变化请改为本季度末人数。请在 B 列填写其余各项：", False)]
        info += [(f"    · {f.name}" + (f"：{f.hint}" if f.hint else ""), False)
                 for f in g.workbook.info_fields if f.id not in IDENTITY_FIELDS]
        name = "5. 保存为 .xlsx 格式报送，文件名已按“季度_支部编码_支部名称”写好，请不要修改文件名。"
    else:
        info = [(f"1. 「{s['info']}」：在 B 列填写本支部的基本信息：", False)]
        info += [(f"    · {f.name}" + (f"：{f.hint}" if f.hint else ""), False) for f in g.workbook.info_fields]
        name = (f"5. 保存为 .xlsx 格式报送，文件名建议写成“2026年第3季度-支部名称.xlsx”（文件名中的季度须与「{s['info']}」"
                "一致）。")
    return [
        *info,
        (f"2. 「{s['ledger']}」：本季度开展的每一次会议、党课、主题党日、学习培训等活动各填一行，从第 {EXAMPLE_ROW + 1} 行起"
         f"连续填写（第 {EXAMPLE_ROW} 行是示例）。活动类型请从下拉列表中选择，可选：{acts}。", False),
        ("    一次会议有多项内容的（如党员大会上书记讲党课、向党员大会报告工作），请按内容各填一行；"
         + (f"书记本人讲党课请选“{lecture}”；" if lecture else "")
         + "每学期末向上级党组织报告工作须登记一行。", False),
        (f"    “{training}”请务必填写学时和实到人数，否则不计入全年人均学时；"
         f"谈心谈话无需逐次登记，在「{s['counts']}」中填写累计人数即可。", False),
        (f"3. 「{s['counts']}」：在 B 列填写各项统计人数（只填人数，不填姓名等个人信息）。"
         f"“累计”类统计项填写本年度 1 月 1 日至本季度末的累计人数。空白按未完成计分，确为 0 请填 0。", False),
        ("    谈心谈话覆盖人数、向支部汇报人数与党员数相比计算覆盖率（第 4 季度须覆盖全体党员），"
         "党费实缴人数 ÷ 应缴人数计算收缴率；入党申请、积极分子、发展党员、推优人数仅作统计，不计分。", False),
        (f"4. 「{s['self_assessment']}」：逐条对照考核要点，在“完成情况”列选择 {statuses}，"
         f"并在最后一列简要填写佐证材料及主要举措{statuses_meaning}。"
         "考核要点后注明“自动计分”的，按台账和统计数据计分，自评仅供参考。", False),
        (name, False),
    ]


def _example_lines(g: Guide, example: dict[str, object]) -> list[str]:
    col = {c.id: c.name for c in g.workbook.ledger_columns}
    training = next((g.activity_name(m.activity) for it in g.items for m in it.measures if m.kind == "hours"),
                    "集中学习培训")
    return [
        f"    {col['date']}：{example['date'].isoformat()}",
        f"    {col['activity_type']}：{example['activity_type']}（从下拉列表选择）",
        f"    {col['topic']}：{EXAMPLE_TOPIC}",
        f"    {col['expected']}：{example['expected']}    {col['attended']}：{example['attended']}",
        f"    {col['hours']}：2（{training}必填，并须填写实到人数；其他活动可不填）",
        f"    {col['evidence']}：{example['evidence']}",
    ]


def _mistakes(g: Guide) -> list[str]:
    without = next(o.name for o in g.self_assessment if o.id == g.self_assessment_without_evidence)
    return [
        "1. 日期不在所报季度内：例如第 1 季度的报表只能填写 1 月 1 日至 3 月 31 日的活动。",
        "2. 日期写错或写成文字：请写成 2026-03-05 这样的格式，不要写“3月上旬”；2 月没有 30 日。",
        f"3. 活动类型手工输入了列表以外的名称：请从下拉列表中选择，列表以外的活动选择“{catch_all_activity(g)}”。",
        "4. 实到人数多于应到人数，或人数、学时填了负数、文字（如“二十人”）。",
        "5. 同一活动重复填写两行：日期、类型、主题、学时、人数完全相同的两行只计一次，系统会提示两行的行号；"
        "如确为两次活动，请在主题中加以区分。",
        f"6. 自评选择“完成”却没有填写佐证材料：将按“{without}”计分。",
        "7. 删除、重命名工作表，或修改表头、A 列项目名称：请保持模板结构不变。",
        "8. 给文件设置打开密码、另存为 .xls 或 .et 格式：请保存为 .xlsx 格式、不设密码后报送。",
        "9. 在台账中粘贴照片：佐证材料只需写明名称，照片等材料按组织部要求另行留存。",
        f"10. 「{g.workbook.sheets.ledger}」中主题以“{EXAMPLE_PREFIX}”开头的行按示例处理，不计入台账：填写真实活动时请写本次活动的主题。",
    ]


def _info_sheet(ws: Worksheet, st: _Styles, g: Guide, branch_type: str, info: BranchInfo | None,
                locked: tuple[str, ...] = ()) -> None:
    """支部信息: one field per row; the fields in `locked` (a pre-filled template's identity) are grey and locked."""
    _header(ws, st, INFO_HEADERS)
    _widths(ws, (18, 36, 48))
    values = _info_values(g, branch_type, info)
    for r, f in enumerate(g.workbook.info_fields, start=2):
        a = ws.cell(row=r, column=1, value=f.name)
        st.body(a, locked=True)
        b = ws.cell(row=r, column=2, value=values.get(f.id))
        st.body(b, locked=f.id in locked, number_format=DATE_FORMAT if f.id == "filled_on" else "@" if f.id in (
            "branch_code", "branch_name", "college", "secretary", "filled_by") else None)
        c = ws.cell(row=r, column=3, value=f.hint)
        st.body(c, locked=True)
        ref = f"B{r}"
        if f.id in locked:  # filled from the registry: no dropdown or input prompt on a cell that cannot change
            continue
        if f.id == "branch_type":
            dv = _list_validation([t.name for t in g.branch_types], f.name, "请从下拉列表中选择支部类型",
                                  "请从下拉列表中选择：" + "、".join(t.name for t in g.branch_types))
        elif f.id == "quarter":
            dv = _list_validation(["1", "2", "3", "4"], f.name, "请选择 1、2、3 或 4", "季度只能是 1、2、3 或 4")
        elif f.id == "year":
            dv = DataValidation(type="whole", operator="between", formula1="2000", formula2="2100",
                                showInputMessage=True, promptTitle=f.name, prompt="请填写四位数年份，如 2026",
                                showErrorMessage=True, errorTitle="输入有误", error="请填写四位数年份，如 2026")
        elif f.id == "members":
            dv = DataValidation(type="whole", operator="between", formula1="1",
                                formula2=str(g.limits.max_members), showInputMessage=True, promptTitle=f.name,
                                prompt="正式党员与预备党员合计人数", showErrorMessage=True, errorTitle="输入有误",
                                error=f"请填写 1 到 {g.limits.max_members} 之间的整数")
        elif f.id == "filled_on":
            dv = DataValidation(type="date", operator="between", formula1=str(_DATE_MIN), formula2=str(_DATE_MAX),
                                showInputMessage=True, promptTitle=f.name, prompt="请按 2026-03-31 的格式填写",
                                showErrorMessage=True, errorTitle="输入有误", error="请填写日期，格式如 2026-03-31")
        elif f.hint:  # input hint only, no restriction
            dv = DataValidation(showInputMessage=True, promptTitle=f.name[:32], prompt=f.hint[:255])
        else:
            continue
        ws.add_data_validation(dv)
        dv.add(ref)
    _protect(ws)


def _info_values(g: Guide, branch_type: str, info: BranchInfo | None) -> dict[str, object]:
    if info is None:
        return {"branch_type": g.branch_type_name(branch_type)}
    return {
        "branch_code": info.branch_code, "branch_name": info.branch_name, "college": info.college,
        "branch_type": g.branch_type_name(info.branch_type) if info.branch_type in
        {t.id for t in g.branch_types} else info.branch_type,
        "year": info.year, "quarter": info.quarter, "members": info.members, "secretary": info.secretary or None,
        "filled_by": info.filled_by or None, "filled_on": info.filled_on,
    }


def _ledger_sheet(ws: Worksheet, st: _Styles, g: Guide, ledger: list[LedgerRow], example: dict[str, object],
                  with_example: bool) -> _BlankRows:
    """活动台账: headers, the ledger rows (under the grey example row when `with_example`), formatted input rows."""
    cols = g.workbook.ledger_columns
    _header(ws, st, [c.name for c in cols])
    width = {"date": 14, "activity_type": 26, "topic": 40, "expected": 11, "attended": 11, "hours": 9,
             "evidence": 32}
    _widths(ws, [width.get(c.id, 16) for c in cols])
    n_rows = max(LEDGER_TEMPLATE_ROWS, len(ledger) + 50)
    idx = {c.id: i for i, c in enumerate(cols, start=1)}
    fmt = {"date": DATE_FORMAT, "expected": "0", "attended": "0", "hours": "0.0#", "topic": "@", "evidence": "@"}
    # Rows 2..n_rows+1 are formatted, unlocked input cells (cells, not column styles: the formatted area ends
    # where the validations end). Rows with an activity are cells here; the rest are left to the writer.
    styles = [(idx[c.id], st.body_array(ws, locked=False, number_format=fmt.get(c.id))) for c in cols]
    start = EXAMPLE_ROW + 1 if with_example else 2
    if with_example:
        for cid, col in idx.items():
            st.example(ws.cell(row=EXAMPLE_ROW, column=col, value=example.get(cid)), fmt.get(cid))
    blank = _BlankRows(first=len(ledger) + start, last=n_rows + 1, styles=styles)
    for r in range(start, blank.first):
        blank.fill(ws, r)
    for i, row in enumerate(ledger, start=start):
        values = {
            "date": row.date,
            "activity_type": row.activity_raw or g.activity_name(row.activity_type),
            "topic": row.topic or None, "expected": row.expected, "attended": row.attended, "hours": row.hours,
            "evidence": row.evidence or None,
        }
        for cid, v in values.items():
            if cid in idx:
                ws.cell(row=i, column=idx[cid], value=v)
    last = n_rows + 1
    letter = {cid: get_column_letter(i) for cid, i in idx.items()}
    hints = {c.id: c.hint for c in cols}
    example = example["date"].isoformat()
    acts = [a.name for a in g.activity_types]
    dvs = [
        (_list_validation(acts, "活动类型", hints.get("activity_type") or "请从下拉列表选择",
                          f"活动类型请从下拉列表中选择，列表以外的活动请选择“{catch_all_activity(g)}”"), "activity_type"),
        (DataValidation(type="date", operator="between", formula1=str(_DATE_MIN), formula2=str(_DATE_MAX),
                        showInputMessage=True, promptTitle="日期", prompt=f"请按 {example} 的格式填写活动日期",
                        showErrorMessage=True, errorTitle="输入有误", error=f"请填写日期，格式如 {example}"), "date"),
    ]
    for cid, label in (("expected", "应到人数"), ("attended", "实到人数")):
        dvs.append((DataValidation(type="whole", operator="between", formula1="0",
                                   formula2=str(g.limits.max_members), showInputMessage=True, promptTitle=label,
                                   prompt="请填写整数人数" + ("，不能多于应到人数" if cid == "attended" else ""),
                                   showErrorMessage=True, errorTitle="输入有误",
                                   error=f"请填写 0 到 {g.limits.max_members} 之间的整数"), cid))
    dvs.append((DataValidation(type="decimal", operator="between", formula1="0",
                               formula2=str(g.limits.max_hours_per_day), showInputMessage=True, promptTitle="学时",
                               prompt=hints.get("hours") or "每人学时", showErrorMessage=True, errorTitle="输入有误",
                               error=f"学时请填写 0 到 {g.limits.max_hours_per_day:g} 之间的数字"), "hours"))
    for dv, cid in dvs:
        if cid in letter:
            ws.add_data_validation(dv)
            dv.add(f"{letter[cid]}2:{letter[cid]}{last}")
    for cid in ("topic", "evidence"):
        if cid in letter and hints.get(cid):
            dv = DataValidation(showInputMessage=True, promptTitle=cid == "topic" and "主题" or "佐证材料",
                                prompt=hints[cid])
            ws.add_data_validation(dv)
            dv.add(f"{letter[cid]}2:{letter[cid]}{last}")
    _protect(ws)
    return blank


def _counts_sheet(ws: Worksheet, st: _Styles, g: Guide, counts: dict[str, float | None] | None) -> None:
    _header(ws, st, [c.name for c in g.workbook.counts_columns])
    _widths(ws, (24, 14, 70))
    for r, f in enumerate(g.count_fields, start=2):
        st.body(ws.cell(row=r, column=1, value=f.name), locked=True)
        v = (counts or {}).get(f.id)
        st.body(ws.cell(row=r, column=2, value=v), locked=False, number_format="0", center=True)
        hint = f.hint + ("（累计）" if f.scope == "year_to_date" and "累计" not in f.hint else "")
        st.body(ws.cell(row=r, column=3, value=hint), locked=True)
    dv = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0", showInputMessage=True,
                        promptTitle="人数", prompt="请填写 0 或正整数（人数）", showErrorMessage=True,
                        errorTitle="输入有误", error="请填写 0 或正整数")
    ws.add_data_validation(dv)
    dv.add(f"B2:B{len(g.count_fields) + 1}")
    _protect(ws)


def scoring_note(item) -> str:
    """How an item's row is scored, for the 自评 sheet: self-assessment only where a rule reads it."""
    own = [m.name for m in item.measures if m.kind == "self_assessed"]
    if not own:
        return "\n【本条按「活动台账」和「统计数据」自动计分，“完成情况”仅供参考】"
    if len(own) < len(item.measures):
        return f"\n【本行自评只计“{'、'.join(own)}”；其余要求按「活动台账」「统计数据」自动计分】"
    return ""


def _self_assessment_sheet(ws: Worksheet, st: _Styles, g: Guide, branch_type: str,
                           answers: dict[str, tuple[str, str]] | None) -> None:
    cols = g.workbook.self_assessment_columns
    _header(ws, st, [c.name for c in cols])
    width = {"item_id": 10, "dimension": 14, "text": 60, "status": 12, "evidence": 48}
    _widths(ws, [width.get(c.id, 16) for c in cols])
    names = {o.id: o.name for o in g.self_assessment}
    items = g.items_for(branch_type)
    for r, item in enumerate(items, start=2):
        status, evidence = (answers or {}).get(item.id, (None, ""))
        values = {
            "item_id": item.id, "dimension": g.dimension_of(item.id).name,
            "text": item.parts.get(branch_type, item.text) + scoring_note(item),
            "status": names.get(status, status) if status else None, "evidence": evidence or None,
        }
        for col, c in enumerate(cols, start=1):
            cell = ws.cell(row=r, column=col, value=values.get(c.id))
            st.body(cell, locked=c.id not in ("status", "evidence"), center=c.id in ("item_id", "status"))
        _fit_height(ws, r, [(values["text"], width["text"]), (values["evidence"] or "", width["evidence"])])
    status_col = next((i for i, c in enumerate(cols, start=1) if c.id == "status"), None)
    if status_col and items:
        opts = [o.name for o in g.self_assessment]
        dv = _list_validation(opts, "完成情况", "请选择：" + "、".join(opts), "请从下拉列表中选择：" + "、".join(opts))
        ws.add_data_validation(dv)
        letter = get_column_letter(status_col)
        dv.add(f"{letter}2:{letter}{len(items) + 1}")
    _protect(ws)


# ---- saving --------------------------------------------------------------------------------------
class _SheetWriter(WorksheetWriter):
    """openpyxl's worksheet writer, plus a sheet's `_BlankRows` written without Cell objects.

    Each blank row is written as the text openpyxl writes for such a row (`<c r="A9" s="5" t="n" />` per
    cell; `tests/test_workbook.py` checks the whole file against openpyxl's own writer, byte for byte).
    Where that text cannot be written directly (a writer without et_xmlfile's `_file`, e.g. lxml's, or a
    row with dimensions), the row's cells are built and written by openpyxl instead.
    """

    def __init__(self, ws: Worksheet, out, blank: _BlankRows | None):
        self.blank = blank
        self._blank_row = None  # the row's text as a format string of the row number, built on first use
        super().__init__(ws, out)

    def write_dimensions(self):  # the used range includes the blank rows, as when they were cells
        if self.blank is None:
            return super().write_dimensions()
        ws, cols = self.ws, [col for col, _ in self.blank.styles]
        ref = (f"{get_column_letter(min(ws.min_column, *cols))}{min(ws.min_row, self.blank.first)}:"
               f"{get_column_letter(max(ws.max_column, *cols))}{max(ws.max_row, self.blank.last)}")
        self.xf.send(SheetDimension(ref).to_tree())

    def rows(self):
        rows = super().rows()
        if self.blank is not None:
            present = {r for r, _ in rows}
            rows += [(r, None) for r in range(self.blank.first, self.blank.last + 1) if r not in present]
            rows.sort(key=itemgetter(0))
        return rows

    def write_row(self, xf, row, row_idx):
        if row is not None:
            return super().write_row(xf, row, row_idx)
        raw = getattr(xf, "_file", None)
        if callable(raw) and row_idx not in self.ws.row_dimensions:
            if self._blank_row is None:  # style ids are taken here, in the order openpyxl would take them
                self._blank_row = '<row r="{0}">' + "".join(
                    f'<c r="{c.column_letter}{{0}}" s="{c.style_id}" t="n" />' for c in self._cells(row_idx)
                ) + "</row>"
            raw(self._blank_row.format(row_idx))
        else:
            super().write_row(xf, self._cells(row_idx), row_idx)

    def _cells(self, row_idx: int) -> list[Cell]:
        return [Cell(self.ws, row=row_idx, column=col, style_array=arr) for col, arr in self.blank.styles]


class _ExcelWriter(ExcelWriter):
    def __init__(self, workbook: Workbook, archive: ZipFile, blanks: dict[str, _BlankRows]):
        super().__init__(workbook, archive)
        self.blanks = blanks

    def write_worksheet(self, ws):  # openpyxl 3.1's ExcelWriter.write_worksheet, with our sheet writer
        ws._drawing = SpreadsheetDrawing()
        ws._drawing.charts = ws._charts
        ws._drawing.images = ws._images
        writer = _SheetWriter(ws, BytesIO(), self.blanks.get(ws.title))  # in memory: no temp file per sheet
        writer.write()
        ws._rels = writer._rels
        self._archive.writestr(ws.path[1:], writer.out.getvalue())
        self.manifest.append(ws)


def _save(wb: Workbook, path: Path | BinaryIO, blanks: dict[str, _BlankRows] | None = None) -> None:
    """`wb.save(path)` (openpyxl's `save_workbook`), with each sheet's blank rows (sheet title -> rows);
    `path` may be a binary file object."""
    wb.properties.modified = dt.datetime.now(tz=dt.timezone.utc).replace(tzinfo=None)
    with ZipFile(path, "w", ZIP_DEFLATED, allowZip64=True) as archive:
        _ExcelWriter(wb, archive, blanks or {}).write_data()


# ---- public API ----------------------------------------------------------------------------------
def write_workbook(path, branch_type: str, *, info: BranchInfo | None = None, ledger: Iterable[LedgerRow] = (),
                   counts: dict[str, float | None] | None = None,
                   self_assessment: dict[str, tuple[str, str]] | None = None,
                   raw_cells: dict[tuple[str, str], object] | None = None, prefilled: bool = False):
    """Write a branch's quarterly workbook: a blank template when only `branch_type` is given, filled otherwise.

    `prefilled=True` with `info` writes a pre-filled template instead (pipelines.prefilled): the identity fields
    (IDENTITY_FIELDS) filled and locked, the other info fields as given, the example row on 活动台账.
    `path` may be a binary file object (the workbook is written into it and it is returned).

    `ledger` rows are written with `activity_raw` when set, else the activity type's Chinese name; dates as real
    dates. `self_assessment` maps item id -> (status id, evidence). `raw_cells` maps (sheet key, "B7") -> value
    and is applied last, so tests and the demo can write what secretaries really type ("2026/3/5", serials, ...).
    Returns the path written.
    """
    g = guide()
    if branch_type not in {t.id for t in g.branch_types}:
        raise ValueError(f"unknown branch type {branch_type!r}")
    if prefilled and info is None:
        raise ValueError("a pre-filled template needs the branch's info")
    if not hasattr(path, "write"):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
    wb, blanks = _build_workbook(g, branch_type, info, list(ledger), counts, self_assessment, raw_cells,
                                 prefilled=prefilled)
    _save(wb, path, blanks)
    return path


def _build_workbook(g: Guide, branch_type: str, info: BranchInfo | None, ledger: list[LedgerRow],
                    counts: dict[str, float | None] | None, self_assessment: dict[str, tuple[str, str]] | None,
                    raw_cells: dict[tuple[str, str], object] | None, *, prefilled: bool = False
                    ) -> tuple[Workbook, dict[str, _BlankRows]]:
    """The branch workbook in memory, and its blank rows by sheet title (for `_save`).

    A template (blank, or `prefilled` from the registry) has the grey example row on 活动台账; a filled
    workbook (info given, not prefilled: the demo's and the tests') has only its own rows."""
    s = sheet_names(g)
    wb = Workbook()
    wb.remove(wb.active)
    ws = {key: wb.create_sheet(name) for key, name in s.items()}
    today = dt.date.today()
    # a blank template is filled after its quarter ended: its examples use the latest completed quarter
    due = Period.latest_completed(today)
    year, quarter = (info.year, info.quarter) if info else (due.year, due.quarter)
    example = example_row(g, year, quarter)
    _guide_sheet(ws["guide"], g, branch_type, example, str(Period(year, quarter)) if info else None, prefilled)
    st = _Styles()
    _info_sheet(ws["info"], st, g, branch_type, info, IDENTITY_FIELDS if prefilled else ())
    blanks = {s["ledger"]: _ledger_sheet(ws["ledger"], st, g, ledger, example, info is None or prefilled)}
    _counts_sheet(ws["counts"], st, g, counts)
    _self_assessment_sheet(ws["self_assessment"], st, g, branch_type, self_assessment)
    for (key, ref), value in (raw_cells or {}).items():
        cell = ws[key][ref]
        blank = blanks.get(s[key])
        if blank is not None and cell.row in blank:  # typed into a template row: the row keeps its format
            blank.fill(ws[key], cell.row)
        cell.value = value
    for sheet in ws.values():
        print_setup(sheet)
    wb.active = 1  # open on 支部信息: the first thing to fill
    wb.properties.title = f"{g.title} {g.branch_type_name(branch_type)}季度填报表"
    wb.properties.creator = g.school
    return wb, blanks


def print_setup(ws) -> None:
    """Print landscape on A4, one page wide with the header row repeated (of a sheet with frozen headers):
    secretaries print the templates to sign, the committee prints the quarterly report."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if ws.freeze_panes:
        ws.print_title_rows = "1:1"


def write_registry_workbook(path, entries: Iterable[RegistryEntry] | None = None) -> Path:
    """Write the registry workbook (支部名册): a blank template, or one row per entry. Returns the path."""
    g = guide()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = {f.id: f for f in g.workbook.info_fields}
    wb = Workbook()
    ws = wb.active
    ws.title = REGISTRY_SHEET
    st = _Styles()
    _header(ws, st, [fields[k].name for k in REGISTRY_FIELDS])
    _widths(ws, (16, 30, 30, 16, 10))
    rows = list(entries or [])
    type_names = {t.id: t.name for t in g.branch_types}
    for r, e in enumerate(rows, start=2):
        values = (e.branch_code, e.branch_name, e.college, type_names.get(e.branch_type, e.branch_type), e.members)
        for col, v in enumerate(values, start=1):  # an inert cell that uploads again as typed
            cell = export.put(ws, r, col, v, editable=True)
            st.body(cell, locked=False, number_format="0" if col == 5 else "@")
            export.mark_text(cell)
    last = max(len(rows) + 1, 500)
    dv = _list_validation(list(type_names.values()), "支部类型", "请从下拉列表中选择支部类型",
                          "请从下拉列表中选择：" + "、".join(type_names.values()))
    ws.add_data_validation(dv)
    dv.add(f"D2:D{last}")
    dv = DataValidation(type="whole", operator="between", formula1="1", formula2=str(g.limits.max_members),
                        showErrorMessage=True, errorTitle="输入有误",
                        error=f"党员数请填写 1 到 {g.limits.max_members} 之间的整数")
    ws.add_data_validation(dv)
    dv.add(f"E2:E{last}")
    ws.auto_filter.ref = f"A1:E{len(rows) + 1}"
    _save(wb, path)
    return path
