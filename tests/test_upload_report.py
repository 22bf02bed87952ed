"""The upload report for a busy officer (issue 15, points 6–7): rejected files first, 说明 beside the cell,
codes and hashes tucked away, one 退回说明 per rejected branch (A4, printable), the quarter's deadline and the
逾期报送 note. Real workbooks (pipelines.workbook.template), a real DuckDB file, the page through AppTest."""
from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
import zipfile

from openpyxl import load_workbook

from pipelines.store import plan
from pipelines.report import return_note
from pipelines.store import versions
from pipelines.guide.period import Period
from pipelines.report.layout import FOOTER_TEXT
from test_report_briefing import MIN_PRINTED_PT, SOFFICE, needs_libreoffice, pdf_text, printed_sizes
from test_upload import admin_hash, frame, registry_db, signed_in, texts, upload, workbook  # noqa: F401 (fixtures)

PERIOD = str(Period.latest_completed(dt.date.today()))  # the quarter the page's deadline caption is about


def batch(tmp_path):
    good = workbook(tmp_path, "JX01-T01", PERIOD)
    bad = workbook(tmp_path, "JX01-S01", PERIOD, bad=True)
    other = ("一支部.csv", "日期,活动类型\n".encode("gb18030"))
    return [good, bad, other]


def test_rejected_first_and_the_columns_people_read(registry_db, admin_hash, tmp_path):
    at = signed_in(admin_hash)
    good, bad, other = batch(tmp_path)
    upload(at, [good, bad, other])
    results = frame(at, "结果")
    assert list(results["结果"]) == ["未通过", "未通过", "将新增"]
    assert list(results["文件"]) == [bad[0], other[0], good[0]]
    assert "SHA-256" not in results.columns
    problems = frame(at, "说明")
    assert list(problems.columns) == ["文件", "工作表", "单元格", "说明", "级别", "填写内容"]
    assert problems["文件"].iloc[0] == bad[0] and problems["级别"].iloc[0] == "错误"
    details = frame(at, "问题代码")
    assert list(details.columns) == ["文件", "工作表", "单元格", "问题代码", "SHA-256"]
    assert list(details["文件"]) == list(problems["文件"])
    labels = [b.proto.label for b in at.get("download_button")]
    assert "下载退回说明（2 个支部，zip）" in labels and "下载校验结果（Excel，全部文件）" in labels
    assert sum(label.replace("\\", "").startswith("退回说明_") for label in labels) == 2  # markdown-escaped


def test_cli_rows_and_page_agree_on_order(registry_db, tmp_path):
    results = plan.plan(batch(tmp_path)).results
    assert [r.status for r in results] == ["accepted", "rejected", "rejected"]  # the batch order is kept
    rows = plan.problem_rows(results)
    assert list(rows[0]) == list(plan.PROBLEM_COLUMNS)
    assert [r["status"] for r in rows][0] == "rejected" and rows[0]["severity"] == "error"


def test_return_note_is_a_titled_a4_sheet_per_branch(registry_db, tmp_path):
    results = plan.plan(batch(tmp_path)).results
    registry = {e.branch_code: e for e in plan.registry_entries()}
    notes = return_note.return_notes(results, registry, today=dt.date(2026, 10, 20))
    assert [n.branch for n in notes] == ["JX01-S01", "一支部.csv"]
    ws = load_workbook(io.BytesIO(notes[0].data)).active
    cells = [v for row in ws.iter_rows(values_only=True) for v in row if v is not None]
    assert cells[0] == f"退回说明（{Period.parse(PERIOD).label}）"
    assert "支部：机械学院学生第一党支部（JX01-S01），机械工程学院" in cells
    header = next(r for r in ws.iter_rows(values_only=True) if r[0] == "序号")
    assert header == ("序号", "工作表", "单元格", "问题", "说明及修改方法")
    row = next(r for r in ws.iter_rows(values_only=True) if r[2] == "A3")
    assert row[1] == "活动台账" and row[3].startswith("错误") and "2026-03-05" in row[4]
    assert str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4 and ws.page_setup.fitToWidth == 1
    assert ws.oddFooter.center.text == FOOTER_TEXT and ws.page_setup.orientation == "portrait"
    with zipfile.ZipFile(io.BytesIO(return_note.notes_zip(notes))) as zf:
        assert zf.namelist() == [n.file_name for n in notes]
        assert zf.read(notes[0].file_name) == notes[0].data


def test_deadline_caption_and_late_note(registry_db, admin_hash, tmp_path):
    at = signed_in(admin_hash)
    assert "报送截止日期：未设置" in texts(at) and "每个文件不超过 10 MB" in texts(at)
    due = dt.date.today() - dt.timedelta(days=3)
    versions.set_deadline(PERIOD, due, actor="orgadmin")
    at.run()
    assert f"报送截止日期：{due.isoformat()}（已逾期 3 天）" in texts(at)
    good, bad, _ = batch(tmp_path)
    upload(at, [good, bad])
    results = frame(at, "结果").set_index("文件")
    assert "逾期 3 天" in results.loc[good[0], "逾期报送"] and results.loc[bad[0], "逾期报送"] == ""
    assert any("逾期报送" in w.value and "本次上传逾期 3 天" in w.value for w in at.warning)


def test_on_time_branch_stays_on_time_when_corrected_late(registry_db, tmp_path):
    """The late rule counts the first upload: a correction after the deadline is not late."""
    from pipelines.store import ingest

    ingest.ingest([workbook(tmp_path, "JX01-T01", PERIOD)], actor="orgadmin")
    versions.set_deadline(PERIOD, dt.date.today(), actor="orgadmin")  # the first upload was on the day
    tomorrow = dt.datetime.now() + dt.timedelta(days=1)
    again = plan.plan([workbook(tmp_path, "JX01-T01", PERIOD, meetings=2)]).results
    assert again[0].status == "replaced" and plan.late_notes(again, now=tomorrow) == {}
    new = plan.plan([workbook(tmp_path, "XX02-T01", PERIOD)]).results
    assert "本次上传逾期 1 天" in plan.late_notes(new, now=tomorrow)[("XX02-T01", PERIOD)]


@needs_libreoffice
def test_libreoffice_prints_the_return_note_on_a4(registry_db, tmp_path):
    results = plan.plan(batch(tmp_path)).results
    registry = {e.branch_code: e for e in plan.registry_entries()}
    note = return_note.return_notes(results, registry)[0]
    path = tmp_path / note.file_name
    path.write_bytes(note.data)
    subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path / 'profile'}",
                    "--convert-to", "pdf", "--outdir", str(tmp_path / "out"), str(path)],
                   check=True, capture_output=True, timeout=180)
    from pypdf import PdfReader

    pdf = tmp_path / "out" / path.with_suffix(".pdf").name
    pages = PdfReader(pdf).pages
    assert len(pages) == 1
    width, height = float(pages[0].mediabox.width), float(pages[0].mediabox.height)
    assert abs(width - 595) < 3 and abs(height - 842) < 3  # A4 portrait, in points
    text = re.sub(r"\s+", "", pdf_text(pdf))
    assert "第1页/共1页" in text and "退回说明" in text and "A3" in text and "机械学院学生第一党支部" in text
    assert min(printed_sizes(pdf)[0]) >= MIN_PRINTED_PT - 0.05
