"""会议大屏 (pages/meeting.py) and the briefing on the pages (AppTest on the demo school): each view shows
the pipelines' figures; ?view= holds a view; 趋势分析 draws the colleges that need attention by default."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipelines import scoring
from pipelines.report import briefing
from pipelines.scoring import attention
from pipelines.guide import guide

ROOT = Path(__file__).resolve().parent.parent


def run(path: str, **params: str) -> AppTest:
    """A page file run in AppTest that showed neither an exception nor an error box (test_pages' helpers)."""
    from test_pages import ok, page

    return ok(page(Path(path).stem, **params).run())


def test_summary_view_shows_grade_counts_and_means(demo_db):
    ps = scoring.periods(demo_db)
    bs = scoring.branch_scores(ps[-1], demo_db)
    at = run("pages/meeting.py", view="1", screen="1")
    assert any("季度简报" in t.value for t in at.title)
    values = {m.label: m.value for m in at.metric}
    for g in guide().grades:
        assert values[g.name] == str(int((bs["grade"] == g.name).sum()))
    assert values["全校平均分"] == f"{scoring.shown(bs['overall'].mean()):.1f}"
    assert len(at.text) >= 3  # the summary's sentences


def test_college_view_labels_bars_with_their_change(demo_db):
    ps = scoring.periods(demo_db)
    cs = scoring.college_scores(ps[-1], demo_db)
    at = run("pages/meeting.py", view="2")
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    labels = [t.replace("<b>", "").replace("</b>", "") for t in fig["data"][0]["text"]]
    assert labels == list(briefing.college_bars(cs)["label"])
    assert any("需关注" in s.value for s in at.subheader)


def test_radar_view_lists_the_movers(demo_db):
    ps = scoring.periods(demo_db)
    up, down = scoring.movers(ps[-1], 5, demo_db)
    at = run("pages/meeting.py", view="3")
    md = "\n".join(m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 1
    for r in down.itertuples():
        assert briefing.change_text(scoring.shown_change(r.overall, r.prev_overall)) in md


def test_trends_draws_the_colleges_that_need_attention(demo_db):
    ps = scoring.periods(demo_db)
    expected = attention.trend_default_colleges(scoring.college_scores(ps[-1], demo_db))
    at = run("pages/trends.py")
    fig = [json.loads(ch.proto.spec) for ch in at.get("plotly_chart")][1]
    names = [t["name"] for t in fig["data"]]
    assert names == expected
    lowest = scoring.college_scores(ps[-1], demo_db).dropna(subset=["overall"]).sort_values("overall")
    assert lowest["college"].iloc[0] in names


def test_overview_first_screen_blocks(demo_db):
    ps = scoring.periods(demo_db)
    bs = scoring.branch_scores(ps[-1], demo_db)
    at = run("pages/overview.py")
    heads = [s.value for s in at.subheader]
    assert heads.index("本季度要点") < heads.index("需关注") < heads.index("支部排名")
    md = "\n".join(m.value for m in at.markdown)
    low = attention.lowest(bs, 5)
    assert all(n in md for n in low["branch_name"])
    assert [t.label for t in at.tabs][:2] == ["支部排名与热力图", "全校薄弱考核要点"]
