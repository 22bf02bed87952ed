"""Real Chromium against `streamlit run serve.py` on the demo school: the 审核 flow — the queue's first answer,
a decision saved with the next answer shown at once, an answer sent back with a comment, the 整改通知 downloaded
and read back — and a college admin's scope (only its own college's answers, its decisions stored under its
name). Screenshots of the signed-in page at phone, laptop and projector sizes go to tests/artifacts/.

The accounts exist only in a temporary secrets file passed with `--secrets.files`; nothing is committed."""
from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from openpyxl import load_workbook

from app_server import settled, sign_in, start_app, stop_app
from pipelines import auth, scoring
from pipelines.store import db, review
from pipelines.store.actor import Actor
from pipelines.config import env_name
from pipelines.guide.period import Period

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
PASSWORD = "审核浏览器测试-口令-2026"
SIZES = {"phone": (390, 844), "laptop": (1366, 768), "projector": (1920, 1080)}


def _period(demo_db) -> str:
    return [p for p in scoring.periods(demo_db) if Period.parse(p).ended()][-1]


def _college(demo_db) -> str:
    return db.query_df("SELECT min(college) AS c FROM registry", path=demo_db).at[0, "c"]


@pytest.fixture
def server(demo_db, tmp_path):
    hashed = auth.hash_password(PASSWORD, rounds=4)
    secrets = tmp_path / "secrets" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text(f'[admins]\norg = "{hashed}"\ncollege = "{hashed}"\n\n'
                       f'[admin_scopes]\ncollege = "{_college(demo_db)}"\n', encoding="utf-8")
    log = tmp_path / "streamlit.log"
    proc, base = start_app(demo_db, log, extra_args=["--secrets.files", str(secrets)],
                           drop_env=(env_name("admins"), env_name("admin_scopes"), env_name("view_password_hash")))
    deadline = time.monotonic() + 300
    while "warm start:" not in log.read_text():  # its page visits would compete with the test's runs
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.3)
    try:
        yield base
    finally:
        stop_app(proc)


def open_review(page, base: str, account: str, signed_in_text: str | None = None) -> None:
    """Sign in on the 审核 page itself (a new page load is a new session) and wait for the first answer."""
    sign_in(page, base, account, PASSWORD, signed_in_text, path="/review")
    page.get_by_text("本季度自评").first.wait_for(timeout=90_000)
    settled(page)


def rerun(page) -> None:
    """Wait for the rerun a widget change starts, then for its end: a deferred download clicked during a
    rerun asks for the previous run's file, which the rerun has dropped."""
    try:
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="running"]', timeout=5_000)
    except Exception:  # noqa: BLE001 - a fast rerun may be over before we look
        pass
    settled(page)


def on_screen(page) -> tuple[str, str]:
    """(branch code, item id) of the answer shown: its heading line and its item heading."""
    line = page.get_by_test_id("stMarkdown").filter(has_text="）· ").first.inner_text()
    item = page.get_by_role("heading", level=5).first.inner_text()
    return line.split("（", 1)[1].split("）", 1)[0], item.split(" ", 1)[0]


def reviews(demo_db) -> list[tuple]:
    return [tuple(r) for r in db.query_df("SELECT branch_code, item_id, decision, comment, reviewer FROM reviews "
                                          "WHERE reviewer IN ('org', 'college') ORDER BY review_id",
                                          path=demo_db).itertuples(index=False)]


def test_review_flow_decide_send_back_and_notice(server, demo_db, page):
    period = _period(demo_db)
    queue = scoring.review_queue(period, demo_db, state="pending")
    open_review(page, server, "org")
    first = (queue.iloc[0]["branch_code"], queue.iloc[0]["item_id"])
    assert on_screen(page) == first  # riskiest first

    page.get_by_role("button", name="认定完成", exact=True).click()  # never lower than the answer: no comment
    page.get_by_text("已保存").wait_for(timeout=30_000)
    settled(page)
    assert reviews(demo_db) == [(*first, "done", "", "org")]
    second = (queue.iloc[1]["branch_code"], queue.iloc[1]["item_id"])
    assert on_screen(page) == second  # the next answer, at once

    page.get_by_label("审核意见（认定低于自评或退回补充时必填）").fill("请补充会议记录（浏览器测试）")
    page.get_by_role("button", name="退回补充", exact=True).click()
    page.get_by_text("已保存").wait_for(timeout=30_000)
    settled(page)
    assert reviews(demo_db)[-1] == (*second, review.SENT_BACK, "请补充会议记录（浏览器测试）", "org")
    assert on_screen(page) == (queue.iloc[2]["branch_code"], queue.iloc[2]["item_id"])

    name = queue.iloc[1]["branch_name"]
    picker = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text("支部", exact=True))
    picker.locator("input").click()
    page.keyboard.type(second[0])  # the select filters its options as one types
    page.get_by_role("option", name=f"{name}（{second[0]}）").click()
    rerun(page)
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="下载整改通知（Excel，A4 一页）").click()
    download = info.value
    assert download.suggested_filename == f"整改通知_{name}_{Period.parse(period).short_label}.xlsx"
    ws = load_workbook(io.BytesIO(Path(download.path()).read_bytes()))["整改通知"]
    cells = [c.value for row in ws.iter_rows() for c in row]
    assert "请补充会议记录（浏览器测试）" in cells and any(str(c).startswith(second[1]) for c in cells)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_college_admin_reviews_only_its_college(server, demo_db, page):
    period, college = _period(demo_db), _college(demo_db)
    board = scoring.review_board(period, demo_db, scope=college, state="pending")
    open_review(page, server, "college", f"管理范围：{college}")
    first = (board.queue.iloc[0]["branch_code"], board.queue.iloc[0]["item_id"])
    assert on_screen(page) == first
    pending = board.progress.loc[board.progress["scope"] == "school", "pending"].iloc[0]
    assert page.get_by_test_id("stMetric").filter(has_text="待审核").inner_text().split()[-1] == str(pending)
    scope_box = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text("二级党组织", exact=True)).first
    assert scope_box.locator("input").is_disabled()  # no other college to choose
    assert page.get_by_test_id("stMarkdown").filter(has_text="）· ").first.inner_text().endswith(f"· {college}")
    page.get_by_role("button", name="认定完成", exact=True).click()
    page.get_by_text("已保存").wait_for(timeout=30_000)
    assert reviews(demo_db) == [(*first, "done", "", "college")]
    other = scoring.review_queue(period, demo_db, state="pending")
    other = other[other["college"] != college].iloc[0]
    with pytest.raises(PermissionError, match="超出当前账号的管理范围"):  # nor by calling the function
        review.decide(other["branch_code"], period, other["item_id"], "done", reviewer=Actor("college", college),
                      db=demo_db)


@pytest.mark.parametrize("size", list(SIZES))
def test_review_page_screens(server, browser, size):
    width, height = SIZES[size]
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                              is_mobile=size == "phone", has_touch=size == "phone")
    try:
        page = ctx.new_page()
        open_review(page, server, "org")
        assert page.locator('[data-testid="stException"]').count() == 0
        assert "**" not in page.get_by_test_id("stMain").inner_text()  # every bold label rendered as bold
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        if size == "phone":
            assert page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollWidth") <= width
            # the first answer and every decision button on the first screen, nothing scrolled: the filters
            # wait in a collapsed expander whose label says what is in force
            page.screenshot(path=str(ARTIFACTS / "screen_phone_review_first_screen.png"))
            for name in review.decision_names().values():
                box = page.get_by_role("button", name=name, exact=True).bounding_box()
                assert box and 0 <= box["x"] and box["x"] + box["width"] <= width, (name, box)
                assert 0 <= box["y"] and box["y"] + box["height"] <= height, (name, box)
            assert page.get_by_role("heading", level=5).first.bounding_box()["y"] >= 0
            assert page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTop") == 0
        label = page.get_by_test_id("stExpander").filter(has_text="筛选：").first
        assert "待审核" in label.inner_text() and "全部二级党组织" in label.inner_text()
        label.locator("summary").click()  # opened, the quarter and the four filters
        for name in ("季度", "二级党组织", "支部类型", "考核要点", "审核状态"):
            assert page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(name, exact=True)).first.is_visible()
        path = ARTIFACTS / f"screen_{size}_review_signed_in.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
    finally:
        ctx.close()
