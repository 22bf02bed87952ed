"""Issue 9 (hostile and careless input), findings 2 and 4: every Excel and CSV file the product gives out is
inert. A registry and ledger whose branch names, colleges, topics and evidence begin with = + - @ tab or CR, or
hold BEL / ESC, go through the real ingest into a real DuckDB; then every export is produced the way users get
it (the CLI report and `scores --format csv`, the files the pages put on their download buttons, the upload
page's 校验结果) and none may hold a formula, a text cell beginning with = + - @ tab or CR, or fail to build.
The export functions are also fed hostile DataFrames directly, so this holds whatever the reader strips.
"""
from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
import re
import sys
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from ingest_helpers import run_cli
from pipelines import config, scoring
from pipelines.report import export
from pipelines.store import ingest
from pipelines.store.registry import load_registry
from pipelines.store import plan
from pipelines.report import quarterly
from pipelines.guide import guide
from pipelines.workbook.model import BranchInfo, LedgerRow, RegistryEntry
from pipelines.guide.period import Period
from pipelines.workbook.template import write_registry_workbook, write_workbook

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\tX", "\rX", "a\x07b", "c\x1bd"]
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
PERIODS = ("2026Q1", "2026Q2")
SUBMITTING = 6  # the last two registry branches never submit: they are listed as missing


def as_stored(text: str) -> str:
    """`text` as Excel stores it in a cell: control characters escaped as _xHHHH_ (calamine decodes them)."""
    return CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def typed_as_text(path: Path) -> Path:
    """Make every formula openpyxl wrote for a '=…' value a text cell, as a secretary typing '=… gets."""
    wb = load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
    wb.save(path)
    return path


def code(i: int) -> str:
    return f"JX01-T{i + 1:02d}"


def branch_file(folder: Path, i: int, period: str, raw_cells: dict | None = None) -> Path:
    """Branch i's workbook for `period`: hostile name, college, topics and evidence; how much it did depends
    on the quarter, so some branches improve and some decline (the movers table)."""
    year, q = int(period[:4]), int(period[-1])
    info = BranchInfo(code(i), as_stored(HOSTILE[i]), as_stored(HOSTILE[-1 - i]), "teacher", year, q, 10,
                      "张书记", "李委员", dt.date(year, Period(year, q).months[-1], 28))
    busy = (i + q) % 2 == 0
    ledger = [LedgerRow(0, dt.date(year, m, 5 + k), kind, "", as_stored(HOSTILE[(i + k) % len(HOSTILE)]), 8, 8,
                        4.0 if kind == "training" else None, as_stored(HOSTILE[(i + k + 1) % len(HOSTILE)]))
              for m in Period(year, q).months[: 3 if busy else 1]
              for k, kind in enumerate(("committee_meeting", "theme_day", "training"))]
    answers = {it.id: ("done", as_stored(HOSTILE[n % len(HOSTILE)]))
               for n, it in enumerate(guide().items_for("teacher"))}
    counts = {f.id: 0 for f in guide().count_fields} | {"fee_due": 10, "fee_paid": 10 if busy else 5}
    path = write_workbook(folder / f"{code(i)}_{period}.xlsx", "teacher", info=info, ledger=ledger, counts=counts,
                          self_assessment=answers, raw_cells=raw_cells)
    return typed_as_text(path)


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory) -> Path:
    """A real database ingested from a hostile registry and hostile branch workbooks (two quarters)."""
    base = tmp_path_factory.mktemp("hostile")
    db = base / "hostile.duckdb"
    entries = [RegistryEntry(code(i), as_stored(name), as_stored(HOSTILE[-1 - i]), "teacher", 10)
               for i, name in enumerate(HOSTILE)]
    registry = typed_as_text(write_registry_workbook(base / "registry.xlsx", entries))
    loaded, problems = load_registry(registry, db)
    assert loaded == len(HOSTILE), problems
    for period in PERIODS:
        files = [branch_file(base / period, i, period) for i in range(SUBMITTING)]
        results = ingest.ingest(files, db)
        assert all(r.status == "accepted" for r in results), [(r.file_name, r.problems) for r in results]
    return db


def cells_of_xlsx(data: bytes):
    """(sheet, cell) of every cell of an .xlsx."""
    wb = load_workbook(io.BytesIO(data))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                yield ws.title, cell


def assert_inert_xlsx(data: bytes, where: str) -> list[str]:
    """No formula and no text beginning with a formula character; returns the text cells."""
    texts = []
    for sheet, cell in cells_of_xlsx(data):
        assert cell.data_type != "f", (where, sheet, cell.coordinate, cell.value)
        if isinstance(cell.value, str):
            assert not cell.value.startswith(TRIGGERS), (where, sheet, cell.coordinate, cell.value)
            texts.append(cell.value)
    return texts


def assert_inert_csv(text: str, where: str) -> list[str]:
    """No cell beginning with a formula character unless it is a number; returns the cells."""
    cells = [v for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for v in row]
    for v in cells:
        if v.startswith(TRIGGERS):
            float(v)  # a negative number is a number, not a formula; anything else fails here
    return cells


def hostile_seen(texts: list[str]) -> bool:
    """Whether the hostile values made it into the export (so the check is not vacuous)."""
    return any("HYPERLINK" in t for t in texts) and any("SUM(A1)" in t for t in texts)


# ---- finding 2: live formulas in every export --------------------------------------------------------------

def test_finding2_cli_report_has_no_formula(hostile_db, tmp_path):
    for period in PERIODS:
        out = tmp_path / f"report_{period}.xlsx"
        done = run_cli("report", "--db", str(hostile_db), "--period", period, "--out", str(out))
        assert done.returncode == 0, done.stderr
        texts = assert_inert_xlsx(out.read_bytes(), f"report {period}")
        assert hostile_seen(texts)
        wb = load_workbook(out)
        names = [c.value for c in wb["支部排名"]["C"][1:]]
        assert "'=HYPERLINK(\"http://x\",\"y\")" in names  # neutralised with the OWASP apostrophe, not dropped
        assert [c.value for c in wb["未报送支部"]["B"][1:]] and all(not CONTROL.search(str(c.value))
                                                                  for c in wb["未报送支部"]["B"])


def test_finding2_cli_scores_csv_has_no_formula(hostile_db):
    done = run_cli("scores", "--db", str(hostile_db), "--period", PERIODS[-1], "--format", "csv")
    assert done.returncode == 0, done.stderr
    cells = assert_inert_csv(done.stdout, "scores csv")
    assert hostile_seen(cells) and "'=HYPERLINK(\"http://x\",\"y\")" in cells
    items = run_cli("scores", "--db", str(hostile_db), "--period", PERIODS[-1], "--format", "csv",
                    "--branch", code(0), "--items")
    assert items.returncode == 0, items.stderr
    assert_inert_csv(items.stdout, "scores csv --items")


@pytest.fixture
def served_files(hostile_db, monkeypatch, files):
    """Every file a page run puts on a download button, as (file name, bytes), with the app on hostile_db: the
    files built with the page, and those built on click (the table downloads; `files` holds their builders,
    called as a click would when the list is read)."""
    monkeypatch.setenv("DJ_DB_PATH", str(hostile_db))
    config.settings.cache_clear()
    built: list[tuple[str, bytes]] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        if isinstance(path_or_data, bytes) and filename:
            built.append((filename, path_or_data))
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)

    class Served:
        def __iter__(self):
            return iter(built + [(name, build()) for name, build in files.items() if name])

    return Served()


def run_page(name: str, **params: str):
    """One page run in AppTest that showed neither an exception nor an error box (test_pages' helpers)."""
    from test_pages import ok, page

    return ok(page(name, **params).run())


def ledger_item(db: Path, period: str, branch: str) -> str:
    """An item whose trace shows ledger rows (topics typed by the branch)."""
    return next(it.id for it in guide().items_for("teacher")
                if (scoring.trace(period, branch, it.id, db)["source"] == "ledger").any())


def test_finding2_page_downloads_have_no_formula(hostile_db, served_files):
    period = PERIODS[-1]
    from test_pages import open_box, open_tab

    overview = run_page("overview", period=period)
    for label in [t.label for t in overview.tabs]:  # only the open detail tab is drawn: open each in turn
        open_tab(overview, label)
    open_box(run_page("trends", period=period), "tr_movers_table")  # the movers' table: drawn when opened
    college = scoring.branch_scores(period, hostile_db).set_index("branch_code").loc[code(0), "college"]
    run_page("branch", period=period, college=college, branch=code(0), item=ledger_item(hostile_db, period, code(0)))
    names = [n for n, _ in served_files]
    for prefix in ("党建双创季度报告", "支部排名", "未报送支部", "进步退步支部", "支部考核要点", "台账明细"):
        assert any(n.startswith(prefix) for n in names), (prefix, names)
    for name, data in served_files:
        texts = assert_inert_xlsx(data, name) if name.endswith(".xlsx") else assert_inert_csv(data.decode("utf-8-sig"), name)
        if name.startswith(("党建双创季度报告", "支部排名", "台账明细", "支部考核要点")):
            assert hostile_seen(texts), name


def load_upload_page():
    spec = importlib.util.spec_from_file_location("upload_page_exports", ROOT / "pages" / "upload.py")
    page = importlib.util.module_from_spec(spec)
    sys.modules["upload_page_exports"] = page
    spec.loader.exec_module(page)
    return page


def test_finding2_problems_workbook_of_a_rejected_file_has_no_formula(hostile_db, tmp_path):
    col = {c.id: chr(ord("A") + n) for n, c in enumerate(guide().workbook.ledger_columns)}
    bad = branch_file(tmp_path, 0, "2026Q3", raw_cells={  # what a careless or hostile secretary typed
        ("ledger", f"{col['date']}2"): '=HYPERLINK("http://x","y")', ("ledger", f"{col['expected']}2"): "@SUM(A1)",
        ("ledger", f"{col['attended']}2"): as_stored("+1\x07")})
    results = plan.preview([('=HYPERLINK("http://x","y").xlsx', bad.read_bytes())], hostile_db)
    assert results[0].status == "rejected"
    texts = assert_inert_xlsx(load_upload_page().problems_workbook(results), "校验结果")
    assert hostile_seen(texts)


# ---- finding 4: illegal characters must not crash an export ---------------------------------------------

def test_finding4_bel_in_registry_name_does_not_fail_the_report(hostile_db, tmp_path):
    """A registry branch with BEL in its name and ESC in its college never submitted: the report lists it."""
    out = tmp_path / "report.xlsx"
    done = run_cli("report", "--db", str(hostile_db), "--period", PERIODS[-1], "--out", str(out))
    assert done.returncode == 0, done.stderr
    ws = load_workbook(out)["未报送支部"]
    header = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 2).value == "支部名称")  # below the sheet title
    missing = [ws.cell(r, 2).value for r in range(header + 1, ws.max_row + 1)]
    assert len(missing) == len(HOSTILE) - SUBMITTING and "ab" in missing


HOSTILE_FRAME = pd.DataFrame({
    "支部": HOSTILE, "主题": [h + "\x1b" for h in HOSTILE[::-1]], "排名": range(1, 9),
    "较上季度": [-1.5, 2.0, -0.1, None, 0.0, -3.0, 1.0, 4.5], "混合": [-2, "=1+1", 3.5, "-x", None, "\x07", "@", "ok"],
})


def test_finding4_export_writers_take_hostile_frames_directly():
    """Whatever the reader strips, the writers themselves neutralise formulas and drop illegal characters."""
    from pages import tables

    for data in (export.xlsx_bytes({"台账/明细[1]": HOSTILE_FRAME}),
                 tables._table_file(HOSTILE_FRAME, "台账明细", "xlsx")):
        texts = assert_inert_xlsx(data, "xlsx")
        assert hostile_seen(texts) and not any(CONTROL.search(t) for t in texts)
        numbers = [c.value for _, c in cells_of_xlsx(data) if c.column_letter == "D" and c.row > 1]
        assert numbers[:3] == [-1.5, 2.0, -0.1]  # negative numbers stay numbers
    for text in (export.csv_text(HOSTILE_FRAME), tables._table_file(HOSTILE_FRAME, "台账明细", "csv").decode("utf-8-sig")):
        cells = assert_inert_csv(text, "csv")
        assert "-1.5" in cells and "'-x" in cells and "'=1+1" in cells and not any(CONTROL.search(v) for v in cells)


def test_finding4_report_writer_takes_hostile_frames_directly(hostile_db):
    """The report's marts with BEL / ESC and formulas typed straight into them (not through the reader)."""
    data = scoring.marts(PERIODS[-1], hostile_db, previous=True)
    for key in ("branch_scores", "submission_status", "college_scores"):
        frame = data[key].copy()
        for col in ("branch_name", "college"):
            if col in frame:
                frame[col] = [HOSTILE[n % len(HOSTILE)] + "\x07" for n in range(len(frame))]
        data[key] = frame
    texts = assert_inert_xlsx(quarterly.quarter_report(PERIODS[-1], hostile_db, data=data), "report")
    assert hostile_seen(texts) and not any(CONTROL.search(t) for t in texts)


def test_finding4_a_download_that_cannot_be_built_shows_a_chinese_error():
    """The page says why there is nothing to download instead of a button that silently does nothing."""
    def app():
        import streamlit as st

        from pages import tables

        def broken() -> bytes:
            raise ValueError("a builder that fails")

        tables.download(st, "下载 Excel", broken, file_name="台账明细.xlsx", mime=tables.XLSX_MIME, key="dl")
        tables.download(st, "下载 CSV", lambda: b"ok", file_name="ok.csv", mime="text/csv", key="dl_ok")

    at = AppTest.from_function(app, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] and "“台账明细.xlsx”生成失败" in at.error[0].value
    assert [b.proto.label for b in at.get("download_button")] == ["下载 CSV"]


def test_finding2_registry_download_is_inert_and_uploads_again_as_stored(hostile_db, tmp_path):
    """下载当前名册 (pages/upload.py) writes the stored registry with write_registry_workbook: no formula, no
    character Excel refuses, and the file re-uploads to exactly the names it holds (no added apostrophe)."""
    from pipelines.store import db as dbmod
    from pipelines.workbook.reader import read_registry

    with dbmod.connect(hostile_db) as con:
        rows = con.execute("SELECT branch_code, branch_name, college, branch_type, members FROM registry "
                           "ORDER BY branch_code").fetchall()
    entries = [RegistryEntry(*r) for r in rows]
    entries.append(RegistryEntry("JX01-T99", "=HYPERLINK(\"http://x\",\"y\")\x07", "@学院\x1b", "teacher", 9))
    data = write_registry_workbook(tmp_path / "名册.xlsx", entries).read_bytes()
    marked = 0
    for sheet, cell in cells_of_xlsx(data):
        assert cell.data_type != "f", (sheet, cell.coordinate, cell.value)
        if isinstance(cell.value, str) and cell.value.startswith(TRIGGERS):
            assert cell.quotePrefix, (sheet, cell.coordinate, cell.value)  # Excel shows and keeps it as text
            marked += 1
    assert marked >= 4
    back, problems = read_registry(tmp_path / "名册.xlsx")
    assert not [p for p in problems if p.severity == "error"], problems
    expected = [(e.branch_code, export.ILLEGAL_XML.sub("", e.branch_name), export.ILLEGAL_XML.sub("", e.college))
                for e in entries]
    assert [(e.branch_code, e.branch_name, e.college) for e in back] == expected
