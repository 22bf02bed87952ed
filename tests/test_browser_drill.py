"""Drill-down in real Chromium. The chain: a college bar on the overview → that college's page → one of its weak
items (the branches that fell short of it) → one branch, at that item → another item's ledger rows; then the
browser's Back button, pressed once per step, returns each view in turn. On the overview: a heat-map cell and a
ranking cell open the branch at that dimension, a weak item lists the branches short of it across the school."""
from __future__ import annotations

import pytest

from pages.tables import DIM_COLUMN_PX
from pipelines import scoring
from pipelines.guide import guide
import test_browser
from test_browser import ARTIFACTS, wait_finished

server = test_browser.server  # the app on a copy of the demo database, for this module

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


def drill(server, page) -> tuple[list[tuple[str, str, int]], str]:
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
    wait_finished(page, "全校总览", 3)
    overview_url = page.url
    click_centre(page, page.locator(".st-key-ov_colleges .js-plotly-plot .bars .point path").last)
    wait_finished(page, "二级党组织画像", 2)
    assert page.get_by_role("heading", name=college).count() >= 1
    college_url = page.url

    click_centre(page, page.locator('[class*="st-key-co_weakest_"] .js-plotly-plot .bars .point path').first)
    page.wait_for_url(lambda u: "co_item=" in u)
    shortfall_heading(page).wait_for()
    wait_finished(page, "二级党组织画像", 2)
    assert f"co_item={weak}" in page.url
    item_url = page.url

    tick_row(page, page.locator('.st-key-co_shortfalls [data-testid="stDataFrame"]'), 0)
    wait_finished(page, "支部画像", 1)
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
    wait_finished(page, "支部画像", 1)
    ledger_heading(page).first.wait_for()
    ledger_heading(page).first.scroll_into_view_if_needed()
    assert page.locator('[data-testid="stException"]').count() == 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "branch_ledger_rows_1366x768.png"))

    return [(overview_url, "全校总览", 3), (college_url, "二级党组织画像", 2), (item_url, "二级党组织画像", 2),
            (branch_url, "支部画像", 1)], weak


def test_drill_down_chain_from_a_college_bar_to_ledger_rows(server, page):
    drill(server, page)


def test_back_once_per_step_returns_each_view(server, page):
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


def overview(server, page):
    """The overview at a laptop's size, finished; returns (base, db, the latest quarter's ranking, its url)."""
    base, db = server
    p = scoring.latest_period(db)
    bs = scoring.branch_scores(p, db).sort_values(["rank", "branch_code"]).reset_index(drop=True)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{base}/")
    wait_finished(page, "全校总览", 3)
    return bs, page.url


def open_ranking(page) -> None:
    """Open the overview's ranking tab (drawn when opened: a rerun of its fragment) and wait for it."""
    page.get_by_role("tab", name="支部排名与热力图").click()
    page.locator('.st-key-ov_ranking [data-testid="stDataFrame"]').wait_for()
    wait_finished(page, "全校总览", 4)  # the heat map drawn too


def at_branch(page, branch, dim: int | None) -> None:
    """支部画像 of `branch` is shown, at dimension `dim` (its radio chosen, the URL saying so) or at all items."""
    wait_finished(page, "支部画像", 1)
    assert page.get_by_role("heading", name=branch["branch_name"]).count() >= 1
    assert f"branch={branch['branch_code']}" in page.url
    assert ("dim=" in page.url) == (dim is not None) and (dim is None or f"dim={dim}" in page.url)
    name = "全部" if dim is None else guide().dimensions[dim - 1].name
    assert page.get_by_role("radio", name=name).is_checked()


def back_once_to(page, url: str, title: str, charts: int) -> None:
    page.go_back()
    page.wait_for_url(url)
    wait_finished(page, title, charts)
    assert page.url == url


def test_a_heat_map_cell_opens_the_branch_at_its_dimension(server, page):
    bs, overview_url = overview(server, page)
    heat = bs.tail(40).reset_index(drop=True)  # the bottom 40 by default
    columns = len(guide().dimensions) + 1
    row, column = len(heat) // 2, 3
    open_ranking(page)
    plot = page.locator(".st-key-ov_heatmap .js-plotly-plot .nsewdrag").first
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    x = box["x"] + box["width"] * (column + 0.5) / columns
    y = box["y"] + box["height"] * (row + 0.5) / len(heat)
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    page.wait_for_url(lambda u: "/branch?" in u)
    at_branch(page, heat.iloc[row], column + 1)
    back_once_to(page, overview_url, "全校总览", 3)


def test_a_ranking_cell_opens_the_branch_at_its_dimension(server, page):
    bs, overview_url = overview(server, page)
    open_ranking(page)
    grid = page.locator('.st-key-ov_ranking [data-testid="stDataFrame"]')
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 100)
    page.mouse.wheel(5000, 0)  # to the last column; the dimension columns are DIM_COLUMN_PX wide each
    page.wait_for_timeout(800)
    dims = guide().dimensions
    dim, row = 4, 2
    x = box["x"] + box["width"] - DIM_COLUMN_PX * (len(dims) - dim + 0.5)
    page.mouse.click(x, box["y"] + 35 * (row + 1) + 17)
    page.wait_for_url(lambda u: "/branch?" in u)
    at_branch(page, bs.iloc[row], dim)
    back_once_to(page, overview_url, "全校总览", 3)


def test_a_weak_item_on_the_overview_lists_the_branches_short_of_it(server, page):
    """全校薄弱考核要点: a bar → the branches short of it (the whole school) → one of them at that item's ledger
    rows; Back once returns the list (its tab open), Back again the overview without it."""
    base, db = server
    bs, overview_url = overview(server, page)
    page.get_by_role("tab", name="全校薄弱考核要点").click()
    bars = page.locator('[class*="st-key-ov_weakest_"] .js-plotly-plot .bars .point path')
    bars.first.wait_for()
    click_centre(page, bars.first)
    page.wait_for_url(lambda u: "ov_item=" in u)
    shortfall_heading(page).wait_for()
    wait_finished(page, "全校总览", 3)
    item_url = page.url
    item = item_url.split("ov_item=")[1].split("&")[0]
    short = scoring.item_shortfalls(scoring.latest_period(db), item, None, db)
    assert page.get_by_text(f"（{len(short)} 个）").count() >= 1

    tick_row(page, page.locator('.st-key-ov_shortfalls [data-testid="stDataFrame"]'), 0)
    page.wait_for_url(lambda u: "/branch?" in u)
    at_branch(page, short.iloc[0], guide().dimension_of(item).id)
    assert f"item={item}" in page.url
    ledger_heading(page).first.wait_for()

    back_once_to(page, item_url, "全校总览", 3)
    shortfall_heading(page).wait_for()  # on its tab, open again
    assert shortfall_heading(page).is_visible()
    back_once_to(page, overview_url, "全校总览", 3)
    page.wait_for_timeout(500)
    assert shortfall_heading(page).count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0
