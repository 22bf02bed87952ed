"""Chart labels that read at every size (issue 13, point 7), in real Chromium on `streamlit run serve.py`: the
trend charts' point labels never overlap one another (their boxes compared; on a school whose teacher and
student branches score alike, so the school and type means coincide), and no bar label of the 教师与学生支部对比
page is cut off at the edge of its plot on a phone (390×844)."""
from __future__ import annotations

import shutil

import pytest

from app_server import start_app, stop_app
from pipelines.store import db as dbmod, writes
from test_pages import _workbook
from test_browser import wait_finished
from test_browser_screens import BAR_TEXT_INSIDE, open_page

pytestmark = pytest.mark.browser

OVERLAPS = """() => {
  const out = [];
  document.querySelectorAll('.js-plotly-plot').forEach((plot, k) => {
    const boxes = [...plot.querySelectorAll('.scatterlayer .textpoint text')]
      .filter(t => t.textContent.trim())
      .map(t => [t.textContent, t.getBoundingClientRect()]);
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i][1], boxes[j][1]];
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > 1 && h > 1) out.push([k, boxes[i][0], boxes[j][0]]);
      }
  });
  return out;
}"""
COUNT_LABELS = "() => [...document.querySelectorAll('.scatterlayer .textpoint text')].filter(t => t.textContent.trim()).length"


@pytest.fixture(scope="module")
def server(demo_db_master, tmp_path_factory):
    folder = tmp_path_factory.mktemp("labels_db")
    for f in demo_db_master.parent.iterdir():
        (shutil.copytree if f.is_dir() else shutil.copy)(f, folder / f.name)
    proc, base = start_app(folder / demo_db_master.name, folder / "streamlit.log")
    yield base
    stop_app(proc)


@pytest.fixture(scope="module")
def alike_server(tmp_path_factory):
    """Two teacher and two student branches filing the same workbook for three quarters: every mean line of
    the trend charts lies on the others."""
    db = tmp_path_factory.mktemp("alike_db") / "alike.duckdb"
    with dbmod.connect(db, write=True) as con:
        for quarter in (1, 2, 3):
            for code, kind in (("T01", "teacher"), ("T02", "teacher"), ("S01", "student"), ("S02", "student")):
                writes.save_parsed(con, _workbook(code, 2025, quarter, kind), actor="test")
    proc, base = start_app(db, db.parent / "streamlit.log")
    yield base
    stop_app(proc)


@pytest.mark.parametrize("size", ["phone", "laptop"])
@pytest.mark.parametrize("url", ["trends", "compare"])
def test_trend_point_labels_do_not_overlap(alike_server, browser, url, size):
    ctx, page = open_page(browser, alike_server, url, size)
    try:
        if url == "compare":  # the two types' lines over the quarters, drawn when their tab is opened
            page.get_by_role("tab", name="季度变化").click()
            page.locator(".st-key-cmp_trend .js-plotly-plot .main-svg").first.wait_for()
            wait_finished(page, "教师与学生支部对比", 2)
        assert page.evaluate(COUNT_LABELS) > 5  # the lines are labelled at all
        assert not page.evaluate(OVERLAPS), page.evaluate(OVERLAPS)[:8]
    finally:
        ctx.close()


def test_compare_bar_labels_inside_their_plots_on_a_phone(server, browser):
    ctx, page = open_page(browser, server, "compare", "phone")
    try:
        assert page.locator(".js-plotly-plot .barlayer text").count() > 10
        assert not page.evaluate(BAR_TEXT_INSIDE, ".js-plotly-plot"), page.evaluate(BAR_TEXT_INSIDE, ".js-plotly-plot")
    finally:
        ctx.close()
