"""What a phone's first visit to the overview transfers, measured the way Chromium's DevTools counts it: the
encoded (on-the-wire) bytes of every HTTP response plus the payload of every websocket frame, at 390×844 with an
empty cache, against `streamlit run serve.py` as the README starts it. Issue 13 asks for far less than the 9.4 MB
of the first round; the test holds it under a third of that and writes the number to
tests/artifacts/phone_weight.txt (docs/admin.md quotes it)."""
from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest

from app_server import start_app, stop_app
from test_browser import wait_finished

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
LIMIT_BYTES = 3.1e6  # a third of the 9.4 MB measured before


@pytest.fixture(scope="module")
def server(demo_db_master, tmp_path_factory):
    folder = tmp_path_factory.mktemp("weight_db")
    for f in demo_db_master.parent.iterdir():
        (shutil.copytree if f.is_dir() else shutil.copy)(f, folder / f.name)
    proc, base = start_app(folder / demo_db_master.name, folder / "streamlit.log")
    yield base
    stop_app(proc)


class Meter:
    """Bytes as DevTools counts them, from the Network domain of a CDP session."""

    def __init__(self, cdp) -> None:
        self.http = 0
        self.ws = 0
        self.encodings: dict[str, str] = {}
        self.urls: dict[str, str] = {}
        self.sizes: dict[str, int] = {}  # url -> encoded bytes, for the failure message
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.webSocketFrameReceived", self._frame)
        cdp.on("Network.webSocketFrameSent", self._frame)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})

    def _finished(self, event: dict) -> None:
        self.http += int(event["encodedDataLength"])
        url = self.urls.get(event["requestId"], event["requestId"])
        self.sizes[url] = self.sizes.get(url, 0) + int(event["encodedDataLength"])

    def _response(self, event: dict) -> None:
        headers = {k.lower(): v for k, v in event["response"]["headers"].items()}
        self.encodings[event["response"]["url"]] = headers.get("content-encoding", "")
        self.urls[event["requestId"]] = event["response"]["url"]

    def _frame(self, event: dict) -> None:
        frame = event["response"]
        data = frame["payloadData"]
        self.ws += len(base64.b64decode(data)) if frame["opcode"] == 2 else len(data.encode())


def test_phone_first_visit_transfers_under_a_third(server, browser):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True,
                              has_touch=True)
    try:
        page = ctx.new_page()
        meter = Meter(ctx.new_cdp_session(page))
        page.goto(server + "/")
        wait_finished(page, "全校总览", 2, timeout_s=90)
        page.wait_for_timeout(1500)  # late requests (fonts, component frames) are part of the visit
        total = meter.http + meter.ws
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "phone_weight.txt").write_text(
            f"phone first visit (390x844, overview): {total / 1e6:.2f} MB = HTTP {meter.http / 1e6:.2f} MB "
            f"(encoded) + websocket {meter.ws / 1e6:.2f} MB\n", encoding="utf-8")
        # Streamlit's bundle itself goes compressed (tiny chunks under the minimum size may not)
        scripts = {u: e for u, e in meter.encodings.items()
                   if u.endswith(".js") and "/static/" in u and meter.sizes.get(u, 0) > 10_000}
        assert scripts and all(e == "gzip" for e in scripts.values()), scripts
        largest = sorted(meter.sizes.items(), key=lambda kv: -kv[1])[:12]
        assert total < LIMIT_BYTES, (f"{total / 1e6:.2f} MB", largest)
        # the copy block, left out of the first visit, is there once its expander is opened
        assert page.locator('[data-testid="stCode"]').count() == 0
        page.get_by_text("复制本季度要点").click()
        page.locator('[data-testid="stCode"]').first.wait_for(timeout=30_000)
        assert "支部" in page.locator('[data-testid="stCode"]').first.inner_text()
    finally:
        ctx.close()
