"""The drill-down chain in real Chromium: a college bar on the overview → that college's page → one of its weak
items (the branches that fell short of it) → one branch, at that item → another item's ledger rows; then the
browser's Back button, pressed once per step, returns each view in turn."""
from __future__ import annotations

import pytest

from pipelines import scoring
from test_browser import ARTIFACTS, server, wait_finished  # noqa: F401  (server: the app on a demo copy)

pytestmark = pytest.mark.browser


def click_centre(page, locator) -> None:
    """Click the middle of a plotly bar: plotly's drag layer takes the pointer, so click where a user would."""
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def tick_row(page, grid, row: int) -> None:
    """Tick a st.dataframe row's selection box (row 0 is the first data row)."""
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 14, box["y"] + 35 * (row + 1) + 17)


def shortfall_heading(page):
    return page.get_by_text("未完全完成“")


def ledger_heading(page):
    return page.get_by_text("数据来源（台账明细）")


def drill(server, page) -> tuple[list[tuple[str, str, int]], str]:  # noqa: F811
    """Walk the chain forward (a screenshot of the last view, the ledger rows); returns (url, title, charts) of
    each view before the last, oldest first, and the weak item."""
    base, db = server
    p = scoring.latest_period(db)
    cs = scoring.college_scores(p, db).dropna(subset=["overall", "rank"]).sort_values(["rank", "college"])
    college = cs["college"].iloc[-1]  # the weakest college: the last bar
    items = scoring.college_items(p, college, db)
    weak = items["item_id"].iloc[0]
    short = scoring.item_shortfalls(p, weak, college, db)
    assert not short.empty, "the demo's weakest college must have a branch short of its weakest item"
    branch = short.iloc[0]
    page.set_viewport_size({"width": 1366, "height": 768})

    page.goto(f"{base}/")
    wait_finished(page, "全校总览", 4)
    overview_url = page.url
    click_centre(page, page.locator(".st-key-ov_colleges .js-plotly-plot .bars .point path").last)
    wait_finished(page, "二级党组织画像", 3)
    assert page.get_by_role("heading", name=college).count() >= 1
    college_url = page.url

    click_centre(page, page.locator('[class*="st-key-co_weakest_"] .js-plotly-plot .bars .point path').first)
    page.wait_for_url(lambda u: "co_item=" in u)
    shortfall_heading(page).wait_for()
    wait_finished(page, "二级党组织画像", 3)
    assert f"co_item={weak}" in page.url
    item_url = page.url

    tick_row(page, page.locator('.st-key-co_shortfalls [data-testid="stDataFrame"]'), 0)
    wait_finished(page, "支部画像", 2)
    assert page.get_by_role("heading", name=branch["branch_name"]).count() >= 1
    assert f"branch={branch['branch_code']}" in page.url and f"item={weak}" in page.url
    ledger_heading(page).first.wait_for()
    assert page.get_by_text(weak).count() >= 1
    branch_url = page.url

    # Streamlit writes a key into its class name with every character but letters, digits, _ and - as '-'
    grid = page.locator(f'.st-key-br_items_{weak.replace(".", "-")} [data-testid="stDataFrame"]')
    dim_items = scoring.item_scores(p, db, branch_code=branch["branch_code"])
    dim_items = list(dim_items[dim_items["item_id"].str.split(".").str[0] == weak.split(".")[0]]["item_id"])
    other = 1 if dim_items[0] == weak else 0  # another item of the dimension the branch was opened at
    tick_row(page, grid, other)
    page.wait_for_url(lambda u: f"item={dim_items[other]}" in u)
    wait_finished(page, "支部画像", 2)
    ledger_heading(page).first.wait_for()
    ledger_heading(page).first.scroll_into_view_if_needed()
    assert page.locator('[data-testid="stException"]').count() == 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "branch_ledger_rows_1366x768.png"))

    return [(overview_url, "全校总览", 4), (college_url, "二级党组织画像", 3), (item_url, "二级党组织画像", 3),
            (branch_url, "支部画像", 2)], weak


def test_drill_down_chain_from_a_college_bar_to_ledger_rows(server, page):  # noqa: F811
    drill(server, page)


def test_back_once_per_step_returns_each_view(server, page):  # noqa: F811
    views, weak = drill(server, page)
    branch_url, item_url, college_url = views[3][0], views[2][0], views[1][0]
    for url, title, charts in reversed(views):
        page.go_back()
        page.wait_for_url(url)
        wait_finished(page, title, charts)
        assert page.url == url
        if url == branch_url:
            assert page.get_by_text(f"{weak} ").count() >= 1 or ledger_heading(page).count() == 1
        if url == item_url:
            shortfall_heading(page).wait_for()
        if url == college_url:
            page.wait_for_timeout(500)
            assert shortfall_heading(page).count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0
