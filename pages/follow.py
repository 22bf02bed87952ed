"""Opening another page from a click on a chart or a table row as ONE step of the browser's history.

st.switch_page(page, query_params=…) makes two history entries: Streamlit's frontend pushes the new query string on
the old page's path first, then the new page's path; Back from the new page then lands on that in-between
address. A click on st.page_link changes page and query string together, in one entry. So a pick that opens a page
shows a link to it (a fallback a person can click) and a tiny script clicks that link at once.
"""
from __future__ import annotations

import uuid

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

# Trusted, fixed code (no user data): wait for the link drawn beside it and click it once.
_JS = """
export default function ({ data }) {
  const done = (window.__djFollowed = window.__djFollowed || new Set());
  if (!data || done.has(data.box)) return;
  let tries = 0;
  const tick = () => {
    const link = document.querySelector(`.st-key-${data.box} a[data-testid="stPageLink-NavLink"]`);
    if (link) {
      done.add(data.box);
      link.click();
    } else if (++tries < 200) {
      setTimeout(tick, 25);
    }
  };
  tick();
}
"""
_follow = st.components.v2.component("dj_follow_link", js=_JS, isolate_styles=False)


def link(page: str, label: str, params: dict[str, str], container=None) -> bool:
    """Show a link to `page` with `params` and follow it at once; False where the page is not part of a
    navigation (a page file run on its own, as AppTest does), where nothing is shown."""
    box = f"dj_follow_{uuid.uuid4().hex}"  # a new link each time: the script clicks each one once
    holder = (container or st).container(key=box)
    try:
        holder.page_link(page, label=label, icon=":material/open_in_new:", query_params=params)
    except StreamlitPageNotFoundError:
        return False
    with holder:
        _follow(data={"box": box}, key=f"{box}_js", height=0)
    return True
