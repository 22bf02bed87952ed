"""The chosen quarter and the URL (issue 15, "the quarter choice after a sidebar switch not always written to the
URL"), in real Chromium: a quarter nobody has computed yet takes seconds, and the URL used to get the choice only
when the page's run ended — a reload, a copied link or a sidebar click meanwhile lost it. Now the URL carries it
while the page is still computing; the choice survives a sidebar switch, is written again when changed on the new
page, and a reload keeps it."""
from __future__ import annotations

import time

import pytest

from app_server import demo_app
from pipelines import scoring
from test_browser import wait_finished

pytestmark = pytest.mark.browser

RUNNING = '[data-testid="stApp"][data-test-script-state="running"]'


@pytest.fixture(scope="module")
def server(demo_db_master, tmp_path_factory):
    """The app (with its warm start) on a private copy of the demo database."""
    with demo_app(demo_db_master, tmp_path_factory.mktemp("quarter_url_db")) as served:
        yield served


def label(period: str) -> str:
    year, q = period.split("Q")
    return f"{year} 年第 {q} 季度"


def choose_quarter(page, period: str) -> None:
    page.get_by_role("combobox", name="季度").click()
    page.get_by_role("option", name=label(period)).first.click()


def shown_quarter(page) -> str:
    return page.get_by_role("combobox", name="季度").input_value()


def url_written(page, period: str, timeout_s: float = 30) -> tuple[bool, bool]:
    """Wait until the URL carries ?period=period: (written, whether the page was still running then and 0.3 s
    later, i.e. the URL did not wait for the end of the run)."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if f"period={period}" in page.url:
            running = page.locator(RUNNING).count() > 0
            page.wait_for_timeout(300)
            return True, running and page.locator(RUNNING).count() > 0
        page.wait_for_timeout(50)
    return False, False


def test_quarter_reaches_the_url_at_once_and_survives_a_sidebar_switch(server, page):
    base, db = server
    ps = scoring.periods(db)
    assert len(ps) >= 3
    page.goto(f"{base}/")
    wait_finished(page, "全校总览", 4, timeout_s=90)
    choose_quarter(page, ps[0])  # the oldest quarter: no visit (nor the warm start) has computed it
    written, early = url_written(page, ps[0])
    assert written and early, (page.url, written, early)
    # away through the sidebar before (or just after) the page has finished: the choice is kept there
    page.get_by_role("link", name="二级党组织画像").click()
    wait_finished(page, "二级党组织画像", 2, timeout_s=90)
    assert shown_quarter(page) == label(ps[0])
    # a change on the new page is written to its URL, and a reload keeps it
    choose_quarter(page, ps[1])
    assert url_written(page, ps[1])[0], page.url
    wait_finished(page, "二级党组织画像", 2, timeout_s=90)
    assert "/college" in page.url
    page.reload()
    wait_finished(page, "二级党组织画像", 2, timeout_s=90)
    assert shown_quarter(page) == label(ps[1])
    # Back returns to the quarter before, on the same page
    page.go_back()
    wait_finished(page, "二级党组织画像", 2, timeout_s=90)
    assert f"period={ps[1]}" not in page.url
