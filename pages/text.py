"""What users typed (branch and college names, topics, evidence, file names) shown as text, never as markup.

Two renderers interpret the strings the pages hand them:
- Streamlit Markdown (st.title/subheader/markdown/caption/info/…, metric, expander, tab and radio labels):
  GitHub-flavoured Markdown with autolinks of bare URLs and e-mail addresses, plus Streamlit's directives
  (:red[…], :material/icon:, $LaTeX$). `md_text()` backslash-escapes every ASCII punctuation character, which
  CommonMark allows for all of them. Bare URLs and e-mail addresses are linked after parsing, in the text the
  escapes leave (remark-gfm), so a WORD JOINER (U+2060, invisible, no line break) goes into 'http:', 'www.' and
  after '@': the text reads the same and is no link (a copy of it carries the invisible character).
  st.dataframe cells and selectbox / multiselect options are plain text and need nothing.
- plotly (axis tick labels, legend names, bar text, hover text): a subset of HTML (<b>, <i>, <br>, <a href>,
  <span style>, <sub>, <sup>) and entities; hovertemplate and texttemplate also substitute %{…}. `plot_text()`
  writes &, < and > as entities plotly decodes (it knows &amp; &lt; &gt;, not &quot;) and '%{' as '%&#123;'.
Escape each user string where it meets its renderer, and only there: a helper that builds markup around data
(hbar's two-line labels, the radar's bold values) escapes the data, never the markup.
"""
from __future__ import annotations

import re

_MD_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")  # ASCII punctuation: all of it may be backslash-escaped
_AUTOLINK = re.compile(r"(?i)(?<=http)(?=s?:)|(?<=www)(?=\.)|(?<=@)")  # where GFM would start a link
WORD_JOINER = "\u2060"


def md_text(value: object) -> str:
    """`value` as literal text inside Streamlit Markdown: '**粗体**' shows the asterisks, a URL is no link."""
    text = _AUTOLINK.sub(WORD_JOINER, " ".join(str(value).splitlines()))
    return _MD_SPECIAL.sub(r"\\\1", text)


def plot_text(value: object) -> str:
    """`value` as literal text inside a plotly label, legend or hover text (also safe inside a template)."""
    return (str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("%{", "%&#123;"))
