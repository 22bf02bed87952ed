"""The workbook writer: blank template structure (inspected with openpyxl) and the CLI."""
from __future__ import annotations

import datetime as dt
import zipfile

import pytest
from openpyxl import load_workbook

from pipelines.cli import main
from pipelines.guide import guide
from pipelines.workbook.model import BranchInfo, LedgerRow, RegistryEntry
from pipelines.workbook.template import (INFO_HEADERS, LEDGER_TEMPLATE_ROWS, REGISTRY_SHEET, _build_workbook,
                                write_registry_workbook, write_workbook)
from pipelines.workbook.xlsx_style import save


def _validations(ws):
    return list(ws.data_validations.dataValidation)


def _list_options(ws, cell):
    for dv in _validations(ws):
        if dv.type == "list" and cell in dv.sqref:
            return dv.formula1.strip('"').split(",")
    return None


@pytest.mark.parametrize("branch_type", ["teacher", "student"])
def test_blank_template_sheets_headers_and_items(tmp_path, branch_type):
    g = guide()
    path = write_workbook(tmp_path / "t.xlsx", branch_type)
    wb = load_workbook(path)
    s = g.workbook.sheets
    assert wb.sheetnames == [s.guide, s.info, s.ledger, s.counts, s.self_assessment]

    info = wb[s.info]
    assert [c.value for c in info[1]] == list(INFO_HEADERS)
    assert [info.cell(row=r, column=1).value for r in range(2, 2 + len(g.workbook.info_fields))] == [
        f.name for f in g.workbook.info_fields]

    ledger = wb[s.ledger]
    assert [c.value for c in ledger[1]] == [c.name for c in g.workbook.ledger_columns]
    counts = wb[s.counts]
    assert [c.value for c in counts[1]] == [c.name for c in g.workbook.counts_columns]
    assert [counts.cell(row=r, column=1).value for r in range(2, 2 + len(g.count_fields))] == [
        f.name for f in g.count_fields]

    sa = wb[s.self_assessment]
    assert [c.value for c in sa[1]] == [c.name for c in g.workbook.self_assessment_columns]
    items = g.items_for(branch_type)
    assert [sa.cell(row=r, column=1).value for r in range(2, 2 + len(items))] == [it.id for it in items]
    assert sa.cell(row=2 + len(items), column=1).value is None
    # Items with a teacher and a student part show only this type's part, then how the row is scored.
    from pipelines.workbook.template import scoring_note

    for r, it in enumerate(items, start=2):
        assert sa.cell(row=r, column=3).value == it.parts.get(branch_type, it.text) + scoring_note(it)
    auto = next(it for it in items if not it.self_assessed)
    assert "自动计分" in scoring_note(auto) and scoring_note(next(
        it for it in items if all(m.kind == "self_assessed" for m in it.measures))) == ""

    # The guide sheet explains in Chinese, with an example and common mistakes.
    text = "\n".join(str(c.value) for c in wb[s.guide]["A"] if c.value)
    assert "填写示例" in text and "常见错误" in text and g.branch_type_name(branch_type) in text


def test_blank_template_dropdowns_protection_and_layout(tmp_path):
    g = guide()
    wb = load_workbook(write_workbook(tmp_path / "t.xlsx", "teacher"))
    s = g.workbook.sheets
    info, ledger, sa = wb[s.info], wb[s.ledger], wb[s.self_assessment]
    rows = {f.id: r for r, f in enumerate(g.workbook.info_fields, start=2)}

    assert _list_options(info, f"B{rows['branch_type']}") == [t.name for t in g.branch_types]
    assert _list_options(info, f"B{rows['quarter']}") == ["1", "2", "3", "4"]
    assert info[f"B{rows['branch_type']}"].value == g.branch_type_name("teacher")
    assert _list_options(ledger, "B2") == [a.name for a in g.activity_types]
    assert _list_options(ledger, "B301") == [a.name for a in g.activity_types]
    assert _list_options(sa, "D2") == [o.name for o in g.self_assessment]
    kinds = {dv.type for dv in _validations(ledger)}
    assert {"list", "date", "whole", "decimal"} <= kinds
    assert all(dv.error and dv.prompt for dv in _validations(ledger) if dv.type)  # typed ones: hint + error
    assert all(dv.allow_blank for ws in wb.worksheets for dv in _validations(ws))
    hinted = [dv for dv in _validations(info) if f"B{rows['branch_code']}" in dv.sqref]
    assert hinted and "JX-T01" in hinted[0].prompt  # the registry's code format

    for ws in wb.worksheets:
        assert ws.protection.sheet is True
        assert not ws.protection.password  # opens and unprotects cleanly in Excel, WPS, LibreOffice
    for ws in (info, ledger, sa):
        assert ws.freeze_panes == "A2"
        assert ws["A1"].protection.locked
        assert ws["A1"].font.name == "微软雅黑"
    assert info["A2"].protection.locked and not info["B2"].protection.locked and info["C2"].protection.locked
    assert ledger["A2"].protection.locked and str(ledger["C2"].value).startswith("示例：")  # the example row
    assert not ledger["A3"].protection.locked and not ledger["G301"].protection.locked
    assert ledger["A3"].number_format == "yyyy-mm-dd"
    assert sa["A2"].protection.locked and sa["C2"].protection.locked
    assert not sa["D2"].protection.locked and not sa["E2"].protection.locked
    assert sa["C2"].alignment.wrap_text
    assert ledger.column_dimensions["C"].width >= 30


def test_filled_workbook_writes_values_and_raw_cells(tmp_path):
    g = guide()
    info = BranchInfo("JX01-S02", "机械学院学生第二党支部", "机械工程学院", "student", 2026, 2, 30,
                      "王书记", "李委员", dt.date(2026, 6, 28))
    ledger = [LedgerRow(2, dt.date(2026, 4, 8), "theme_day", "", "参观红色教育基地", 30, 28, None, "照片"),
              LedgerRow(3, dt.date(2026, 4, 9), "training", "集中学习", "专题学习", 30, 30, 4.0, "签到表")]
    path = write_workbook(tmp_path / "f.xlsx", "student", info=info, ledger=ledger,
                          counts={"fee_due": 30, "fee_paid": 29},
                          self_assessment={"1.1.1": ("done", "学习记录")},
                          raw_cells={("ledger", "A4"): "2026/4/10"})
    wb = load_workbook(path)
    s = g.workbook.sheets
    assert wb[s.info]["B2"].value == "JX01-S02"
    assert wb[s.ledger]["A2"].value.date() == dt.date(2026, 4, 8)
    assert wb[s.ledger]["B2"].value == g.activity_name("theme_day")
    assert wb[s.ledger]["B3"].value == "集中学习"  # activity_raw wins
    assert wb[s.ledger]["A4"].value == "2026/4/10"
    assert wb[s.self_assessment]["D2"].value == "完成"


def test_registry_workbook(tmp_path):
    g = guide()
    blank = load_workbook(write_registry_workbook(tmp_path / "blank.xlsx"))
    assert blank.sheetnames == [REGISTRY_SHEET]
    assert [c.value for c in blank[REGISTRY_SHEET][1]] == ["支部编码", "支部名称", "所属二级党组织", "支部类型", "党员数",
                                                           "书记姓名", "联系电话"]
    filled = load_workbook(write_registry_workbook(
        tmp_path / "r.xlsx", [RegistryEntry("JX01-T01", "教工一支部", "机械工程学院", "teacher", 25),
                              RegistryEntry("JX01-T02", "教工二支部", "机械工程学院", "teacher", 20, "王芳", "0571-1234")]))
    assert [c.value for c in filled[REGISTRY_SHEET][2]] == [
        "JX01-T01", "教工一支部", "机械工程学院", g.branch_type_name("teacher"), 25, None, None]
    assert [c.value for c in filled[REGISTRY_SHEET][3]][5:] == ["王芳", "0571-1234"]
    assert filled[REGISTRY_SHEET]["G3"].number_format == "@"


def test_cli_template(tmp_path, capsys):
    out = tmp_path / "模板.xlsx"
    assert main(["template", "--type", "student", "--out", str(out)]) == 0
    assert out.exists() and "学生党支部" in capsys.readouterr().out


# ---- the fast writer writes what openpyxl writes --------------------------------------------------------
def _filled_args():
    info = BranchInfo("JX01-T02", "机械学院教工第二党支部", "机械工程学院", "teacher", 2026, 1, 25,
                      "王书记", "李委员", dt.date(2026, 3, 30))
    ledger = [LedgerRow(2, dt.date(2026, 1, 8), "theme_day", "", "主题党日", 25, 23, None, "照片"),
              LedgerRow(3, dt.date(2026, 2, 9), "training", "", "专题学习", 25, 25, 2.0, "签到表")]
    # Typed into template rows, beyond the sheet's columns and beyond the template: each keeps its old format.
    raw = {("ledger", "A3"): "2026/2/9", ("ledger", "A20"): "2026年3月5日", ("ledger", "B30"): dt.date(2026, 3, 6),
           ("ledger", "H5"): "备注", ("ledger", "C400"): "表外", ("counts", "B2"): "二十"}
    return "teacher", info, ledger, {"fee_due": 25}, {"1.1.1": ("done", "学习记录")}, raw


@pytest.mark.parametrize("args", [("student", None, [], None, None, None), _filled_args()],
                         ids=["blank", "filled"])
def test_fast_save_is_byte_identical_to_openpyxl_save(tmp_path, args):
    """The template rows written without Cell objects, and the in-memory sheets, change no byte of the file."""
    g = guide()
    wb, blanks = _build_workbook(g, *args)
    save(wb, tmp_path / "fast.xlsx", blanks)
    wb, blanks = _build_workbook(g, *args)
    for title, blank in blanks.items():  # the same rows as real cells, saved by openpyxl itself
        for r in range(blank.first, blank.last + 1):
            blank.fill(wb[title], r)
    wb.save(tmp_path / "openpyxl.xlsx")
    with zipfile.ZipFile(tmp_path / "fast.xlsx") as fast, zipfile.ZipFile(tmp_path / "openpyxl.xlsx") as ref:
        assert fast.namelist() == ref.namelist()
        for name in ref.namelist():
            if name != "docProps/core.xml":  # save timestamps
                assert fast.read(name) == ref.read(name), name


def test_template_rows_are_formatted_input_cells_up_to_the_last_validated_row(tmp_path):
    g = guide()
    bt, info, ledger, counts, answers, raw = _filled_args()
    wb = load_workbook(write_workbook(tmp_path / "f.xlsx", bt, info=info, ledger=ledger, counts=counts,
                                      self_assessment=answers, raw_cells=raw))
    ledger_ws = wb[g.workbook.sheets.ledger]
    last = LEDGER_TEMPLATE_ROWS + 1
    assert ledger_ws.max_row == 400 and ledger_ws.dimensions == "A1:H400"
    formats = [ledger_ws.cell(row=2, column=c).number_format for c in range(1, 8)]
    assert formats[0] == "yyyy-mm-dd" and formats[2] == "@"
    for r in (3, 4, 20, 30, 150, last):  # data rows, typed-into template rows, untouched template rows
        for col in range(1, 8):
            cell = ledger_ws.cell(row=r, column=col)
            assert not cell.protection.locked, cell.coordinate
            assert cell.border.left.style == "thin" and cell.fill.fgColor.rgb == "00FFFFFF", cell.coordinate
            assert cell.font.name == "微软雅黑" and cell.alignment.wrap_text, cell.coordinate
            if cell.coordinate != "B30":  # a typed date gets a date format, as in Excel
                assert cell.number_format == formats[col - 1], cell.coordinate
    assert ledger_ws["A20"].value == "2026年3月5日" and ledger_ws["B30"].value.date() == dt.date(2026, 3, 6)
    assert ledger_ws.cell(row=last + 1, column=1).protection.locked  # formatting ends with the validations
    assert ledger_ws["H5"].value == "备注" and ledger_ws["H5"].protection.locked


def test_every_sheet_prints_one_page_wide(tmp_path):
    """Secretaries print the workbook to sign it: landscape A4, fitted to the page width, header repeated."""
    from openpyxl import load_workbook

    from pipelines.workbook.template import write_workbook

    wb = load_workbook(write_workbook(tmp_path / "t.xlsx", "student"))
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape" and ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
    assert wb[guide().workbook.sheets.ledger].print_title_rows == "$1:$1"
