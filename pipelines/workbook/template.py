"""The branch's quarterly workbook and the registry workbook, written with openpyxl entirely from the guide.

Sheet names, headers, field names, activity types, count fields and self-assessment items all come from
`guide()`; nothing here repeats them. Header and prefilled cells are locked by sheet protection without a
password (Excel, WPS and LibreOffice all open it cleanly; 审阅 → 撤销工作表保护 needs no password); input
cells are unlocked.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterable

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from pipelines.guide import Guide, guide
from pipelines.workbook.model import BranchInfo, LedgerRow, RegistryEntry
from pipelines.guide.period import Period
from pipelines.workbook.template_text import EXAMPLE_PREFIX  # noqa: F401  (the contract's workbook.EXAMPLE_PREFIX)
from pipelines.workbook.template_text import (EXAMPLE_ROW, IDENTITY_FIELDS, catch_all_activity, example_row, guide_sheet,
                                     sheet_names)
from pipelines.workbook.xlsx_style import (DATE_FORMAT, BlankRows, Styles, fit_height, list_validation, print_setup, protect,
                                  save)

# Headers of the 支部信息 sheet, fixed by the contract in docs/design.md (not part of the guide).
INFO_HEADERS = ("项目", "填写内容", "说明")
# The registry workbook is not a branch workbook, so its sheet is not in the guide's workbook section;
# its columns are the guide's info fields with these ids.
REGISTRY_SHEET = "支部名册"
REGISTRY_FIELDS = ("branch_code", "branch_name", "college", "branch_type", "members")
LEDGER_TEMPLATE_ROWS = 300
# Data-validation date bounds as Excel serials (2000-01-01 .. 2100-12-31): a plain number works in every app.
_DATE_MIN, _DATE_MAX = 36526, 73415


def _header(ws: Worksheet, st: Styles, names: Iterable[str]) -> None:
    for col, name in enumerate(names, start=1):
        st.header(ws.cell(row=1, column=col, value=name))
    ws.freeze_panes = "A2"
    ws.row_dimensions[1].height = 24


def _widths(ws: Worksheet, widths: Iterable[float]) -> None:
    for col, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = w


# ---- sheets --------------------------------------------------------------------------------------
def _info_sheet(ws: Worksheet, st: Styles, g: Guide, branch_type: str, info: BranchInfo | None,
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
            dv = list_validation([t.name for t in g.branch_types], f.name, "请从下拉列表中选择支部类型",
                                 "请从下拉列表中选择：" + "、".join(t.name for t in g.branch_types))
        elif f.id == "quarter":
            dv = list_validation(["1", "2", "3", "4"], f.name, "请选择 1、2、3 或 4", "季度只能是 1、2、3 或 4")
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
    protect(ws)


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


def _ledger_sheet(ws: Worksheet, st: Styles, g: Guide, ledger: list[LedgerRow], example: dict[str, object],
                  with_example: bool) -> BlankRows:
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
    blank = BlankRows(first=len(ledger) + start, last=n_rows + 1, styles=styles)
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
    _ledger_validations(ws, g, idx, example["date"].isoformat(), n_rows + 1)
    protect(ws)
    return blank


def _ledger_validations(ws: Worksheet, g: Guide, idx: dict[str, int], example: str, last: int) -> None:
    """The ledger's drop-down and range checks with their prompts, on rows 2..`last` of each column present."""
    cols = g.workbook.ledger_columns
    letter = {cid: get_column_letter(i) for cid, i in idx.items()}
    hints = {c.id: c.hint for c in cols}
    acts = [a.name for a in g.activity_types]
    dvs = [
        (list_validation(acts, "活动类型", hints.get("activity_type") or "请从下拉列表选择",
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


def _counts_sheet(ws: Worksheet, st: Styles, g: Guide, counts: dict[str, float | None] | None) -> None:
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
    protect(ws)


def scoring_note(item) -> str:
    """How an item's row is scored, for the 自评 sheet: self-assessment only where a rule reads it."""
    own = [m.name for m in item.measures if m.kind == "self_assessed"]
    if not own:
        return "\n【本条按「活动台账」和「统计数据」自动计分，“完成情况”仅供参考】"
    if len(own) < len(item.measures):
        return f"\n【本行自评只计“{'、'.join(own)}”；其余要求按「活动台账」「统计数据」自动计分】"
    return ""


def _self_assessment_sheet(ws: Worksheet, st: Styles, g: Guide, branch_type: str,
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
        fit_height(ws, r, [(values["text"], width["text"]), (values["evidence"] or "", width["evidence"])])
    status_col = next((i for i, c in enumerate(cols, start=1) if c.id == "status"), None)
    if status_col and items:
        opts = [o.name for o in g.self_assessment]
        dv = list_validation(opts, "完成情况", "请选择：" + "、".join(opts), "请从下拉列表中选择：" + "、".join(opts))
        ws.add_data_validation(dv)
        letter = get_column_letter(status_col)
        dv.add(f"{letter}2:{letter}{len(items) + 1}")
    protect(ws)

# ---- public API ----------------------------------------------------------------------------------


def write_workbook(path, branch_type: str, *, info: BranchInfo | None = None, ledger: Iterable[LedgerRow] = (),
                   counts: dict[str, float | None] | None = None,
                   self_assessment: dict[str, tuple[str, str]] | None = None,
                   raw_cells: dict[tuple[str, str], object] | None = None, prefilled: bool = False):
    """Write a branch's quarterly workbook: a blank template when only `branch_type` is given, filled otherwise.

    `prefilled=True` with `info` writes a pre-filled template instead (pipelines.workbook.prefilled): the identity fields
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
    save(wb, path, blanks)
    return path


def _build_workbook(g: Guide, branch_type: str, info: BranchInfo | None, ledger: list[LedgerRow],
                    counts: dict[str, float | None] | None, self_assessment: dict[str, tuple[str, str]] | None,
                    raw_cells: dict[tuple[str, str], object] | None, *, prefilled: bool = False
                    ) -> tuple[Workbook, dict[str, BlankRows]]:
    """The branch workbook in memory, and its blank rows by sheet title (for `save`).

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
    guide_sheet(ws["guide"], g, branch_type, example, str(Period(year, quarter)) if info else None, prefilled)
    st = Styles()
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


def write_registry_workbook(path, entries: Iterable[RegistryEntry] | None = None) -> Path:
    """Write the registry workbook (支部名册): a blank template, or one row per entry. Returns the path.

    Columns: the required REGISTRY_FIELDS, then the guide's optional registry columns (书记姓名, 联系电话).
    """
    g = guide()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = {f.id: f for f in g.workbook.info_fields}
    optional = g.workbook.registry_optional_columns
    wb = Workbook()
    from pipelines.report import export  # here, not at the top: the reader imports this module and needs no pandas

    ws = wb.active
    ws.title = REGISTRY_SHEET
    st = Styles()
    _header(ws, st, [fields[k].name for k in REGISTRY_FIELDS] + [col.name for col in optional])
    _widths(ws, (16, 30, 30, 16, 10) + (18,) * len(optional))
    rows = list(entries or [])
    type_names = {t.id: t.name for t in g.branch_types}
    for r, e in enumerate(rows, start=2):
        values = (e.branch_code, e.branch_name, e.college, type_names.get(e.branch_type, e.branch_type), e.members,
                  *(getattr(e, col.id) for col in optional))
        for col, v in enumerate(values, start=1):  # an inert cell that uploads again as typed
            cell = export.put(ws, r, col, v, editable=True)
            st.body(cell, locked=False, number_format="0" if col == 5 else "@")
            export.mark_text(cell)
    last = max(len(rows) + 1, 500)
    for i in range(len(optional)):  # typed phone numbers stay text (no 1.38E+10, no lost leading 0)
        ws.column_dimensions[get_column_letter(len(REGISTRY_FIELDS) + 1 + i)].number_format = "@"
    dv = list_validation(list(type_names.values()), "支部类型", "请从下拉列表中选择支部类型",
                         "请从下拉列表中选择：" + "、".join(type_names.values()))
    ws.add_data_validation(dv)
    dv.add(f"D2:D{last}")
    dv = DataValidation(type="whole", operator="between", formula1="1", formula2=str(g.limits.max_members),
                        showErrorMessage=True, errorTitle="输入有误",
                        error=f"党员数请填写 1 到 {g.limits.max_members} 之间的整数")
    ws.add_data_validation(dv)
    dv.add(f"E2:E{last}")
    ws.auto_filter.ref = f"A1:{get_column_letter(len(REGISTRY_FIELDS) + len(optional))}{len(rows) + 1}"
    save(wb, path)
    return path
