"""督办 (follow-up): tasks opened in one quarter from an alert or a weak item are marked 已整改 / 未整改 / 待核实
from the next quarter's data; writes are journaled (rebuild keeps them), refuse an empty actor and tasks outside
the account's scope; the 督办清单 workbook is titled and set up for A4 (and, with RUN_LIBREOFFICE=1, printed).

A hand-made school of real workbooks (tests/test_alerts.py's `book`), 2026Q1 and 2026Q2, one college:
FIXED misses a committee meeting in Q1 only, STILL in both quarters, GONE in Q1 and then does not submit;
ITEM_FIXED answers 7.1.1 未完成 in Q1 and 完成 in Q2, ITEM_STILL 未完成 in both.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from ingest_helpers import confirm_every_answer
from pipelines.store import followup as fu
from pipelines import scoring
from pipelines.store import ingest, rebuild
from pipelines.scoring import alerts as al
from pipelines.store.actor import Actor
from test_alerts import COLLEGE, NOT_DONE, book
from test_upload import admin_hash  # noqa: F401 - a fixture

FIXED, STILL, GONE, ITEM_FIXED, ITEM_STILL = (f"JX01-T{n:02d}" for n in range(31, 36))
GAP_Q1 = [("committee_meeting", 2)]
GAP_Q2 = [("committee_meeting", 5)]
RULE, ITEM = "committee_gap", "7.1.1"
SOFFICE = shutil.which("soffice")


def _school(folder: Path) -> None:
    book(folder, FIXED, 2026, 1, drop=GAP_Q1)
    book(folder, FIXED, 2026, 2)
    book(folder, STILL, 2026, 1, drop=GAP_Q1)
    book(folder, STILL, 2026, 2, drop=GAP_Q2)
    book(folder, GONE, 2026, 1, drop=GAP_Q1)
    book(folder, ITEM_FIXED, 2026, 1, answers={ITEM: NOT_DONE})
    book(folder, ITEM_FIXED, 2026, 2)
    book(folder, ITEM_STILL, 2026, 1, answers={ITEM: NOT_DONE})
    book(folder, ITEM_STILL, 2026, 2, answers={ITEM: NOT_DONE})


@pytest.fixture(scope="module")
def school(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("followup_books")
    _school(folder)
    db = tmp_path_factory.mktemp("followup_db") / "school.duckdb"
    results = ingest.ingest([folder], db, actor="test")
    assert all(r.status == "accepted" for r in results), [r.problems for r in results if r.status != "accepted"]
    confirm_every_answer(db)  # the hand-computed completions take the answers as given
    for code in (FIXED, STILL, GONE):
        fu.open_followup("2026Q1", branch_code=code, rule_id=RULE, note="每月按时召开支委会", due_date="2026-05-31",
                         db=db, actor="组织部")
    for code in (ITEM_FIXED, ITEM_STILL):
        fu.open_followup("2026Q1", branch_code=code, item_id=ITEM, note="补齐考核要点", db=db, actor="组织部")
    fu.open_followup("2026Q1", college=COLLEGE, rule_id=RULE, note="全院支委会按月召开", db=db, actor="组织部")
    return db


def by_target(df):
    return {(r.branch_code if isinstance(r.branch_code, str) else r.college): (r.status, r.state)
            for r in df.itertuples()}


def test_the_alerts_the_tasks_come_from(school):
    q1 = al.alerts("2026Q1", school)
    assert set(q1.loc[q1["rule_id"] == RULE, "branch_code"]) == {FIXED, STILL, GONE}


def test_next_quarter_marks_each_task(school):
    df = fu.followups(school, period="2026Q2")
    assert by_target(df) == {
        FIXED: ("已整改", "督办中"), STILL: ("未整改", "督办中"), GONE: ("待核实", "督办中"),
        ITEM_FIXED: ("已整改", "督办中"), ITEM_STILL: ("未整改", "督办中"), COLLEGE: ("未整改", "督办中")}
    still = df[df["branch_code"] == STILL].iloc[0]
    assert still["status_detail"].startswith("2026 年第 2 季度仍有预警：本季度 5 月没有")
    assert df[df["branch_code"] == ITEM_STILL].iloc[0]["status_detail"] == "2026 年第 2 季度完成率 0.0%"
    assert set(df["checked_period"]) == {"2026Q2"}
    assert df[df["branch_code"] == FIXED].iloc[0]["subject"] == "预警：有月份未召开支委会"


def test_a_task_checked_in_its_own_quarter_waits(school):
    df = fu.followups(school, period="2026Q1")
    assert set(df["status"]) == {"待核实"}
    assert fu.followups(school)["checked_period"].iloc[0] == scoring.latest_period(school) == "2026Q2"


def test_writes_refuse_empty_actor_bad_input_and_other_scope(school):
    with pytest.raises(PermissionError, match="已登录的管理员"):
        fu.open_followup("2026Q1", branch_code=FIXED, rule_id=RULE, note="x", db=school, actor=" ")
    with pytest.raises(PermissionError, match="已登录的管理员"):
        fu.close_followup(1, "好", school, actor="")
    with pytest.raises(PermissionError, match="超出当前账号的管理范围"):
        fu.open_followup("2026Q1", branch_code=FIXED, rule_id=RULE, note="x", db=school,
                         actor=Actor("a", "外国语学院"))
    with pytest.raises(PermissionError, match="超出当前账号的管理范围"):
        fu.close_followup(1, "好", school, actor=Actor("a", "外国语学院"))
    with pytest.raises(ValueError, match="只须指定一项"):
        fu.open_followup("2026Q1", branch_code=FIXED, rule_id=RULE, item_id=ITEM, note="x", db=school, actor="a")
    with pytest.raises(ValueError, match="未知的预警规则"):
        fu.open_followup("2026Q1", branch_code=FIXED, rule_id="nope", note="x", db=school, actor="a")
    with pytest.raises(ValueError, match="找不到支部"):
        fu.open_followup("2026Q1", branch_code="XX-99", rule_id=RULE, note="x", db=school, actor="a")
    with pytest.raises(ValueError, match="整改期限格式不正确"):
        fu.open_followup("2026Q1", branch_code=FIXED, rule_id=RULE, note="x", due_date="5月", db=school, actor="a")
    assert len(fu.tasks(school)) == 6
    assert fu.followups(school, scope="外国语学院").empty
    assert len(fu.followups(school, scope=COLLEGE)) == 6


def test_close_and_rebuild_keep_the_tasks(tmp_path):
    folder = tmp_path / "books"
    folder.mkdir()
    book(folder, FIXED, 2026, 1, drop=GAP_Q1)
    db = tmp_path / "one.duckdb"
    ingest.ingest([folder], db, actor="test")
    task = fu.open_followup("2026Q1", branch_code=FIXED, rule_id=RULE, note="按月召开", due_date="2026-05-31",
                            db=db, actor=Actor("组织部", COLLEGE))
    fu.close_followup(task, "已约谈书记", db, actor=Actor("组织部", COLLEGE))
    with pytest.raises(ValueError, match="已办结"):
        fu.close_followup(task, "again", db, actor="组织部")
    before = fu.tasks(db)
    assert before.loc[0, "close_comment"] == "已约谈书记" and before.loc[0, "closed_by"] == "组织部"
    rebuild.rebuild(db)
    after = fu.tasks(db)
    assert after.to_dict("records") == before.to_dict("records")
    assert fu.followups(db).loc[0, "state"] == "已办结"


def _list(school, college=None):
    return load_workbook(io.BytesIO(fu.followup_workbook(school, period="2026Q2", college=college)))


def test_list_workbook_is_titled_a4_with_page_numbers(school):
    ws = _list(school, COLLEGE).active
    assert ws.title == "督办清单"
    assert ws["A1"].value == f"督办清单 · {COLLEGE}（2026 年第 2 季度）"
    assert [c.value for c in ws[2]][:4] == ["序号", "二级党组织", "督办对象", "开立季度"]
    assert ws.max_row == 2 + 6
    assert int(ws.page_setup.paperSize) == 9 and ws.print_title_rows == "$2:$2"
    assert ws.oddFooter.center.text == "第 &P 页 / 共 &N 页"
    assert ws.oddHeader.center.text == f"督办清单 · {COLLEGE} · 2026 年第 2 季度"
    statuses = [ws.cell(r, 8).value for r in range(3, ws.max_row + 1)]
    assert sorted(statuses) == sorted(["已整改", "未整改", "待核实", "已整改", "未整改", "未整改"])
    assert _list(school, "外国语学院").active["A2"].value == "暂无督办任务。"


@pytest.mark.skipif(SOFFICE is None or os.environ.get("RUN_LIBREOFFICE") != "1",
                    reason="slow (~10 s): set RUN_LIBREOFFICE=1 with LibreOffice (soffice) installed")
def test_libreoffice_prints_the_list_on_a4(school, tmp_path):
    from pypdf import PdfReader

    from test_report_briefing import MIN_PRINTED_PT, pdf_text, printed_sizes

    path = tmp_path / fu.file_name("2026Q2")
    path.write_bytes(fu.followup_workbook(school, period="2026Q2"))
    subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path / 'profile'}",
                    "--convert-to", "pdf", "--outdir", str(tmp_path / "out"), str(path)],
                   check=True, capture_output=True, timeout=180)
    pdf = tmp_path / "out" / path.with_suffix(".pdf").name
    pages = PdfReader(pdf).pages
    for page in pages:  # A4 (595 × 842 pt), either way round
        assert sorted(round(float(x)) for x in page.mediabox.upper_right) == [595, 842]
    sizes = printed_sizes(pdf)
    assert min(min(s) for s in sizes if s) >= MIN_PRINTED_PT - 0.05
    text = re.sub(r"\s+", "", pdf_text(pdf))
    assert f"第1页/共{len(pages)}页" in text and "督办清单·全校·2026年第2季度" in text and "未整改" in text


# ---- the 督办整改 page (AppTest, the demo school) ---------------------------------------------------------
def _page(demo_db, admin_hash=None):
    from streamlit.testing.v1 import AppTest

    from pages import access

    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "pages" / "followups.py"),
                           default_timeout=120)
    at.secrets["dj_test"] = "isolated"
    if admin_hash:
        at.secrets["admins"] = {"orgadmin": admin_hash}
        at.session_state[access.ADMIN_KEY] = "orgadmin"
    return at.run()


def test_page_lists_demo_follow_ups_for_viewers(demo_db):
    at = _page(demo_db)
    assert not at.exception and not at.error
    shown = at.dataframe[0].value
    assert sorted(shown["整改情况"]) == sorted(fu.followups(demo_db)["status"])
    assert not any(b.label == "开立督办" for b in at.button)


def test_admin_closes_and_opens_a_task_on_the_page(demo_db, admin_hash):
    at = _page(demo_db, admin_hash)
    assert not at.exception and not at.error
    first = int(fu.followups(demo_db)["id"].iloc[0])
    at.selectbox(key="fu_task").set_value(first)
    at.text_input(key="fu_comment").input("已约谈支部书记")
    next(b for b in at.button if b.label == "办结").click()
    at.run()
    assert not at.exception and not at.error
    assert fu.tasks(demo_db).set_index("id").loc[first, "close_comment"] == "已约谈支部书记"
    at.text_input(key="fu_note").input("按月召开支委会")
    next(b for b in at.button if b.label == "开立督办").click()
    at.run()
    assert not at.exception and not at.error
    newest = fu.tasks(demo_db).sort_values("id").iloc[-1]
    assert newest["note"] == "按月召开支委会" and newest["opened_by"] == "orgadmin" and newest["period"] == "2026Q3"
