"""Real Chromium against `streamlit run serve.py`: a college admin (declared in a temporary secrets file)
uploads one workbook of its own college and one of another; one is accepted, the other refused (超出管理范围)."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from app_server import start_app, stop_app
from pipelines import auth, scoring
from pipelines.store import db
from pipelines.config import env_name
from pipelines.workbook.model import RegistryEntry
from app_server import settled, sign_in
from test_browser_upload import _next_period, _workbook, browser_context_args  # noqa: F401

pytestmark = pytest.mark.browser
PASSWORD = "学院管理员-口令-2026"


def _two_colleges(demo_db) -> tuple[RegistryEntry, RegistryEntry]:
    reg = db.query_df("SELECT branch_code, branch_name, college, branch_type, members FROM registry "
                      "ORDER BY branch_code", path=demo_db)
    own = RegistryEntry(*reg.iloc[0])
    other = RegistryEntry(*reg[reg["college"] != own.college].iloc[0])
    return own, other


@pytest.fixture
def college_server(demo_db, tmp_path):
    own, _ = _two_colleges(demo_db)
    secrets = tmp_path / "secrets" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text(f'[admins]\ncollege = "{auth.hash_password(PASSWORD, rounds=4)}"\n\n'
                       f'[admin_scopes]\ncollege = "{own.college}"\n', encoding="utf-8")
    proc, base = start_app(demo_db, tmp_path / "streamlit.log", extra_args=["--secrets.files", str(secrets)],
                           drop_env=(env_name("admins"), env_name("admin_scopes"), env_name("view_password_hash")))
    try:
        yield base
    finally:
        stop_app(proc)


def test_college_admin_uploads_own_and_foreign_workbook(college_server, demo_db, tmp_path, page):
    own, other = _two_colleges(demo_db)
    new = _next_period(scoring.latest_period(demo_db))
    files = [_workbook(tmp_path / "upload", e, new) for e in (own, other)]

    sign_in(page, college_server, "college", PASSWORD, f"管理范围：{own.college}")
    assert page.get_by_role("tab", name="支部名册").count() == 0

    uploader = page.get_by_test_id("stFileUploader").filter(has_text="选择各支部的季度填报表")
    uploader.locator('input[type="file"]').set_input_files([str(f) for f in files])
    confirm = page.get_by_role("button", name="确认写入 1 个文件")
    confirm.wait_for(timeout=120_000)
    settled(page)
    assert "1" in page.get_by_test_id("stMetric").filter(has_text="未通过").inner_text()
    with page.expect_download() as dl:  # the tables are canvas: read the refusal from the problems report
        page.get_by_role("button", name="下载校验结果（Excel，全部文件）").click()
    report = load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()))
    reasons = [str(c.value) for row in report["校验问题"].iter_rows() for c in row]
    assert any("超出管理范围" in r and other.college in r for r in reasons)
    confirm.click()
    page.get_by_text("写入完成").wait_for(timeout=120_000)
    subs = db.query_df("SELECT branch_code, uploaded_by FROM submissions WHERE period = ?", [new], demo_db)
    assert list(subs["branch_code"]) == [own.branch_code] and list(subs["uploaded_by"]) == ["college"]
