"""填报模板 (issue 15, point 2): a public page without sign-in (behind the view password when one is set) with
the blank and pre-filled downloads, the deadline, the guide's checklist for the quarter and the common mistakes.

The downloads are deferred (built on click); the test takes the callables Streamlit registers for them and
checks that what they build are real workbooks our reader reads back."""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from ingest_helpers import registry_workbook
from pages import access
from pipelines import auth, config
from pipelines.store import registry, versions
from pipelines.workbook.checklist import checklist
from pipelines.config import env_name
from pipelines.guide import guide
from pipelines.guide.period import Period
from pipelines.workbook.reader import read_workbook
from pipelines.workbook.template_text import mistakes

ROOT = Path(__file__).resolve().parent.parent
COLLECTED = Period.latest_completed()  # the quarter being collected now: the page's default
CODES = ["JX01-T01", "JX01-T02", "JX01-S01", "JX02-T01"]  # JX01-* and JX02-* are two colleges below


@pytest.fixture
def school(tmp_path) -> Path:
    """The app's database with a registry of two colleges and the collected quarter's deadline."""
    db = config.settings().db_path
    db.parent.mkdir(parents=True, exist_ok=True)
    book = registry_workbook(tmp_path / "名册.xlsx", CODES)
    from openpyxl import load_workbook  # two colleges: the helper puts every branch in one

    wb = load_workbook(book)
    ws = wb.active
    for row in ws.iter_rows(min_row=2):
        if str(row[0].value).startswith("JX02"):
            row[2].value = "化学学院"
    wb.save(book)
    n, problems = registry.load_registry(book, db, actor="组织部")
    assert n == len(CODES) and not [p for p in problems if p.severity == "error"]
    versions.set_deadline(str(COLLECTED), COLLECTED.end + dt.timedelta(days=400), db, actor="组织部")
    return db


def page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "template.py"), default_timeout=120)
    at.secrets["dj_test"] = "isolated"  # never read a developer's real .streamlit/secrets.toml
    return at


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def text_of(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "info", "success", "warning", "subheader")
                     for e in getattr(at, kind))


def unescape(markdown: str) -> str:
    return markdown.replace("\\", "")


def test_the_page_needs_no_sign_in_and_gives_real_workbooks(school, files):
    at = ok(page().run())
    assert [t.value for t in at.title] == ["填报模板"]
    assert at.selectbox(key="tpl_period").value == str(COLLECTED)
    assert at.selectbox(key="tpl_college").options == ["化学学院", "机械工程学院"]
    at = ok(at.selectbox(key="tpl_college").select("机械工程学院").run())
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["教师党支部空白模板", "学生党支部空白模板", "下载本支部预填模板",
                      "下载机械工程学院全部 3 个支部的预填模板（zip）"]
    blank = files["教师党支部季度填报模板.xlsx"]()
    from openpyxl import load_workbook

    sheets = guide().workbook.sheets
    assert load_workbook(io.BytesIO(blank)).sheetnames == [sheets.guide, sheets.info, sheets.ledger, sheets.counts,
                                                           sheets.self_assessment]
    parsed = read_workbook(blank, "空白.xlsx")  # a blank template: every sheet found, nothing filled in yet
    codes = {p.code for p in parsed.problems}
    assert not codes & {"file_corrupt", "file_not_xlsx", "sheet_missing"} and "count_blank" in codes

    at = ok(at.selectbox(key="tpl_branch").select("JX01-T01").run())
    one = files[f"{COLLECTED}_JX01-T01_JX01-T01党支部.xlsx"]()
    parsed = read_workbook(one, "预填.xlsx")
    assert parsed.info.branch_code == "JX01-T01" and (parsed.info.year, parsed.info.quarter) == (
        COLLECTED.year, COLLECTED.quarter)

    zipped = zipfile.ZipFile(io.BytesIO(files[f"{COLLECTED}_机械工程学院_预填模板.zip"]()))
    assert sorted(zipped.namelist()) == sorted(f"{COLLECTED}_{c}_{c}党支部.xlsx" for c in CODES[:3])
    for name in zipped.namelist():
        assert read_workbook(zipped.read(name), name).info.college == "机械工程学院"


def test_choosing_another_college_and_quarter(school, files):
    at = ok(page().run())  # the first college by name
    at = ok(at.selectbox(key="tpl_period").select(str(COLLECTED.next)).run())
    assert "下载化学学院全部 1 个支部的预填模板（zip）" in [b.proto.label for b in at.get("download_button")]
    zipped = zipfile.ZipFile(io.BytesIO(files[f"{COLLECTED.next}_化学学院_预填模板.zip"]()))
    assert zipped.namelist() == [f"{COLLECTED.next}_JX02-T01_JX02-T01党支部.xlsx"]
    assert f"{COLLECTED.next.label}（进行中）须完成的工作" in [s.value for s in at.subheader]


def test_deadline_checklist_and_mistakes_come_from_the_guide(school):
    at = ok(page().run())
    shown = unescape(text_of(at))
    due = COLLECTED.end + dt.timedelta(days=400)
    assert f"{COLLECTED.label}的报送截止日期：**{due.year} 年 {due.month} 月 {due.day} 日**" in shown
    for line in checklist("teacher", str(COLLECTED)) + mistakes(guide()):
        assert unescape(line) in shown, line
    at = ok(at.selectbox(key="tpl_type").select("student").run())
    shown = unescape(text_of(at))
    assert all(line in shown for line in checklist("student", str(COLLECTED)))


def test_no_registry_no_deadline_says_so_in_chinese(files):
    at = ok(page().run())
    shown = text_of(at)
    assert "组织部尚未导入支部名册" in shown and "报送截止日期组织部尚未公布" in shown
    assert [b.proto.label for b in at.get("download_button")] == ["教师党支部空白模板", "学生党支部空白模板"]


def test_a_changed_guide_changes_the_checklist_and_mistakes(school, tmp_path, monkeypatch):
    data = yaml.safe_load((ROOT / "indicator_guide.yaml").read_text(encoding="utf-8"))
    monthly = next(m for d in data["dimensions"] for i in d["indicators"] for it in i["items"]
                   for m in it["measures"] if m["kind"] == "monthly")
    monthly["name"] = "每月支部委员会会议（改）"
    data["workbook"]["common_mistakes"].append("把「{ledger}」的日期写成了农历。")
    path = tmp_path / "guide.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv(env_name("guide_path"), str(path))
    config.settings.cache_clear()
    shown = unescape(text_of(ok(page().run())))
    assert "每月支部委员会会议（改）：" in shown and "把「活动台账」的日期写成了农历。" in shown


def test_an_unknown_field_in_a_mistake_is_refused(tmp_path):
    from pipelines.guide import GuideError, load_guide

    data = yaml.safe_load((ROOT / "indicator_guide.yaml").read_text(encoding="utf-8"))
    data["workbook"]["common_mistakes"] = ["见{sheet}"]
    path = tmp_path / "guide.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(GuideError, match="common_mistakes"):
        load_guide(path)


def test_behind_the_view_password_when_one_is_set(school):
    """Registered in app.py's navigation: public, but the view password hides it like every page."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.secrets["access"] = {"view_password_required": True,
                            "view_password_hash": auth.hash_password("查看-2026", rounds=4)}
    at.switch_page("pages/template.py").run()
    assert not at.exception and at.text_input(key="dj_view_password_input")
    assert not at.title and not at.get("download_button")
    at.session_state[access.VIEWER_KEY] = True  # a session that gave the password (the form: tests/test_auth.py)
    at.run()
    assert not at.exception and [t.value for t in at.title] == ["填报模板"]
    assert at.get("download_button") and not at.text_input  # no admin sign-in either


def fields(code: str) -> dict[str, str]:
    """Placeholder values for the fields of a catalogue message."""
    from string import Formatter

    from pipelines.workbook.problems import CATALOGUE

    names = {f for _, f, _, _ in Formatter().parse(CATALOGUE[code].template) if f}
    return dict.fromkeys(names - {"where", "sheet", "cell", "value"}, "?")


def test_the_reminders_accepted_workbooks_raised_most(tmp_path, monkeypatch):
    """From raw_problems (the warnings of accepted workbooks), most files first, named by the catalogue."""
    from pipelines.workbook.problems import CATALOGUE, make
    from test_scoring_fixtures import save, workbook

    books = [workbook(code, COLLECTED.year, COLLECTED.quarter) for code in ("A", "B", "C")]
    for book, codes in zip(books, (["duplicate_row", "training_incomplete"], ["training_incomplete"],
                                   ["training_incomplete", "training_incomplete"])):
        book.problems = [make(code, file=book.file_name, sheet="活动台账", cell="A3", value="x", **fields(code))
                         for code in codes]
    db = tmp_path / "warned.duckdb"
    save(db, *books)
    monkeypatch.setenv("DJ_DB_PATH", str(db))
    config.settings.cache_clear()
    at = ok(page().run())
    [table] = at.dataframe
    assert table.value.values.tolist() == [[CATALOGUE["training_incomplete"].title, 3],
                                           [CATALOGUE["duplicate_row"].title, 1]]
