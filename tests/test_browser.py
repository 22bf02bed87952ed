"""Every dashboard page in real Chromium (Debian's /usr/bin/chromium through pytest-playwright) against
`streamlit run serve.py` (app.py with the warm start) on a copy of the demo database: no error element, the key
charts drawn, CJK fonts available, the view reproduced from its URL. A full-page screenshot of each page goes to
tests/artifacts/.
"""
from __future__ import annotations

import shutil
import time
import urllib.parse
from pathlib import Path

import pytest

from app_server import demo_app, start_app, stop_app
from pipelines import scoring
from pipelines.config import env_name

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
PAGES = {  # url path -> (title, plotly charts that must be drawn)
    "": ("全校总览", 3),  # the ranking's heat map is drawn when its tab is opened
    "branch": ("支部画像", 1),  # the history's chart is drawn when its box is opened
    "compare": ("教师与学生支部对比", 2),  # the distributions, colleges and quarters in tabs, drawn when opened
    "trends": ("趋势分析", 4),  # the branches' lines in their tab
    "guide": ("指标指南", 1),
    "college": ("二级党组织画像", 2),  # the trend in its tab, drawn when opened
    "alerts": ("预警", 0),
    "progress": ("报送进度", 1),
    "template": ("填报模板", 0),
}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A laptop-sized window (1440 × 900) in a Chinese locale."""
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}, "locale": "zh-CN"}


@pytest.fixture(scope="module")
def server(demo_db_master, tmp_path_factory):
    """The app on a private copy of the demo database, for the whole module."""
    with demo_app(demo_db_master, tmp_path_factory.mktemp("browser_db")) as served:
        yield served


def wait_finished(page, title: str, charts: int, timeout_s: float = 60) -> float:
    """Wait until the page title is shown, no script is running, and `charts` plotly charts are drawn.

    Returns the seconds from the call to the moment the page was finished (the quiet check itself excluded).
    """
    start = time.perf_counter()
    page.get_by_role("heading", name=title, level=1).wait_for(timeout=timeout_s * 1000)
    quiet_since = None
    while time.perf_counter() - start < timeout_s:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        drawn = page.locator(".js-plotly-plot .main-svg").count() >= charts
        skeleton = page.locator('[data-testid="stSkeleton"]').count() > 0
        if not running and drawn and not skeleton:
            quiet_since = quiet_since or time.perf_counter()
            if time.perf_counter() - quiet_since >= 0.5:
                return quiet_since - start
        else:
            quiet_since = None
        page.wait_for_timeout(50)
    raise AssertionError(f"page {title!r} did not finish within {timeout_s} s")


def full_screenshot(page, name: str) -> Path:
    """A screenshot of the whole page: the window is stretched to the scroll height of the main area."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": width, "height": min(int(height) + 40, 16000)})
    page.wait_for_timeout(1200)  # plotly re-lays out on resize
    path = ARTIFACTS / f"page_{name}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": width, "height": 900})
    return path


@pytest.mark.parametrize("path", list(PAGES), ids=[p or "overview" for p in PAGES])
def test_page_renders_in_chromium(server, page, path):
    base, _ = server
    title, charts = PAGES[path]
    page.goto(f"{base}/{path}")
    wait_finished(page, title, charts)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    assert page.locator(".js-plotly-plot .main-svg").count() >= charts
    # the demo banner and the sidebar facts are on every page
    assert page.get_by_text("当前展示的是演示数据").count() == 1
    assert page.locator('[data-testid="stSidebar"]').get_by_text("指标指南版本").count() == 1
    # a CJK font is available, so Chinese labels render as glyphs, not boxes
    assert page.evaluate("() => document.fonts.check(\"16px 'Noto Sans CJK SC'\")")
    # nothing overflows the window sideways
    overflow = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollWidth"
                             " - document.querySelector('[data-testid=\"stMain\"]').clientWidth")
    assert overflow <= 1
    assert full_screenshot(page, path or "overview").stat().st_size > 20_000


def test_link_reproduces_the_view_and_quarter_survives_navigation(server, page):
    base, db = server
    ps = scoring.periods(db)
    bs = scoring.branch_scores(ps[-2], db)
    target = bs.iloc[len(bs) // 2]
    query = urllib.parse.urlencode({"period": ps[-2], "college": target["college"], "branch": target["branch_code"]})
    page.goto(f"{base}/branch?{query}")
    wait_finished(page, "支部画像", 1)
    assert page.get_by_role("heading", name=target["branch_name"]).count() >= 1
    total = page.locator('[data-testid="stMetric"]').filter(has_text="总分").locator('[data-testid="stMetricValue"]')
    assert total.inner_text().strip() == f"{scoring.shown(target['overall']):.1f}"
    assert f"period={ps[-2]}" in page.url and f"branch={target['branch_code']}" in page.url

    # switch page through the sidebar: the chosen quarter stays. The new page does not write it into its URL on
    # arrival (that would be a second history entry for one step, and Back would need two presses); the URL
    # carries it again as soon as the user changes anything there.
    page.get_by_role("link", name="教师与学生支部对比").click()
    wait_finished(page, "教师与学生支部对比", 2)
    year, q = ps[-2].split("Q")
    assert page.get_by_role("combobox", name="季度").input_value() == f"{year} 年第 {q} 季度"


def test_ranking_row_opens_the_branch_profile(server, page):
    base, db = server
    ps = scoring.periods(db)
    top = scoring.branch_scores(ps[-1], db).sort_values(["rank", "branch_code"]).iloc[0]
    page.goto(f"{base}/")
    wait_finished(page, "全校总览", 3)
    page.get_by_role("tab", name="支部排名与热力图").click()  # the ranking is drawn when its tab is opened
    grid = page.locator('.st-key-ov_ranking [data-testid="stDataFrame"]')
    grid.wait_for()
    wait_finished(page, "全校总览", 4)
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 14, box["y"] + 35 + 17)  # the selection box of the first row
    wait_finished(page, "支部画像", 1)
    assert page.get_by_role("heading", name=top["branch_name"]).count() >= 1
    assert f"branch={top['branch_code']}" in page.url


@pytest.mark.parametrize("script", ["app.py", "serve.py"])
def test_first_visit_straight_to_a_page_url_gets_the_whole_app(demo_db_master, tmp_path, page, script):
    """The very first visitor after a start opens /upload directly. Streamlit would run pages/upload.py on
    its own (its legacy pages/ mode lasts until app.py's st.navigation has run once); the page must still come
    with app.py's frame: the demo banner and the sidebar navigation."""
    for f in demo_db_master.parent.iterdir():
        (shutil.copytree if f.is_dir() else shutil.copy)(f, tmp_path / f.name)
    proc, base = start_app(tmp_path / demo_db_master.name, tmp_path / "streamlit.log", script=script)
    try:
        page.goto(f"{base}/upload")
        page.get_by_role("heading", name="数据上传", level=1).wait_for(timeout=60_000)
        page.get_by_text("当前展示的是演示数据").wait_for(timeout=30_000)
        nav = page.locator('[data-testid="stSidebarNav"]')
        assert nav.get_by_role("link", name="全校总览").count() == 1
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        stop_app(proc)


def test_quarter_report_downloads_from_the_overview(server, page, tmp_path):
    from openpyxl import load_workbook

    from pipelines.report import quarterly

    base, db = server
    latest = scoring.periods(db)[-1]
    page.goto(f"{base}/")
    wait_finished(page, "全校总览", 4)
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="下载本季度报告（Excel）").click()
    download = info.value
    assert download.suggested_filename == quarterly.file_name(latest)
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    wb = load_workbook(target)
    assert wb.sheetnames == [*quarterly.SHEETS, quarterly.HONOURS_SHEET]
    top = scoring.branch_scores(latest, db).sort_values(["rank", "branch_code"]).iloc[0]
    assert wb["支部排名"].cell(3, 4).value == top["branch_code"]  # row 1: the sheet's title


def test_view_password_gate_hides_the_pages_and_keeps_the_link(demo_db_master, tmp_path, page):
    """With the viewer password on, a visitor following a link to a page sees only the password form (no page
    list in the sidebar), and after the password lands on the page the link named."""
    from pipelines import auth

    for f in demo_db_master.parent.iterdir():
        (shutil.copytree if f.is_dir() else shutil.copy)(f, tmp_path / f.name)
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[access]\nview_password_required = true\n'
                       f'view_password_hash = "{auth.hash_password("正确的密码-2026", rounds=4)}"\n', encoding="utf-8")
    proc, base = start_app(tmp_path / demo_db_master.name, tmp_path / "streamlit.log",
                           extra_args=["--secrets.files", str(secrets)],
                           drop_env=(env_name("view_password_hash"), env_name("view_password_required")))
    try:
        page.goto(f"{base}/compare")
        box = page.get_by_label("查看密码")
        box.wait_for(timeout=60_000)
        assert page.locator('[data-testid="stSidebarNav"] a').count() == 0
        assert page.get_by_role("heading", name="教师与学生支部对比").count() == 0
        box.fill("不对的密码")
        page.get_by_role("button", name="进入看板").click()
        page.get_by_text("查看密码不正确").wait_for(timeout=30_000)
        page.get_by_label("查看密码").fill("正确的密码-2026")
        page.get_by_role("button", name="进入看板").click()
        wait_finished(page, "教师与学生支部对比", 2)
        assert page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="全校总览").count() == 1
    finally:
        stop_app(proc)
