"""The leadership briefing's figures (pipelines.report.briefing) and 需关注 (pipelines.scoring.attention) on the demo school:
each figure is the scoring functions' figure through the one rounding rule."""
from __future__ import annotations

import pandas as pd
import pytest

from pipelines import scoring
from pipelines.report import briefing
from pipelines.scoring import attention
from pipelines.guide import guide
from pipelines.report.summary import quarter_summary


@pytest.fixture(scope="module")
def latest(demo_db_master):
    db = demo_db_master
    ps = scoring.periods(db)
    return db, ps, ps[-1], scoring.marts(ps[-1], db, previous=True)


def test_change_text_never_says_plus_zero():
    assert briefing.change_text(1.4) == "↑1.4"
    assert briefing.change_text(-12.7) == "↓12.7"
    assert briefing.change_text(0.0) == "持平"
    assert briefing.change_text(-0.04) == "持平"
    assert briefing.change_text(None) == "" and briefing.change_text(float("nan")) == ""


def test_headline_means_match_the_mean_of_branch_scores(latest):
    db, ps, period, data = latest
    bs, pbs = data["branch_scores"], data["prev_branch_scores"]
    figs = briefing.headline_means(bs, pbs, {"teacher": "教师党支部", "student": "学生党支部"})
    assert [f.label for f in figs] == ["全校平均分", "教师党支部平均分", "学生党支部平均分"]
    assert figs[0].value == scoring.shown(bs["overall"].mean())
    assert figs[0].change == scoring.shown_change(bs["overall"].mean(), pbs["overall"].mean())
    t = bs[bs["branch_type"] == "teacher"]["overall"].mean()
    assert figs[1].value == scoring.shown(t)


def test_grade_counts_add_up_and_change_against_last_quarter(latest):
    db, ps, period, data = latest
    counts = briefing.grade_counts(quarter_summary(period, db, data=data, periods=ps).facts)
    assert [g.grade for g in counts] == [g.name for g in guide().grades]
    assert sum(g.count for g in counts) == len(data["branch_scores"])
    pbs = data["prev_branch_scores"]
    for g in counts:
        assert g.change == g.count - int((pbs["grade"] == g.grade).sum())


def test_college_bars_label_score_and_like_for_like_change(latest):
    _, _, _, data = latest
    cs = data["college_scores"]
    bars = briefing.college_bars(cs)
    assert list(bars["rank"]) == sorted(bars["rank"])
    for r in bars.itertuples():
        row = cs[cs["college"] == r.college].iloc[0]
        d = scoring.shown_change(row["overall_same"], row["prev_same"])
        shown = f"{scoring.shown(row['overall']):.1f}"
        assert r.label == (shown if d in (None, 0) or pd.isna(d) else f"{shown} {'↑' if d > 0 else '↓'}{abs(d):.1f}")
        assert r.grade == guide().grade(r.overall)


def test_lowest_and_falls(latest):
    _, _, _, data = latest
    bs = data["branch_scores"]
    low = attention.lowest(bs, 5)
    assert list(low["overall"]) == sorted(scoring.shown(bs["overall"]))[:5]
    falls = attention.falls(bs, 5)
    changes = scoring.shown_change(bs["overall"], bs["prev_overall"])
    assert list(falls["change"]) == sorted(changes[changes < 0])[:5]
    assert (falls["change"] < 0).all()


def _status(codes_missing: list[str], all_codes: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"branch_code": all_codes, "branch_name": [f"支部{c}" for c in all_codes],
                         "college": "学院", "branch_type": "teacher", "status": ["missing" if c in codes_missing else "submitted"
                                                     for c in all_codes], "in_registry": True})


def test_repeat_missing_counts_consecutive_quarters():
    codes = ["A", "B", "C", "D"]
    now, q1, q2 = _status(["A", "B", "C"], codes), _status(["A", "B"], codes), _status(["A", "C"], codes)
    out = attention.repeat_missing([now, q1, q2], "2026Q3")
    assert list(out["branch_code"]) == ["A", "B"]  # C missed now and two ago, not in a row
    assert list(out["quarters"]) == [3, 2]
    assert list(out["note"]) == ["截至2026 年第 3 季度已连续 3 个季度未报送", "截至2026 年第 3 季度已连续 2 个季度未报送"]
    assert attention.repeat_missing([now], "2026Q3").empty  # one quarter is no repeat
    assert attention.repeat_missing([now.assign(in_registry=False)], "2026Q3").empty


def test_earlier_periods_stop_at_a_quarter_nobody_submitted():
    assert attention.earlier_periods("2026Q1", ["2025Q2", "2025Q3", "2025Q4", "2026Q1"]) == ["2025Q4", "2025Q3",
                                                                                              "2025Q2"]
    assert attention.earlier_periods("2026Q1", ["2025Q2", "2025Q4", "2026Q1"], 3) == ["2025Q4"]
    assert attention.earlier_periods("2026Q1", ["2026Q1"]) == []


def test_repeat_missing_on_the_demo_school(latest):
    db, ps, period, data = latest
    statuses = [scoring.submission_status(p, db) for p in [period, *attention.earlier_periods(period, ps)]]
    out = attention.repeat_missing(statuses, period)
    for code, k in zip(out["branch_code"], out["quarters"]):
        for s in statuses[:k]:
            assert s.loc[s["branch_code"] == code, "status"].iloc[0] == "missing"


def test_trend_defaults_are_the_lowest_then_the_fallers(latest):
    _, _, _, data = latest
    cs = data["college_scores"]
    picked = attention.trend_default_colleges(cs, 2)
    scored = cs.dropna(subset=["overall"])
    lowest = list(scored.assign(s=scoring.shown(scored["overall"])).sort_values(["s", "college"])["college"][:2])
    assert picked[:2] == lowest
    best = scored.loc[scored["overall"].idxmax(), "college"]
    change = scoring.shown_change(scored["overall_same"], scored["prev_same"])
    assert best not in picked or float(change[scored["college"] == best].iloc[0]) < 0
    assert len(picked) == len(set(picked)) <= 4
