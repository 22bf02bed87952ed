"""Real Chromium against `streamlit run serve.py` on a 1366×768 laptop screen: the public 填报模板 page without
signing in — a college's pre-filled zip downloads and holds real workbooks; one of them, filled by code, is
then uploaded by a signed-in admin and accepted. Screenshots go to tests/artifacts/ (git-ignored)."""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from app_server import settled, sign_in, start_app, stop_app
from ingest_helpers import registry_workbook
from pipelines import auth
from pipelines.store import db, registry, versions
from pipelines.config import env_name
from pipelines.guide.period import Period
from pipelines.workbook.reader import read_workbook

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
PASSWORD = "模板页-浏览器-2026"
CODES = ["JX01-T01", "JX01-T02", "JX01-S01"]
COLLECTED = Period.latest_completed()


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """The school's common laptop screen, 1366 × 768, in a Chinese locale."""
    return {**browser_context_args, "viewport": {"width": 1366, "height": 768}, "locale": "zh-CN",
            "accept_downloads": True}


@pytest.fixture
def server(tmp_path):
    """The app on a database holding only the registry and the collected quarter's deadline, with an admin
    who exists only in a temporary secrets file."""
    path = tmp_path / "db" / "school.duckdb"
    path.parent.mkdir()
    registry.load_registry(registry_workbook(tmp_path / "名册.xlsx", CODES), path, actor="组织部")
    versions.set_deadline(str(COLLECTED), COLLECTED.end + dt.timedelta(days=15), path, actor="组织部")
    secrets = tmp_path / "secrets" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text(f'[admins]\nbrowser = "{auth.hash_password(PASSWORD, rounds=4)}"\n', encoding="utf-8")
    proc, base = start_app(path, tmp_path / "streamlit.log", extra_args=["--secrets.files", str(secrets)],
                           drop_env=(env_name("admins"), env_name("view_password_hash"),
                                     env_name("view_password_required")))
    try:
        yield base, path
    finally:
        stop_app(proc)


def shot(page, name: str, full: bool = False) -> Path:
    """A screenshot of the window, or (full) of the whole page at the same width: Streamlit scrolls inside
    its main area, so the window is stretched to that area's height for the picture and then restored."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"template_{name}.png"
    size = page.viewport_size
    if full:
        height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
        page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 12000)})
        page.wait_for_timeout(800)
    page.screenshot(path=str(path), full_page=full)
    page.set_viewport_size(size)
    return path


def fill_by_code(data: bytes, target: Path, period: Period) -> Path:
    """A pre-filled workbook filled in as a secretary would: the open info fields, a 支委会 and a 主题党日 each
    month (dated no later than today), every count, every self-assessment."""
    wb = load_workbook(io.BytesIO(data))
    info, ledger, counts, sa = (wb[n] for n in ("支部信息", "活动台账", "统计数据", "自评"))
    fields = {info.cell(r, 1).value: r for r in range(2, info.max_row + 1)}
    info.cell(fields["书记"], 2).value = "张书记"
    info.cell(fields["填报人"], 2).value = "李委员"
    info.cell(fields["填报日期"], 2).value = min(period.end, dt.date.today())
    row = 3  # row 2 is the template's example row
    for month in period.months:
        for day, kind, topic in ((5, "支部委员会会议", "支委会"), (12, "主题党日", "主题党日")):
            ledger.cell(row, 1).value = dt.date(period.year, month, day)
            ledger.cell(row, 2).value = kind
            ledger.cell(row, 3).value = f"{month}月{topic}"
            ledger.cell(row, 4).value, ledger.cell(row, 5).value = 20, 18
            ledger.cell(row, 7).value = "会议记录"
            row += 1
    for r in range(2, counts.max_row + 1):
        counts.cell(r, 2).value = 20 if "应缴" in str(counts.cell(r, 1).value) else 10
    for r in range(2, sa.max_row + 1):
        sa.cell(r, 4).value, sa.cell(r, 5).value = "完成", "会议记录、活动照片"
    wb.save(target)
    return target


def test_prefilled_zip_without_signing_in_then_upload_it(server, page, tmp_path):
    base, path = server
    page.goto(f"{base}/template")
    page.get_by_role("heading", name="填报模板", level=1).wait_for(timeout=90_000)
    settled(page)
    body = page.inner_text("body")
    assert "管理员账号" not in body and page.locator('input[type="password"]').count() == 0  # no sign-in
    assert f"{COLLECTED.label}的报送截止日期" in body and f"{COLLECTED.label}须完成的工作" in body
    assert page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count() == 0
    assert page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollWidth") <= 1366
    assert shot(page, "1366x768").stat().st_size > 20_000  # the first screen as the secretary sees it
    shot(page, "1366_full", full=True)

    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="下载机械工程学院全部 3 个支部的预填模板（zip）").click()
    download = info.value
    assert download.suggested_filename == f"{COLLECTED}_机械工程学院_预填模板.zip"
    zipped = zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes()))
    assert sorted(zipped.namelist()) == sorted(f"{COLLECTED}_{c}_{c}党支部.xlsx" for c in CODES)
    name = f"{COLLECTED}_JX01-T01_JX01-T01党支部.xlsx"
    assert read_workbook(zipped.read(name), name).info.branch_code == "JX01-T01"

    # The rest of the round: fill one of them by code, sign in, upload it, see it accepted.
    filled = fill_by_code(zipped.read(name), tmp_path / name, COLLECTED)
    sign_in(page, base, "browser", PASSWORD)
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="选择各支部的季度填报表")
    uploader.locator('input[type="file"]').set_input_files([str(filled)])
    confirm = page.get_by_role("button", name="确认写入 1 个文件")
    confirm.wait_for(timeout=120_000)
    settled(page)
    confirm.click()
    page.get_by_text("写入完成").wait_for(timeout=120_000)
    settled(page)
    shot(page, "uploaded", full=True)
    subs = db.query_df("SELECT branch_code, period, uploaded_by FROM submissions", path=path)
    assert subs.values.tolist() == [["JX01-T01", str(COLLECTED), "browser"]]
