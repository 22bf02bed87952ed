"""No clipped chart label (issue 13, Done when): on 全校总览 and 二级党组织画像 in real Chromium at a phone (390×844)
and a laptop (1366×768), every plotly bar text label and every axis tick label that is drawn lies inside its
chart's box (the `.js-plotly-plot` element) and inside the window's width, and every bar label lies inside its
plot area. Charts are scrolled into view one by one (plotly draws lazily in some Streamlit containers), and a
screenshot of each page and size goes to tests/artifacts/ (clip_<size>_<page>.png)."""
from __future__ import annotations

import shutil

import pytest

from app_server import start_app, stop_app
from test_browser import wait_finished
from test_browser_screens import ARTIFACTS, BAR_TEXT_INSIDE, open_page

pytestmark = pytest.mark.browser

# labels outside their chart's box (or the window) as [kind, text, label box, chart box]
LABELS_OUTSIDE = """() => {
  const out = [];
  const width = document.documentElement.clientWidth;
  document.querySelectorAll('.js-plotly-plot').forEach((plot, k) => {
    const p = plot.getBoundingClientRect();
    if (p.width === 0 || p.height === 0) return;  // in a closed tab or expander
    const labels = [...plot.querySelectorAll('.barlayer text')].map(t => ['bar', t])
      .concat([...plot.querySelectorAll('.xtick text, .ytick text')].map(t => ['tick', t]));
    for (const [kind, t] of labels) {
      const b = t.getBoundingClientRect();
      if (b.width === 0 || !t.textContent.trim()) continue;
      if (b.left < p.left - 1 || b.right > p.right + 1 || b.top < p.top - 1 || b.bottom > p.bottom + 1
          || b.left < -1 || b.right > width + 1)
        out.push([k, kind, t.textContent, [b.left, b.right, b.top, b.bottom].map(Math.round),
                  [p.left, p.right, p.top, p.bottom].map(Math.round)]);
    }
  });
  return out;
}"""
COUNT = """() => [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.getBoundingClientRect().width > 0)
  .map(p => [p.querySelectorAll('.barlayer text').length, p.querySelectorAll('.xtick text, .ytick text').length])"""


@pytest.fixture(scope="module")
def server(demo_db_master, tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip_db")
    for f in demo_db_master.parent.iterdir():
        (shutil.copytree if f.is_dir() else shutil.copy)(f, folder / f.name)
    proc, base = start_app(folder / demo_db_master.name, folder / "streamlit.log")
    yield base
    stop_app(proc)


def visit_every_chart(page) -> None:
    """Scroll each chart into view and back, so every one has drawn its labels."""
    for plot in page.locator(".js-plotly-plot").all():
        if plot.is_visible():
            plot.scroll_into_view_if_needed()
            page.wait_for_timeout(300)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(500)


def outside_labels(page, size: str, name: str) -> list:
    """LABELS_OUTSIDE of the charts now shown; a screenshot of each shown chart goes to tests/artifacts/."""
    visit_every_chart(page)
    outside = page.evaluate(LABELS_OUTSIDE)
    for k, plot in enumerate(page.locator(".js-plotly-plot").all()):
        if plot.is_visible():
            plot.scroll_into_view_if_needed()
            plot.screenshot(path=str(ARTIFACTS / f"clip_{size}_{name}_chart{k}.png"))
    return outside + [["bar outside its plot area", t] for t in page.evaluate(BAR_TEXT_INSIDE, ".js-plotly-plot")]


@pytest.mark.parametrize("size", ["phone", "laptop"])
@pytest.mark.parametrize("url", ["", "college"])
def test_no_bar_or_tick_label_is_clipped(server, browser, url, size):
    name = url or "overview"
    ctx, page = open_page(browser, server, url, size)
    try:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        visit_every_chart(page)
        counts = page.evaluate(COUNT)
        assert sum(b for b, _ in counts) >= 5 and sum(t for _, t in counts) >= 10, counts  # labels drawn at all
        page.screenshot(path=str(ARTIFACTS / f"clip_{size}_{name}.png"))
        outside = outside_labels(page, size, name)
        tabs = page.get_by_role("tab").all()  # the overview's long sections sit in tabs: each one drawn in turn
        for tab in tabs[1:]:
            tab.click()  # only the open tab is drawn: its fragment reruns
            page.wait_for_timeout(300)
            wait_finished(page, "全校总览" if not url else "二级党组织画像", 0)
            outside += outside_labels(page, size, name)
        assert not outside, outside[:10]
    finally:
        ctx.close()


def test_phone_branch_card_reads_in_one_column(server, browser):
    """支部画像 on a phone (issue 13, point 3): the branch's own card — 总分 and 等次 — on the first screen, one
    card under the other, and nothing wider than the window."""
    ctx, page = open_page(browser, server, "branch", "phone")
    try:
        total = page.locator('[data-testid="stMetric"]').filter(has_text="总分").first.bounding_box()
        grade = page.locator('[data-testid="stMetric"]').filter(has_text="等次").first.bounding_box()
        assert total["y"] + total["height"] <= 844, total
        assert grade["y"] >= total["y"] + total["height"] - 1 and abs(grade["x"] - total["x"]) < 2, (total, grade)
        assert page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollWidth") <= 390
        page.screenshot(path=str(ARTIFACTS / "clip_phone_branch_card.png"))
    finally:
        ctx.close()
