"""Serve the dashboard with a warm start: `python -m streamlit run serve.py` (same options as for app.py).

app.py stays the Streamlit script; this wraps it in st.App so that, as soon as the server listens, a
background thread opens every page once (pages/warmup.py): imports, page scripts and data caches are
ready before the first real visitor, and a missing database starts building the demo school at once; what
is alive then is left out of the garbage collector's later passes (warm_up).
It also mounts the route that serves archived originals to a signed-in admin (pages/archive_links.py), and
compresses Streamlit's own JavaScript and CSS (GZIP, below).
`streamlit run app.py` still works, without the warm start.
"""
from __future__ import annotations

import gc
import threading
from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from streamlit import config

from pages import archive_links


def warm_up(url: str) -> None:
    """Open every page once, then move everything alive into the collector's permanent generation.

    Python's cyclic garbage collector runs by itself as objects are allocated (Streamlit's own full collection
    after each run is off, .streamlit/config.toml), and each full pass walks every tracked object: after the
    warm start that is the imported pandas, plotly (its validators) and Streamlit, about 150,000 objects that
    live as long as the server. gc.freeze() leaves them out of every later pass (what is garbage is collected
    first). Measured: about a sixth of the CPU of building figures and copying frames went to the collector
    before, a twentieth after; docs/design.md § Scale has the effect per page view with 30 viewers.
    """
    from pages.warmup import visit_pages

    visit_pages(url)
    gc.collect()
    gc.freeze()


@asynccontextmanager
async def warm_start(_app):
    """Start the warm-up visit in the background; the server does not wait for it."""
    from pages.warmup import stream_url

    url = stream_url(config.get_option("server.address"), int(config.get_option("server.port")),
                     config.get_option("server.baseUrlPath") or "",
                     tls=bool(config.get_option("server.sslCertFile")))
    threading.Thread(target=warm_up, args=(url,), name="dangjian-warm-start", daemon=True).start()
    yield


# Streamlit serves its static bundle (about 11 MB of JavaScript) and the page document uncompressed, leaving
# compression to a reverse proxy; many schools run it without one, and a phone's first visit then costs 11 MB.
# Starlette's stock middleware, outside Streamlit's own: it leaves websockets, 206 range replies, images and
# fonts, event streams and anything already carrying Content-Encoding alone; bodies over 128 KiB are compressed
# in a worker thread. Level 6 is zlib's usual trade-off: within a few per cent of 9 at a fraction of the CPU
# (each hashed bundle is fetched once per browser, then cached for a year). docs/admin.md has the numbers.
GZIP = Middleware(GZipMiddleware, minimum_size=1000, compresslevel=6)

# Archived originals are served by our own route, only through short-lived links bound to the admin's session
# (pages/archive_links.py), never from Streamlit's /media store.
app = st.App(Path(__file__).resolve().parent / "app.py", lifespan=warm_start,
             routes=[archive_links.route(config.get_option("server.baseUrlPath") or "")], middleware=[GZIP])
