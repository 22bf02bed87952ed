"""Real Chromium against `streamlit run serve.py`: sign in, upload a new quarter through the real file input,
confirm, and see that quarter on 全校总览 — in this session and in one that was already open.

The admin exists only in a temporary secrets file passed with `--secrets.files`; nothing is committed.
Screenshots go to tests/artifacts/ (git-ignored).
"""
from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from app_server import settled, sign_in, start_app, stop_app
from pipelines import auth, scoring
from pipelines.store import db
from pipelines.config import env_name
from pipelines.guide import guide
from pipelines.workbook.model import BranchInfo, LedgerRow, RegistryEntry
from pipelines.guide.period import Period
from pipelines.workbook.template import write_workbook

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
PASSWORD = "浏览器测试-口令-2026"
NEW_BRANCHES = 4


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 1800}, "locale": "zh-CN"}


def _next_period(period: str) -> str:
    return str(Period.parse(period).next)


def _workbook(folder: Path, e: RegistryEntry, period: str) -> Path:
    """A real, valid filled workbook for a registry branch."""
    p = Period.parse(period)
    year, q, months = p.year, p.quarter, p.months
    info = BranchInfo(e.branch_code, e.branch_name, e.college, e.branch_type, year, q, e.members,
                      "张书记", "李委员", dt.date(year, months[-1], 25))
    ledger, row = [], 2
    for m in months:
        if dt.date(year, m, 1) > dt.date.today():  # no activity is dated after the upload day
            break
        for act in ("committee_meeting", "group_meeting", "theme_day"):
            ledger.append(LedgerRow(row, min(dt.date(year, m, 10), dt.date.today()), act, "", f"{m}月学习",
                                    e.members, e.members - 1, None, "会议记录"))
            row += 1
    counts = {f.id: 0 for f in guide().count_fields} | {"fee_due": e.members, "fee_paid": e.members}
    sa = {it.id: ("done", "有记录") for it in guide().items_for(e.branch_type)}
    return write_workbook(folder / f"{e.branch_code}_{period}.xlsx", e.branch_type, info=info, ledger=ledger,
                          counts=counts, self_assessment=sa)


@pytest.fixture
def server(demo_db, tmp_path):
    """`streamlit run serve.py` on a free port, on a copy of the demo database, with a temporary admin."""
    secrets = tmp_path / "secrets" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text(f'[admins]\nbrowser = "{auth.hash_password(PASSWORD, rounds=4)}"\n', encoding="utf-8")
    proc, base = start_app(demo_db, tmp_path / "streamlit.log", extra_args=["--secrets.files", str(secrets)],
                           drop_env=(env_name("admins"), env_name("view_password_hash")))
    try:
        yield base
    finally:
        stop_app(proc)


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"upload_{name}.png"), full_page=True)


def test_upload_new_quarter_in_chromium(server, demo_db, tmp_path, page, browser):
    latest = scoring.latest_period(demo_db)
    new = _next_period(latest)
    label = Period.parse(new).status_label()  # the demo ends with the latest ended quarter: this one is in progress
    reg = db.query_df("SELECT branch_code, branch_name, college, branch_type, members FROM registry "
                      "ORDER BY branch_code", path=demo_db)
    entries = [RegistryEntry(*r) for r in reg.head(NEW_BRANCHES).itertuples(index=False)]
    files = [_workbook(tmp_path / "upload", e, new) for e in entries]
    before = len(db.query_df("SELECT * FROM submissions", path=demo_db))

    # A second session already open on 全校总览, showing the old latest quarter.
    other = browser.new_page(viewport={"width": 1440, "height": 1800}, locale="zh-CN")
    other.goto(server + "/")
    other.get_by_text("全校总览").first.wait_for(timeout=90_000)
    settled(other, 90_000)
    assert label not in other.inner_text("body")

    # Sign in on 数据上传.
    page.goto(server + "/upload")
    page.get_by_label("管理员账号").wait_for(timeout=90_000)
    settled(page)
    _shot(page, "1_signed_out")
    sign_in(page, server, "browser", PASSWORD)

    # Upload through the real file input of the batch uploader.
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="选择各支部的季度填报表")
    uploader.locator('input[type="file"]').set_input_files([str(f) for f in files])
    confirm = page.get_by_role("button", name=f"确认写入 {len(files)} 个文件")
    confirm.wait_for(timeout=120_000)
    settled(page)
    body = page.inner_text("body")
    assert "将新增" in body and "校验结果" in body
    assert len(db.query_df("SELECT * FROM submissions", path=demo_db)) == before  # nothing written yet
    _shot(page, "2_preview")
    with page.expect_download() as dl:  # the problems report, built on click
        page.get_by_role("button", name="下载校验结果（Excel，全部文件）").click()
    assert dl.value.suggested_filename.endswith(".xlsx")
    report = load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()))
    assert report.sheetnames == ["校验问题", "文件结果"] and report["文件结果"].max_row == len(files) + 1

    confirm.click()
    page.get_by_text("写入完成").wait_for(timeout=120_000)
    settled(page)
    _shot(page, "3_committed")
    subs = db.query_df("SELECT branch_code, uploaded_by FROM submissions WHERE period = ?", [new], demo_db)
    assert sorted(subs["branch_code"]) == sorted(e.branch_code for e in entries)
    assert set(subs["uploaded_by"]) == {"browser"}

    # 全校总览 in this session offers the new quarter, labelled 进行中; the default stays the ended one.
    page.get_by_role("link", name="全校总览").click()
    page.get_by_text(f"当前查看：{Period.parse(latest).label}").first.wait_for(timeout=90_000)
    settled(page, 90_000)
    page.get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name=label).click()
    settled(page, 90_000)
    # the chosen new quarter is the one shown (waited for: settled() can return before the rerun has started)
    page.get_by_text(f"当前查看：{label}").first.wait_for(timeout=90_000)
    _shot(page, "4_overview")

    # …and so does the session that was already open, on its next interaction.
    other.get_by_role("link", name="全校总览").click()
    other.get_by_text("当前查看：").first.wait_for(timeout=90_000)
    settled(other, 90_000)
    other.get_by_test_id("stSelectbox").first.click()
    other.get_by_role("option", name=label).wait_for(timeout=30_000)  # selectable there too
    _shot(other, "5_other_session")
    other.get_by_role("option", name=label).click()
    settled(other, 90_000)
    assert f"当前查看：{label}" in other.inner_text("body")
    other.close()


BOX_TEXT = """(key) => {
  const box = document.querySelector(`[class*="st-key-${key}"] [data-testid="stFileUploaderDropzone"]`);
  if (!box) return null;
  const hint = box.querySelector('[data-testid="stFileUploaderDropzoneInstructions"]');
  const label = box.querySelector('button p');
  return {hint: hint ? getComputedStyle(hint).display : 'none',
          size: label ? getComputedStyle(label).fontSize : null,
          after: label ? getComputedStyle(label, '::after').content : null};
}"""


def test_file_boxes_show_chinese_and_the_real_limits(server, page):
    """Streamlit 1.67 cannot set the file box's own text ("Drag and drop files here", "200MB per file • …",
    "Upload"): both boxes hide it, label the button 选择文件 and say the real limits in a Chinese caption."""
    sign_in(page, server, "browser", PASSWORD)
    mb = f"{guide().limits.max_file_mb:g} MB"
    for tab, key in (("上传报送", "dj_uploader_"), ("支部名册", "dj_registry_uploader_")):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(500)
        panel = page.locator('[role="tabpanel"]:visible')
        assert panel.get_by_text("只接受 .xlsx").first.inner_text().count(mb) == 1
        box = page.evaluate(BOX_TEXT, key)
        assert box == {"hint": "none", "size": "0px", "after": '"选择文件"'}, (tab, box)
    _shot(page, "file_boxes")
