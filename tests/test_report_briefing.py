"""The quarterly report as a briefing (issue 13): 需关注 (pipelines/scoring/attention.py), the Excel workbook's first
sheet and print layout read back by openpyxl, and the workbook printed by LibreOffice, page by page."""
from __future__ import annotations

import io
import math
import os
import re
import shutil
import subprocess

import pandas as pd
import pytest
from openpyxl import load_workbook

from pipelines import scoring
from pipelines.scoring import attention
from pipelines.report import quarterly, summary
from pipelines.guide.period import Period
from pipelines.guide.vocab import AttentionKind
from pipelines.report.layout import FOOTER_TEXT, TITLE

SOFFICE = shutil.which("soffice")
needs_libreoffice = pytest.mark.skipif(
    SOFFICE is None or os.environ.get("RUN_LIBREOFFICE") != "1",
    reason="slow (~10 s): set RUN_LIBREOFFICE=1 with LibreOffice (soffice) installed")
MIN_PRINTED_PT = 9


@pytest.fixture
def latest(demo_db) -> str:
    return scoring.periods(demo_db)[-1]


@pytest.fixture
def workbook(demo_db, latest):
    return load_workbook(io.BytesIO(quarterly.quarter_report(latest, demo_db)))


# ---- 需关注 --------------------------------------------------------------------------------------------
def test_attention_lists_lowest_falls_and_repeat_non_submitters(demo_db, latest):
    a = attention.attention(latest, demo_db)
    bs = scoring.branch_scores(latest, demo_db)
    expected_low = bs.assign(s=scoring.shown(bs["overall"])).sort_values(["s", "branch_code"]).head(5)
    assert list(a.lowest["branch_code"]) == list(expected_low["branch_code"])
    assert list(a.lowest["overall"]) == list(expected_low["s"])
    change = scoring.shown_change(bs["overall"], bs["prev_overall"])
    falls = bs.assign(c=change)[change < 0].sort_values(["c", "branch_code"]).head(5)
    assert list(a.falls["branch_code"]) == list(falls["branch_code"]) and (a.falls["change"] < 0).all()
    assert list(a.falls["change"]) == sorted(a.falls["change"])
    now = scoring.submission_status(latest, demo_db)
    before = scoring.submission_status(str(Period.parse(latest).previous), demo_db)
    both = set(now.loc[now["status"] == "missing", "branch_code"]) - set(
        before.loc[before["status"] != "missing", "branch_code"])
    assert set(a.repeat_missing["branch_code"]) == both
    assert set(a.frame()["kind"]) <= set(AttentionKind.labels())


def test_repeat_non_submitters_need_two_collected_quarters(demo_db, latest):
    """A branch missing this quarter and the one before is listed; a quarter nobody submitted does not count."""
    status = scoring.submission_status(latest, demo_db)
    code = status.loc[status["status"] != "missing", "branch_code"].iloc[0]
    now = status.assign(status=status["status"].where(status["branch_code"] != code, "missing"))
    before = now.copy()
    listed = attention.repeat_missing([now, before], latest)
    assert code in set(listed["branch_code"]) and "连续 2 个季度未报送" in listed["note"].iloc[0]
    assert attention.repeat_missing([now], latest).empty  # the quarter before was not collected


# ---- the workbook ---------------------------------------------------------------------------------------
def test_first_sheet_is_the_briefing(demo_db, latest, workbook):
    ws = workbook.worksheets[0]
    assert ws.title == "简报" and ws["A1"].value == TITLE
    texts = [c.value for c in ws["A"] if isinstance(c.value, str)]
    sentences = summary.quarter_summary(latest, demo_db).sentences
    assert [t.split(". ", 1)[1] for t in texts if re.match(r"\d+\. ", t)] == sentences
    assert texts.index("本季度要点") < texts.index("等次分布（支部数）") < next(
        i for i, t in enumerate(texts) if t.startswith("需关注"))
    grades = {r[0].value: r[1].value for r in ws.iter_rows() if r[0].value in ("优秀", "良好", "一般", "较差")}
    bs = scoring.branch_scores(latest, demo_db)
    assert grades == {g: int((bs["grade"] == g).sum()) for g in ("优秀", "良好", "一般", "较差")}
    lowest = attention.attention(latest, demo_db).lowest
    names = [r[1].value for r in ws.iter_rows() if r[0].value == AttentionKind.LOWEST.label]
    assert names == list(lowest["branch_name"])


def test_every_sheet_has_title_quarter_and_page_numbers(latest, workbook):
    from pipelines.guide.period import Period

    assert workbook.sheetnames == [*quarterly.SHEETS, quarterly.HONOURS_SHEET]
    for ws in workbook.worksheets:
        assert ws["A1"].value and "\"" not in ws["A1"].value, ws.title  # curly quotes only
        assert ws.oddHeader.center.text == f"{TITLE} · {Period.parse(latest).label}"
        assert "&P" in ws.oddFooter.center.text and "&N" in ws.oddFooter.center.text
        assert int(ws.page_setup.paperSize) == 9 and int(ws.page_setup.fitToWidth) == 1  # A4
    assert FOOTER_TEXT == "第 &P 页 / 共 &N 页"


def test_fonts_wraps_and_row_heights(workbook):
    for ws in workbook.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is None:
                    continue
                assert cell.font.sz is None or cell.font.sz >= 10, (ws.title, cell.coordinate)
    items = workbook["考核要点"]
    header = [c.value for c in items[2]]
    text = header.index("内容") + 1
    long_rows = [c for c in items.iter_cols(min_col=text, max_col=text, min_row=3).__next__()
                 if len(c.value or "") > 25]
    assert long_rows, "the demo guide has long item texts"
    for c in long_rows:
        assert c.alignment.wrap_text and items.row_dimensions[c.row].height >= 2 * 11 * 1.2, c.coordinate


def test_score_and_grade_are_separate_columns(workbook):
    ws = workbook["支部排名"]
    header = [c.value for c in ws[2]]
    score, grade = header.index("总分") + 1, header.index("等次") + 1
    assert grade != score
    assert ws.cell(3, score).number_format == "0.0" and ws.cell(3, grade).value in ("优秀", "良好", "一般", "较差")
    assert ws.cell(3, grade).alignment.horizontal == "center"  # '100.0' and '优秀' never touch in print


# ---- printed by LibreOffice -------------------------------------------------------------------------
def printed_sizes(pdf) -> list[list[float]]:
    """Per page, the printed size (pt) of every text run: the font size times the text and page matrices."""
    from pypdf import PdfReader

    pages = []
    for page in PdfReader(pdf).pages:
        sizes: list[float] = []

        def visit(text, cm, tm, font, size, sizes=sizes):
            if text.strip():
                sizes.append(size * math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3]))

        page.extract_text(visitor_text=visit)
        pages.append(sizes)
    return pages


def pdf_text(pdf) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


@needs_libreoffice
def test_libreoffice_prints_the_workbook_legibly(demo_db, latest, tmp_path):
    path = tmp_path / quarterly.file_name(latest)
    path.write_bytes(quarterly.quarter_report(latest, demo_db))
    subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path / 'profile'}",
                    "--convert-to", "pdf", "--outdir", str(tmp_path / "out"), str(path)],
                   check=True, capture_output=True, timeout=180)
    pdf = tmp_path / "out" / path.with_suffix(".pdf").name
    sizes = printed_sizes(pdf)
    assert len(quarterly.SHEETS) <= len(sizes) <= 14
    assert min(min(s) for s in sizes if s) >= MIN_PRINTED_PT - 0.05
    text = pdf_text(pdf)
    pages = text.split("\f")
    assert f"第 1 页 / 共 {len(sizes)} 页" in pages[0] and TITLE in pages[0]
    first = re.sub(r"\s+", "", pages[0])
    for sentence in summary.quarter_summary(latest, demo_db).sentences[:2]:
        assert re.sub(r"\s+", "", sentence)[:20] in first  # the summary opens the first printed page
    assert "需关注" in first and "等次分布" in first
    for i, page in enumerate(pages[:len(sizes)], 1):
        assert f"第 {i} 页 / 共 {len(sizes)} 页" in page and TITLE in page, i
    assert pd.Series([p.count("“") for p in pages]).sum() > 0 and '党建"双创"' not in text


# ---- the PDF ----------------------------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
needs_chromium = pytest.mark.skipif(CHROMIUM is None and os.environ.get("REQUIRE_BROWSER") != "1",
                                    reason="kaleido draws the charts with Chromium (Debian: chromium)")


@needs_chromium
def test_pdf_briefing_from_the_cli(demo_db, latest, tmp_path, capsys):
    from pipelines.cli import main as cli

    out = tmp_path / "简报.pdf"
    assert cli(["report", "--db", str(demo_db), "--period", latest, "--format", "pdf", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    sizes = printed_sizes(out)
    assert 4 <= len(sizes) <= 12
    assert min(min(s) for s in sizes if s) >= MIN_PRINTED_PT
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in fonts.splitlines()[2:] if line.strip()]
    assert rows and all("NotoSansCJK" in r[0] for r in rows)
    assert all(r[-5:-2] == ["yes", "yes", "yes"] for r in rows)  # embedded, subset, unicode map
    pages = pdf_text(out).split("\f")
    first = re.sub(r"\s+", "", pages[0])
    assert TITLE in pages[0] and "本季度要点" in first and "需关注" in first
    for sentence in summary.quarter_summary(latest, demo_db).sentences:
        assert re.sub(r"\s+", "", sentence) in first
    for i, page in enumerate(pages[:len(sizes)], 1):
        assert f"第{i}页/共{len(sizes)}页" in re.sub(r"\s+", "", page)


def test_pdf_of_a_quarter_without_scores_has_no_charts(demo_db, latest, tmp_path):
    """No branch submitted: no chart is drawn (no Chromium needed), the briefing says so."""
    from pypdf import PdfReader

    from pipelines.report import pdf

    year, q = latest.split("Q")
    out = tmp_path / "empty.pdf"
    out.write_bytes(pdf.quarter_pdf(f"{int(year) + 1}Q{q}", demo_db))
    assert "还没有任何支部报送" in re.sub(r"\s+", "", pdf_text(out))
    assert not any(page.images for page in PdfReader(out).pages)


@needs_chromium
def test_overview_offers_the_pdf_when_asked(demo_db, latest):
    from test_pages import ok, page

    at = ok(page("overview").run())
    assert not at.get("download_button") or all(
        "PDF" not in b.proto.label for b in at.get("download_button"))  # not built on every page view
    toggle = next(t for t in at.toggle if t.label.startswith("PDF 版"))
    at = ok(toggle.set_value(True).run())
    labels = [b.proto.label for b in at.get("download_button")]
    assert "下载本季度简报（PDF）" in labels and "下载本季度报告（Excel）" in labels
