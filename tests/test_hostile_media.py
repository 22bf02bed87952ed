"""Issue 9, finding 5: an archived original stayed downloadable without a session.

An admin downloaded 原始文件 on 报送记录与撤回, and its URL kept serving the workbook to a client with no cookies,
minutes after sign-out with the browser closed. Here a real server (`streamlit run serve.py`) and real Chromium
download an original, and a plain urllib client (no cookies, no session) then tries the download's URL: after
sign-out, and after the browser was closed without signing out, it must get no file.

The unit tests below hold the link rules (pages.archive_links) with an injectable clock, without sleeping.
"""
from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request

import pytest

from pages import archive_links
from pipelines.store import db, journal
from app_server import settled, sign_in
from test_browser_upload import PASSWORD, browser_context_args, server  # noqa: F401 - fixtures
from test_upload import admin_hash, registry_db  # noqa: F401 - fixtures

TTL_S = 3  # DJ_ARCHIVE_LINK_TTL_S for the server under test
LABEL = "下载该版本的原始文件"


@pytest.fixture(autouse=True)
def short_link_ttl(monkeypatch):
    """Autouse, so it runs before `server` copies the environment into the app's process."""
    monkeypatch.setenv("DJ_ARCHIVE_LINK_TTL_S", str(TTL_S))


def _fetch(url: str) -> tuple[int, bytes]:
    """GET with a bare urllib client: no cookie jar, no session, nothing but the URL."""
    try:
        with urllib.request.urlopen(url, timeout=15) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _sign_in_to_history(page, base: str) -> None:
    sign_in(page, base, "browser", PASSWORD)
    page.get_by_role("tab", name="报送记录与撤回").click()
    page.get_by_text(LABEL, exact=True).wait_for(timeout=30_000)
    settled(page)


def _download_original(page, demo_db) -> tuple[bytes, str]:
    """Click the original's download (it may arrive in a new tab) and return (bytes, the download's URL).
    The bytes must be exactly an archived original, under its uploaded file name."""
    downloads = []

    def watch(p) -> None:
        p.on("download", lambda d: downloads.append(d))

    watch(page)
    page.context.on("page", watch)
    page.get_by_text(LABEL, exact=True).click()
    deadline = time.time() + 30
    while not downloads and time.time() < deadline:
        page.wait_for_timeout(200)
    assert downloads, "no download started"
    d = downloads[0]
    with open(d.path(), "rb") as fh:
        data = fh.read()
    sha = hashlib.sha256(data).hexdigest()
    assert data == journal.archived_file(sha, demo_db)
    names = db.query_df("SELECT file_name FROM submissions WHERE sha256 = ?", [sha], demo_db)["file_name"]
    assert d.suggested_filename in set(names)
    return data, d.url


def _serves(url: str, data: bytes) -> bool:
    status, body = _fetch(url)
    return status == 200 and body == data


@pytest.mark.browser
def test_finding5_archived_original_is_not_served_without_a_session(server, demo_db, browser, page):
    # 1. Download, sign out: the URL serves nothing to a client without a session.
    _sign_in_to_history(page, server)
    data, url = _download_original(page, demo_db)
    page.get_by_role("button", name="退出登录").click()
    page.get_by_label("管理员账号").wait_for(timeout=30_000)
    settled(page)
    status, body = _fetch(url)
    assert status in (403, 404, 410) and body != data, f"{url} still served after sign-out ({status})"

    # 2. Download, close the browser without signing out: the URL stops serving within the bound.
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 1800})
    other = context.new_page()
    _sign_in_to_history(other, server)
    data, url = _download_original(other, demo_db)
    context.close()
    deadline = time.time() + TTL_S + 10
    while _serves(url, data) and time.time() < deadline:
        time.sleep(0.5)
    status, body = _fetch(url)
    assert status in (403, 404, 410) and body != data, f"{url} still served after the browser closed ({status})"


# ---- the link rules, without a server ------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def links(connected: set[str], clock: Clock, ttl_s: float = 60.0) -> archive_links.ArchiveLinks:
    """A link registry whose sessions `connected` are the live browser sessions."""
    return archive_links.ArchiveLinks(clock=clock, connected=lambda s: s in connected, ttl_s=lambda: ttl_s)


def test_a_link_serves_until_the_time_limit_after_its_first_download():
    clock, live = Clock(), {"s1"}
    reg = links(live, clock, ttl_s=60)
    token = reg.issue("s1", "a" * 64, "原件.xlsx")
    clock.now += 3600  # an unused link of a connected session waits for its download
    assert reg.use(token).sha256 == "a" * 64
    clock.now += 60
    assert reg.use(token) is not None  # downloading again within the limit works
    clock.now += 0.5
    assert reg.use(token) is None
    clock.now = 0.0
    assert reg.use(token) is None and token not in reg  # gone for good
    assert reg.use("not-a-token") is None


def test_sign_out_revokes_only_that_sessions_links():
    clock, live = Clock(), {"s1", "s2"}
    reg = links(live, clock)
    mine, theirs = reg.issue("s1", "a" * 64, "a.xlsx"), reg.issue("s2", "a" * 64, "a.xlsx")
    assert mine != theirs and reg.use(mine) is not None
    assert reg.revoke_session("s1") == 1
    assert reg.use(mine) is None and reg.use(theirs) is not None


def test_a_link_dies_when_its_browser_session_disconnects():
    clock, live = Clock(), {"s1"}
    reg = links(live, clock)
    used = reg.issue("s1", "a" * 64, "a.xlsx")
    assert reg.use(used) is not None
    unused = reg.issue("s1", "b" * 64, "b.xlsx")
    live.discard("s1")  # the browser was closed
    assert reg.use(used) is None and reg.use(unused) is None
    assert archive_links.ArchiveLinks(clock=clock).use(used) is None  # no Streamlit runtime: nothing is connected


def test_a_session_holds_one_unused_link():
    clock, live = Clock(), {"s1"}
    reg = links(live, clock)
    first = reg.issue("s1", "a" * 64, "a.xlsx")
    assert reg.issue("s1", "a" * 64, "a.xlsx") == first  # a rerun shows the same link
    other = reg.issue("s1", "b" * 64, "b.xlsx")  # another version picked: the first link is dropped
    assert other != first and reg.use(first) is None
    assert reg.use(other) is not None
    assert reg.issue("s1", "b" * 64, "b.xlsx") != other  # a used link is replaced by a fresh one on the next run
    assert reg.use(other) is not None  # while the used one lasts out its time limit


def test_download_header_keeps_the_chinese_name_and_cannot_be_split():
    header = archive_links.content_disposition('2026Q3_机械"学院\r\nX-Evil: 1.xlsx')
    assert "\r" not in header and "\n" not in header
    assert header.startswith('attachment; filename="2026Q3_X-Evil1.xlsx"; filename*=UTF-8\'\'2026Q3_')
    assert "%E6%9C%BA%E6%A2%B0" in header  # 机械


def test_route_sits_under_the_base_url_path():
    assert archive_links.route("").path == "/dj-archive/{token}"
    assert archive_links.route("/dash/").path == "/dash/dj-archive/{token}"
    assert archive_links.mounted()


# ---- the page: sign-out revokes the link it showed --------------------------------------------------------

def test_sign_out_on_the_page_revokes_the_download_link(registry_db, admin_hash, tmp_path):
    from test_upload import confirm, signed_in, upload, workbook

    archive_links.route()  # mounted as serve.py does
    at = signed_in(admin_hash)
    upload(at, [workbook(tmp_path, "XX02-T01", "2026Q2")])
    confirm(at)
    at.run()
    [link] = [b for b in at.get("link_button") if "原始文件" in b.proto.label]
    token = link.proto.url.rsplit("/", 1)[-1]
    assert link.proto.url == archive_links.url(token) and token in archive_links.LINKS
    at.button(key="dj_sign_out").click().run()
    assert not at.exception
    assert token not in archive_links.LINKS
