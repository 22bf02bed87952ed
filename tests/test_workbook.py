"""The workbook writer: blank template structure (inspected with openpyxl) and the CLI."""
from __future__ import annotations

import datetime as dt

import pytest
from openpyxl import load_workbook

from pipelines.__main__ import main
from pipelines.guide import guide
from pipelines.model import BranchInfo, LedgerRow, RegistryEntry
from pipelines.workbook import INFO_HEADERS, REGISTRY_SHEET, write_registry_workbook, write_workbook


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
    # Items with a teacher and a student part show only this type's part.
    for r, it in enumerate(items, start=2):
        assert sa.cell(row=r, column=3).value == it.parts.get(branch_type, it.text)

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
    assert hinted and "JX01-T01" in hinted[0].prompt

    for ws in wb.worksheets:
        assert ws.protection.sheet is True
        assert not ws.protection.password  # opens and unprotects cleanly in Excel, WPS, LibreOffice
    for ws in (info, ledger, sa):
        assert ws.freeze_panes == "A2"
        assert ws["A1"].protection.locked
        assert ws["A1"].font.name == "微软雅黑"
    assert info["A2"].protection.locked and not info["B2"].protection.locked and info["C2"].protection.locked
    assert not ledger["A2"].protection.locked and not ledger["G301"].protection.locked
    assert ledger["A2"].number_format == "yyyy-mm-dd"
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
    assert [c.value for c in blank[REGISTRY_SHEET][1]] == ["支部编码", "支部名称", "所属二级党组织", "支部类型", "党员数"]
    filled = load_workbook(write_registry_workbook(
        tmp_path / "r.xlsx", [RegistryEntry("JX01-T01", "教工一支部", "机械工程学院", "teacher", 25)]))
    assert [c.value for c in filled[REGISTRY_SHEET][2]] == [
        "JX01-T01", "教工一支部", "机械工程学院", g.branch_type_name("teacher"), 25]


def test_cli_template(tmp_path, capsys):
    out = tmp_path / "模板.xlsx"
    assert main(["template", "--type", "student", "--out", str(out)]) == 0
    assert out.exists() and "学生党支部" in capsys.readouterr().out
