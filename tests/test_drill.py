"""Drill-down under AppTest, through app.py's navigation: a pick (a ranking row or cell, a heat-map cell, a weak
item's bar and a row of the branches short of it) shows the link the browser follows at once (pages/follow.py);
following it opens the page the link names, at the view it names. The history side (one entry per step, Back
once) is real Chromium's, in tests/test_browser_drill.py."""
from __future__ import annotations

from urllib.parse import parse_qs

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pages.text import md_text
from pipelines import scoring
from pipelines.guide import guide
from test_pages import ROOT, TIMEOUT, ok

DIMENSIONS = {d.short: str(d.id) for d in guide().dimensions}


RANKING = "支部排名与热力图"


def app(tab: str | None = None) -> AppTest:
    """app.py run once (the overview), with its detail tab `tab` open if given (only the open tab is drawn)."""
    at = ok(AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run())
    if tab:
        at.session_state["ov_details"] = tab
        ok(at.run())
    return at


def opened(at: AppTest) -> tuple[str, dict[str, str]]:
    """(url path, query params) of the page the last run opens: its one 打开该… link."""
    links = [lk.proto for lk in at.page_link if lk.proto.label.startswith("打开该")]
    assert len(links) == 1, [lk.label for lk in links]
    return links[0].page, {k: v[0] for k, v in parse_qs(links[0].query_string).items()}


def follow(at: AppTest, page: str, params: dict[str, str]) -> AppTest:
    """What the browser does with the link: that page, with exactly those query params."""
    at.query_params.clear()
    for k, v in params.items():
        at.query_params[k] = v
    return ok(at.switch_page(f"pages/{page}.py").run())


def open_tab(at: AppTest) -> str:
    """The label of the overview's open detail tab: the one whose content was drawn (the others are empty)."""
    box = [b for b in at.get("tab_container") if any(t.label == "全校薄弱考核要点" for t in b.children.values())]
    assert len(box) == 1
    drawn = [t.label for t in box[0].children.values() if t.children]
    assert len(drawn) == 1, drawn
    return drawn[0]


def ranking(db) -> tuple[str, pd.DataFrame]:
    p = scoring.latest_period(db)
    return p, scoring.branch_scores(p, db).sort_values(["rank", "branch_code"]).reset_index(drop=True)


def test_a_ranking_row_opens_the_branch(demo_db):
    p, bs = ranking(demo_db)
    at = app(RANKING)
    at.session_state["ov_ranking"] = {"selection": {"rows": [3], "columns": [], "cells": []}}
    page, params = opened(ok(at.run()))
    target = bs.iloc[3]
    assert (page, params) == ("branch", {"period": p, "college": target["college"], "branch": target["branch_code"]})
    at = follow(at, page, params)
    assert any(target["branch_name"] in s.value for s in at.subheader)
    assert at.radio(key="dim").value == "all"


@pytest.mark.parametrize("column", ["组织师生", "总分", "支部"])
def test_a_ranking_cell_opens_the_branch_at_its_dimension(demo_db, column):
    p, bs = ranking(demo_db)
    at = app(RANKING)
    at.session_state["ov_ranking"] = {"selection": {"rows": [], "columns": [], "cells": [[5, column]]}}
    page, params = opened(ok(at.run()))
    target = bs.iloc[5]
    assert page == "branch" and params["branch"] == target["branch_code"] and params["period"] == p
    assert params.get("dim") == DIMENSIONS.get(column)  # a dimension's column: at that dimension; else all items
    at = follow(at, page, params)
    assert any(target["branch_name"] in s.value for s in at.subheader)
    items = next(d.value for d in at.dataframe if "测评情况" in d.value.columns)
    if column in DIMENSIONS:
        assert at.radio(key="dim").value == DIMENSIONS[column]
        assert set(items["考核要点"].str.split(".").str[0]) == {DIMENSIONS[column]}
    else:
        assert at.radio(key="dim").value == "all" and items["考核要点"].str[0].nunique() == len(DIMENSIONS)


def test_a_heat_map_cell_opens_the_branch_at_its_dimension(demo_db):
    p, bs = ranking(demo_db)
    heat = bs.tail(40).reset_index(drop=True)  # the heat map shows at most 40 rows, the bottom ones by default
    columns = len(DIMENSIONS) + 1  # the seven dimensions, then 总分
    for row, column in ((2, 1), (len(heat) - 1, len(DIMENSIONS))):
        at = app(RANKING)
        at.session_state["ov_heatmap"] = {"selection": {"points": [], "point_indices": [row * columns + column],
                                                        "box": [], "lasso": []}}
        page, params = opened(ok(at.run()))
        target = heat.iloc[row]
        expected = {"period": p, "college": target["college"], "branch": target["branch_code"]}
        if column < len(DIMENSIONS):
            expected["dim"] = str(guide().dimensions[column].id)
        assert (page, params) == ("branch", expected)
    at = follow(at, page, params)
    assert any(target["branch_name"] in s.value for s in at.subheader)


def test_a_weak_item_lists_the_branches_short_of_it_and_a_row_opens_its_ledger_rows(demo_db):
    p = scoring.latest_period(demo_db)
    at = app()
    assert not [d for d in at.dataframe if "完成率" in d.value.columns and "支部编码" in d.value.columns]
    assert open_tab(at) == "全校薄弱考核要点"  # the first view: ten bars, not the ranking of every branch
    assert not [d for d in at.dataframe if "完全完成的支部占比" in d.value.columns]  # the table: when opened
    at.session_state["ov_weakest_table"] = True
    weakest = next(d.value for d in ok(at.run()).dataframe if "完全完成的支部占比" in d.value.columns)
    item = weakest["考核要点"].iloc[1]
    at.session_state["ov_weakest_None"] = {"selection": {"points": [], "point_indices": [1], "box": [], "lasso": []}}
    ok(at.run())
    assert at.query_params["ov_item"] in (item, [item])  # one step in the URL: Back closes the list again
    short = scoring.item_shortfalls(p, item, None, demo_db)
    assert not short.empty, "the demo school must have a branch short of its second-weakest item"
    heading = next(m.value for m in at.markdown if m.value.startswith("**未完全完成"))
    assert f"（{len(short)} 个）" in heading
    table = next(d.value for d in at.dataframe if "支部编码" in d.value.columns and "完成率" in d.value.columns)
    assert list(table["支部编码"]) == list(short["branch_code"])
    assert list(table["完成率"]) == list(scoring.shown_percent(short["completion"]))
    assert set(table["二级党组织"]) == set(short["college"])  # the whole school, not one college

    at.session_state["ov_shortfalls"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    page, params = opened(ok(at.run()))
    first = short.iloc[0]
    dim = str(guide().dimension_of(item).id)
    assert (page, params) == ("branch", {"period": p, "college": first["college"], "branch": first["branch_code"],
                                         "dim": dim, "item": item})
    at = follow(at, page, params)
    assert at.radio(key="dim").value == dim
    assert any(m.value.endswith("数据来源（台账明细）**") and md_text(item) in m.value for m in at.markdown)
    trace = next(d.value for d in at.dataframe if "来源" in d.value.columns)
    assert len(trace) == len(scoring.trace(p, first["branch_code"], item, demo_db))


def test_a_weak_item_in_the_url_opens_on_its_tab_with_its_list(demo_db):
    """A link or Back to ?ov_item=… shows the list again (its tab is the one open)."""
    p = scoring.latest_period(demo_db)
    first = app()
    first.session_state["ov_weakest_table"] = True  # the weakest items' table is drawn when its expander opens
    item = next(d.value for d in ok(first.run()).dataframe if "完全完成的支部占比" in d.value.columns)["考核要点"].iloc[0]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["ov_item"] = item
    ok(at.run())
    assert open_tab(at) == "全校薄弱考核要点"
    # a viewer on the ranking tab who follows a link to the item (or goes Back to it) gets its tab again
    at = app(RANKING)
    assert open_tab(at) == RANKING
    at.query_params["ov_item"] = item
    ok(at.run())
    assert open_tab(at) == "全校薄弱考核要点"
    heading = next(m.value for m in at.markdown if m.value.startswith("**未完全完成"))
    assert f"（{len(scoring.item_shortfalls(p, item, None, demo_db))} 个）" in heading
