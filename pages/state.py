"""Widget state that survives page switches and lives in the URL, and going to another page with it."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

# ---- state that survives page switches and lives in the URL -------------------------------------
# The browser adds a history entry whenever a run changes the URL (Streamlit's page_info_changed pushes unless
# the run follows Back/Forward). So the URL changes only on a user's step: a widget changed, a row or bar picked,
# a page opened; all changes of one run go out as one write (flush_url, at the end of run_page). A default is
# never written. A URL value that differs from the one this session last left is a link or Back/Forward: it wins.
_KEEP = "_keep_"
_URL_SEEN = "_url_seen_"  # (page, {key: value}) as the URL was left at the end of the last run
_URL_PENDING = "_url_pending_"  # keys the user changed in this run: key -> new value (None removes it)
_URL_SHOWN = "_url_shown_"  # this run's widget values: key -> (URL value, chosen)
_URL_KEYS = "_url_keys_"  # + page id: the state widgets that page showed in its last run


def _page_id() -> str:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return getattr(ctx, "page_script_hash", "") or ""


def _url_get(key: str, multi: bool) -> Any:
    if key not in st.query_params:
        return None
    return st.query_params.get_all(key) if multi else st.query_params.get(key)


def url_changed(key: str) -> bool:
    """Whether the URL's `key` changed since this session's last run left it: a link, Back or Forward.

    A key missing after a page switch is no change (the sidebar opens pages without parameters); a key gone
    on the same page is (Back to the view before it was set)."""
    page, seen = st.session_state.get(_URL_SEEN, (None, {}))
    url = st.query_params.get_all(key)
    if not url:
        return key in seen and page == _page_id()
    return url != seen.get(key)


def url_request(key: str, value: Any) -> None:
    """Put `value` (None removes the key) in the URL at the end of this run, as one step of the history."""
    st.session_state.setdefault(_URL_PENDING, {})[key] = value


def url_param(key: str) -> str | None:
    """The URL's value of `key` as this run will leave it: a change requested in this run (url_request), else
    the URL's."""
    pending = st.session_state.get(_URL_PENDING, {})
    return pending[key] if key in pending else st.query_params.get(key)


def pick(widget_key: str, url_key: str, values: Sequence[str], kind: str = "rows") -> str | None:
    """The value picked in a dataframe (kind rows) or plotly chart (kind points) keyed `widget_key`, read before
    it is drawn: a new pick goes into the URL as `url_key` (one history step). Returns the URL's value as this
    run leaves it. Key the widget by the returned value, so a pick undone by Back leaves no ticked row."""
    state = st.session_state.get(widget_key) or {}
    selection = state.get("selection") or {}
    rows = list(selection.get("rows" if kind == "rows" else "point_indices") or [])
    if rows and 0 <= rows[0] < len(values) and values[rows[0]] != url_param(url_key):
        url_request(url_key, values[rows[0]])
    return url_param(url_key)


def _remember(key: str) -> None:
    st.session_state[_KEEP + key] = st.session_state[key]
    url_request(key, st.session_state[key])


def flush_url() -> None:
    """Write this run's requested URL changes as one update (one history entry), then note the URL as left.

    With a change requested, every state widget of the run is mirrored as shown (a branch that followed its
    college's change, too); defaults nobody chose are left out."""
    pending = st.session_state.pop(_URL_PENDING, None)
    shown = st.session_state.pop(_URL_SHOWN, {})
    if pending:
        params: dict[str, Any] = _url_now()
        for key, (value, chosen) in shown.items():
            if chosen and value not in (None, []):
                params[key] = value
            else:
                params.pop(key, None)
        for key, value in pending.items():
            if key not in shown:
                if value in (None, []):
                    params.pop(key, None)
                else:
                    params[key] = value
        wanted = {k: v if isinstance(v, list) else [str(v)] for k, v in params.items()}
        if wanted != _url_now():
            st.query_params.from_dict(wanted)
    st.session_state[_URL_SEEN] = (_page_id(), _url_now())
    if shown:
        st.session_state[_URL_KEYS + _page_id()] = list(shown)


def write_choice_now(key: str, value: str) -> None:
    """Put a choice made in this run into the URL at once (with the page's other kept choices, as flush_url
    will mirror them), instead of when the run ends; flush_url then finds it written (no second history entry
    unless it has more to mirror)."""
    if key not in st.session_state.get(_URL_PENDING, {}) or st.query_params.get(key) == value:
        return
    params = _url_now()
    for other in st.session_state.get(_URL_KEYS + _page_id(), ()):
        kept = st.session_state.get(_KEEP + other)
        if other != key and kept not in (None, []):
            params[other] = [str(v) for v in kept] if isinstance(kept, list) else [str(kept)]
    st.query_params.from_dict({**params, key: [value]})
    # noted as this session's own at once: a run cut short by the next click never reaches flush_url, and
    # the next run must not take this value for a link that overrides the newer choice
    st.session_state[_URL_SEEN] = (_page_id(), _url_now())


def _url_now() -> dict[str, list[str]]:
    return {k: st.query_params.get_all(k) for k in st.query_params}


def _initial(key: str, options: list, default: Any, multi: bool,
             max_selections: int | None = None) -> tuple[Any, bool]:
    """The widget's starting value and whether it was chosen (this session, or through a link).

    A URL value this session has not seen (a link, Back or Forward) wins over the session's last choice; a
    key gone from the URL on the same page (Back) returns the widget to its default. A multi-select keeps the
    known values of a link once each, at most `max_selections` of them.
    """
    url = _url_get(key, multi)
    if url_changed(key):
        value, chosen = (url, True) if url is not None else (default, False)
        if not chosen:
            st.session_state.pop(_KEEP + key, None)
    elif _KEEP + key in st.session_state:
        value, chosen = st.session_state[_KEEP + key], True
    elif url is not None:
        value, chosen = url, True
    else:
        value, chosen = default, False
    if multi:
        picked = list(dict.fromkeys(v for v in (value or []) if v in options))[:max_selections]
        return (picked if picked or not value else [v for v in default if v in options]), chosen
    return (value if value in options else default), chosen


def coming_value(key: str, default: Any = None) -> Any:
    """The value a single-choice state_widget `key` is about to show, for text placed before the widget (a label
    summing up filters): a link's new URL value, else the session's widget value or last choice, else the URL,
    else `default`. Not checked against the options (the widget does that)."""
    url = _url_get(key, False)
    if url_changed(key):
        return url if url is not None else default
    for got in (st.session_state.get(key), st.session_state.get(_KEEP + key), url):
        if got is not None:
            return got
    return default


def state_widget(kind: str, label: str, options: Sequence[Any], key: str, default: Any = None,
                 container: Any = None, **kwargs: Any) -> Any:
    """A selectbox / multiselect / radio whose value survives page switches and is mirrored in the URL.

    The value comes, in order, from a URL value this session has not seen yet (a link, Back), this session's
    last choice, the URL (?key=...), then `default`. Options are strings (so they round-trip through the URL).
    kind: select | multi | radio. The URL changes only when the user changes the widget (see flush_url).
    """
    container = container or st
    options = list(options)
    multi = kind == "multi"
    if default is None and not multi:
        default = options[0] if options else None
    value, chosen = _initial(key, options, list(default or []) if multi else default, multi,
                             kwargs.get("max_selections"))
    # Always re-seed: after a page switch the same key belongs to a new widget (ids include the page).
    st.session_state[key] = value
    widget = {"select": container.selectbox, "multi": container.multiselect, "radio": container.radio}[kind]
    out = widget(label, options, key=key, on_change=_remember, args=(key,), **kwargs)
    url_value = [str(v) for v in out] if multi else (None if out is None else str(out))
    if chosen:
        st.session_state[_KEEP + key] = out
    st.session_state.setdefault(_URL_SHOWN, {})[key] = (url_value, chosen or key in st.session_state.get(
        _URL_PENDING, {}))
    return out


def _open(page: str, params: dict[str, str], label: str) -> None:
    """Open `page` with `params` in its URL as one history entry (pages.follow: a link followed at once), each
    param kept like a choice; this run's own URL changes are dropped (the link is the step's one entry)."""
    from pages import follow

    for key, value in params.items():
        st.session_state[_KEEP + key] = value
    st.session_state.pop(_URL_PENDING, None)
    follow.link(page, label, params)


def open_branch(period: str, college: str, code: str, *, dim: str | None = None, item: str | None = None) -> None:
    """Go to 支部画像 showing one branch, optionally at one dimension (its filter preselected) and with one
    item's ledger rows open (the choice is kept like any other, and put in the URL)."""
    extra = {k: v for k, v in (("dim", dim), ("item", item)) if v is not None}
    _open("pages/branch.py", {"period": period, "college": college, "branch": code, **extra}, "打开该支部画像")


def open_college(period: str, college: str) -> None:
    """Go to 二级党组织画像 showing one college (kept like any other choice, and put in the URL)."""
    _open("pages/college.py", {"period": period, "college": college}, "打开该二级党组织画像")


def page_link(container: Any, page: str, label: str, icon: str, query_params: dict[str, str]) -> None:
    """st.page_link to another page of app.py's navigation. A page file run on its own (AppTest) has no
    navigation to link into: there a button switches to the page instead, with the same parameters."""
    from streamlit.errors import StreamlitPageNotFoundError

    try:
        container.page_link(page, label=label, icon=icon, query_params=query_params)
    except StreamlitPageNotFoundError:
        if container.button(label, icon=icon, key=f"link_{page}"):
            st.switch_page(page, query_params=query_params)
