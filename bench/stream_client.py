"""A headless Streamlit session for the benches: Streamlit's websocket, one BackMsg per page, ForwardMsgs read until
the script run finished — what a browser's tab does, without rendering (the same protocol as pages/warmup.py).

`Session(url).visit(page)` returns a `Visit`: seconds to the end of the script run, websocket bytes received, and
what the page sent (elements by type, plotly charts and the bytes of their figures, exceptions, error alerts).
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

_RERUN = {"FINISHED_EARLY_FOR_RERUN"}


@dataclass
class Visit:
    """One page run as a session saw it."""

    page: str
    seconds: float = 0.0
    ws_bytes: int = 0
    messages: int = 0
    status: str = ""
    title: str | None = None
    elements: Counter = field(default_factory=Counter)
    chart_bytes: int = 0  # the plotly figures' JSON
    exceptions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # st.error alerts
    pages: tuple[str, ...] = ()  # the url paths the navigation lists

    @property
    def charts(self) -> int:
        return self.elements.get("plotly_chart", 0)

    @property
    def failed(self) -> bool:
        return bool(self.exceptions) or self.status not in ("FINISHED_SUCCESSFULLY",)


def stream_url(base: str) -> str:
    """ws://host:port/_stcore/stream from http://host:port."""
    return base.replace("http://", "ws://").replace("https://", "wss://").rstrip("/") + "/_stcore/stream"


class Session:
    """One websocket = one Streamlit session (st.session_state lives as long as it)."""

    def __init__(self, base: str, open_timeout: float = 30):
        self.ws = connect(stream_url(base), subprotocols=["streamlit"], open_timeout=open_timeout, max_size=None)

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001 - closing a dead socket
            pass

    def visit(self, page: str, timeout_s: float = 300, query: str = "") -> Visit:
        """Run `page` (its url path, "" for the default page) and read until its script run ended."""
        msg = BackMsg()
        msg.rerun_script.query_string = query
        msg.rerun_script.page_name = page
        out = Visit(page)
        start = time.perf_counter()
        self.ws.send(msg.SerializeToString())
        deadline = start + timeout_s
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                out.status = "TIMEOUT"
                out.seconds = time.perf_counter() - start
                return out
            raw = self.ws.recv(timeout=left)
            out.ws_bytes += len(raw)
            out.messages += 1
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                el = fwd.delta.new_element
                what = el.WhichOneof("type")
                out.elements[what] += 1
                if what == "heading" and el.heading.tag == "h1" and out.title is None:
                    out.title = el.heading.body
                elif what == "plotly_chart":
                    out.chart_bytes += len(el.plotly_chart.spec)
                elif what == "exception":
                    out.exceptions.append(f"{el.exception.type}: {el.exception.message}")
                elif what == "alert" and el.alert.format == Alert.ERROR:
                    out.errors.append(el.alert.body)
            elif kind == "navigation":
                out.pages = tuple(p.url_pathname for p in fwd.navigation.app_pages if not p.external_url)
            elif kind == "script_finished":
                status = ForwardMsg.ScriptFinishedStatus.Name(fwd.script_finished)
                if status not in _RERUN:
                    out.status = status
                    out.seconds = time.perf_counter() - start
                    return out
                out.title = None
                out.elements.clear()
