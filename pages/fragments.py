"""Parts of a page that rerun on their own (st.fragment): a click inside one (a tab, a page of a table, a ticked
row, a filter that only it reads) reruns that part, not the whole page with its charts.

A fragment's own rerun does not pass through common.run_page, so `part` gives it the same frame: the Chinese
error guard instead of a traceback, and this run's URL changes written as one history step (state.flush_url).
In a full run of the page the fragment is simply called: run_page around the page already does both.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx


def fragment_only_run() -> bool:
    """Whether this script run reruns fragments only (a widget inside one was used), not the whole page."""
    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def part(fn: Callable[..., None]) -> Callable[..., None]:
    """`fn` as a fragment of its page, framed like the page itself (see the module docstring)."""

    @functools.wraps(fn)
    def framed(*args: Any, **kwargs: Any) -> None:
        if not fragment_only_run():
            fn(*args, **kwargs)
            return
        from pages import common as c

        c.run_page(lambda: fn(*args, **kwargs))

    return st.fragment(framed)


def opened(label: str, key: str, container: Any = None, **kwargs: Any) -> Any:
    """An expander whose body is drawn only while it is open (on_change="rerun"): the expander when open, else None.
    A closed expander's body still costs the browser its elements (a table is a data grid of canvases), so the
    details below a chart (its table and downloads) are sent when asked for. Inside a fragment (`part`), opening it
    reruns that part alone; elsewhere, the page."""
    box = (container or st).expander(label, key=key, on_change="rerun", **kwargs)
    return box if box.open else None
