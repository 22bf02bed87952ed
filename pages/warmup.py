"""Warm start: one headless visit to every dashboard page right after the server starts.

The first visitor after a restart would otherwise pay for the server's first script run: importing pandas,
plotly and the pages, compiling the page scripts and filling the data caches (about 1.5 s at 1,000 branches).
`serve.py` starts `visit_pages` in a background thread from its st.App lifespan. It talks to the server as a
browser does — Streamlit's websocket, one BackMsg per page, ForwardMsgs read until the script finished — so
app.py runs first (its st.navigation also ends Streamlit's legacy `pages/` directory mode before any real
visitor arrives), the caches are filled by the real page code, and nothing here knows how the pages work.
"""
from __future__ import annotations

import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass

from streamlit.logger import get_logger
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

log = get_logger("dangjian.warmup")  # Streamlit's format and level, so the line shows in the server log

SCRIPT_TIMEOUT_S = 300.0  # the first start may build the demo school (about 20 s) before the page runs
_RERUN = {"FINISHED_EARLY_FOR_RERUN"}


def stream_url(address: str | None, port: int, base_path: str = "", *, tls: bool = False) -> str:
    """The server's websocket address as seen from the same machine."""
    host = address if address and address not in ("0.0.0.0", "::") else "127.0.0.1"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    base = "/".join(p for p in base_path.split("/") if p)
    return f"{'wss' if tls else 'ws'}://{host}:{port}/{base + '/' if base else ''}_stcore/stream"


def _open(url: str, wait_s: float):
    """Connect to the websocket, retrying while the server is still binding its port."""
    tls = None
    if url.startswith("wss:"):  # our own server over loopback: its certificate names the public host
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return connect(url, subprotocols=["streamlit"], open_timeout=5, max_size=None, ssl=tls)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@dataclass(frozen=True)
class Visit:
    """How one page's script run ended, the page title (level-1 heading) it showed, and the url paths of
    the other pages its navigation listed."""

    status: str
    title: str | None
    pages: tuple[str, ...] = ()


def _run_page(ws, page: str, timeout_s: float) -> Visit:
    """Ask for one page and read until its script run ended (reruns included)."""
    msg = BackMsg()
    msg.rerun_script.query_string = ""
    msg.rerun_script.page_name = page
    ws.send(msg.SerializeToString())
    deadline = time.monotonic() + timeout_s
    title, pages = None, ()
    while True:
        fwd = ForwardMsg()
        fwd.ParseFromString(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        kind = fwd.WhichOneof("type")
        if kind == "delta" and fwd.delta.new_element.WhichOneof("type") == "heading":
            heading = fwd.delta.new_element.heading
            if heading.tag == "h1" and title is None:
                title = heading.body
        elif kind == "navigation":
            pages = tuple(p.url_pathname for p in fwd.navigation.app_pages
                          if not p.is_default and not p.external_url)
        elif kind == "script_finished":
            status = ForwardMsg.ScriptFinishedStatus.Name(fwd.script_finished)
            if status not in _RERUN:
                return Visit(status, title, pages)
            title = None


def visit_pages(url: str, pages: Iterable[str] | None = None, *, connect_wait_s: float = 60.0,
                timeout_s: float = SCRIPT_TIMEOUT_S) -> dict[str, Visit]:
    """Run pages once through the server at `url`, in one session; returns {url path: Visit}.

    By default the default page ("") first, then every page its navigation lists, in order. Never raises:
    a warm start that fails only means the first visitor waits a little longer.
    """
    done: dict[str, Visit] = {}
    started = time.perf_counter()
    try:
        with _open(url, connect_wait_s) as ws:
            todo = list(pages) if pages is not None else [""]
            while todo:
                page = todo.pop(0)
                done[page] = visit = _run_page(ws, page, timeout_s)
                if pages is None and page == "":
                    todo += [p for p in visit.pages if p not in done]
    except Exception:  # noqa: BLE001 - see docstring
        log.warning("warm start stopped after %s", list(done), exc_info=True)
        return done
    # a page that showed no title stopped early (e.g. at the viewer password): its path is logged instead
    log.info("warm start: %s in %.1f s", ", ".join(v.title or f"/{p}（无标题）" for p, v in done.items()),
             time.perf_counter() - started)
    return done
