"""会议大屏 in real Chromium at 1920×1080 (issue 13, point 4): nobody touches the screen, yet it moves on to the
next view by itself (?rotate=) and shows a new submission within its refresh interval — the fragment's timer,
not a click, reruns it. Screenshots before and after the refresh go to tests/artifacts/."""
from __future__ import annotations

import re
import time

import pytest

from app_server import demo_app
from pages.meeting import REFRESH_S, VIEWS
from pipelines import scoring
from pipelines.guide import guide
from pipelines.guide.period import Period
from pipelines.store import db as dbmod, writes
from test_browser_screens import ARTIFACTS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(demo_db_master, tmp_path_factory):
    with demo_app(demo_db_master, tmp_path_factory.mktemp("meeting_db")) as served:
        yield served


def screen(browser, url: str):
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = ctx.new_page()
    page.goto(url)
    page.get_by_text("季度简报").first.wait_for(timeout=90_000)
    page.wait_for_timeout(1500)
    return ctx, page


def caption(page) -> str:
    return page.locator('[data-testid="stCaptionContainer"]').filter(has_text="数据版本").first.inner_text()


def shown_view(page) -> str:
    """The view name the caption draws in bold."""
    bold = page.locator('[data-testid="stCaptionContainer"] strong').all_inner_texts()
    return next(b for b in bold if b in VIEWS)


def graded(page) -> int:
    names = {g.name for g in guide().grades}
    total = 0
    for m in page.locator('[data-testid="stMetric"]').all():
        label = m.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        if label in names:
            total += int(m.locator('[data-testid="stMetricValue"]').inner_text())
    return total


def test_screen_rotates_by_itself(server, browser):
    base, _db = server
    ctx, page = screen(browser, f"{base}/?screen=1&rotate=5")
    try:
        first = shown_view(page)
        seen = {first}
        deadline = time.time() + 3 * REFRESH_S + 5
        while time.time() < deadline and len(seen) < 2:
            page.wait_for_timeout(1000)
            seen.add(shown_view(page))
        assert len(seen) >= 2, seen  # it moved on without any click
        assert page.locator('[data-testid="stSidebar"]').is_hidden()
    finally:
        ctx.close()


def test_screen_shows_new_data_by_itself(server, browser):
    from test_pages import _workbook

    base, db = server
    ctx, page = screen(browser, f"{base}/?screen=1&view=1")
    try:
        version = int(re.search(r"数据版本 (\d+)", caption(page)).group(1))
        before = graded(page)
        assert before == len(scoring.branch_scores(scoring.periods(db)[-1], db))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "meeting_before_refresh.png"))
        period = Period.parse(scoring.periods(db)[-1])
        with dbmod.connect(db, write=True) as con:
            writes.save_parsed(con, _workbook("ZZ-T99", period.year, period.quarter), actor="test")
        deadline = time.time() + 2 * REFRESH_S + 20
        while time.time() < deadline and f"数据版本 {version}" in caption(page):
            page.wait_for_timeout(1000)
        assert f"数据版本 {dbmod.data_version(db)}" in caption(page), caption(page)
        page.wait_for_timeout(1000)
        assert graded(page) == before + 1
        page.screenshot(path=str(ARTIFACTS / "meeting_after_refresh.png"))
    finally:
        ctx.close()
