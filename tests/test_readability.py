"""Readable tables (issue 13, point 7): no cell of a table reads 'None' or 'nan' (Streamlit paints a missing
value as a grey 'None'), a change that rounds to 0.0 reads 持平 rather than '+0.0'."""
from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from pipelines import scoring
from test_pages import RANKING, ok, open_box, open_tab, page, thin_db  # noqa: F401 - thin_db is a fixture

NONE_TEXT = re.compile(r"\b(None|nan|NaN|NaT)\b")
NO_NONE_KINDS = {"progress", "checkbox", "line_chart", "bar_chart"}  # Streamlit paints no 'None' in these


def none_cells(table) -> list[tuple[str, object]]:
    """(column, value) of every cell that would read 'None' or 'nan' on screen."""
    config = json.loads(table.proto.columns or "{}")
    placeholder = table.proto.placeholder if table.proto.HasField("placeholder") else "None"
    out = []
    for col in table.value.columns:
        kind = (config.get(col) or {}).get("type_config", {}).get("type")
        for v in table.value[col]:
            if v is None or (not isinstance(v, (list, tuple)) and pd.isna(v)):
                if kind not in NO_NONE_KINDS and NONE_TEXT.search(placeholder):
                    out.append((col, v))
            elif isinstance(v, str) and NONE_TEXT.search(v):
                out.append((col, v))
    return out


def test_branch_tables_show_no_none(demo_db):
    ps = scoring.periods(demo_db)
    items = scoring.item_scores(ps[-1], demo_db)
    # a branch with an item lacking evidence (NaN in 佐证材料 before the fix)
    target = items[items["evidence"].isna()].iloc[0]
    bs = scoring.branch_scores(ps[-1], demo_db).set_index("branch_code")
    at = ok(page("branch", branch=target["branch_code"]).run())
    assert at.dataframe, "no table"
    for table in at.dataframe:
        assert not none_cells(table), (list(table.value.columns), none_cells(table)[:5])
    assert bs.loc[target["branch_code"], "branch_name"] in " ".join(s.value for s in at.subheader)


@pytest.mark.parametrize("name", ["overview", "compare", "trends", "college", "alerts", "progress"])
def test_no_table_shows_none(demo_db, name):
    at = ok(page(name).run())
    if name == "compare":
        at = open_box(at, "cmp_items_table")  # the items' full table, drawn when opened
    for table in at.dataframe:
        assert not none_cells(table), (name, list(table.value.columns), none_cells(table)[:5])


def test_ranking_shows_no_change_as_chiping(thin_db):
    """The ranking's 较上季度 reads 持平 where the shown scores are equal (T01 files the same workbook in two
    quarters), never '+0.0'."""
    now, before = (scoring.branch_scores(p, thin_db).set_index("branch_code") for p in ("2025Q2", "2025Q1"))
    assert scoring.shown(now.at["T01", "overall"]) == scoring.shown(before.at["T01", "overall"])
    at = open_tab(ok(page("overview", period="2025Q2").run()), RANKING)  # the ranking is drawn when opened
    ranking = [t.value for t in at.dataframe if "较上季度" in t.value.columns][0].set_index("支部编码")
    assert ranking.at["T01", "较上季度"] == "持平"
    assert ranking.at["S01", "较上季度"] == ""  # no score the quarter before


def opened(at):
    """The overview `at`, then with each of its detail tabs opened in turn (only the open one is drawn)."""
    yield at
    for label in [t.label for t in at.tabs]:
        yield open_tab(at, label)


SCORE_COLUMNS = ("总分", "完成率")  # the figure a row is read for
LONG_COLUMNS = ("支部", "支部名称", "二级党组织")  # long names that push columns off a phone's screen


@pytest.mark.parametrize("name, params", [("overview", {}), ("college", {}), ("college", {"co_item": "first"})])
def test_tables_show_the_score_before_long_text(demo_db, name, params):
    """Issue 13, point 3: on a 390 px phone a table shows its score without scrolling sideways."""
    if params.get("co_item") == "first":  # the shortfalls of the college's weakest item
        ps = scoring.periods(demo_db)
        college = sorted(scoring.college_scores(ps[-1], demo_db)["college"].dropna())[0]
        params = {"college": college, "co_item": scoring.college_items(ps[-1], college, demo_db)["item_id"].iloc[0]}
    at = ok(page(name, **params).run())
    checked = 0
    for table in (t for shown in (opened(at) if name == "overview" else [at]) for t in shown.dataframe):
        cols = list(table.value.columns)
        scores = [cols.index(c) for c in SCORE_COLUMNS if c in cols]
        longs = [cols.index(c) for c in LONG_COLUMNS if c in cols]
        if scores and longs:
            checked += 1
            assert max(scores) < min(longs), (name, cols)
    assert checked >= 1, name
