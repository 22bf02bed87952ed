"""The review queue (审核, issue 11 §3): order by risk, filters, per-college progress, accept-all, sent-back items,
the 整改通知 and the 督办清单's sent-back sheet — each against a hand-built school on a real DuckDB file."""
from __future__ import annotations

import io
import subprocess

import pandas as pd
import pytest
from openpyxl import load_workbook

from pipelines import scoring
from pipelines.store import followup, review
from pipelines.report import review_notice
from pipelines.store.actor import Actor
from pipelines.config import settings
from pipelines.guide import guide
from test_report_briefing import SOFFICE, needs_libreoffice
from test_scoring_fixtures import ledger, save, workbook

JX, XX = "机械学院", "信息学院"
Q1, Q2 = "2026Q1", "2026Q2"
A_Q2 = {"5.2.2": ("done", "宣传材料"),     # linked to 宣传典型 rows, none in the ledger: unsupported
        "5.1.1": ("done", ""),             # 完成 without evidence text: unsupported
        "5.1.2": ("done", "会议纪要"),     # review-only item: 需核实
        "6.1.1": (None, ""),               # no answer: 需核实
        "7.1.1": ("done", "志愿服务")}     # linked to 志愿服务 rows, one this quarter: supported


def a_q2(**changes):
    return workbook("A", 2026, 2, college=JX, rows=ledger(("2026-04-10", "volunteer_service")),
                    default_status=("mostly", "记录"), self_status={**A_Q2, **changes})


@pytest.fixture
def db():
    return build_school()


def build_school():
    """A (teacher, 机械学院): Q1 every answer 未完成 but 5.1.1 基本完成; Q2 as A_Q2, the rest 基本完成.
    B (student, 信息学院): Q2 only, 5.2.2 完成 without 宣传典型 rows, the rest 基本完成."""
    path = settings().db_path
    save(path, workbook("A", 2026, 1, college=JX, default_status=("not_done", "无"),
                        self_status={"5.1.1": ("mostly", "计划")}),
         a_q2(),
         workbook("B", 2026, 2, branch_type="student", college=XX, default_status=("mostly", "记录"),
                  self_status={"5.2.2": ("done", "宣传")}))
    return path


def self_items(branch_type: str) -> list[str]:
    return [it.id for it in guide().items_for(branch_type) if it.self_assessed]


def keys(df) -> list[tuple[str, str]]:
    return list(zip(df["branch_code"], df["item_id"]))


def test_queue_order_unsupported_done_then_needs_check_then_largest_gain(db):
    q = scoring.review_queue(Q2, db)
    head = [("A", "5.2.2"), ("A", "5.1.1"), ("B", "5.2.2"),  # risk 1: gains 1.0 (0 → 1), 0.3 (0.7 → 1), none
            ("A", "5.1.2"), ("A", "6.1.1"),                  # risk 2: gain 1.0; no answer, no gain
            ("A", "7.1.1")]                                  # risk 3: gain 1.0, before the 0.7 gains
    rest_a = [("A", i) for i in self_items("teacher") if i not in A_Q2]  # 0 → 0.7, in the guide's order
    rest_b = [("B", i) for i in self_items("student") if i != "5.2.2"]  # no last quarter: after every gain
    assert keys(q) == head + rest_a + rest_b
    assert list(q["risk"][:6]) == [1, 1, 1, 2, 2, 3] and list(q["risk_name"][:4]) == ["完成但无佐证"] * 3 + ["需核实"]
    assert q["gain"][:2].tolist() == pytest.approx([1.0, 0.3])
    assert q["gain"].iloc[2] != q["gain"].iloc[2]  # NaN: B has no last quarter
    first = q.iloc[0]
    assert (first["status_name"], first["evidence"], first["prev_status_name"], first["prev_evidence"]) == (
        "完成", "宣传材料", "未完成", "无")
    assert bool(q.set_index(["branch_code", "item_id"]).loc[("A", "7.1.1"), "supported"])
    assert set(q["state"]) == {"pending"} and set(q["state_name"]) == {"待审核"}


def test_filters_by_college_type_item_and_state(db):
    q = scoring.review_queue(Q2, db)
    assert keys(scoring.review_queue(Q2, db, college=XX)) == [k for k in keys(q) if k[0] == "B"]
    assert keys(scoring.review_queue(Q2, db, branch_type="student")) == [k for k in keys(q) if k[0] == "B"]
    assert keys(scoring.review_queue(Q2, db, item_id="5.2.2")) == [("A", "5.2.2"), ("B", "5.2.2")]
    assert keys(scoring.review_queue(Q2, db, item_id="5.2.2", college=JX)) == [("A", "5.2.2")]
    review.decide("A", Q2, "5.2.2", "done", reviewer="审核员", db=db)
    reviewed = scoring.review_queue(Q2, db, state="reviewed")
    assert keys(reviewed) == [("A", "5.2.2")] and reviewed.iloc[0]["state_name"] == "认定完成"
    b = scoring.review_board(Q2, db, state="pending", limit=2)
    assert keys(b.queue) == [("A", "5.1.1"), ("B", "5.2.2")] and b.matching == 47  # the next answers; 48 − 1


def test_progress_per_college_and_accept_all_supported(db):
    review.decide("A", Q2, "5.2.2", "done", reviewer="审核员", db=db)
    review.decide("A", Q2, "5.1.1", review.SENT_BACK, reviewer="审核员", comment="请补充会议记录", db=db)
    ids = review.accept_supported("B", Q2, reviewer="审核员", db=db)
    assert len(ids) == 23  # every answer of B but its unsupported 5.2.2
    p = scoring.review_progress(Q2, db)
    rows = [tuple(r) for r in p[["scope", "college", "total", "reviewed", "sent_back", "pending"]].itertuples(index=False)]
    assert rows == [("college", JX, 24, 1, 1, 22), ("college", XX, 24, 23, 0, 1), ("school", None, 48, 24, 1, 23)]
    assert p["share"].tolist() == pytest.approx([1 / 24, 23 / 24, 0.5])
    assert keys(scoring.review_queue(Q2, db, branch_code="B", state="pending")) == [("B", "5.2.2")]
    assert set(scoring.review_queue(Q2, db, branch_code="B", state="reviewed")["decision"]) == {"mostly"}  # as answered
    assert scoring.review_board(Q2, db).acceptable.values.tolist() == [["A", 20]]  # B has none left
    assert review.accept_supported("B", Q2, reviewer="审核员", db=db) == []  # nothing left to accept
    # A: 7.1.1 and its 19 基本完成 answers are supported; 5.1.2 (review-only 完成) and 6.1.1 are not
    assert len(review.accept_supported("A", Q2, reviewer="审核员", db=db)) == 20


def test_a_college_admin_sees_and_decides_only_its_college(db):
    mine = Actor("xx", XX)
    b = scoring.review_board(Q2, db, scope=XX)
    queue, progress = b.queue, b.progress
    assert set(queue["branch_code"]) == {"B"} and set(queue["college"]) == {XX}
    assert scoring.review_queue(Q2, db, scope=XX, college=JX).empty
    assert progress["total"].tolist() == [24, 24] and progress["college"].tolist() == [XX, None]
    with pytest.raises(PermissionError, match="超出当前账号的管理范围"):
        review.accept_supported("A", Q2, reviewer=mine, db=db)
    with pytest.raises(PermissionError, match="超出当前账号的管理范围"):
        review.decide("A", Q2, "5.2.2", "done", reviewer=mine, db=db)
    assert scoring.review_queue(Q2, db, state="reviewed").empty
    assert len(review.accept_supported("B", Q2, reviewer=mine, db=db)) == 23


def test_sent_back_stays_until_the_branch_resubmits_the_item(db):
    review.decide("A", Q2, "5.1.1", review.SENT_BACK, reviewer="审核员甲", comment="请补充会议记录", db=db)
    review.decide("A", Q2, "5.2.2", "done", reviewer="审核员甲", db=db)
    back = scoring.sent_back(Q2, db)
    assert keys(back) == [("A", "5.1.1")] and back.iloc[0]["comment"] == "请补充会议记录"
    assert back.iloc[0]["state_name"] == "退回补充" and back.iloc[0]["reviewer"] == "审核员甲"
    save(db, a_q2())  # re-submitted unchanged: still sent back
    assert keys(scoring.sent_back(Q2, db)) == [("A", "5.1.1")]
    save(db, a_q2(**{"5.1.1": ("done", "会议记录三份")}))  # the item's evidence changed: 待审核 again
    assert scoring.sent_back(Q2, db).empty
    q = scoring.review_queue(Q2, db, branch_code="A").set_index("item_id")
    assert q.loc["5.1.1", "state"] == "pending" and q.loc["5.2.2", "state_name"] == "认定完成"


def test_notice_lists_the_sent_back_items_with_comments_on_one_a4_page(db):
    review.decide("A", Q2, "5.1.1", review.SENT_BACK, reviewer="审核员甲", comment="请补充会议记录", db=db)
    review.decide("A", Q2, "5.1.2", review.SENT_BACK, reviewer="审核员甲", comment="=请附照片", db=db)
    wb = load_workbook(io.BytesIO(review_notice.notice_bytes(Q2, "A", db)))
    ws = wb["整改通知"]
    cells = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
    assert "请补充会议记录" in cells and "'=请附照片" in cells  # inert: never a formula
    assert any(c.startswith("支部：A支部（A），机械学院") for c in cells)
    assert any(c.startswith("5.1.1") for c in cells) and any(c.startswith("5.1.2") for c in cells)
    assert str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4 and ws.page_setup.orientation == "portrait"
    assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 1) and ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_area
    with pytest.raises(review_notice.NothingSentBack, match="没有退回补充"):
        review_notice.notice_bytes(Q2, "B", db)
    assert review_notice.file_name(Q2, "A", "A支部") == "整改通知_A支部_2026年Q2.xlsx"


def test_college_followup_list_carries_the_sent_back_items(db):
    review.decide("A", Q2, "5.1.1", review.SENT_BACK, reviewer="审核员甲", comment="请补充会议记录", db=db)
    wb = load_workbook(io.BytesIO(followup.followup_workbook(db, period=Q2, college=JX, sent_back=True)))
    assert wb.sheetnames == ["督办清单", "退回补充事项"]
    cells = [str(c.value) for row in wb["退回补充事项"].iter_rows() for c in row if c.value is not None]
    assert "请补充会议记录" in cells and "A支部（A）" in cells and followup.SENT_BACK_STATE in cells
    other = load_workbook(io.BytesIO(followup.followup_workbook(db, period=Q2, college=XX, sent_back=True)))
    assert "本季度没有退回补充的自评事项。" in [c.value for row in other["退回补充事项"].iter_rows() for c in row]
    assert load_workbook(io.BytesIO(followup.followup_workbook(db, period=Q2, college=JX))).sheetnames == ["督办清单"]


@needs_libreoffice
def test_libreoffice_prints_the_notice_on_one_a4_page(db, tmp_path):
    from pypdf import PdfReader

    for item_id in self_items("teacher")[:12]:  # a long notice still fits one page
        review.decide("A", Q2, item_id, review.SENT_BACK, reviewer="审核员甲",
                      comment="佐证材料不足，请补充会议记录、签到表和照片等材料后重新报送。", db=db)
    path = tmp_path / "notice.xlsx"
    path.write_bytes(review_notice.notice_bytes(Q2, "A", db))
    subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path / 'profile'}",
                    "--convert-to", "pdf", "--outdir", str(tmp_path / "out"), str(path)],
                   check=True, capture_output=True, timeout=180)
    pages = PdfReader(tmp_path / "out" / "notice.pdf").pages
    assert len(pages) == 1
    assert abs(float(pages[0].mediabox.width) - 595) < 3 and abs(float(pages[0].mediabox.height) - 842) < 3
    assert "整改通知" in pages[0].extract_text()


def test_queue_kept_between_decisions_follows_uploads_rollback_and_registry(db, tmp_path):
    """The part of the queue no review changes is kept between decisions (scoring.session._kept): it must still
    follow a new upload (answer and ledger support), a rollback and a registry change at once."""
    from pipelines.store import registry, versions
    from pipelines.workbook.model import RegistryEntry
    from pipelines.workbook.template import write_registry_workbook

    def a(item):
        return scoring.review_queue(Q2, db, branch_code="A").set_index("item_id").loc[item]

    assert a("5.2.2")["risk"] == 1 and scoring.evidence_rows(Q2, "A", db).query("item_id == '5.2.2'").empty
    board = scoring.review_board(Q2, db)  # the page's filter options and supporting rows come with the board
    assert board.colleges == sorted([JX, XX]) and scoring.review_board(Q2, db, scope=XX).colleges == [XX]
    for code in ("A", "B"):
        mine = board.evidence[board.evidence["branch_code"] == code].drop(columns=["branch_code"])
        pd.testing.assert_frame_equal(mine.reset_index(drop=True), scoring.evidence_rows(Q2, code, db))
    review.decide("A", Q2, "7.1.1", "done", reviewer="审核员", db=db)  # a decision: only the reviews move
    assert a("7.1.1")["state"] == "reviewed" and a("5.2.2")["risk"] == 1
    save(db, workbook("A", 2026, 2, college=JX, default_status=("mostly", "记录"),
                      rows=ledger(("2026-04-10", "volunteer_service"), ("2026-05-08", "publicity")),
                      self_status={**A_Q2, "5.1.1": ("done", "会议记录三份")}))
    assert a("5.2.2")["supported"] and a("5.1.1")["evidence"] == "会议记录三份"  # the new upload, at once
    assert len(scoring.evidence_rows(Q2, "A", db).query("item_id == '5.2.2'")) == 1
    assert a("7.1.1")["state"] == "reviewed"  # its answer is unchanged: the review stays
    versions.rollback("A", Q2, db, actor="组织部")
    assert a("5.2.2")["risk"] == 1 and a("5.1.1")["evidence"] == ""  # the version before, at once
    assert scoring.evidence_rows(Q2, "A", db).query("item_id == '5.2.2'").empty
    entries = [RegistryEntry("A", "甲党支部", "新材料学院", "teacher", 10), RegistryEntry("B", "乙党支部", XX, "student", 10)]
    registry.load_registry(write_registry_workbook(tmp_path / "名册.xlsx", entries).read_bytes(), db, actor="组织部")
    assert a("5.2.2")["college"] == "新材料学院" and a("5.2.2")["branch_name"] == "甲党支部"
    assert scoring.review_colleges(Q2, db) == sorted(["新材料学院", XX])
