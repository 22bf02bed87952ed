"""会议大屏 (pages/meeting.py) and the briefing on the pages (AppTest on the demo school): each view shows
the pipelines' figures; ?view= holds a view, else the views rotate with the clock (?rotate=); a rerun after new
data (what the screen's timed fragment does) shows it without a cache clear; a quarter still in progress is not
the screen's quarter; 趋势分析 draws the colleges that need attention by default. The timer itself runs in real
Chromium in tests/test_browser_meeting.py."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from pipelines import scoring
from pipelines.report import briefing
from pipelines.scoring import attention
from pipelines.guide import guide
from pipelines.guide.period import Period
from pipelines.store import db as dbmod, writes

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
    # the bar colour encodes the grade (issue 13, point 7): one colour per grade, the palette's
    from pipelines.palette import GRADE_COLORS

    by_grade = dict(zip([g.name for g in guide().grades], GRADE_COLORS))
    assert fig["data"][0]["marker"]["color"] == [by_grade[g] for g in briefing.college_bars(cs)["grade"]]


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
    assert heads.index("本季度要点") < heads.index("需关注") < heads.index("全校薄弱考核要点")  # the open tab
    md = "\n".join(m.value for m in at.markdown)
    low = attention.lowest(bs, 5)
    assert all(n in md for n in low["branch_name"])
    assert [t.label for t in at.tabs][:2] == ["全校薄弱考核要点", "支部排名与热力图"]


def shown_view(at: AppTest) -> str:
    """The view the screen's caption marks as shown (bold among the three names)."""
    marked = [m for cap in at.caption for m in re.findall(r"\*\*(.+?)\*\*", cap.value)]
    return next(m for m in marked if m in {"本季度要点", "二级党组织与需关注", "一级指标与进步退步"})


def clock_view(rotate_s: int) -> int:
    return int(time.time() // rotate_s) % 3


def test_views_rotate_with_the_clock_unless_one_is_held(demo_db):
    from pages.meeting import VIEWS

    for _ in range(3):  # a run that straddles a turn of the clock says nothing; try again
        before = clock_view(5)
        at = run("pages/meeting.py", screen="1", rotate="5")
        if clock_view(5) == before:
            break
    assert shown_view(at) == VIEWS[before]
    time.sleep(5 - time.time() % 5 + 0.2)  # the clock moves on to the next view
    now = clock_view(5)
    at.run()
    assert now == (before + 1) % 3 and shown_view(at) == VIEWS[now]
    held = run("pages/meeting.py", screen="1", rotate="5", view="2")
    assert shown_view(held) == "二级党组织与需关注"
    assert shown_view(run("pages/meeting.py", view="9", rotate="x")) in VIEWS  # nonsense falls back to rotating


def test_new_data_shows_on_the_next_refresh(demo_db):
    """The screen's fragment reruns every REFRESH_S seconds; a rerun reads through the cache keyed on the data
    version, so a new submission shows there (no cache clear, no click)."""
    from test_pages import _workbook

    period = Period.parse(scoring.periods(demo_db)[-1])
    at = run("pages/meeting.py", view="1", screen="1")
    version = dbmod.data_version(demo_db)
    assert f"数据版本 {version}" in " ".join(cap.value for cap in at.caption)
    counted = sum(int(m.value) for m in at.metric if m.label in {g.name for g in guide().grades})
    with dbmod.connect(demo_db, write=True) as con:
        writes.save_parsed(con, _workbook("ZZ-T99", period.year, period.quarter), actor="test")
    at.run()
    assert f"数据版本 {dbmod.data_version(demo_db)}" in " ".join(cap.value for cap in at.caption)
    assert dbmod.data_version(demo_db) > version
    assert sum(int(m.value) for m in at.metric if m.label in {g.name for g in guide().grades}) == counted + 1


def test_a_quarter_in_progress_is_not_the_screen_quarter(demo_db):
    """An upload of the unfinished quarter (2026Q4 on 2026-12-05) leaves the screen on the last ended one."""
    from test_pages import _workbook

    now = Period.of(__import__("datetime").date.today())
    assert now.in_progress()
    ended = scoring.periods(demo_db)[-1]
    with dbmod.connect(demo_db, write=True) as con:
        writes.save_parsed(con, _workbook("ZZ-T98", now.year, now.quarter), actor="test")
    assert scoring.periods(demo_db)[-1] == str(now)
    at = run("pages/meeting.py", view="1", screen="1")
    assert any(Period.parse(ended).label in t.value and "进行中" not in t.value for t in at.title), \
        [t.value for t in at.title]
