"""Reading and validation: real workbooks written by `write_workbook` into tmp_path, read back by the reader.

Every bad-input class asserts the located problem: file, sheet, cell, code and the Chinese message.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import os
import shutil
import struct
import subprocess
import zipfile

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from pipelines.workbook import container
from pipelines.guide import guide
from pipelines.workbook.model import BranchInfo, CountValue, LedgerRow, RegistryEntry, SelfAssessmentRow
from pipelines.workbook.problems import CATALOGUE, flatten, make
from pipelines.workbook.reader import read_registry, read_workbook
from pipelines.workbook.template import write_registry_workbook, write_workbook

G = guide()
S = G.workbook.sheets
INFO_ROW = {f.id: r for r, f in enumerate(G.workbook.info_fields, start=2)}
L = {c.id: get_column_letter(i) for i, c in enumerate(G.workbook.ledger_columns, start=1)}
COUNT_ROW = {f.id: r for r, f in enumerate(G.count_fields, start=2)}
SA = {c.id: get_column_letter(i) for i, c in enumerate(G.workbook.self_assessment_columns, start=1)}
FIELD = {f.id: f.name for f in G.workbook.info_fields}


def sa_row(branch_type: str, item_id: str) -> int:
    return [it.id for it in G.items_for(branch_type)].index(item_id) + 2


def info(branch_type="teacher", quarter=2, **kw) -> BranchInfo:
    code = "JX01-T01" if branch_type == "teacher" else "JX01-S01"
    base = dict(branch_code=code, branch_name=f"机械工程学院{G.branch_type_name(branch_type)}第一支部",
                college="机械工程学院", branch_type=branch_type, year=2026, quarter=quarter, members=30,
                secretary="王明", filled_by="李华", filled_on=dt.date(2026, 3 * quarter, 28))
    return BranchInfo(**{**base, **kw})


def sample(branch_type="teacher", quarter=2) -> dict:
    """A complete, valid submission: one ledger row per activity type, every count, every item."""
    months = [3 * (quarter - 1) + i for i in (1, 2, 3)]
    ledger = []
    for i, a in enumerate(G.activity_types):
        ledger.append(LedgerRow(
            row=i + 2, date=dt.date(2026, months[i % 3], 3 + i), activity_type=a.id,
            activity_raw=a.synonyms[0] if i % 4 == 0 and a.synonyms else "", topic=f"主题{i}：学习贯彻会议精神",
            expected=30 if i % 5 else None, attended=28 - (i % 3) if i % 5 else None,
            hours=2.5 if a.id == "training" else None, evidence="会议记录、签到表" if i % 2 else ""))
    counts = {f.id: 20 + i for i, f in enumerate(G.count_fields)}
    counts.update(fee_due=30, fee_paid=29, members_reported=28, members_talked=30)
    statuses = [o.id for o in G.self_assessment]
    sa = {it.id: (statuses[i % len(statuses)], f"佐证{it.id}：会议记录") for i, it in enumerate(G.items_for(branch_type))}
    return dict(info=info(branch_type, quarter), ledger=ledger, counts=counts, self_assessment=sa)


def write(tmp_path, branch_type="teacher", *, name="支部报表.xlsx", raw=None, **overrides):
    kw = {**sample(branch_type), **overrides}
    return write_workbook(tmp_path / name, branch_type, raw_cells=raw, **kw)


def codes(parsed) -> list[str]:
    return [p.code for p in parsed.problems]


def one(parsed, code):
    """The single problem with `code`; its file is always the workbook's name."""
    found = [p for p in parsed.problems if p.code == code]
    assert len(found) == 1, (code, flatten(parsed.problems))
    p = found[0]
    assert p.file == parsed.file_name and p.severity == CATALOGUE[code].severity
    return p


# ---- round trip ----------------------------------------------------------------------------------
@pytest.mark.parametrize("branch_type", ["teacher", "student"])
def test_filled_template_round_trips_exactly(tmp_path, branch_type):
    data = sample(branch_type)
    path = write(tmp_path, branch_type)
    parsed = read_workbook(path)
    assert parsed.problems == []
    assert parsed.valid and parsed.file_name == path.name and len(parsed.sha256) == 64
    assert parsed.info == data["info"]
    expected_ledger = [dataclasses.replace(r, activity_raw=r.activity_raw or G.activity_name(r.activity_type))
                       for r in data["ledger"]]
    assert parsed.ledger == expected_ledger
    assert parsed.counts == [CountValue(COUNT_ROW[f.id], f.id, data["counts"][f.id]) for f in G.count_fields]
    assert parsed.self_assessment == [
        SelfAssessmentRow(sa_row(branch_type, iid), iid, status, ev)
        for iid, (status, ev) in data["self_assessment"].items()]


def test_bytes_source_and_file_name(tmp_path):
    path = write(tmp_path)
    parsed = read_workbook(path.read_bytes(), "上传的.xlsx")
    assert parsed.file_name == "上传的.xlsx" and parsed.valid
    import hashlib
    assert parsed.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() == read_workbook(path).sha256


def test_blank_template_reports_missing_info_not_a_crash(tmp_path):
    parsed = read_workbook(write_workbook(tmp_path / "blank.xlsx", "student"))
    assert not parsed.valid and parsed.info is None and parsed.ledger == []
    p = [p for p in parsed.problems if p.code == "info_value_missing" and p.cell == f"B{INFO_ROW['branch_code']}"][0]
    assert p.sheet == S.info and "支部编码”未填写" in p.message


SERIAL_0504 = (dt.date(2026, 5, 4) - dt.date(1899, 12, 30)).days


def test_messy_values_are_normalised(tmp_path):
    r = INFO_ROW
    raw = {
        ("info", f"B{r['branch_type']}"): " 教工\n", ("info", f"B{r['quarter']}"): "第二季度",
        ("info", f"B{r['year']}"): "２０２６", ("info", f"B{r['members']}"): "30人",
        ("info", f"B{r['branch_code']}"): " ＪＸ01-T01 ", ("info", f"B{r['filled_on']}"): "2026.6.28",
        ("ledger", f"{L['date']}2"): "2026/4/3", ("ledger", f"{L['date']}3"): SERIAL_0504,
        ("ledger", f"{L['date']}4"): "2026年6月5日", ("ledger", f"{L['date']}5"): "2026.04.06 ",
        ("ledger", f"{L['date']}6"): "２０２６－０５－０７", ("ledger", f"{L['activity_type']}2"): "支委会 ",
        ("ledger", f"{L['activity_type']}3"): "主题\n党日", ("ledger", f"{L['expected']}3"): "３０",
        ("ledger", f"{L['attended']}3"): "28人", ("ledger", f"{L['hours']}3"): "2学时",
        ("ledger", f"{L['topic']}3"): "  学习\n党章  ", ("counts", f"B{COUNT_ROW['fee_due']}"): "30 人",
        ("self_assessment", f"{SA['status']}2"): " 完成 ", ("self_assessment", f"{SA['item_id']}3"): "１．１．２",
    }
    path = write(tmp_path, raw=raw)
    wb = load_workbook(path)
    wb[S.ledger][f"{L['date']}3"].number_format = "General"  # a bare serial, as pasted from another system
    wb.save(path)
    parsed = read_workbook(path)
    assert [p for p in parsed.problems if p.severity == "error"] == []
    i = parsed.info
    assert (i.branch_type, i.quarter, i.year, i.members, i.branch_code, i.filled_on) == (
        "teacher", 2, 2026, 30, "JX01-T01", dt.date(2026, 6, 28))
    rows = {x.row: x for x in parsed.ledger}
    assert [rows[n].date for n in range(2, 7)] == [dt.date(2026, 4, 3), dt.date(2026, 5, 4), dt.date(2026, 6, 5),
                                                   dt.date(2026, 4, 6), dt.date(2026, 5, 7)]
    assert rows[2].activity_type == "committee_meeting" and rows[2].activity_raw == "支委会"
    assert (rows[3].activity_type, rows[3].expected, rows[3].attended, rows[3].hours, rows[3].topic) == (
        "theme_day", 30, 28, 2.0, "学习 党章")
    assert {c.field: c.value for c in parsed.counts}["fee_due"] == 30
    assert [a.item_id for a in parsed.self_assessment][:2] == ["1.1.1", "1.1.2"]


def test_blank_rows_are_skipped_silently_with_excel_row_numbers(tmp_path):
    data = sample()
    ledger = [dataclasses.replace(r, row=0) for r in data["ledger"][:3]]
    path = write(tmp_path, ledger=ledger, raw={
        ("ledger", f"{L['date']}10"): dt.date(2026, 5, 20), ("ledger", f"{L['activity_type']}10"): "党课",
        ("ledger", f"{L['topic']}7"): "   ",  # whitespace only: still blank
    })
    parsed = read_workbook(path)
    assert parsed.problems == []
    assert [r.row for r in parsed.ledger] == [2, 3, 4, 10]


# ---- the file as a container ---------------------------------------------------------------------
@pytest.mark.parametrize("content,hint", [
    ("支部编码,支部名称\nJX01-T01,一支部\n".encode("gb18030"), "CSV"),
    (b"%PDF-1.7\n...", "PDF"),
    (b"<html><table><tr><td>1</td></tr></table></html>", "网页"),
    (bytes(range(256)) * 8, ""),
])
def test_not_an_xlsx(tmp_path, content, hint):
    path = tmp_path / "报表.xlsx"
    path.write_bytes(content)
    parsed = read_workbook(path)
    p = one(parsed, "file_not_xlsx")
    assert (p.sheet, p.cell) == ("", "") and p.file == "报表.xlsx"
    assert "不是 Excel 工作簿（.xlsx）" in p.message and hint in p.message and "另存为" in p.message
    assert parsed.info is None and not parsed.valid


def test_renamed_word_document(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    assert "Word 文档" in one(read_workbook(buf.getvalue(), "a.xlsx"), "file_not_xlsx").message


def _ole(*streams: str) -> bytes:
    """A minimal OLE/CFB header followed by directory entry names (UTF-16LE), as Office writes them."""
    body = b"".join(s.encode("utf-16-le").ljust(64, b"\0") for s in streams)
    return container.OLE_MAGIC + b"\0" * 504 + body + b"\0" * 1024


def test_password_protected_minimal_header():
    # Only the shape the reader looks for: a CFB header and an EncryptionInfo directory entry, no real sectors.
    p = one(read_workbook(_ole("Root Entry", "EncryptionInfo", "EncryptedPackage"), "加密.xlsx"), "file_encrypted")
    assert p.file == "加密.xlsx" and "请取消密码保护后重新上传" in p.message


def test_password_protected_xlsx(tmp_path):
    """A real workbook encrypted with a password (as Excel's 用密码进行加密 does) is rejected with one clear error."""
    ooxml = pytest.importorskip("msoffcrypto.format.ooxml", reason="pip install msoffcrypto-tool (test extra)")
    plain = write(tmp_path)
    encrypted = io.BytesIO()
    with plain.open("rb") as f:
        ooxml.OOXMLFile(f).encrypt("支部2026", encrypted)
    data = encrypted.getvalue()
    assert data.startswith(container.OLE_MAGIC)

    path = tmp_path / "加密报表.xlsx"
    path.write_bytes(data)
    for parsed, name in ((read_workbook(path), path.name), (read_workbook(data, "加密.xlsx"), "加密.xlsx")):
        assert [(p.code, p.severity, p.file) for p in parsed.problems] == [("file_encrypted", "error", name)]
        assert parsed.file_name == name and not parsed.valid and parsed.info is None
        message = parsed.problems[0].message
        assert "请取消密码保护后重新上传" in message and "密码" in message and "WPS" in message

    # The file really is encrypted: only the password opens it, and it opens to the very workbook written.
    office = ooxml.OOXMLFile(io.BytesIO(data))
    assert office.is_encrypted()
    office.load_key(password="支部2026", verify_password=True)
    decrypted = io.BytesIO()
    office.decrypt(decrypted)
    back, original = read_workbook(decrypted.getvalue(), "解密.xlsx"), read_workbook(plain)
    assert back.problems == [] and (back.info, back.ledger, back.counts, back.self_assessment) == (
        original.info, original.ledger, original.counts, original.self_assessment)
    from msoffcrypto.exceptions import InvalidKeyError

    with pytest.raises(InvalidKeyError):
        ooxml.OOXMLFile(io.BytesIO(data)).load_key(password="wrong", verify_password=True)


def test_legacy_xls(tmp_path):
    p = one(read_workbook(_ole("Root Entry", "Workbook"), "旧.xls"), "file_old_xls")
    assert "旧版 Excel 97-2003 格式（.xls）" in p.message and "另存为" in p.message
    p = one(read_workbook(_ole("Root Entry", "Workbook"), "支部.et"), "file_old_xls")
    assert "WPS 表格专用格式（.et）" in p.message and ".xls）" not in p.message


def test_corrupt_zip_truncated(tmp_path):
    data = write(tmp_path).read_bytes()
    p = one(read_workbook(data[: len(data) // 2], "坏.xlsx"), "file_corrupt")
    assert "损坏" in p.message and p.file == "坏.xlsx"


def test_corrupt_member_data(tmp_path):
    data = bytearray(write(tmp_path).read_bytes())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("xl/worksheets/sheet3.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 20, start + 60):  # scramble deflate data inside the ledger sheet
        data[i] ^= 0x5A
    assert one(read_workbook(bytes(data), "坏.xlsx"), "file_corrupt")


def test_empty_file(tmp_path):
    (tmp_path / "e.xlsx").write_bytes(b"")
    assert one(read_workbook(tmp_path / "e.xlsx"), "file_empty").message


def test_too_large_is_rejected_without_reading(tmp_path):
    path = tmp_path / "大.xlsx"
    with path.open("wb") as f:  # sparse: the size check must come from stat, not from reading
        f.truncate(int((G.limits.max_file_mb + 1) * 2**20))
    parsed = read_workbook(path)
    p = one(parsed, "file_too_large")
    assert f"上限 {G.limits.max_file_mb:g} MB" in p.message and len(parsed.sha256) == 64
    assert one(read_workbook(b"PK" + b"\0" * int(G.limits.max_file_mb * 2**20), "x.xlsx"), "file_too_large")


def test_unreadable_path(tmp_path):
    assert one(read_workbook(tmp_path / "没有这个文件.xlsx"), "file_unreadable").file == "没有这个文件.xlsx"


@pytest.fixture(scope="module")
def honest_bomb() -> bytes:
    """An xlsx-looking zip whose sheet inflates past limits.max_uncompressed_mb from ~150 KB."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            chunk = b"\0" * 2**20
            for _ in range(int(G.limits.max_uncompressed_mb) + 10):
                f.write(chunk)
    return buf.getvalue()


def test_zip_bomb_rejected_from_the_central_directory(honest_bomb, monkeypatch):
    assert len(honest_bomb) < 1_000_000
    opened = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *a, **kw):  # records, then behaves exactly as zipfile does
        opened.append(name)
        return real_open(self, name, *a, **kw)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    parsed = read_workbook(honest_bomb, "炸弹.xlsx")
    p = one(parsed, "zip_bomb")
    assert opened == []  # no member was inflated: the verdict came from declared sizes alone
    assert f"上限 {G.limits.max_uncompressed_mb:g} MB" in p.message and "压缩比" in p.message


def _patch_declared_size(data: bytes, size: int) -> bytes:
    """Rewrite every member's declared uncompressed size in the central directory."""
    out = bytearray(data)
    i = out.find(b"PK\x01\x02")
    while i != -1:
        struct.pack_into("<I", out, i + 24, size)
        i = out.find(b"PK\x01\x02", i + 4)
    return bytes(out)


def test_zip_bomb_with_garbage_data_never_inflated():
    # Declared sizes say ~4 GB while the data is not even valid deflate: had the reader inflated anything it
    # would report a corrupt file; zip_bomb proves it decided before decompressing.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("xl/workbook.xml", b"\xff" * 1000)
    parsed = read_workbook(_patch_declared_size(buf.getvalue(), 0xF0000000), "b.xlsx")
    assert codes(parsed) == ["zip_bomb"]


def test_zip_with_too_many_members():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(container.MAX_ZIP_ENTRIES + 1):
            z.writestr(f"xl/m{i}.xml", "")
    assert codes(read_workbook(buf.getvalue(), "many.xlsx")) == ["zip_bomb"]


# ---- structure -----------------------------------------------------------------------------------
def test_missing_sheet(tmp_path):
    path = write(tmp_path)
    wb = load_workbook(path)
    del wb[S.counts]
    wb.save(path)
    parsed = read_workbook(path)
    p = one(parsed, "sheet_missing")
    assert (p.sheet, p.cell) == (S.counts, "") and f"缺少「{S.counts}」工作表" in p.message
    assert f"「{S.ledger}」" in p.message  # lists what is there
    assert parsed.ledger and parsed.info  # the other sheets are still checked


def test_sheet_name_with_stray_space_is_accepted(tmp_path):
    path = write(tmp_path)
    wb = load_workbook(path)
    wb[S.counts].title = S.counts + " "
    wb.save(path)
    assert read_workbook(path).problems == []


def test_missing_column(tmp_path):
    parsed = read_workbook(write(tmp_path, raw={("ledger", f"{L['topic']}1"): "活动内容"}))
    p = one(parsed, "column_missing")
    assert (p.sheet, p.cell, p.value) == (S.ledger, f"{L['topic']}1", "活动内容")
    assert "缺少“主题”列" in p.message


def test_missing_date_column_stops_ledger_but_not_the_rest(tmp_path):
    parsed = read_workbook(write(tmp_path, raw={("ledger", f"{L['date']}1"): None}))
    assert one(parsed, "column_missing").cell == f"{L['date']}1" and parsed.ledger == [] and parsed.counts


def test_missing_info_field_row(tmp_path):
    cell = f"A{INFO_ROW['members']}"
    p = one(read_workbook(write(tmp_path, raw={("info", cell): "人数"})), "info_field_missing")
    assert p.sheet == S.info and "找不到“党员数”" in p.message


def test_missing_required_info_value(tmp_path):
    cell = f"B{INFO_ROW['college']}"
    p = one(read_workbook(write(tmp_path, raw={("info", cell): None})), "info_value_missing")
    assert (p.sheet, p.cell) == (S.info, cell) and "“所属二级党组织”未填写" in p.message


def test_unknown_branch_type(tmp_path):
    cell = f"B{INFO_ROW['branch_type']}"
    parsed = read_workbook(write(tmp_path, raw={("info", cell): "行政党支部"}))
    p = one(parsed, "branch_type_unknown")
    assert (p.sheet, p.cell, p.value) == (S.info, cell, "行政党支部")
    assert p.message == (f"「支部信息」工作表 {cell} 单元格的支部类型“行政党支部”无法识别。"
                         "请从下拉列表中选择：教师党支部、学生党支部。")


def test_unknown_branch_code_and_registry_mismatch(tmp_path):
    path = write(tmp_path)
    cell = f"B{INFO_ROW['branch_code']}"
    other = {"JX02-T09": RegistryEntry("JX02-T09", "某支部", "某学院", "teacher", 10)}
    p = one(read_workbook(path, registry=other), "branch_code_unknown")
    assert (p.sheet, p.cell, p.value) == (S.info, cell, "JX01-T01") and "不在组织部的支部名册中" in p.message
    assert read_workbook(path).valid  # without a registry the code is not checked

    good = info()
    registry = {good.branch_code: RegistryEntry(good.branch_code, good.branch_name, "电气工程学院", "teacher", 30)}
    parsed = read_workbook(path, registry=registry)
    assert parsed.valid and parsed.info.college == "电气工程学院"  # a college mismatch is a warning; registry wins
    p = one(parsed, "registry_college_differs")
    assert p.cell == f"B{INFO_ROW['college']}" and "“机械工程学院”" in p.message and "已按名册记为“电气工程学院”" in p.message

    # a different branch type means the other type's template: refused, saying which template to use
    registry[good.branch_code] = dataclasses.replace(registry[good.branch_code], branch_type="student")
    parsed = read_workbook(path, registry=registry)
    p = one(parsed, "registry_type_differs")
    assert not parsed.valid and p.cell == f"B{INFO_ROW['branch_type']}"
    assert "该支部在名册中为学生党支部，请使用学生党支部模板" in p.message and "“教师党支部”" in p.message


@pytest.mark.parametrize("field,value,code", [
    ("year", "二〇二六", "year_invalid"), ("year", 1999, "year_invalid"),
    ("quarter", 5, "quarter_invalid"), ("quarter", "下半年", "quarter_invalid"),
    ("members", 0, "members_absurd"), ("members", G.limits.max_members + 1, "members_absurd"),
    ("members", -3, "negative_number"), ("members", "三十", "number_invalid"), ("members", 30.5, "number_not_integer"),
])
def test_bad_info_values(tmp_path, field, value, code):
    cell = f"B{INFO_ROW[field]}"
    parsed = read_workbook(write(tmp_path, raw={("info", cell): value}))
    p = one(parsed, code)
    assert (p.sheet, p.cell) == (S.info, cell) and str(value).split(".")[0] in p.value
    assert p.message.startswith(f"「{S.info}」工作表 {cell} 单元格")


def test_unreadable_fill_date_is_only_a_warning(tmp_path):
    cell = f"B{INFO_ROW['filled_on']}"
    parsed = read_workbook(write(tmp_path, raw={("info", cell): "月底"}))
    p = one(parsed, "date_invalid_optional")
    assert p.cell == cell and parsed.valid and parsed.info.filled_on is None


# ---- ledger --------------------------------------------------------------------------------------
def ledger_problem(tmp_path, raw: dict, code: str, col: str, row: int = 7):
    parsed = read_workbook(write(tmp_path, raw={("ledger", f"{L[k]}{row}"): v for k, v in raw.items()}))
    p = one(parsed, code)
    assert (p.sheet, p.cell) == (S.ledger, f"{L[col]}{row}")
    assert p.message.startswith(f"「{S.ledger}」工作表 {L[col]}{row} 单元格")
    assert row not in [r.row for r in parsed.ledger] or p.severity == "warning"
    return p


def test_unknown_activity_type(tmp_path):
    p = ledger_problem(tmp_path, {"activity_type": "打球"}, "activity_unknown", "activity_type")
    assert p.message == "「活动台账」工作表 B7 单元格的活动类型“打球”不在指南列表中，请从下拉列表中选择，如“主题党日”。"


def test_missing_activity_type(tmp_path):
    assert "活动类型未填写" in ledger_problem(tmp_path, {"activity_type": None}, "activity_missing", "activity_type").message


def test_date_outside_declared_quarter(tmp_path):
    p = ledger_problem(tmp_path, {"date": dt.date(2026, 7, 1)}, "date_outside_period", "date")
    assert p.value == "2026-07-01"
    assert "不在所填报的 2026 年第 2 季度（2026-04-01 至 2026-06-30）内" in p.message


def test_date_in_the_same_quarter_of_another_year(tmp_path):
    ledger_problem(tmp_path, {"date": "2025-05-05"}, "date_outside_period", "date")


def test_impossible_date(tmp_path):
    p = ledger_problem(tmp_path, {"date": "2026-02-30"}, "date_impossible", "date")
    assert p.value == "2026-02-30" and "不存在" in p.message


def test_unreadable_date(tmp_path):
    p = ledger_problem(tmp_path, {"date": "5月上旬"}, "date_invalid", "date")
    assert "无法识别" in p.message and "2026-03-05" in p.message


def test_missing_date(tmp_path):
    ledger_problem(tmp_path, {"date": None}, "date_missing", "date")


def test_negative_number(tmp_path):
    p = ledger_problem(tmp_path, {"expected": -5}, "negative_number", "expected")
    assert "应到人数“-5”是负数" in p.message


def test_attended_more_than_expected(tmp_path):
    p = ledger_problem(tmp_path, {"expected": 20, "attended": 25}, "attended_exceeds_expected", "attended")
    assert "实到人数 25 大于应到人数 20" in p.message


def test_hours_more_than_a_day(tmp_path):
    p = ledger_problem(tmp_path, {"hours": 30}, "hours_too_many", "hours")
    assert f"超过了一天的上限 {G.limits.max_hours_per_day:g}" in p.message


def test_number_as_words(tmp_path):
    p = ledger_problem(tmp_path, {"attended": "二十人"}, "number_invalid", "attended")
    assert "实到人数“二十人”不是数字" in p.message


def test_absurd_headcount(tmp_path):
    p = ledger_problem(tmp_path, {"expected": 50000}, "headcount_absurd", "expected")
    assert f"应到人数“50000”超过了上限 {G.limits.max_members}" in p.message


def test_notes_beside_the_ledger_do_not_make_a_row(tmp_path):
    parsed = read_workbook(write(tmp_path, raw={("ledger", "J40"): "备注：本月活动照片另行报送"}))
    assert parsed.problems == []


def test_fractional_headcount(tmp_path):
    ledger_problem(tmp_path, {"expected": 12.5}, "number_not_integer", "expected")


def test_duplicate_ledger_rows_are_a_warning(tmp_path):
    data = sample()
    first = data["ledger"][2]
    near = dataclasses.replace(first, attended=first.attended - 1)  # same day, type, topic; other attendance
    parsed = read_workbook(write(tmp_path, ledger=[*data["ledger"], near]))
    row = len(data["ledger"]) + 2
    p = one(parsed, "duplicate_row")
    assert (p.sheet, p.cell) == (S.ledger, f"A{row}") and f"与第 {first.row} 行的日期、活动类型和主题完全相同" in p.message
    assert parsed.valid and len(parsed.ledger) == row - 1  # kept: two sessions on one day can be real


def test_exact_duplicate_ledger_row_counts_once_naming_both_rows(tmp_path):
    """One training row pasted twice must not double the hours: counted once, a warning names both rows (the
    template's 使用说明 says the same)."""
    data = sample()
    training = next(r for r in data["ledger"] if r.activity_type == "training")
    parsed = read_workbook(write(tmp_path, ledger=[*data["ledger"], dataclasses.replace(training, evidence="另一份")]))
    row = len(data["ledger"]) + 2
    p = one(parsed, "duplicate_row_exact")
    assert (p.sheet, p.cell) == (S.ledger, f"A{row}")
    assert f"与第 {training.row} 行" in p.message and f"第 {row} 行不计入台账" in p.message
    assert parsed.valid and len(parsed.ledger) == len(data["ledger"])
    assert sum(r.hours or 0 for r in parsed.ledger if r.activity_type == "training") == training.hours
    assert "duplicate_row" not in codes(parsed)
    from pipelines.workbook.template_text import mistakes
    assert any("完全相同的两行只计一次" in line for line in mistakes(G))


@pytest.mark.parametrize("registry_members,warned", [(30, False), (33, False), (34, True), (20, True)])
def test_members_compared_with_the_registry(tmp_path, registry_members, warned):
    good = info()  # 党员数 30; tolerance 10 % of the registry's number
    registry = {good.branch_code: RegistryEntry(good.branch_code, good.branch_name, good.college, "teacher",
                                                registry_members)}
    parsed = read_workbook(write(tmp_path), registry=registry)
    assert parsed.valid and parsed.info.members == 30  # the workbook's number is scored
    if not warned:
        assert "registry_members_differ" not in codes(parsed)
        return
    p = one(parsed, "registry_members_differ")
    assert (p.sheet, p.cell) == (S.info, f"B{INFO_ROW['members']}")
    assert f"党员数 30 与支部名册中编码 {good.branch_code} 的党员数 {registry_members}" in p.message


def test_too_many_ledger_rows(tmp_path):
    n = G.limits.max_ledger_rows + 1
    row = LedgerRow(0, dt.date(2026, 4, 1), "heart_talk", "", "", None, None, None, "")
    ledger = [dataclasses.replace(row, topic=f"谈话{i}") for i in range(n)]
    parsed = read_workbook(write(tmp_path, ledger=ledger))
    p = one(parsed, "too_many_rows")
    assert p.sheet == S.ledger and f"有 {n} 行活动记录，超过上限 {G.limits.max_ledger_rows} 行" in p.message
    assert len(parsed.ledger) == G.limits.max_ledger_rows


# ---- counts --------------------------------------------------------------------------------------
def count_cell(fid: str) -> str:
    return f"B{COUNT_ROW[fid]}"


def test_fee_paid_more_than_due(tmp_path):
    parsed = read_workbook(write(tmp_path, raw={("counts", count_cell("fee_paid")): 31}))
    p = one(parsed, "count_ratio_exceeds")
    assert (p.sheet, p.cell, p.value) == (S.counts, count_cell("fee_paid"), "31")
    assert "党费实缴人数 31 大于党费应缴人数 30" in p.message


def test_coverage_count_more_than_members(tmp_path):
    parsed = read_workbook(write(tmp_path, raw={("counts", count_cell("members_talked")): 45}))
    p = one(parsed, "count_exceeds_members")
    assert p.cell == count_cell("members_talked") and "谈心谈话覆盖人数 45 超过了支部党员数 30" in p.message


def test_negative_and_unreadable_counts(tmp_path):
    parsed = read_workbook(write(tmp_path, raw={("counts", count_cell("applicants")): -1,
                                                ("counts", count_cell("activists")): "若干"}))
    assert one(parsed, "negative_number").cell == count_cell("applicants")
    assert "入党积极分子人数“若干”不是数字" in one(parsed, "number_invalid").message
    assert {c.field: c.value for c in parsed.counts}["applicants"] is None


def test_blank_count_is_none_without_problem(tmp_path):
    parsed = read_workbook(write(tmp_path, raw={("counts", count_cell("recommended")): None}))
    assert parsed.problems == [] and {c.field: c.value for c in parsed.counts}["recommended"] is None


def test_absurd_count(tmp_path):
    parsed = read_workbook(write(tmp_path, raw={("counts", count_cell("applicants")): 123456}))
    assert one(parsed, "headcount_absurd").cell == count_cell("applicants")


def test_count_row_renamed(tmp_path):
    parsed = read_workbook(write(tmp_path, raw={("counts", f"A{COUNT_ROW['new_members']}"): "发展人数"}))
    assert one(parsed, "count_unknown_field").cell == f"A{COUNT_ROW['new_members']}"
    assert "找不到“发展党员人数”" in one(parsed, "count_row_missing").message


# ---- self-assessment -----------------------------------------------------------------------------
def test_unknown_status(tmp_path):
    cell = f"{SA['status']}{sa_row('teacher', '2.1.3')}"
    p = one(read_workbook(write(tmp_path, raw={("self_assessment", cell): "完成了一半"})), "sa_status_unknown")
    assert (p.sheet, p.cell, p.value) == (S.self_assessment, cell, "完成了一半")
    assert "请从下拉列表中选择：完成、基本完成、未完成" in p.message


def test_done_without_evidence_is_a_warning(tmp_path):
    data = sample()
    data["self_assessment"]["1.1.1"] = ("done", "")
    parsed = read_workbook(write(tmp_path, **data))
    p = one(parsed, "sa_no_evidence")
    assert (p.sheet, p.cell, p.value) == (S.self_assessment, f"{SA['status']}2", "完成")
    assert f"请在 {SA['evidence']}2 单元格" in p.message and "将按“基本完成”计分" in p.message
    assert parsed.valid and parsed.self_assessment[0].status == "done"


def test_missing_item_row(tmp_path):
    cell = f"{SA['item_id']}{sa_row('student', '3.1.2')}"
    parsed = read_workbook(write(tmp_path, "student", raw={("self_assessment", cell): None}))
    p = one(parsed, "sa_item_missing")
    assert (p.sheet, p.cell) == (S.self_assessment, "") and "缺少指标 3.1.2 的自评行" in p.message


def test_item_not_applicable_to_type(tmp_path):
    row = sa_row("teacher", "4.1.1")
    parsed = read_workbook(write(tmp_path, raw={("self_assessment", f"{SA['item_id']}{row}"): "4.1.2"}))
    p = one(parsed, "sa_item_not_applicable")
    assert p.cell == f"{SA['item_id']}{row}" and "指标 4.1.2 不适用于教师党支部" in p.message
    assert "4.1.2" not in [a.item_id for a in parsed.self_assessment]
    assert "4.1.1" in one(parsed, "sa_item_missing").message


def test_unknown_and_duplicate_items(tmp_path):
    parsed = read_workbook(write(tmp_path, raw={("self_assessment", f"{SA['item_id']}3"): "9.9.9",
                                                ("self_assessment", f"{SA['item_id']}5"): "1.1.1"}))
    assert one(parsed, "sa_item_unknown").cell == f"{SA['item_id']}3"
    assert "与第 2 行重复" in one(parsed, "sa_item_duplicate").message


def test_blank_status_is_a_warning(tmp_path):
    cell = f"{SA['status']}4"
    parsed = read_workbook(write(tmp_path, raw={("self_assessment", cell): None}))
    assert one(parsed, "sa_status_missing").cell == cell and parsed.valid


# ---- never raises --------------------------------------------------------------------------------
@pytest.mark.parametrize("data", [b"PK", b"PK\x03\x04", b"PK\x05\x06" + b"\0" * 18, b"\xd0\xcf\x11\xe0",
                                  b"\x00" * 100, "中文文本".encode()])
def test_never_raises(data):
    parsed = read_workbook(data, "x.xlsx")
    assert not parsed.valid and all(p.message and p.code in CATALOGUE for p in parsed.problems)


def test_workbook_with_only_foreign_sheets(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Sheet1"
    wb.save(tmp_path / "other.xlsx")
    parsed = read_workbook(tmp_path / "other.xlsx")
    assert sorted(p.sheet for p in parsed.problems) == sorted([S.info, S.ledger, S.counts, S.self_assessment])
    assert set(codes(parsed)) == {"sheet_missing"}


def test_flatten_rows_for_the_ui(tmp_path):
    data = sample()
    data["self_assessment"]["1.1.1"] = ("done", "")
    parsed = read_workbook(write(tmp_path, raw={("ledger", f"{L['activity_type']}3"): "打球"}, **data))
    rows = flatten(parsed.problems)
    assert [r["severity"] for r in rows] == ["error", "warning"]
    assert rows[0] == {"file": parsed.file_name, "severity": "error", "sheet": S.ledger,
                       "cell": f"{L['activity_type']}3", "value": "打球", "title": "活动类型不在指南中",
                       "message": rows[0]["message"], "code": "activity_unknown"}
    zh = flatten(parsed.problems, chinese=True)
    assert zh[0]["级别"] == "错误" and zh[1]["级别"] == "提醒" and zh[0]["单元格"] == f"{L['activity_type']}3"


def test_catalogue_messages_are_chinese_and_render():
    from string import Formatter

    for code, kind in CATALOGUE.items():
        assert kind.severity in ("error", "warning") and kind.title and "请" in kind.template, code
        fields = {f for _, f, _, _ in Formatter().parse(kind.template) if f} - {"where", "sheet", "cell", "value"}
        p = make(code, file="f.xlsx", sheet="活动台账", cell="B7", value="x", **dict.fromkeys(fields, "?"))
        assert p.code == code and p.severity == kind.severity and "{" not in p.message
        if "{where}" in kind.template:
            assert "「活动台账」工作表 B7 单元格" in p.message


# ---- registry ------------------------------------------------------------------------------------
def test_registry_round_trip(tmp_path):
    entries = [RegistryEntry("JX01-T01", "教工一支部", "机械工程学院", "teacher", 25),
               RegistryEntry("JX01-S01", "学生一支部", "机械工程学院", "student", 40)]
    got, problems = read_registry(write_registry_workbook(tmp_path / "名册.xlsx", entries))
    assert got == entries and problems == []


def test_registry_problems(tmp_path):
    path = write_registry_workbook(tmp_path / "名册.xlsx", [
        RegistryEntry("A01", "一支部", "学院甲", "teacher", 25),
        RegistryEntry("A01", "二支部", "学院甲", "student", 25),
        RegistryEntry("A03", "三支部", "学院乙", "行政", 25),
        RegistryEntry("A04", "四支部", "学院乙", "学生", 0),
        RegistryEntry("A05", "", "学院乙", "教工", 12),
        RegistryEntry("A06", "六支部", "学院乙", "教工", 12),
    ])
    wb = load_workbook(path)
    wb.active["E7"] = "很多"  # row 8 stays empty: skipped
    wb.active["A9"], wb.active["B9"], wb.active["C9"], wb.active["D9"], wb.active["E9"] = (
        "A07", "七支部", "学院丙", "学生党支部", "20人")
    wb.save(path)
    entries, problems = read_registry(path)
    by = {p.code: p for p in problems}
    assert by["registry_duplicate_code"].cell == "A3" and "与第 2 行重复" in by["registry_duplicate_code"].message
    assert by["branch_type_unknown"].cell == "D4" and "“行政”无法识别" in by["branch_type_unknown"].message
    assert by["members_absurd"].cell == "E5"
    assert by["registry_value_missing"].cell == "B6" and "支部名称未填写" in by["registry_value_missing"].message
    assert by["number_invalid"].cell == "E7"
    assert all(p.sheet == "支部名册" and p.file == "名册.xlsx" for p in problems)
    assert [e.branch_code for e in entries] == ["A01", "A07"]
    assert entries[1] == RegistryEntry("A07", "七支部", "学院丙", "student", 20)


def test_blank_registry_template(tmp_path):
    entries, problems = read_registry(write_registry_workbook(tmp_path / "空名册.xlsx"))
    assert entries == [] and [p.code for p in problems] == ["registry_empty"]
    assert "没有任何支部" in problems[0].message and problems[0].sheet == "支部名册"


def test_registry_missing_column_and_not_xlsx(tmp_path):
    path = write_registry_workbook(tmp_path / "r.xlsx", [RegistryEntry("A01", "一支部", "学院甲", "teacher", 25)])
    wb = load_workbook(path)
    wb.active["E1"] = "人数"
    wb.save(path)
    entries, problems = read_registry(path)
    assert entries == [] and [(p.code, p.cell) for p in problems] == [("column_missing", "E1")]
    entries, problems = read_registry(b"not a workbook", "r.xlsx")
    assert entries == [] and problems[0].code == "file_not_xlsx"


SOFFICE = shutil.which("soffice")


@pytest.mark.skipif(SOFFICE is None or os.environ.get("RUN_LIBREOFFICE") != "1",
                    reason="slow (~5 s): set RUN_LIBREOFFICE=1 with LibreOffice (soffice) installed")
def test_libreoffice_opens_and_resaves_identically(tmp_path):
    """A secretary who opens and saves the workbook in LibreOffice submits the same values."""
    path = write(tmp_path, "student", name="filled.xlsx")
    out = tmp_path / "out"
    subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path / 'profile'}",
                    "--convert-to", "xlsx", "--outdir", str(out), str(path)],
                   check=True, capture_output=True, timeout=120)
    resaved, original = read_workbook(out / path.name), read_workbook(path)
    assert resaved.problems == [] and resaved.sha256 != original.sha256
    assert (resaved.info, resaved.ledger, resaved.counts, resaved.self_assessment) == (
        original.info, original.ledger, original.counts, original.self_assessment)
    wb = load_workbook(out / path.name)
    assert all(ws.protection.sheet for ws in wb.worksheets)
    assert any(dv.type == "list" for dv in wb[S.ledger].data_validations.dataValidation)


def test_registry_workbook_handed_in_as_a_submission(tmp_path):
    """The 支部名册 in a folder of submissions gets one message pointing to the registry import."""
    from pipelines.workbook.model import RegistryEntry
    from pipelines.workbook.template import write_registry_workbook

    path = write_registry_workbook(tmp_path / "支部名册.xlsx",
                                   [RegistryEntry("JX-T01", "机械工程学院教工第一党支部", "机械工程学院党委", "teacher", 12)])
    parsed = read_workbook(path)
    assert [(p.code, p.severity, p.sheet) for p in parsed.problems] == [("registry_not_submission", "error", "支部名册")]
    assert "python -m pipelines registry" in parsed.problems[0].message and parsed.problems[0].file == "支部名册.xlsx"


# ---- a file copied from another branch or quarter ------------------------------------------------------------
def _registry(*codes_and_names):
    return {c: RegistryEntry(c, n, "机械工程学院", "teacher", 30) for c, n in codes_and_names}


def test_another_registered_branchs_name_under_this_code_is_an_error(tmp_path):
    """The secretary of T02 starts from T01's file and changes only the name: the code still says T01."""
    good = info()
    registry = _registry((good.branch_code, good.branch_name), ("JX01-T02", "机械工程学院教师第二支部"))
    path = write(tmp_path, info=info(branch_name="机械工程学院教师第二支部"))
    parsed = read_workbook(path, registry=registry)
    p = one(parsed, "branch_name_of_other_branch")
    assert not parsed.valid and (p.sheet, p.cell) == (S.info, f"B{INFO_ROW['branch_name']}")
    assert "另一个支部（编码 JX01-T02）" in p.message and f"名册中为“{good.branch_name}”" in p.message
    assert "本文件未导入" in p.message


def test_a_branch_name_unlike_any_registered_name_is_a_warning_and_the_registry_name_is_used(tmp_path):
    good = info()
    registry = _registry((good.branch_code, good.branch_name), ("JX01-T02", "机械工程学院教师第二支部"))
    parsed = read_workbook(write(tmp_path, info=info(branch_name="机械学院教师一支部")), registry=registry)
    p = one(parsed, "registry_name_differs")
    assert parsed.valid and parsed.info.branch_name == good.branch_name
    assert "“机械学院教师一支部”" in p.message and f"已按名册记为“{good.branch_name}”" in p.message


@pytest.mark.parametrize("name,ok", [
    ("JX01-T01_2026Q2.xlsx", True), ("机械一支部2026年第二季度.xlsx", True), ("2026-q2 报表.xlsx", True),
    ("JX01-T01_2026Q1.xlsx", False), ("机械一支部2026年第1季度.xlsx", False), ("支部报表.xlsx", True),
])
def test_a_period_in_the_file_name_must_match_the_workbook(tmp_path, name, ok):
    parsed = read_workbook(write(tmp_path, name=name))  # the workbook says 2026 Q2
    assert ("file_name_period_mismatch" not in codes(parsed)) == ok
    if not ok:
        p = one(parsed, "file_name_period_mismatch")
        assert p.cell == f"B{INFO_ROW['quarter']}" and "2026 年第 1 季度" in p.message and "2026 年第 2 季度" in p.message


def test_a_registered_code_in_the_file_name_must_match_the_workbook(tmp_path):
    good = info()
    registry = _registry((good.branch_code, good.branch_name), ("JX01-T02", "第二支部"))
    parsed = read_workbook(write(tmp_path, name="JX01-T02_2026Q2.xlsx"), registry=registry)
    p = one(parsed, "file_name_branch_mismatch")
    assert "文件名中的支部编码是 JX01-T02" in p.message and p.cell == f"B{INFO_ROW['branch_code']}"
    assert read_workbook(write(tmp_path, name="JX01-T02_2026Q2.xlsx")).valid  # no registry: nothing to compare
    assert read_workbook(write(tmp_path, name="JX01-T01_2026Q2.xlsx"), registry=registry).valid


def test_branch_codes_ignore_case_and_dash_look_alikes(tmp_path):
    good = info()
    path = write(tmp_path, raw={("info", f"B{INFO_ROW['branch_code']}"): " jx01—t01 "})
    parsed = read_workbook(path, registry=_registry((good.branch_code, good.branch_name)))
    assert parsed.valid and parsed.info.branch_code == "JX01-T01"


def test_registry_codes_are_stored_in_one_spelling(tmp_path):
    entries = [RegistryEntry("jx01–t01", "第一支部", "机械工程学院", "teacher", 30)]
    got, problems = read_registry(write_registry_workbook(tmp_path / "名册.xlsx", entries))
    assert not problems and [e.branch_code for e in got] == ["JX01-T01"]


def test_a_wrong_quarter_cell_is_blamed_once_instead_of_every_date(tmp_path):
    """The workbook says Q1 but every activity is in Q2 (last quarter's file reused, or the quarter mistyped):
    one error on the 季度 cell, none on the dates, which are right."""
    parsed = read_workbook(write(tmp_path, raw={("info", f"B{INFO_ROW['quarter']}"): 1}))
    assert "date_outside_period" not in codes(parsed)
    p = one(parsed, "period_contradicts_dates")
    assert (p.sheet, p.cell) == (S.info, f"B{INFO_ROW['quarter']}") and not parsed.valid
    assert "都在 2026 年第 2 季度" in p.message and "填写的是 2026 年第 1 季度" in p.message


def test_a_few_dates_outside_the_quarter_are_blamed_one_by_one(tmp_path):
    parsed = read_workbook(write(tmp_path, raw={("ledger", f"{L['date']}2"): "2026-01-15"}))
    assert "period_contradicts_dates" not in codes(parsed)
    assert one(parsed, "date_outside_period").cell == f"{L['date']}2"


def test_a_blank_count_that_is_scored_warns_and_names_its_items(tmp_path):
    scored = {}
    for it in G.items_for("teacher"):
        for m in it.measures:
            for fid in (m.count, m.numerator, m.denominator):
                if fid:
                    scored.setdefault(fid, []).append(it.id)
    fid = next(iter(scored))
    cell = f"B{COUNT_ROW[fid]}"
    parsed = read_workbook(write(tmp_path, raw={("counts", cell): None}))
    p = one(parsed, "count_blank")
    assert parsed.valid and p.cell == cell and scored[fid][0] in p.message and "请填写数字" in p.message
    unscored = [f.id for f in G.count_fields if f.id not in scored]
    for other in unscored:  # a field no teacher item scores may stay blank
        assert "count_blank" not in codes(read_workbook(write(tmp_path, raw={("counts", f"B{COUNT_ROW[other]}"): None})))


def test_an_empty_ledger_warns(tmp_path):
    parsed = read_workbook(write(tmp_path, ledger=[]))
    assert one(parsed, "ledger_empty").severity == "warning"


@pytest.mark.parametrize("note", ["备注：以上活动均有签到表", "合计", "以上为本季度全部活动"])
def test_a_note_under_the_ledger_is_skipped_with_a_warning(tmp_path, note):
    base = sample()
    row = len(base["ledger"]) + 3
    parsed = read_workbook(write(tmp_path, raw={("ledger", f"{L['date']}{row}"): note}))
    assert parsed.valid and len(parsed.ledger) == len(base["ledger"])
    p = one(parsed, "ledger_note_row")
    assert p.cell == f"{L['date']}{row}" and "不是活动日期" in p.message


def test_a_bad_date_in_an_activity_row_is_still_an_error(tmp_path):
    parsed = read_workbook(write(tmp_path, raw={("ledger", f"{L['date']}2"): "七月初"}))
    assert "ledger_note_row" not in codes(parsed) and one(parsed, "date_invalid")


def test_merged_cells_in_a_table_are_named_as_such(tmp_path):
    from openpyxl import load_workbook

    path = write(tmp_path)
    wb = load_workbook(path)
    wb[S.ledger].merge_cells(f"{L['date']}2:{L['date']}3")
    wb.save(path)
    parsed = read_workbook(path)
    p = one(parsed, "merged_cells")
    assert (p.sheet, p.cell) == (S.ledger, f"{L['date']}2:{L['date']}3") and "取消合并" in p.message
    assert not parsed.valid


def test_a_ledger_date_without_its_year_is_read_in_the_workbooks_year(tmp_path):
    parsed = read_workbook(write(tmp_path, raw={("ledger", f"{L['date']}2"): "5月20日"}))  # the workbook: 2026 Q2
    assert parsed.valid and parsed.ledger[0].date == dt.date(2026, 5, 20)


def test_a_branch_workbook_handed_in_as_the_registry_gets_one_clear_message(tmp_path):
    entries, problems = read_registry(write(tmp_path))
    assert entries == [] and [p.code for p in problems] == ["submission_not_registry"]
    assert "不是支部名册" in problems[0].message and problems[0].file == "支部报表.xlsx"


def test_a_training_row_without_hours_or_attendance_warns_that_it_will_not_count(tmp_path):
    base = sample()
    row = next(r.row for r in base["ledger"] if r.activity_type == "training")
    parsed = read_workbook(write(tmp_path, raw={("ledger", f"{L['attended']}{row}"): None}))
    p = one(parsed, "training_incomplete")
    assert parsed.valid and p.cell == f"{L['attended']}{row}" and "不计入全年人均学时" in p.message
    assert "training_incomplete" not in codes(read_workbook(write(tmp_path)))


def test_no_evidence_warning_only_where_the_self_assessment_is_scored(tmp_path):
    auto = next(it for it in G.items_for("teacher") if not it.self_assessed)
    own = next(it for it in G.items_for("teacher") if it.self_assessed)
    raw = {("self_assessment", f"{SA['evidence']}{sa_row('teacher', auto.id)}"): None,
           ("self_assessment", f"{SA['status']}{sa_row('teacher', auto.id)}"): "完成",
           ("self_assessment", f"{SA['evidence']}{sa_row('teacher', own.id)}"): None,
           ("self_assessment", f"{SA['status']}{sa_row('teacher', own.id)}"): "完成"}
    found = [p.cell for p in read_workbook(write(tmp_path, raw=raw)).problems if p.code == "sa_no_evidence"]
    assert found == [f"{SA['status']}{sa_row('teacher', own.id)}"]
