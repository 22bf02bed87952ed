"""Hostile and careless input (issue 9): far cells, pasted-in rows, bombs and native crashes.

Workbooks are real templates written by `write_workbook`; far cells are added with openpyxl or, for what
openpyxl cannot write (cells without references, out of order, a lying <dimension>), by replacing the sheet's
XML in the zip. Everything is read through the product path (`safe_read`, the worker process), so a miss in
the pre-scan shows up as a failed assertion, not as a dead pytest.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from pipelines.store import ingest
from pipelines.workbook import safe_read
from pipelines.guide import guide
from pipelines.workbook.container import MAX_SHEET_COLUMNS, MAX_SHEET_ROWS, ledger_cap
from pipelines.workbook.template import EXAMPLE_ROW, write_workbook
from tests.ingest_helpers import branch_workbook, run_cli

G = guide()
S = G.workbook.sheets


def template(tmp_path: Path, name: str = "空白模板.xlsx") -> Path:
    return write_workbook(tmp_path / name, "teacher")


def with_cell(path: Path, sheet: str, cell: str, value: object = "x") -> Path:
    wb = load_workbook(path)
    wb[sheet][cell] = value
    wb.save(path)
    return path


def member_of(data: bytes, sheet: str) -> str:
    """The zip member holding `sheet` (write_workbook writes sheets in the guide's order)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = re.findall(r'<sheet name="([^"]+)"', z.read("xl/workbook.xml").decode())
    return f"xl/worksheets/sheet{names.index(sheet) + 1}.xml"


def with_sheet_xml(path: Path, sheet: str, sheet_data: str, *, dimension: str | None = None) -> Path:
    """Replace the <sheetData> (and optionally the <dimension>) of `sheet` with hand-written XML."""
    data = path.read_bytes()
    member = member_of(data, sheet)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            body = zin.read(info)
            if info.filename == member:
                text = re.sub(r"<sheetData>.*</sheetData>|<sheetData\s*/>", lambda _: f"<sheetData>{sheet_data}</sheetData>",
                              body.decode(), flags=re.S)
                if dimension:
                    text = re.sub(r'<dimension ref="[^"]*"', f'<dimension ref="{dimension}"', text)
                body = text.encode()
            zout.writestr(info, body)
    path.write_bytes(out.getvalue())
    return path


def codes(parsed) -> list[str]:
    return [p.code for p in parsed.problems]


def one(parsed, code: str):
    found = [p for p in parsed.problems if p.code == code]
    assert len(found) == 1, (code, [(p.code, p.sheet, p.cell, p.message) for p in parsed.problems])
    return found[0]


# ---- finding 1: a stray far cell ---------------------------------------------------------------------
def test_finding1_stray_cell_at_XFD1048576_is_refused_naming_the_cell(tmp_path):
    path = with_cell(template(tmp_path), S.ledger, "XFD1048576")
    assert path.stat().st_size < 40_000  # a ~26 KB file
    parsed = safe_read.read_workbook(path)
    p = one(parsed, "cell_out_of_range")
    assert (p.file, p.sheet, p.cell, p.severity) == (path.name, S.ledger, "XFD1048576", "error")
    assert "「活动台账」工作表 XFD1048576 单元格有内容" in p.message and "Ctrl+End" in p.message
    assert not parsed.valid
    # the other sheets were still read and checked
    assert any(q.sheet == S.info for q in parsed.problems)


def test_finding1_cli_ingest_answers_in_json_instead_of_dying(tmp_path):
    path = with_cell(template(tmp_path, "台账.xlsx"), S.ledger, "XFD1048576")
    good = branch_workbook(tmp_path / "good.xlsx", "JX01-T01")
    done = run_cli("ingest", str(path), str(good), "--db", str(tmp_path / "cli.duckdb"), "--json", timeout=120)
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])  # not 134 (SIGABRT)
    report = json.loads(done.stdout)
    by_name = {f["file_name"]: f for f in report["files"]}
    assert by_name["good.xlsx"]["status"] == "accepted"
    bad = by_name["台账.xlsx"]
    assert bad["status"] == "rejected"
    far = [p for p in bad["problems"] if p["code"] == "cell_out_of_range"]
    assert far and far[0]["cell"] == "XFD1048576" and far[0]["sheet"] == S.ledger


def test_finding1_stray_cell_at_AZ200000_costs_little_memory(tmp_path):
    path = with_cell(template(tmp_path), S.ledger, "AZ200000")
    out = safe_read.run("workbook", path, None)
    assert not out.failure
    assert one(out.result, "cell_out_of_range").cell == "AZ200000"
    assert 0 < out.peak_kb < 200 * 1024, f"worker peak RSS {out.peak_kb // 1024} MB"


SST_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SST_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"


def with_shared_string(path: Path, text: str) -> tuple[Path, int]:
    """Give the workbook (our writer uses inline strings) a shared-strings part holding `text` at index 0."""
    data = path.read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        assert "xl/sharedStrings.xml" not in zin.namelist()
        for info in zin.infolist():
            body = zin.read(info).decode()
            if info.filename == "xl/_rels/workbook.xml.rels":
                body = body.replace("</Relationships>", f'<Relationship Id="rIdSst" Type="{SST_REL}" '
                                    'Target="sharedStrings.xml"/></Relationships>')
            elif info.filename == "[Content_Types].xml":
                body = body.replace("</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SST_TYPE}"/>'
                                    "</Types>")
            zout.writestr(info, body.encode())
        zout.writestr("xl/sharedStrings.xml", f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{SST_NS}" '
                      f'count="1" uniqueCount="1"><si><t>{text}</t></si></sst>')
    path.write_bytes(out.getvalue())
    return path, 0


def test_finding1_one_long_string_in_every_cell_stays_under_200_MB(tmp_path):
    """A small file whose every ledger cell points at one 2,000-character shared string: materialised, the
    sheet needs about 700 MB. The worker stays under 200 MB and the file is refused as unreadable, alone."""
    path, index = with_shared_string(branch_workbook(tmp_path / "长文本.xlsx", "JX01-T01"), "长" * 2000)
    cols = "ABCDEFGHIJ"
    rows = "".join(f'<row r="{r}">' + "".join(f'<c r="{c}{r}" t="s"><v>{index}</v></c>' for c in cols) + "</row>"
                   for r in range(2, ledger_cap(G) + 1))
    with_sheet_xml(path, S.ledger, rows)
    assert path.stat().st_size < 1_000_000
    out = safe_read.run("workbook", path, None)
    assert out.failure or out.result.problems, "the file must not be read as if nothing happened"
    assert out.failure or out.peak_kb < 200 * 1024
    parsed = safe_read.read_workbook(path)
    assert not parsed.valid
    good = safe_read.read_workbook(branch_workbook(tmp_path / "good.xlsx", "JX01-T02"))
    assert good.valid, [p.message for p in good.problems]


@pytest.mark.parametrize("sheet, cell", [
    (S.ledger, "XFD1"),  # a huge column only
    (S.ledger, "A1048576"),  # a huge row only
    (S.ledger, f"A{ledger_cap(G) + 1}"),  # just past the rows read
    (S.ledger, "BM2"),  # just past the columns read (MAX_SHEET_COLUMNS = 64, i.e. up to BL)
    (S.info, "C5000"),
    (S.counts, "XFD1048576"),
    (S.self_assessment, "ZZ300"),
])
def test_finding1_far_cells_on_any_sheet_are_refused(tmp_path, sheet, cell):
    assert MAX_SHEET_COLUMNS == 64 and MAX_SHEET_ROWS < 5000
    parsed = safe_read.read_workbook(with_cell(template(tmp_path), sheet, cell, 1))
    p = one(parsed, "cell_out_of_range")
    assert (p.sheet, p.cell) == (sheet, cell)


def test_finding1_cells_inside_the_bounds_are_read(tmp_path):
    path = with_cell(template(tmp_path), S.ledger, f"BL{ledger_cap(G)}", "备注")
    assert "cell_out_of_range" not in codes(safe_read.read_workbook(path))


HEADER = '<row r="1"><c r="A1" t="inlineStr"><is><t>日期</t></is></c></row>'


@pytest.mark.parametrize("xml, far", [
    # no r on cells: the position follows the previous cell, XFC1 then XFD1
    ('<row r="1"><c r="XFC1"><v>1</v></c><c><v>2</v></c></row>', "XFC1"),
    # no r on rows: the row follows the previous row
    (HEADER + '<row r="999999"><c r="A999999"><v>1</v></c></row><row><c r="B1000000"><v>1</v></c></row>', "A999999"),
    # rows out of order, the far one first
    ('<row r="900000"><c r="A900000"><v>1</v></c></row>' + HEADER, "A900000"),
    # an inline string, even an empty one, widens calamine's grid
    (HEADER + '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is/></c></row>', "XFD1048576"),
    # a formula without a cached value, a typed empty value
    (HEADER + '<row r="70000"><c r="A70000"><f>1+1</f></c><c r="B70000" t="str"><v></v></c></row>', "A70000"),
])
def test_finding1_far_cells_written_by_other_programs(tmp_path, xml, far):
    path = with_sheet_xml(template(tmp_path), S.ledger, xml)
    parsed = safe_read.read_workbook(path)
    assert one(parsed, "cell_out_of_range").cell == far


def test_finding1_formatting_far_away_and_a_lying_dimension_are_harmless(tmp_path):
    # A formatted whole column leaves value-less cells; calamine skips them, and so does the pre-scan.
    xml = HEADER + '<row r="1048576"><c r="XFD1048576" s="0" t="n"/></row>'
    path = with_sheet_xml(template(tmp_path), S.ledger, xml, dimension="A1:XFD1048576")
    out = safe_read.run("workbook", path, None)
    assert not out.failure and "cell_out_of_range" not in codes(out.result)
    assert out.peak_kb < 200 * 1024


def test_finding1_a_dtd_in_a_sheet_is_refused(tmp_path):
    path = template(tmp_path)
    data = path.read_bytes()
    member = member_of(data, S.ledger)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            body = zin.read(info)
            if info.filename == member:
                assert not body.startswith(b"<?xml")  # openpyxl writes no declaration
                body = b'<!DOCTYPE x [<!ENTITY a "aaaa">]>' + body
            zout.writestr(info, body)
    path.write_bytes(out.getvalue())
    p = one(safe_read.read_workbook(path), "file_corrupt")
    assert p.sheet == S.ledger and "「活动台账」工作表的内容格式异常" in p.message


def test_finding1_registry_with_a_far_cell(tmp_path):
    from tests.ingest_helpers import registry_workbook

    path = with_cell(registry_workbook(tmp_path / "名册.xlsx", ["JX01-T01"]), "支部名册", "XFD1048576")
    entries, problems = safe_read.read_registry(path)
    assert entries == [] and [(p.code, p.cell) for p in problems] == [("cell_out_of_range", "XFD1048576")]


def test_a_province_registry_of_10000_branches_is_read(tmp_path):
    """The row guard stops crafted sheets, not a province: every university branch of one (about 10,000, the
    scale bench's largest school) fits in one registry."""
    from tests.ingest_helpers import registry_workbook

    codes = [f"SF{i // 100:03d}-T{i % 100:02d}" for i in range(10_000)]
    entries, problems = safe_read.read_registry(registry_workbook(tmp_path / "名册.xlsx", codes))
    assert not [p for p in problems if p.severity == "error"]
    assert sorted(e.branch_code for e in entries) == sorted(codes)


# ---- native crashes in the worker ---------------------------------------------------------------------
def test_a_crash_in_the_worker_is_file_unreadable_and_the_batch_goes_on(tmp_path, monkeypatch):
    first = branch_workbook(tmp_path / "a_crash.xlsx", "JX01-T01")
    second = branch_workbook(tmp_path / "b_fine.xlsx", "JX01-T02")
    monkeypatch.setenv(safe_read.FAULT_ENV, "abort:a_crash.xlsx")  # the worker aborts (SIGABRT) on this file
    results = ingest.ingest([first, second], db=tmp_path / "t.duckdb")
    crashed, fine = results
    assert crashed.status == "rejected" and [p.code for p in crashed.problems] == ["file_parse_failed"]
    p = crashed.problems[0]
    assert p.message.startswith("文件无法读取：读取「a_crash.xlsx」时") and "重新上传" in p.message
    assert crashed.sha256  # still identified by its bytes
    assert fine.status == "accepted" and fine.branch_code == "JX01-T02"


def test_a_worker_killed_mid_file_and_a_timeout(tmp_path):
    path = branch_workbook(tmp_path / "a.xlsx", "JX01-T01")
    safe_read.run("workbook", path, None)  # make sure a worker is running
    safe_read._worker.proc.kill()  # killed from outside (OOM killer, an admin): the next file starts a new one
    safe_read._worker.proc.wait()
    assert safe_read.read_workbook(path).valid
    slow = safe_read.run("workbook", path, None, seconds=0.0)
    assert slow.failure.startswith("超过 0 秒")
    assert safe_read.read_workbook(path).valid


# ---- finding 9: messages --------------------------------------------------------------------------
def test_finding9_200000_ledger_rows_are_counted_exactly(tmp_path):
    rows = "".join(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>2026-04-01</t></is></c>'
                   f'<c r="B{r}" t="inlineStr"><is><t>谈心谈话</t></is></c></row>' for r in range(2, 200_002))
    path = with_sheet_xml(template(tmp_path), S.ledger, HEADER + rows)
    out = safe_read.run("workbook", path, None)
    p = one(out.result, "too_many_rows")
    assert p.sheet == S.ledger
    assert f"有 200000 行活动记录，超过上限 {G.limits.max_ledger_rows} 行" in p.message and "超过 4001" not in p.message
    assert out.peak_kb < 200 * 1024


def test_finding9_a_few_too_many_ledger_rows_are_counted_exactly(tmp_path):
    n = G.limits.max_ledger_rows + 500  # within the rows read: counted by the reader itself
    path = template(tmp_path)
    wb = load_workbook(path)
    for r in range(EXAMPLE_ROW + 1, EXAMPLE_ROW + 1 + n):  # below the template's example row, as a secretary fills
        wb[S.ledger][f"A{r}"] = "2026-04-01"
    wb.save(path)
    parsed = safe_read.read_workbook(path)
    assert f"有 {n} 行活动记录" in one(parsed, "too_many_rows").message


def test_finding9_the_xml_bomb_refusal_names_the_sheet(tmp_path):
    path = template(tmp_path)
    data = path.read_bytes()
    member = member_of(data, S.ledger)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename != member:
                zout.writestr(info, zin.read(info))
                continue
            with zout.open(member, "w", force_zip64=True) as f:
                f.write(zin.read(info).replace(b"<sheetData>", b"<sheetData>" + b" " * 2**20))
                for _ in range(int(G.limits.max_uncompressed_mb) + 5):
                    f.write(b" " * 2**20)
    path.write_bytes(out.getvalue())
    p = one(safe_read.read_workbook(path), "zip_bomb")
    assert p.sheet == S.ledger and "主要来自「活动台账」工作表" in p.message
