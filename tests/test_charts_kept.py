"""Figures kept per content (pages/charts.py `kept`): equal inputs get the kept figure, other inputs or new data
a new one, and showing a kept figure never changes it. Real plotly figures, real Streamlit (AppTest), real
DuckDB files and writes."""
from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from streamlit.testing.v1 import AppTest

from pages import charts
from pipelines.store import db as dbmod
from pipelines.store import writes
import test_pages
from test_pages import _workbook, ok, open_box, page

thin_db = test_pages.thin_db  # a fixture of test_pages, used here too

SERIES = [{"name": "本支部", "values": [81.25, 70.0, None, 64.5, 90.0, 55.55, 100.0], "color": charts.RED, "fill": True},
          {"name": "全校平均", "values": [75.0, 72.5, 60.0, 66.0, 80.0, 58.0, 90.0], "color": charts.GREY, "dash": "dot"}]


def heat() -> pd.DataFrame:
    return pd.DataFrame({"学习": [81.25, 60.0], "组织": [70.0, float("nan")]}, index=["甲支部", "乙支部"])


def test_equal_inputs_get_the_kept_figure_and_other_inputs_a_new_one():
    radar = charts.radar(copy.deepcopy(SERIES), height=410)
    assert isinstance(radar, charts.KeptFigure)
    assert charts.radar(copy.deepcopy(SERIES), height=410) is radar  # equal content, other objects
    assert charts.radar(copy.deepcopy(SERIES), height=411) is not radar
    changed = copy.deepcopy(SERIES)
    changed[0]["values"][6] = 99.95
    assert charts.radar(changed, height=410) is not radar

    z = heat()
    fig = charts.heatmap(z, clickable=True)
    assert charts.heatmap(heat(), clickable=True) is fig
    assert charts.heatmap(heat(), clickable=False) is not fig
    other = heat()
    other.iloc[1, 0] = 60.5  # one cell
    assert charts.heatmap(other, clickable=True) is not fig
    renamed = heat().rename(columns={"组织": "宣传"})  # same values, another column
    assert charts.heatmap(renamed, clickable=True) is not fig
    reindexed = heat().set_axis(["甲支部", "丙支部"])  # same values, another row
    assert charts.heatmap(reindexed, clickable=True) is not fig
    # a text that reads "nan" is not a missing value; an integer column is not a float one
    assert charts.content_key(pd.DataFrame({"x": ["nan"]})) != charts.content_key(pd.DataFrame({"x": [float("nan")]}))
    assert charts.content_key(pd.Series([1, 2])) != charts.content_key(pd.Series([1.0, 2.0]))
    # an iterator is read once and keyed by what it held
    bars = charts.hbar(iter(["甲", "乙"]), pd.Series([50.0, 70.0]))
    assert charts.hbar(iter(["甲", "乙"]), pd.Series([50.0, 70.0])) is bars
    assert json.loads(bars.json())["data"][0]["y"] == ["甲", "乙"]


def test_an_argument_without_a_content_key_is_built_every_time():
    class Odd:  # no content key: never shared between calls
        def __str__(self) -> str:
            return "甲"

    @charts.kept
    def bar(label) -> go.Figure:
        return go.Figure(go.Bar(x=[1], y=[str(label)]))

    assert bar("甲") is bar("甲")
    assert bar(Odd()) is not bar(Odd())
    assert json.loads(bar(Odd()).json())["data"][0]["y"] == ["甲"]


def test_kept_figures_are_bounded(monkeypatch):
    monkeypatch.setattr(charts, "FIGURES_KEPT", 3)
    figs = [charts.hbar(["甲"], [float(v)]) for v in range(5)]
    assert len(charts._kept) <= 3
    assert charts.hbar(["甲"], [4.0]) is figs[4]  # the newest stay
    assert charts.hbar(["甲"], [0.0]) is not figs[0]  # the oldest went


def same(a, b) -> bool:
    """Deep equality of two plotly dicts (numpy arrays by value, NaN equal to NaN)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    return a == b or (a != a and b != b)


def _show_twice() -> None:
    """An app showing a kept radar and a clickable kept heat map twice each (AppTest.from_function)."""
    import copy

    import pandas as pd

    from pages import charts
    from test_charts_kept import SERIES

    z = pd.DataFrame({"学习": [81.25, 60.0], "组织": [70.0, float("nan")]}, index=["甲支部", "乙支部"])
    for i in range(2):
        charts.show(charts.radar(copy.deepcopy(SERIES), height=410), key=f"radar{i}")
        charts.show(charts.heatmap(z, clickable=True), key=f"heat{i}", selectable=True)


def test_showing_a_kept_figure_does_not_change_it():
    radar = charts.radar(copy.deepcopy(SERIES), height=410)
    heatmap = charts.heatmap(heat(), clickable=True)
    before = {"radar": (copy.deepcopy(radar._spec), radar.json()), "heat": (copy.deepcopy(heatmap._spec), heatmap.json())}
    at = AppTest.from_function(_show_twice, default_timeout=60)
    at.run()
    at.run()  # a second visit of the same figures
    assert not at.exception, [e.value for e in at.exception]
    sent = [c.proto.spec for c in at.get("plotly_chart")]
    assert len(sent) == 4
    assert [json.loads(s) for s in sent] == [json.loads(before[k][1]) for k in ("radar", "heat", "radar", "heat")]
    for fig, name in ((radar, "radar"), (heatmap, "heat")):
        assert same(fig._spec, before[name][0]) and fig.json() == before[name][1]  # unchanged by showing it
    # what is sent is the figure with the dashboard's template, as before the figures were kept
    assert json.loads(sent[0])["layout"]["template"] == json.loads(pio.to_json(pio.templates["dangjian"]))
    assert pio.templates.default == "dangjian"


def history_x(at: AppTest) -> list[str]:
    figs = [pio.from_json(ch.proto.spec) for ch in at.get("plotly_chart")]
    return list(next(f for f in figs if any(t.name == "全校排名" for t in f.data)).data[0].x)


def test_a_page_reuses_its_figures_and_builds_them_again_after_new_data(thin_db):
    charts._kept.clear()
    first = open_box(ok(page("branch", period="2025Q2", college="机械工程学院", branch="T01").run()), "br_history_box")
    kept = dict(charts._kept)
    assert kept and history_x(first) == ["2025年Q1", "2025年Q2"]
    again = open_box(ok(page("branch", period="2025Q2", college="机械工程学院", branch="T01").run()),  # another visitor
                     "br_history_box")
    assert [c.proto.spec for c in again.get("plotly_chart")] == [c.proto.spec for c in first.get("plotly_chart")]
    assert dict(charts._kept) == kept  # nothing built again: the same kept figures were shown
    with dbmod.connect(thin_db, write=True) as con:
        writes.save_parsed(con, _workbook("T01", 2025, 3), actor="test")
    after = open_box(ok(page("branch", period="2025Q2", college="机械工程学院", branch="T01").run()), "br_history_box")
    assert history_x(after) == ["2025年Q1", "2025年Q2", "2025年Q3"]
    assert set(charts._kept) - set(kept)  # the history was built again for the new data


def test_hover_values_follow_the_one_rounding_rule():
    """A bar's or a heat-map cell's hover shows its value as the label does (one decimal, half up via
    millionths), never plotly's own rounding of the raw number: 64.45 is 64.5 (64.4499999999999957 in binary)."""
    values = [64.45, 0.0449, 87.25]
    def traces(fig):
        return pio.from_json(fig.json() if isinstance(fig, charts.KeptFigure) else fig.to_json()).data

    bar = traces(charts.hbar(["甲", "乙", "丙"], values, hover=["甲支部", "乙支部", "丙支部"]))[-1]
    assert "%{x" not in bar.hovertemplate
    assert list(bar.customdata) == ["甲支部<br>64.5", "乙支部<br>0.0", "丙支部<br>87.3"]
    assert list(bar.text) == ["64.5", "0.0", "87.3"]
    z = pd.DataFrame({"学习": [64.45, 70.0]}, index=["甲支部", "乙支部"])
    hm = traces(charts.heatmap(z, hover_name="支部"))[0]
    assert "%{z" not in hm.hovertemplate and "%{text}" in hm.hovertemplate
    assert [list(r) for r in hm.text] == [["64.5"], ["70.0"]]
