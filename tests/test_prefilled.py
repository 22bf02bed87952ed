"""Pre-filled templates from the registry, forgiving names with strict identity, the example row, the checklist.

Real things only: a demo registry written to .xlsx and loaded into a real DuckDB file, pre-filled workbooks
unzipped and filled with openpyxl as a secretary would (only the white cells), ingested by the real pipeline.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from pipelines import config
from pipelines.store import ingest, registry
from pipelines.cli import main
from pipelines.workbook.checklist import checklist, hours_target, semester_reports_due
from pipelines.store.db import query_df
from pipelines.demo.build import plan_school
from pipelines.guide import guide
from pipelines.workbook.model import BranchInfo, RegistryEntry
from pipelines.workbook.prefilled import TemplateError, prefilled_name, prefilled_zip, write_prefilled
from pipelines.workbook.reader import read_workbook
from pipelines.workbook.template import EXAMPLE_PREFIX, EXAMPLE_ROW, IDENTITY_FIELDS, write_registry_workbook, write_workbook

G = guide()
S = G.workbook.sheets
PERIOD = "2026Q4"
INFO_ROW = {f.id: r for r, f in enumerate(G.workbook.info_fields, start=2)}
COL = {c.id: get_column_letter(i) for i, c in enumerate(G.workbook.ledger_columns, start=1)}
# Everything the reader says about who a file belongs to.
IDENTITY_CODES = {"branch_code_unknown", "branch_code_unknown_name_known", "registry_name_differs",
                  "branch_name_of_other_branch", "registry_college_differs", "registry_type_differs",
                  "file_name_branch_mismatch", "file_name_period_mismatch", "info_value_missing"}


@pytest.fixture
def school(tmp_path):
    """The demo school's registry (24 branches) as a workbook, loaded into a real database."""
    entries = [RegistryEntry(b.code, b.name, b.college, b.branch_type, b.members) for b in plan_school(24, 7, 2026)]
    path = write_registry_workbook(tmp_path / "支部名册.xlsx", entries)
    db = tmp_path / "school.duckdb"
    n, problems = registry.load_registry(path, db)
    assert n == len(entries) and not problems
    return entries, path, db


def _entry(entries, code) -> RegistryEntry:
    return next(e for e in entries if e.branch_code == code)


def _fill_ledger(path: Path, rows: list[tuple]) -> None:
    """Type ledger rows under the example row, as a secretary does in Excel (only unlocked cells)."""
    wb = load_workbook(path)
    ws = wb[S.ledger]
    for r, values in enumerate(rows, start=EXAMPLE_ROW + 1):
        for cid, value in zip(("date", "activity_type", "topic", "expected", "attended", "hours", "evidence"), values):
            cell = ws[f"{COL[cid]}{r}"]
            assert not cell.protection.locked, cell.coordinate
            cell.value = value
    wb.save(path)


def _rows(month: int) -> list[tuple]:
    return [(dt.date(2026, month, 8), "支部委员会会议", "研究季度工作", 5, 5, None, "会议记录"),
            (dt.date(2026, month, 20), "主题党日", "学习先进典型示例：张桂梅同志事迹", 20, 18, None, "照片"),
            (dt.date(2026, month, 25), "集中学习培训", "专题学习", 20, 19, 3, "签到表")]


# ---- pre-filled workbooks ------------------------------------------------------------------------------------
def test_every_prefilled_workbook_ingests_without_identity_problems(school, tmp_path):
    entries, _, db = school
    data = prefilled_zip(entries, PERIOD)
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        zf.extractall(folder)
    assert sorted(names) == sorted(f"{e.college}/{prefilled_name(e, PERIOD)}" for e in entries)
    files = sorted(folder.glob("*/*.xlsx"))
    for f in files[:3]:  # a few secretaries fill in their ledger
        _fill_ledger(f, _rows(10) + _rows(11)[:1])

    results = ingest.ingest([folder], db)
    assert len(results) == len(entries) and all(r.status == "accepted" for r in results)
    assert not [(r.file_name, p.code) for r in results for p in r.problems if p.code in IDENTITY_CODES]
    stored = query_df("SELECT branch_code, branch_name, college, branch_type FROM stg_submissions", path=db)
    registry = {(e.branch_code, e.branch_name, e.college, e.branch_type) for e in entries}
    assert set(map(tuple, stored.itertuples(index=False))) == registry
    filled = read_workbook(files[0], registry={e.branch_code: e for e in entries})
    assert len(filled.ledger) == 4 and [r.row for r in filled.ledger] == [3, 4, 5, 6]  # example row not counted
    assert "ledger_example_row" not in [p.code for p in filled.problems]


def test_identity_cells_are_filled_from_the_registry_and_locked(school, tmp_path):
    entries, _, _ = school
    e = _entry(entries, "XX-S01")
    wb = load_workbook(write_prefilled(tmp_path / prefilled_name(e, PERIOD), e, PERIOD))
    info = wb[S.info]
    assert info.protection.sheet
    want = {"branch_code": "XX-S01", "branch_name": e.branch_name, "college": e.college,
            "branch_type": "学生党支部", "year": 2026, "quarter": 4}
    for fid in IDENTITY_FIELDS:
        cell = info[f"B{INFO_ROW[fid]}"]
        assert cell.value == want[fid] and cell.protection.locked, fid
    members = info[f"B{INFO_ROW['members']}"]
    assert members.value == e.members and not members.protection.locked  # may change during the year
    for fid in ("secretary", "filled_by", "filled_on"):
        assert info[f"B{INFO_ROW[fid]}"].value is None and not info[f"B{INFO_ROW[fid]}"].protection.locked
    guide_text = "\n".join(str(c.value) for c in wb[S.guide]["A"] if c.value)
    assert "已按组织部支部名册预先填好并锁定" in guide_text


def test_a_colleges_zip_holds_only_its_branches_flat(school):
    entries, _, _ = school
    with zipfile.ZipFile(io.BytesIO(prefilled_zip(entries, "2026q4", college=" 机械工程学院党委 "))) as zf:
        assert zf.namelist() == sorted(prefilled_name(e, PERIOD) for e in entries if e.college == "机械工程学院党委")
        assert zf.namelist()[0] == "2026Q4_JX-S01_机械设计制造2023级本科生党支部.xlsx"
    with pytest.raises(TemplateError, match="没有二级党组织“物理学院党委”.*机械工程学院党委"):
        prefilled_zip(entries, PERIOD, college="物理学院党委")
    with pytest.raises(TemplateError, match="2026Q4 这样的格式"):
        prefilled_zip(entries, "2026Q5")


def test_cli_writes_prefilled_workbooks_from_a_registry_or_the_database(school, tmp_path, capsys):
    entries, registry, db = school
    out = tmp_path / "out"
    assert main(["template", "--registry", str(registry), "--period", PERIOD, "--out", str(out)]) == 0
    assert len(list(out.glob("*/*.xlsx"))) == len(entries) and f"全校 {len(entries)} 个支部" in capsys.readouterr().out
    zipped = tmp_path / "jx.zip"
    assert main(["template", "--db", str(db), "--period", PERIOD, "--college", "机械工程学院党委",
                 "--out", str(zipped)]) == 0
    assert len(zipfile.ZipFile(zipped).namelist()) == 3 and "机械工程学院党委 3 个支部" in capsys.readouterr().out
    assert main(["template", "--db", str(db), "--period", PERIOD, "--college", "物理学院", "--out", str(zipped)]) == 1
    assert "没有二级党组织“物理学院”" in capsys.readouterr().out
    assert main(["template", "--registry", str(registry), "--out", str(out)]) == 2
    assert "--period" in capsys.readouterr().out
    assert main(["template", "--db", str(tmp_path / "empty.duckdb"), "--period", PERIOD, "--out", str(out)]) == 1
    assert "支部名册为空" in capsys.readouterr().out


# ---- names forgiving, identity strict -------------------------------------------------------------------------
def _typed(tmp_path, entry: RegistryEntry, **changes) -> Path:
    """A workbook from the blank template, identity typed by hand (as before pre-filled templates)."""
    info = BranchInfo(entry.branch_code, entry.branch_name, entry.college, entry.branch_type, 2026, 4,
                      entry.members, "王明", "李华", dt.date(2026, 12, 28))
    info = dataclasses.replace(info, **changes)
    path = write_workbook(tmp_path / f"{PERIOD}_{entry.branch_code}.xlsx", info.branch_type, info=info)
    _fill_ledger(path, _rows(10))
    return path


def test_a_near_miss_name_is_accepted_with_a_warning_and_stored_with_the_registry_name(school, tmp_path):
    entries, _, db = school
    e = _entry(entries, "DQ-T01")
    assert e.branch_name == "电气与自动化学院教工第一党支部"
    [r] = ingest.ingest([_typed(tmp_path, e, branch_name="电气学院教工第一党支部", college="电气学院党委")], db)
    assert r.status == "accepted"
    name = next(p for p in r.problems if p.code == "registry_name_differs")
    assert name.severity == "warning" and name.cell == f"B{INFO_ROW['branch_name']}"
    assert "“电气学院教工第一党支部”" in name.message and "“电气与自动化学院教工第一党支部”" in name.message
    college = next(p for p in r.problems if p.code == "registry_college_differs")
    assert "“电气学院党委”" in college.message and "“电气与自动化学院党委”" in college.message
    stored = query_df("SELECT branch_name, college FROM stg_submissions WHERE branch_code = 'DQ-T01'", path=db)
    assert stored.values.tolist() == [["电气与自动化学院教工第一党支部", "电气与自动化学院党委"]]


def test_a_copied_file_with_another_branchs_exact_name_is_refused(school, tmp_path):
    """DQ-T01's secretary starts from JG-T01's file and changes the code only: JG-T01's data must not move."""
    entries, _, db = school
    jg = _entry(entries, "JG-T01")
    [r] = ingest.ingest([_typed(tmp_path, _entry(entries, "DQ-T01"), branch_name=jg.branch_name)], db)
    assert r.status == "rejected"
    p = next(p for p in r.problems if p.code == "branch_name_of_other_branch")
    assert "编码 JG-T01" in p.message and "DQ-T01" in p.message and "电气与自动化学院教工第一党支部" in p.message
    assert query_df("SELECT count(*) AS n FROM submissions", path=db).n[0] == 0


def test_a_code_in_the_old_example_format_points_to_the_registered_code(school, tmp_path):
    entries, _, db = school
    [r] = ingest.ingest([_typed(tmp_path, _entry(entries, "JX-T01"), branch_code="JX01-T01")], db)
    p = next(p for p in r.problems if p.code == "branch_code_unknown_name_known")
    assert r.status == "rejected" and "支部编码是 JX-T01" in p.message and "JX01-T01" in p.message


def test_the_other_types_template_is_refused_naming_the_template_to_use(school, tmp_path):
    entries, _, db = school
    [r] = ingest.ingest([_typed(tmp_path, _entry(entries, "JX-S01"), branch_type="teacher")], db)
    p = next(p for p in r.problems if p.code == "registry_type_differs")
    assert r.status == "rejected" and "该支部在名册中为学生党支部，请使用学生党支部模板" in p.message


# ---- the example row ------------------------------------------------------------------------------------------
def test_the_example_row_is_skipped_and_only_it(school, tmp_path):
    entries, _, _ = school
    e = _entry(entries, "JX-T01")
    registry = {x.branch_code: x for x in entries}
    path = write_prefilled(tmp_path / prefilled_name(e, PERIOD), e, PERIOD)
    ws = load_workbook(path)[S.ledger]
    assert str(ws[f"{COL['topic']}{EXAMPLE_ROW}"].value).startswith(EXAMPLE_PREFIX)
    assert ws[f"{COL['topic']}{EXAMPLE_ROW}"].fill.fgColor.rgb == "00F2F2F2"  # grey, like the other fixed cells
    untouched = read_workbook(path, registry=registry)
    assert untouched.ledger == [] and "ledger_empty" in [p.code for p in untouched.problems]

    # real rows that mention 示例 further on count; an edited example row (half-width colon) does not
    _fill_ledger(path, _rows(10) + [(dt.date(2026, 11, 3), "党课", "示例: 书记讲党课", 20, 20, None, "")])
    wb = load_workbook(path)
    wb[S.ledger][f"{COL['attended']}{EXAMPLE_ROW}"].value = 24  # someone unprotected the sheet and edited it
    wb.save(path)
    parsed = read_workbook(path, registry=registry)
    assert [r.topic for r in parsed.ledger] == ["研究季度工作", "学习先进典型示例：张桂梅同志事迹", "专题学习"]
    flagged = sorted(p.cell for p in parsed.problems if p.code == "ledger_example_row")
    assert flagged == [f"{COL['topic']}{EXAMPLE_ROW}", f"{COL['topic']}{EXAMPLE_ROW + 4}"]
    assert parsed.valid


def test_a_blank_template_has_the_example_row_and_a_filled_workbook_does_not(tmp_path):
    blank = load_workbook(write_workbook(tmp_path / "blank.xlsx", "teacher"))[S.ledger]
    assert str(blank[f"{COL['topic']}{EXAMPLE_ROW}"].value).startswith(EXAMPLE_PREFIX)
    info = BranchInfo("JX-T01", "某支部", "某学院", "teacher", 2026, 4, 20)
    filled = load_workbook(write_workbook(tmp_path / "filled.xlsx", "teacher", info=info))[S.ledger]
    assert filled[f"{COL['topic']}{EXAMPLE_ROW}"].value is None


# ---- the checklist --------------------------------------------------------------------------------------------
def _line(lines: list[str], start: str) -> str:
    found = [line for line in lines if line.startswith(start)]
    assert len(found) == 1, (start, lines)
    return found[0]


def test_checklist_follows_the_guide_for_the_quarter_and_the_blank_template():
    lines = checklist("teacher", "2026Q2")
    monthly = [m for it in G.items_for("teacher") for m in it.measures if m.kind == "monthly"]
    assert {G.activity_name(m.activity) for m in monthly} == {"支部委员会会议", "主题党日"}
    for m in monthly:
        assert "4 月、5 月、6 月各 1 次" in _line(lines, m.name)
    assert "本季度至少 1 次" in _line(lines, "每季度召开1次支部党员大会")
    hours = next(m for it in G.items for m in it.measures if m.kind == "hours")
    assert f"人均应达 {hours_target(hours.required, 2):g} 学时" in _line(lines, hours.name)
    annual = [m for it in G.items_for("teacher") for m in it.measures if m.kind == "annual_count"]
    for m in annual:
        assert "年底前完成" in _line(lines, m.name)
    assert "须在本季度内完成" in _line(checklist("teacher", "2026Q4"), annual[0].name)
    # a page that knows the branch has done an annual item leaves it out
    item = next(it for it in G.items if annual[0] in it.measures)
    still_open = checklist("teacher", "2026Q2", met=[(item.id, annual[0].id)])
    assert not [x for x in still_open if x.startswith(annual[0].name)] and len(still_open) == len(lines) - 1

    blank = checklist("student")
    for m in annual:
        assert f"全年至少 {m.required:g} 次" in _line(blank, m.name)
    assert "每月 1 次" in _line(blank, monthly[0].name) and "第 4 季度末 32" in _line(blank, hours.name)


def test_the_template_guide_sheet_carries_the_checklist(school, tmp_path):
    entries, _, _ = school
    e = _entry(entries, "JX-S01")
    text = [c.value for c in load_workbook(write_prefilled(tmp_path / "t.xlsx", e, PERIOD))[S.guide]["A"]]
    for line in checklist("student", PERIOD):
        assert any(str(v).endswith(line) for v in text if v), line
    blank = [c.value for c in load_workbook(write_workbook(tmp_path / "b.xlsx", "teacher"))[S.guide]["A"]]
    assert any(str(v).endswith(checklist("teacher")[0]) for v in blank if v)


def test_a_changed_guide_changes_the_checklist(tmp_path, monkeypatch):
    raw = yaml.safe_load(open(config.settings().guide_path, encoding="utf-8"))
    item = next(it for d in raw["dimensions"] for ind in d["indicators"] for it in ind["items"] if it["id"] == "2.1.3")
    item["measures"][0]["required"] = 40
    theme = next(it for d in raw["dimensions"] for ind in d["indicators"] for it in ind["items"] if it["id"] == "1.2.2")
    theme["measures"][0]["name"] = "每月开展1次支部主题党日活动"
    path = tmp_path / "guide.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    before = checklist("teacher", "2026Q2")
    monkeypatch.setenv("DJ_GUIDE_PATH", str(path))
    config.settings.cache_clear()
    after = checklist("teacher", "2026Q2")
    assert after != before
    assert "人均应达 20 学时（全年 40 学时" in _line(after, "党员年度集中学习培训")
    assert "4 月、5 月、6 月各 1 次" in _line(after, "每月开展1次支部主题党日活动")
    text = [c.value for c in load_workbook(write_workbook(tmp_path / "t.xlsx", "teacher"))[S.guide]["A"]]
    assert any("第 2 季度末 20" in str(v) for v in text)


@pytest.mark.parametrize("quarter", [2, 3])
def test_the_checklists_time_rules_are_the_scorings(school, tmp_path, quarter):
    """hours_target and semester_reports_due are the Python twins of measure_scores.sql's rules."""
    from pipelines.scoring import measure_scores

    entries, _, db = school
    e = _entry(entries, "JX-T01")
    period = f"2026Q{quarter}"
    [r] = ingest.ingest([write_prefilled(tmp_path / prefilled_name(e, period), e, period)], db)
    assert r.status == "accepted"
    scores = measure_scores(period, db, "JX-T01").set_index("kind")
    hours = next(m for it in G.items for m in it.measures if m.kind == "hours")
    assert scores.loc["hours", "required"] == pytest.approx(hours_target(hours.required, quarter))
    assert scores.loc["semester", "required"] == semester_reports_due(quarter)


# ---- LibreOffice ----------------------------------------------------------------------------------------------
SOFFICE = shutil.which("soffice")


@pytest.mark.skipif(SOFFICE is None or os.environ.get("RUN_LIBREOFFICE") != "1",
                    reason="slow (~5 s): set RUN_LIBREOFFICE=1 with LibreOffice (soffice) installed")
def test_libreoffice_round_trip_of_a_prefilled_workbook(school, tmp_path):
    entries, _, _ = school
    e = _entry(entries, "DQ-T01")
    path = write_prefilled(tmp_path / prefilled_name(e, PERIOD), e, PERIOD)
    _fill_ledger(path, _rows(10))
    out = tmp_path / "out"
    subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path / 'profile'}",
                    "--convert-to", "xlsx", "--outdir", str(out), str(path)],
                   check=True, capture_output=True, timeout=120)
    registry = {x.branch_code: x for x in entries}
    resaved, original = read_workbook(out / path.name, registry=registry), read_workbook(path, registry=registry)
    assert resaved.valid and not [p for p in resaved.problems if p.code in IDENTITY_CODES]
    assert [p.code for p in resaved.problems] == [p.code for p in original.problems]
    assert (resaved.info, resaved.ledger) == (original.info, original.ledger) and len(resaved.ledger) == 3
    wb = load_workbook(out / path.name)
    assert all(ws.protection.sheet for ws in wb.worksheets)
    assert wb[S.info][f"B{INFO_ROW['branch_code']}"].protection.locked
