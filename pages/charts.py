"""Charts of the dashboard pages: the colour scheme and plotly template, the figure builders (radar, bars,
heatmap, trend lines with labels that do not collide), and the figures kept per content (`kept`), so a later
visitor of the same data is not built the same figure again."""
from __future__ import annotations

import functools
import hashlib
import html
import logging
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ParamSpec

import numpy as np

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st
from plotly.basedatatypes import BaseFigure

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # pages run directly (AppTest) have only pages/ on the path
    sys.path.insert(0, str(ROOT))

from pages.common import dim_names, guide_key, type_ids, type_name  # noqa: E402
from pages.tables import fmt_score  # noqa: E402
from pages.text import plot_text  # noqa: E402
from pipelines import scoring  # noqa: E402
from pipelines.guide.period import Period  # noqa: E402

# ---- colours ------------------------------------------------------------------------------------
# pipelines.palette is the one palette; pages use its colours through this module (charts.RED, …)
from pipelines.palette import (CATEGORICAL, DARK_RED, DIMENSION_COLORS, DOWN_COLOR, GRADE_COLORS, GREY, GRID, INK, LIGHT_GREY,  # noqa: E402,F401
                               LIGHT_GREY_LINE, LINE_PALETTE, PAPER, RED, SCHOOL_COLOR, SCORE_SCALE, TYPE_COLORS,
                               UP_COLOR)


FONT = "Noto Sans CJK SC, Noto Sans SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, sans-serif"

pio.templates["dangjian"] = go.layout.Template(
    layout=dict(
        font=dict(family=FONT, size=14, color=INK),
        colorway=CATEGORICAL,
        paper_bgcolor=PAPER,
        plot_bgcolor=PAPER,
        xaxis=dict(gridcolor=GRID, zerolinecolor=LIGHT_GREY, linecolor=LIGHT_GREY, automargin=True),
        yaxis=dict(gridcolor=GRID, zerolinecolor=LIGHT_GREY, linecolor=LIGHT_GREY, automargin=True),
        hoverlabel=dict(font=dict(family=FONT, size=13)),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0, font=dict(size=13)),
        margin=dict(l=10, r=20, t=40, b=10),
        polar=dict(
            bgcolor="white",
            radialaxis=dict(gridcolor=GRID, linecolor=LIGHT_GREY),
            angularaxis=dict(gridcolor=GRID, linecolor=LIGHT_GREY),
        ),
    )
)
# every figure starts from the dashboard's template (plotly copies the default template into each new figure):
# setting it afterwards would copy plotly's large default first. The PDF's charts name their own template.
pio.templates.default = "dangjian"
# Streamlit's plotly bundle carries only the English locale, so the Chinese one goes in the config itself
# (plotly's `locales` option): the toolbar's tooltips and the double-click hint read in Chinese.
ZH_CN = {"dictionary": {
    "Autoscale": "自动缩放", "Box Select": "框选", "Compare data on hover": "悬停时比较数据",
    "Double-click on legend to isolate one trace": "双击图例只看这一条", "Double-click to zoom back out": "双击恢复原始大小",
    "Download plot as a png": "下载图片（PNG）", "Download plot as a PNG": "下载图片（PNG）",
    "Download plot": "下载图片", "Lasso Select": "套索选择", "Pan": "平移",
    "Produced with Plotly.js": "由 Plotly.js 生成", "Reset": "重置", "Reset axes": "重置坐标轴", "Reset view": "重置视图",
    "Reset views": "重置视图", "Show closest data on hover": "悬停时显示最近的数据", "Snapshot succeeded": "图片已生成",
    "Taking snapshot - this may take a few seconds": "正在生成图片，请稍候", "Zoom": "缩放", "Zoom in": "放大",
    "Zoom out": "缩小", "Toggle Spike Lines": "显示/隐藏辅助线",
    "Toggle show closest data on hover": "切换悬停时显示最近的数据"}}
PLOTLY_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"], "responsive": True,
                 "locale": "zh-CN", "locales": {"zh-CN": ZH_CN}}


# ---- kept figures ----------------------------------------------------------------------------------
log = logging.getLogger("dangjian.pages")
P = ParamSpec("P")
FIGURES_KEPT = 256
"""Figures kept in this server process, least recently shown dropped first (most are a few KB; the overview's
heat map at 1,000 branches a few hundred)."""


class KeptFigure:
    """A built figure as every later visitor gets it: plotly's dict of it (Figure.to_dict: arrays as typed
    arrays, the template in), taken once and never changed afterwards. `show` hands it to Streamlit without a
    copy; there is nothing to change it with, so a page that needs another look asks its builder for it."""

    __slots__ = ("_spec",)

    def __init__(self, fig: go.Figure) -> None:
        self._spec = fig.to_dict()

    def json(self) -> str:
        """The figure as Streamlit sends it (plotly's JSON of the kept dict)."""
        return pio.to_json(self._spec, validate=False)


class _KeptSpec(BaseFigure):
    """What `show` hands st.plotly_chart for a kept figure. Streamlit asks a plotly figure for nothing but
    `to_dict()` (plotly.tools.return_figure_from_figure_or_data), then encodes and hashes that dict; this one
    answers with the kept dict itself, so a view costs no deep copy and no validation of the figure. It reads
    the dict only (tests/test_charts_kept.py shows a kept figure twice and compares it with what it was); it is
    never a whole plotly figure (plotly's __init__ is not run)."""

    def __init__(self, kept: KeptFigure) -> None:  # noqa: D107 - no super().__init__: nothing of it is used
        self._kept_spec = kept._spec

    def to_dict(self) -> dict:
        return self._kept_spec


_kept: OrderedDict[tuple, KeptFigure] = OrderedDict()
_kept_lock = threading.Lock()


def kept(builder: Callable[P, go.Figure | KeptFigure]) -> Callable[P, KeptFigure]:
    """Decorate a figure builder so it builds each figure once: the result is kept per content of the arguments
    (frames and series by their values, index, columns and types; lists, dicts and scalars by value), the
    guide (it names the axes) and the builder's code, and a call with equal arguments gets the kept figure
    (a KeptFigure, for `show`). New data means new arguments, so it is built again; nothing is keyed on
    an object's identity (cached frames reach a page as copies). Thread-safe; two visitors asking for a new
    figure at the same moment may both build it. An argument that has no content key (an unknown type) makes the
    figure be built every time, never wrongly shared. Iterators among the arguments are read into lists first.
    A builder may call another kept builder and return its figure as it is."""
    code = builder.__code__
    who = (code.co_filename, builder.__qualname__, hashlib.blake2b(code.co_code, digest_size=8).hexdigest())

    @functools.wraps(builder)
    def keeping(*args: P.args, **kwargs: P.kwargs) -> KeptFigure:
        args = tuple(list(a) if isinstance(a, Iterator) else a for a in args)  # type: ignore[assignment]
        kwargs = {k: list(v) if isinstance(v, Iterator) else v for k, v in kwargs.items()}  # type: ignore[assignment]
        try:
            key = (*who, guide_key(), content_key((args, sorted(kwargs.items()))))
        except TypeError as e:
            log.debug("figure %s built without keeping: %s", builder.__qualname__, e)
            return _as_kept(builder(*args, **kwargs))
        with _kept_lock:
            fig = _kept.get(key)
            if fig is not None:
                _kept.move_to_end(key)
                return fig
        fig = _as_kept(builder(*args, **kwargs))
        with _kept_lock:
            fig = _kept.setdefault(key, fig)  # a figure kept meanwhile by another visitor is the same figure
            _kept.move_to_end(key)
            while len(_kept) > FIGURES_KEPT:
                _kept.popitem(last=False)
        return fig

    return keeping


def _as_kept(fig: go.Figure | KeptFigure) -> KeptFigure:
    return fig if isinstance(fig, KeptFigure) else KeptFigure(fig)


def content_key(value: Any) -> str:
    """A digest of what `value` holds (see `kept`); TypeError for a type it does not know."""
    h = hashlib.blake2b(digest_size=16)
    _feed(h, value)
    return h.hexdigest()


def _feed(h: Any, v: Any) -> None:
    if v is None or isinstance(v, (bool, int, float, str, np.generic)):
        h.update(f"{type(v).__name__}:{v!r}\x1f".encode())
    elif isinstance(v, (list, tuple)):
        h.update(f"{type(v).__name__}[{len(v)}\x1f".encode())
        for x in v:
            _feed(h, x)
    elif isinstance(v, dict):
        h.update(f"dict[{len(v)}\x1f".encode())
        for k, x in v.items():
            _feed(h, k)
            _feed(h, x)
    elif isinstance(v, (pd.DataFrame, pd.Series)):
        columns = list(v.items()) if isinstance(v, pd.DataFrame) else [(v.name, v)]
        h.update(f"{type(v).__name__}{v.shape}{[(k, c.dtype) for k, c in columns]!r}{v.index.dtype}\x1f".encode())
        _feed_values(h, v.index)
        for _, column in columns:
            _feed_values(h, column)
    elif isinstance(v, np.ndarray) and v.dtype != object:
        h.update(f"ndarray{v.shape}{v.dtype}\x1f".encode())
        h.update(np.ascontiguousarray(v).tobytes())
    elif v is pd.NA or v is pd.NaT:
        h.update(f"{v!r}\x1f".encode())
    else:
        raise TypeError(f"no content key for {type(v).__name__}")


def _feed_values(h: Any, values: pd.Index | pd.Series) -> None:
    """A column's (or an index's) values: numbers and times as their bytes, anything else by the repr of its
    Python values (distinct values have distinct reprs: 'nan' the text is not nan the number)."""
    if isinstance(values, pd.RangeIndex):
        h.update(f"range({values.start},{values.stop},{values.step})\x1f".encode())
    elif isinstance(values.dtype, np.dtype) and values.dtype.kind in "biufcmM":
        h.update(np.ascontiguousarray(values.to_numpy()).tobytes())
    else:
        h.update(repr(values.tolist()).encode())
    h.update(b"\x1e")


# ---- figures ---------------------------------------------------------------------------------------
def show(fig: go.Figure | KeptFigure, key: str | None = None, selectable: bool = False) -> list[int]:
    """Render a figure (built with the dashboard template, the default) full width; with `selectable`, a click
    on a point or bar reruns the page and the indices of the selected points are returned (else []). A kept
    figure goes to Streamlit as it is kept (never changed)."""
    spec = _KeptSpec(fig) if isinstance(fig, KeptFigure) else fig
    if not selectable:
        st.plotly_chart(spec, width="stretch", theme=None, config=PLOTLY_CONFIG, key=key)
        return []
    event = st.plotly_chart(spec, width="stretch", theme=None, config=PLOTLY_CONFIG, key=key, on_select="rerun",
                            selection_mode="points")
    return list(((event or {}).get("selection") or {}).get("point_indices") or [])


@kept
def radar(series: Sequence[dict], height: int = 420, labelled: int | None = 0, big: bool = False) -> go.Figure:
    """A 7-axis radar. Each series: {name, values (7), color, dash?, fill?, hover? (7 extra hover lines)}.

    The `labelled` series (index, None for none) has its values written under the axis names, so the
    chart reads without hovering and no number sits on top of a line. `big`: the meeting screen's larger type.
    """
    axes = dim_names()
    if labelled is not None and 0 <= labelled < len(series):
        vals = series[labelled]["values"]
        color = series[labelled]["color"]
        axes = [f"{a}<br><span style='color:{color}'><b>{fmt_score(v)}</b></span>" for a, v in zip(axes, vals)]
    fig = go.Figure()
    for i, s in enumerate(series):
        values = [None if pd.isna(v) else float(scoring.shown(v)) for v in s["values"]]  # as labelled
        main = i == labelled
        fig.add_trace(go.Scatterpolar(
            r=values + values[:1], theta=axes + axes[:1], name=plot_text(s["name"]), mode="lines+markers",
            line=dict(color=s["color"], width=3 if main else 2.2, dash=s.get("dash", "solid")),
            marker=dict(size=6 if main else 4),
            fill="toself" if s.get("fill") else None,
            fillcolor=_rgba(s["color"], 0.12) if s.get("fill") else None,
            customdata=(list(s["hover"]) + list(s["hover"])[:1]) if s.get("hover") else None,
            hovertemplate=plot_text(s["name"]) + "：%{r:.1f}" + ("<br>%{customdata}" if s.get("hover") else "")
            + "<extra></extra>",
        ))
    fig.update_layout(
        height=height + 50, showlegend=True, margin=dict(l=60, r=60, t=40, b=100),
        legend=dict(orientation="h", y=-0.17, yanchor="top", x=0.5, xanchor="center"),  # below the axis labels
        polar=dict(
            bgcolor="white",
            radialaxis=dict(range=[0, 110], tickvals=[20, 40, 60, 80, 100], angle=90, tickangle=90,
                            gridcolor=GRID, linecolor=LIGHT_GREY, tickfont=dict(size=10, color=LIGHT_GREY_LINE)),
            angularaxis=dict(rotation=90, direction="clockwise", gridcolor=GRID, linecolor=LIGHT_GREY,
                             tickfont=dict(size=14, color=INK)),
        ),
    )
    if big:
        fig.update_layout(font=dict(size=20), polar=dict(angularaxis=dict(tickfont=dict(size=22))),
                          legend=dict(font=dict(size=20)))
    return fig


def unique_labels(names: pd.Series, codes: pd.Series) -> list[str]:
    """Branch names as chart labels; a name two branches share gets its code, so their rows stay apart."""
    names, codes = pd.Series(list(names)), pd.Series(list(codes))
    return list(names.where(~names.duplicated(keep=False), names + "（" + codes + "）"))


@kept
def hbar(labels: Sequence[str], values: Sequence[float], text: Sequence[str] | None = None,
         color: str | Sequence[str] = RED, hover: Sequence[str] | None = None, height: int | None = None,
         xmax: float | None = 100, xtitle: str = "", inside: bool = False,
         track: float | None = None, labels_above: bool = False, xticks: bool = True, big: bool = False) -> go.Figure:
    """Horizontal bars, first label on top, each bar labelled with its value (readable without hover).

    inside=True writes the label inside the bar end (for long labels on bars that are near full length).
    track: a light bar behind each one running to this value (100 for a completion), so a row can be clicked
    anywhere on it, even when its bar has no length (0 %); its point indices are the bars'.
    labels_above=True writes each row's label above its bar instead of beside it, so bars and their value
    labels get the chart's whole width (long item texts on a 390 px phone); the value label then goes inside
    the bar where it fits, else after it.
    xticks=False leaves the value axis without numbers (the bars carry their own); `big`: the meeting screen's
    larger type (labels and values).
    """
    labels, values = list(labels), list(values)
    text = list(text) if text is not None else [fmt_score(v) for v in values]
    hover = list(hover) if hover is not None else labels
    # each bar's hover: its name and its value as on a label (one decimal, half up), not plotly's rounding
    hover = [f"{h}<br>{fmt_score(v)}" for h, v in zip(hover, values)]
    fig = go.Figure()
    if track is not None:
        fig.add_trace(go.Bar(y=labels, x=[track] * len(labels), orientation="h", marker_color=GRID, customdata=hover,
                             hovertemplate="%{customdata}<extra></extra>", unselected=dict(marker_opacity=1)))
        fig.update_layout(barmode="overlay")
    fig.add_trace(go.Bar(
        y=labels, x=values, orientation="h", text=text, textposition="inside" if inside else "outside",
        insidetextanchor="end", insidetextfont=dict(color="white", size=13), cliponaxis=False,
        marker_color=color, customdata=hover, hovertemplate="%{customdata}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", automargin=True)
    top = xmax or max(values or [1]) * 1.15
    fig.update_xaxes(range=[0, top * 1.02], title_text=xtitle,
                     tickvals=[0, 20, 40, 60, 80, 100] if top >= 100 else None)
    if not xticks:
        fig.update_xaxes(showticklabels=False)
    fig.update_layout(height=height or max(260, 34 * len(labels) + 60), showlegend=False, bargap=0.3,
                      margin=dict(l=10, r=40, t=20, b=30),
                      uniformtext=dict(minsize=12, mode="show"))  # labels inside short bars stay readable
    if labels_above:
        row = 52  # px per row: a 13 px label line above a 26 px bar (bargap 0.5)
        fig.data[-1].textposition = "auto"  # the value bar (the track, if any, is drawn first)
        fig.update_yaxes(showticklabels=False)
        fig.update_layout(height=height or row * len(labels) + 70, bargap=0.5, margin=dict(l=10, r=10, t=30, b=30))
        for label in labels:
            fig.add_annotation(x=0, xref="x", xanchor="left", y=label, yref="y", yanchor="bottom",
                               yshift=row * 0.25 + 1, text=label, showarrow=False, align="left",
                               font=dict(size=13, color=INK))
    if big:
        fig.update_traces(insidetextfont=dict(size=22, color="white"))
        fig.update_yaxes(tickfont=dict(size=22))
    return fig


def short_text(text: str, chars: int) -> str:
    """`text` cut to `chars` characters with an ellipsis when longer (an axis label; the whole in the hover)."""
    text = str(text)
    return text if len(text) <= chars else text[:chars - 1] + "…"


@kept
def heatmap(z: pd.DataFrame, height: int | None = None, zmin: float = 0, zmax: float = 100,
            hover_name: str = "支部", clickable: bool = False, label_chars: int = 14) -> go.Figure:
    """Rows × columns heat map with the value written in every cell.

    Row labels are cut to `label_chars` characters (whole in the hover) and the colour bar lies under the
    map, so on a 390 px phone the labels stay inside the chart and the cells keep room for their values.
    Rows sit at positions 0..n-1, so two labels that read alike after the cut stay two rows. Row labels come
    as plotly text (pages.text.plot_text): they are cut by the characters a reader sees, then escaped again.
    clickable: plotly heat maps send no selection events, so an invisible marker sits on every cell and takes the
    click (show(..., selectable=True)); the point index of cell (row i, column j) is i * len(z.columns) + j.
    """
    text = z.map(lambda v: "" if pd.isna(v) else fmt_score(v)).values  # as in every table: one decimal, half up
    rows = [str(r) for r in z.index]
    cols = list(z.columns)
    fig = go.Figure(go.Heatmap(
        z=z.values, x=cols, y=list(range(len(rows))), text=text, texttemplate="%{text}",
        textfont=dict(size=12), colorscale=SCORE_SCALE, zmin=zmin, zmax=zmax, xgap=2, ygap=2,
        colorbar=dict(title=dict(text="得分", side="right"), thickness=10, orientation="h", y=0, yanchor="top",
                      ypad=6, len=1, lenmode="fraction"),
        # the row names for the hover; a clickable map hovers on its markers instead, so it sends none
        customdata=None if clickable else [[r] * len(cols) for r in rows],
        hovertemplate=None if clickable else hover_name + "：%{customdata}<br>%{x}：%{text}<extra></extra>",
        hoverinfo="skip" if clickable else None,
    ))
    if clickable:
        hidden = dict(marker=dict(opacity=0))
        fig.add_trace(go.Scatter(
            x=cols * len(rows), y=[i for i in range(len(rows)) for _ in cols], mode="markers", showlegend=False,
            marker=dict(size=22, color="rgba(0,0,0,0)"), selected=hidden, unselected=hidden,
            customdata=[[r, v or "—"] for r, vals in zip(rows, text) for v in vals],
            hovertemplate=hover_name + "：%{customdata[0]}<br>%{x}：%{customdata[1]}<extra></extra>"))
        fig.update_layout(hoverdistance=-1)  # a click anywhere in a cell reaches its marker
    fig.update_yaxes(autorange="reversed", automargin=True, showgrid=False, tickmode="array",
                     tickvals=list(range(len(rows))),
                     ticktext=[plot_text(short_text(html.unescape(r), label_chars)) for r in rows])
    fig.update_xaxes(side="top", showgrid=False)
    fig.update_layout(height=height or max(300, 26 * len(z.index) + 120), margin=dict(l=10, r=10, t=40, b=50))
    return fig


def period_short(period: str) -> str:
    """'2026Q3' -> '2026年Q3' (Period.short_label, for chart axes); anything else as it is."""
    try:
        return Period.parse(period).short_label
    except ValueError:
        return str(period)


def _value_range(values: pd.Series, min_span: float = 10.0) -> list[float] | None:
    """A y range spanning at least `min_span` points (87.0–87.8 must not look like a collapse), with room
    above the points for their labels; never below 0 for scores."""
    vals = pd.to_numeric(values, errors="coerce").dropna()
    if vals.empty:
        return None
    lo, hi = float(vals.min()), float(vals.max())
    span = max(hi - lo, min_span)
    mid = (lo + hi) / 2
    bottom, top = mid - span / 2 - span * 0.08, mid + span / 2 + span * 0.15
    return [max(bottom, 0.0) if lo >= 0 else bottom, top]


LABEL_PX = (5, 21)  # a point label's band above (or below) its marker, in px from the point: 11 px text


def label_slots(columns: dict[str, Sequence[float]], y_range: Sequence[float] | None,
                plot_px: float) -> dict[str, list[str | None]]:
    """Where each line's point labels go so that none overlaps another at the same quarter: above the point
    ('top center') if free, else below ('bottom center'), else no label (None) — the value is still in the
    hover. `columns` maps a line to its values (NaN for a gap); the highest point of a quarter is placed first, of equal ones the first line."""
    out = {name: [None] * len(vals) for name, vals in columns.items()}
    if not columns or y_range is None:
        return out
    per_unit = plot_px / max(y_range[1] - y_range[0], 1e-9)
    lo, hi = LABEL_PX
    for i in range(len(next(iter(columns.values())))):
        points = sorted(((float(v) * per_unit, name) for name, vals in columns.items()
                         if not pd.isna(v := vals[i])), key=lambda p: -p[0])  # ties: the first line first
        taken: list[tuple[float, float]] = []
        for py, name in points:
            for slot, band in (("top center", (py + lo, py + hi)), ("bottom center", (py - hi, py - lo))):
                if all(band[1] <= a or band[0] >= b for a, b in taken):
                    out[name][i] = slot
                    taken.append(band)
                    break
    return out


@kept
def lines(df: pd.DataFrame, x: str, y: str, group: str, colors: dict[str, str] | None = None,
          height: int = 380, ytitle: str = "得分", label_last: bool = True, dashes: dict[str, str] | None = None,
          order: Sequence[str] | None = None) -> go.Figure:
    """One line per group over periods, points labelled when few lines (readable without hover); the group
    values (branch or college names) are data and are shown as text.

    `order` fixes the legend order; with more than four lines the legend moves below the plot.
    """
    fig = go.Figure()
    xs = sorted(df[x].unique(), key=Period.parse)
    groups = list(order) if order else list(dict.fromkeys(df[group]))
    series = {name: df[df[group] == name].set_index(x).reindex(xs)[y] for name in groups
              if (df[group] == name).any()}
    y_range = _value_range(df[y])
    legend_px = 24 * ((len(groups) + 2) // 3) if len(groups) > 4 else 0  # many lines: legend below
    height += legend_px
    # the plot area, a little under: the figure less the legend (and its gap), the top margin, the quarters
    plot_px = height - 90 - (legend_px + 40 if legend_px else 0)
    slots = label_slots({n: list(scoring.shown(v)) for n, v in series.items()}, y_range, plot_px)
    for name, values in series.items():
        color = (colors or {}).get(name)
        fig.add_trace(go.Scatter(
            x=[period_short(p) for p in xs], y=scoring.shown(values), name=plot_text(name),
            mode="lines+markers+text" if label_last else "lines+markers",
            text=[fmt_score(v) if slot else "" for v, slot in zip(values, slots[name])] if label_last else None,
            textposition=[slot or "top center" for slot in slots[name]],
            textfont=dict(size=11, color=color or INK),
            line=dict(width=2.5, color=color, dash=(dashes or {}).get(name, "solid")), marker=dict(size=7),
            connectgaps=False, hovertemplate="%{x}<br>" + plot_text(name) + "：%{y:.1f}<extra></extra>",
        ))
    fig.update_yaxes(title_text=ytitle, range=y_range)
    fig.update_xaxes(type="category")
    if len(groups) > 4:
        fig.update_layout(legend=dict(orientation="h", x=0, xanchor="left", y=-0.2, yanchor="top"))
    fig.update_layout(height=height, hovermode="x unified")
    return fig


@kept
def type_mean_lines(h: pd.DataFrame, metric: str, *, suffix: str, school_first: bool, ytitle: str,
                    height: int) -> KeptFigure:
    """The school mean (dashed) and each branch type's mean of `metric` over the quarters (trends, compare).

    Lines are named by the type's name plus `suffix`; the school line leads the legend when `school_first`.
    """
    by_type = scoring.group_means(h, ["period", "branch_type"], [metric])
    by_type["group"] = by_type["branch_type"].map(lambda t: f"{type_name(t)}{suffix}")
    school = scoring.group_means(h, ["period"], [metric]).assign(group="全校平均")
    types = [f"{type_name(t)}{suffix}" for t in type_ids()]
    colors = {f"{type_name(t)}{suffix}": TYPE_COLORS[t] for t in type_ids()} | {"全校平均": SCHOOL_COLOR}
    order = ["全校平均", *types] if school_first else [*types, "全校平均"]
    return lines(pd.concat([school, by_type]), "period", metric, "group", colors=colors,
                 dashes={"全校平均": "dash"}, ytitle=ytitle, height=height, order=order)


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"
