"""Scoring rules, each against a hand-computed case and its edges, on real DuckDB files written by store."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from pipelines import scoring
from pipelines.config import settings
from pipelines.guide import guide
from pipelines.scoring.session import _session
from test_scoring_fixtures import evidence_counts, evidence_rows, full_year_rows, ledger, save, workbook


@pytest.fixture
def db():
    return settings().db_path


_memo: dict = {}


def _cached(fn, period, db, code) -> pd.DataFrame:
    """One scoring call per (data version, guide, period, branch) within a test; keeps the suite fast."""
    from pipelines.store.db import data_version

    key = (fn.__name__, str(db), data_version(db), str(settings().guide_path), period, code)
    if key not in _memo:
        _memo.clear() if len(_memo) > 64 else None
        _memo[key] = fn(period, db, branch_code=code)
    return _memo[key]


def measure(db, period, code, item_id, measure_id) -> pd.Series:
    df = _cached(scoring.measure_scores, period, db, code)
    hit = df[(df["item_id"] == item_id) & (df["measure_id"] == measure_id)]
    assert len(hit) == 1, (item_id, measure_id, df)
    return hit.iloc[0]


def item(db, period, code, item_id) -> pd.Series:
    df = _cached(scoring.item_scores, period, db, code)
    hit = df[df["item_id"] == item_id]
    assert len(hit) == 1
    return hit.iloc[0]


def approx(x):
    return pytest.approx(x, abs=1e-9)


# ---- monthly -------------------------------------------------------------------------------------------
def test_monthly_two_of_three_months_and_rows_outside_the_quarter_ignored(db):
    rows = ledger(("2026-01-05", "committee_meeting"), ("2026-01-20", "committee_meeting"),
                  ("2026-02-05", "committee_meeting"),
                  ("2026-04-02", "committee_meeting"))  # dated in Q2: not counted in the Q1 workbook
    save(db, workbook("A", 2026, 1, rows=rows))
    m = measure(db, "2026Q1", "A", "1.2.1", "committee")
    assert (m["actual"], m["required"], m["completion"], m["status"]) == (2, 3, approx(2 / 3), "partial")
    theme = measure(db, "2026Q1", "A", "1.2.2", "theme_day")
    assert (theme["completion"], theme["status"]) == (0, "missed")


# ---- quarterly -----------------------------------------------------------------------------------------
def test_quarterly_at_least_one_is_met_and_two_are_capped(db):
    save(db, workbook("A", 2026, 1, rows=ledger(("2026-02-01", "general_meeting"), ("2026-03-01", "general_meeting"))),
         workbook("B", 2026, 1))
    a = measure(db, "2026Q1", "A", "1.2.1", "assembly")
    b = measure(db, "2026Q1", "B", "1.2.1", "assembly")
    assert (a["actual"], a["completion"], a["status"]) == (2, 1, "met")
    assert (b["actual"], b["completion"], b["status"]) == (0, 0, "missed")


# ---- semester ------------------------------------------------------------------------------------------
def test_semester_due_counts_year_to_date_cap_and_year_boundary(db):
    save(db,
         workbook("A", 2026, 1, rows=ledger(("2026-01-20", "report_to_superior"))),
         workbook("A", 2026, 2),
         workbook("A", 2026, 3),
         workbook("A", 2026, 4, rows=ledger(("2026-10-01", "report_to_superior"), ("2026-11-01", "report_to_superior"))),
         workbook("A", 2027, 1))
    got = {p: measure(db, p, "A", "3.1.3", "report_superior") for p in
           ["2026Q1", "2026Q2", "2026Q3", "2026Q4", "2027Q1"]}
    # Q1–Q2: 1 due; Q3–Q4: 2 due; count is year to date; capped at 1
    assert [(g["actual"], g["required"]) for g in got.values()] == [(1, 1), (1, 1), (1, 2), (3, 2), (0, 1)]
    assert [g["completion"] for g in got.values()] == [1, 1, 0.5, 1, 0]
    assert got["2026Q3"]["status"] == "partial" and got["2027Q1"]["status"] == "missed"


# ---- annual count --------------------------------------------------------------------------------------
def test_annual_count_pending_before_q4_met_year_to_date_missed_in_q4(db):
    save(db,
         workbook("A", 2026, 1, rows=ledger(("2026-03-01", "secretary_lecture"))),
         workbook("A", 2026, 2),
         workbook("B", 2026, 2),
         workbook("B", 2026, 4))
    a_q2 = measure(db, "2026Q2", "A", "1.2.1", "lecture")  # lecture held in Q1: met year to date
    assert (a_q2["actual"], a_q2["required"], a_q2["completion"], a_q2["status"]) == (1, 1, 1, "met")
    b_q2 = measure(db, "2026Q2", "B", "1.2.1", "lecture")  # not yet: 未到期, left out
    assert b_q2["status"] == "pending" and math.isnan(b_q2["completion"])
    b_q4 = measure(db, "2026Q4", "B", "1.2.1", "lecture")  # not held by Q4: 0
    assert (b_q4["completion"], b_q4["status"]) == (0, "missed")
    # the pending measure is left out of the item's weighted mean: committee 0 (w3), assembly 0 (w2),
    # dual_life 0.7 (w1: 完成 on an item without an evidence link, unreviewed) → 0.7/6; in Q4 lecture 0 (w2)
    # joins → 0.7/8
    assert item(db, "2026Q2", "B", "1.2.1")["completion"] == approx(0.7 / 6)
    assert item(db, "2026Q4", "B", "1.2.1")["completion"] == approx(0.7 / 8)


# ---- annual coverage -----------------------------------------------------------------------------------
def test_annual_coverage_progress_pending_complete_counts_early_and_q4_ratio(db):
    save(db,
         workbook("A", 2026, 2, counts={"members_talked": 6, "members_reported": 10}),
         workbook("A", 2026, 4, counts={"members_talked": 6, "members_reported": 12}))
    talks = measure(db, "2026Q2", "A", "3.1.1", "talks")
    assert (talks["actual"], talks["required"], talks["status"]) == (6, 10, "pending")
    assert math.isnan(talks["completion"])
    reports = measure(db, "2026Q2", "A", "3.1.3", "member_reports")  # complete before Q4: counts
    assert (reports["completion"], reports["status"]) == (1, "met")
    talks_q4 = measure(db, "2026Q4", "A", "3.1.1", "talks")
    assert (talks_q4["completion"], talks_q4["status"]) == (approx(0.6), "partial")
    assert measure(db, "2026Q4", "A", "3.1.3", "member_reports")["completion"] == 1  # 12/10 capped


def test_annual_coverage_blank_this_quarter_keeps_the_latest_cumulative_value(db):
    save(db,
         workbook("A", 2026, 3, counts={"members_talked": 7}),
         workbook("A", 2026, 4, counts={"members_talked": None}))
    m = measure(db, "2026Q4", "A", "3.1.1", "talks")
    assert (m["actual"], m["completion"]) == (7, approx(0.7))


# ---- hours ---------------------------------------------------------------------------------------------
def test_hours_year_to_date_per_member_against_32_times_quarter_over_4(db):
    save(db,
         workbook("A", 2026, 1, members=10, rows=ledger(("2026-02-01", "training", 4, 10))),
         workbook("A", 2026, 2, members=10, rows=ledger(("2026-05-01", "training", 3, 8),
                                                         ("2026-05-02", "party_lecture", 5, 10))))  # not training
    q1 = measure(db, "2026Q1", "A", "2.1.3", "hours")
    assert (q1["actual"], q1["required"], q1["completion"]) == (4, 8, 0.5)
    q2 = measure(db, "2026Q2", "A", "2.1.3", "hours")  # (4×10 + 3×8) / 10 = 6.4 over 16
    assert (q2["actual"], q2["required"], q2["completion"]) == (approx(6.4), 16, approx(0.4))


def test_hours_capped_and_first_quarter_and_missing_quarter(db):
    save(db,
         # B: first submission in Q3 — only its own ledger counts: 30 h × 10 / 10 = 30 over 24 → capped
         workbook("B", 2026, 3, members=10, rows=ledger(("2026-08-01", "training", 30, 10))),
         # C: Q1 and Q3, Q2 missing: (8×10 + 4×10) / 10 = 12 over 24
         workbook("C", 2026, 1, members=10, rows=ledger(("2026-01-10", "training", 8, 10))),
         workbook("C", 2026, 3, members=10, rows=ledger(("2026-09-10", "training", 4, 10))))
    b = measure(db, "2026Q3", "B", "2.1.3", "hours")
    assert (b["actual"], b["required"], b["completion"], b["status"]) == (30, 24, 1, "met")
    c = measure(db, "2026Q3", "C", "2.1.3", "hours")
    assert (c["actual"], c["completion"]) == (12, 0.5)


def test_hours_year_boundary_starts_from_zero(db):
    save(db,
         workbook("A", 2026, 4, rows=ledger(("2026-12-01", "training", 40, 10))),
         workbook("A", 2027, 1))
    assert measure(db, "2026Q4", "A", "2.1.3", "hours")["completion"] == 1
    q1 = measure(db, "2027Q1", "A", "2.1.3", "hours")
    assert (q1["actual"], q1["required"], q1["completion"]) == (0, 8, 0)


# ---- ratio ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("paid,due,expected,status", [
    (8, 10, 0.8, "partial"), (12, 10, 1.0, "met"), (0, 0, 1.0, "met"), (None, 10, 0.0, "missed"),
])
def test_ratio_fee_paid_over_due_capped(db, paid, due, expected, status):
    save(db, workbook("A", 2026, 1, counts={"fee_due": due, "fee_paid": paid}))
    m = measure(db, "2026Q1", "A", "2.1.2", "fee")
    assert (m["completion"], m["status"]) == (approx(expected), status)


# ---- self-assessed -------------------------------------------------------------------------------------
def test_self_assessment_values_no_evidence_and_blank_are_flagged(db):
    save(db, workbook("A", 2026, 1, rows=evidence_rows(2026, 1), self_status={
        "1.1.1": ("done", "学习记录"), "1.1.2": ("mostly", "部分记录"), "1.1.3": ("not_done", ""),
        "2.2.1": ("done", "   "), "2.2.2": (None, ""),
    }))
    got = {i: item(db, "2026Q1", "A", i) for i in ["1.1.1", "1.1.2", "1.1.3", "2.2.1", "2.2.2"]}
    assert [got[i]["completion"] for i in got] == [1.0, 0.7, 0.0, 0.7, 0.0]
    assert [bool(got[i]["flagged"]) for i in got] == [False, False, False, True, True]
    assert [got[i]["self_status"] for i in got][:4] == ["完成", "基本完成", "未完成", "完成"]
    assert pd.isna(got["2.2.2"]["self_status"])
    m = measure(db, "2026Q1", "A", "2.2.1", "self")
    assert m["flag"] == "no_evidence" and "基本完成" in m["flag_message"]
    assert measure(db, "2026Q1", "A", "2.2.2", "self")["flag"] == "blank_status"


def test_missing_self_assessment_row_scores_zero_and_is_flagged(db):
    wb = workbook("A", 2026, 1)
    wb.self_assessment = [r for r in wb.self_assessment if r.item_id != "5.1.1"]
    save(db, wb)
    it = item(db, "2026Q1", "A", "5.1.1")
    assert it["completion"] == 0 and it["flagged"]


# ---- not applicable ------------------------------------------------------------------------------------
def test_items_not_applying_to_the_type_are_left_out_not_zero(db):
    save(db, workbook("T", 2026, 1, branch_type="teacher", self_status={"4.1.3": ("mostly", "x")}),
         workbook("S", 2026, 1, branch_type="student", self_status={"4.1.3": ("mostly", "x")}))
    t = scoring.item_scores("2026Q1", db, branch_code="T")
    s = scoring.item_scores("2026Q1", db, branch_code="S")
    assert "4.1.2" not in set(t["item_id"]) and "4.1.1" in set(t["item_id"])
    assert "4.1.1" not in set(s["item_id"]) and "4.1.2" in set(s["item_id"])
    assert len(t) == len(s) == 27
    scores = scoring.branch_scores("2026Q1", db).set_index("branch_code")
    # d4 = mean(0.7, 0.7) for both (完成 unreviewed on a review-only item counts 0.7), not (0.7 + 0.7 + 0) / 3
    assert scores.loc["T", "d4"] == approx(70) and scores.loc["S", "d4"] == approx(70)


# ---- known ledger → known radar ------------------------------------------------------------------------
def _radar_branch(db):
    q1 = ledger(("2026-01-05", "committee_meeting"), ("2026-02-05", "committee_meeting"),
                ("2026-03-05", "committee_meeting"), ("2026-01-10", "theme_day"), ("2026-02-10", "general_meeting"),
                ("2026-01-15", "training", 10, 10))
    q2 = ledger(("2026-04-05", "committee_meeting"), ("2026-05-05", "committee_meeting"),
                ("2026-04-10", "theme_day"), ("2026-05-10", "theme_day"), ("2026-06-10", "theme_day"),
                ("2026-05-15", "training", 6, 5), ("2026-06-20", "secretary_lecture"))
    save(db,
         workbook("T1", 2026, 1, members=10, rows=q1 + evidence_rows(2026, 1),
                  counts={"fee_due": 10, "fee_paid": 10, "members_talked": 4, "members_reported": 10,
                          **evidence_counts()}),
         workbook("T1", 2026, 2, members=10, rows=q2 + evidence_rows(2026, 2),
                  counts={"fee_due": 10, "fee_paid": 8, "members_talked": 6, "members_reported": None,
                          **evidence_counts()},
                  self_status={"1.1.1": ("mostly", "记录"), "2.2.1": ("done", ""), "5.2.2": (None, ""),
                               "1.2.1": ("not_done", "")}))


# Hand computation for T1 in 2026Q2 (weights from indicator_guide.yaml). Unreviewed 完成 keeps 1 only where
# the item's evidence link finds rows (evidence_rows/evidence_counts: 2.1.1, 3.1.1, 6.1.3, 7.1.1, 7.1.2);
# on review-only items it counts 0.7 (docs/scoring.md 审核与核实率):
# 1.1 = (0.7 + 0.7 + 0.7) / 3 = 0.7
# 1.2.1 = (committee 2/3 × 3 + assembly 0 × 2 + lecture 1 × 2 + dual_life 0 × 1) / 8 = 0.5; 1.2.2 = 1
# 1.2 = (0.5 × 2 + 1 × 1) / 3 = 2/3                       → d1 = (70 × 50 + 66.67 × 50) / 100
# 2.1.1 = 1; 2.1.2 = (fee 0.8 + self 0.7) / 2 = 0.75; 2.1.3 = hours (100 + 30) / 10 = 13 over 16 = 0.8125
# 2.1 = (1 + 0.75 + 0.8125) / 3; 2.2 = (0.7 + 0.7) / 2     → d2 = (2.1 × 60 + 2.2 × 40) / 100
# 3.1.1 talks 6/10 pending → self 1; 3.1.2 life meeting pending → self 0.7;
# 3.1.3 = (superior 0 + reports 10/10 = 1) / 2 (assembly report, review pending); 3.1.4 = 0.7 → d3 = 72.5
# d4 = 70 (4.1.1, 4.1.3; 4.1.2 is for students); d5 = (70 + (0.7 + 0) / 2 × 100) / 2 = 52.5;
# d6 = (0.7 + 0.7 + 1 + 0.7) / 4 = 77.5; d7 = (1 + 1 + 0.7) / 3 = 90
D1 = (70 * 50 + 200 / 3 * 50) / 100
D2 = ((1 + 0.75 + 0.8125) / 3 * 100 * 60 + 70 * 40) / 100
RADAR = {"d1": D1, "d2": D2, "d3": 72.5, "d4": 70, "d5": 52.5, "d6": 77.5, "d7": 90}
WEIGHTS = {"d1": 20, "d2": 15, "d3": 15, "d4": 15, "d5": 10, "d6": 15, "d7": 10}


def test_known_ledger_gives_known_radar_and_overall(db):
    _radar_branch(db)
    row = scoring.branch_scores("2026Q2", db).iloc[0]
    for d, v in RADAR.items():
        assert row[d] == approx(v), d
    overall = sum(WEIGHTS[d] * RADAR[d] for d in RADAR) / 100
    assert row["overall"] == approx(overall) and round(overall, 2) == 72.8
    assert row["grade"] == "一般" and row["guide_version"] == "2026.1" and row["version"] == 1
    ind = scoring.indicator_scores("2026Q2", db).set_index("indicator_id")["score"]
    assert ind["1.2"] == approx(200 / 3) and ind["3.1"] == approx(72.5)
    # items whose measures are partly pending still count; the pending measures show as 未到期
    ms = scoring.measure_scores("2026Q2", db)
    assert set(ms.loc[ms["status"] == "pending", "measure_id"]) == {"talks", "life_meeting", "report_assembly", "review"}


def test_changed_weight_rescores_every_quarter_by_hand(db, tmp_path, monkeypatch):
    import yaml

    from pipelines import config
    from pipelines.guide import guide

    _radar_branch(db)
    before = scoring.history(db).set_index("period")
    raw = yaml.safe_load(open(settings().guide_path, encoding="utf-8"))
    raw["dimensions"][0]["weight"] = 40  # 教育党员有力 20 → 40
    raw["version"] = "2026.1-test"
    path = tmp_path / "guide.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("DJ_GUIDE_PATH", str(path))
    config.settings.cache_clear()
    assert guide().version == "2026.1-test"
    after = scoring.history(db).set_index("period")
    expected = (40 * RADAR["d1"] + sum(WEIGHTS[d] * RADAR[d] for d in RADAR if d != "d1")) / 120
    assert after.loc["2026Q2", "overall"] == approx(expected)
    assert after.loc["2026Q2", "d1"] == approx(RADAR["d1"])  # dimension scores do not move
    for p in ["2026Q1", "2026Q2"]:  # every quarter re-scored with the same guide
        b = before.loc[p]
        again = (40 * b["d1"] + sum(WEIGHTS[d] * b[d] for d in WEIGHTS if d != "d1")) / 120
        assert after.loc[p, "overall"] == approx(again)
        assert after.loc[p, "guide_version"] == "2026.1-test"


def test_item_with_only_pending_measures_is_left_out_and_weights_renormalise(db, tmp_path, monkeypatch):
    import yaml

    from pipelines import config

    raw = yaml.safe_load(open(settings().guide_path, encoding="utf-8"))
    d3_items = raw["dimensions"][2]["indicators"][0]["items"]
    item312 = next(i for i in d3_items if i["id"] == "3.1.2")
    item312["measures"] = [m for m in item312["measures"] if m["kind"] != "self_assessed"]
    path = tmp_path / "guide.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("DJ_GUIDE_PATH", str(path))
    config.settings.cache_clear()
    save(db, workbook("A", 2026, 2, self_status={"3.1.1": ("not_done", "")}))
    it = item(db, "2026Q2", "A", "3.1.2")
    assert bool(it["pending"]) and math.isnan(it["completion"])
    # 3.1.1 = (talks pending, self 0) → 0; 3.1.3 = superior 0 (others pending/… reports 0 of 10 pending) → 0;
    # 3.1.4 = 0.7 (unreviewed 完成 on a review-only item); 3.1.2 left out → d3 = (0 + 0 + 0.7) / 3
    row = scoring.branch_scores("2026Q2", db).iloc[0]
    assert row["d3"] == approx(70 / 3)


# ---- rankings ------------------------------------------------------------------------------------------
def test_rankings_with_ties_share_the_smallest_rank_and_rank_change(db):
    def wb(code, q, btype, college, status):
        return workbook(code, 2026, q, branch_type=btype, college=college,
                        rows=full_year_rows(2026, q), self_status={"5.1.1": status})
    good, bad = ("done", "x"), ("not_done", "")
    save(db, wb("A", 1, "teacher", "机械学院", bad), wb("B", 1, "student", "机械学院", bad),
         wb("C", 1, "teacher", "电气学院", good))
    save(db, wb("A", 2, "teacher", "机械学院", good), wb("B", 2, "student", "机械学院", good),
         wb("C", 2, "teacher", "电气学院", bad))
    s = scoring.branch_scores("2026Q2", db).set_index("branch_code")
    assert s.loc["A", "overall"] == approx(s.loc["B", "overall"]) and s.loc["C", "overall"] < s.loc["A", "overall"]
    assert s["rank"].to_dict() == {"A": 1, "B": 1, "C": 3}
    assert s["rank_in_type"].to_dict() == {"A": 1, "B": 1, "C": 2}
    assert s["rank_in_college"].to_dict() == {"A": 1, "B": 1, "C": 1}
    assert s["prev_rank"].to_dict() == {"A": 2, "B": 2, "C": 1}
    assert s["rank_change"].to_dict() == {"A": 1, "B": 1, "C": -2}
    r = scoring.rankings("2026Q2", db)
    d5 = r[r["metric"] == "d5"].set_index("branch_code")
    assert d5["rank"].to_dict() == {"A": 1, "B": 1, "C": 3}
    d1 = r[r["metric"] == "d1"].set_index("branch_code")
    assert d1["rank"].to_dict() == {"A": 1, "B": 1, "C": 1}  # identical d1: a three-way tie
    colleges = scoring.college_scores("2026Q2", db).set_index("college")
    assert colleges.loc["机械学院", "rank"] == 1 and colleges.loc["电气学院", "rank"] == 2
    assert colleges.loc["机械学院", "overall"] == approx(s.loc["A", "overall"])
    assert colleges.loc["电气学院", "rank_change"] == -1


# ---- score change --------------------------------------------------------------------------------------
def test_score_change_contributions_sum_to_delta_and_movers(db):
    ev1, ev2 = evidence_rows(2026, 1), evidence_rows(2026, 2)  # every 完成 answer supported
    c = {"fee_due": 10, "fee_paid": 10, **evidence_counts()}
    save(db, workbook("A", 2026, 1, rows=full_year_rows(2026, 1) + ev1, counts=c),
         workbook("B", 2026, 1, rows=full_year_rows(2026, 1) + ev1, counts=c),
         workbook("C", 2026, 1, branch_type="student", rows=ev1, counts=c))
    save(db,
         # A: 5.2.2 done → blank: 5.2 100 → 50, d5 100 → 75, contribution 10/100 × −25 = −2.5
         workbook("A", 2026, 2, rows=full_year_rows(2026, 2) + ev2, counts=c, self_status={"5.2.2": (None, "")}),
         # B: a fully met quarter again but the training hours now count: unchanged except d2 …
         workbook("B", 2026, 2, rows=full_year_rows(2026, 2) + ledger(("2026-05-01", "training", 40, 10)) + ev2,
                  counts=c),
         workbook("C", 2026, 2, branch_type="student", rows=full_year_rows(2026, 2) + ev2, counts=c))
    ch = scoring.score_change("2026Q2", db).set_index("branch_code")
    cols = [f"c{i}" for i in range(1, 8)]
    for code, row in ch.iterrows():
        assert row[cols].sum() == approx(row["delta"]), code
    assert ch.loc["A", "delta"] == approx(-2.5) and ch.loc["A", "c5"] == approx(-2.5)
    assert ch.loc["A", cols].drop("c5").abs().sum() == approx(0)
    improved, declined = scoring.movers("2026Q2", n=5, db=db)
    assert list(declined["branch_code"]) == ["A"]
    assert declined.iloc[0]["main_dimension"] == 5 and declined.iloc[0]["main_dimension_name"] == "宣传师生有力"
    assert list(improved["branch_code"]) == ["C", "B"]  # C gained most (d1 from its meetings)
    assert improved.set_index("branch_code").loc["B", "main_dimension"] == 2
    assert improved.set_index("branch_code").loc["C", "main_dimension"] == 1
    bs = scoring.branch_scores("2026Q2", db).set_index("branch_code")
    assert bs.loc["A", "delta"] == approx(bs.loc["A", "overall"] - bs.loc["A", "prev_overall"])


def test_first_quarter_and_year_boundary_in_change_and_history(db):
    save(db, workbook("A", 2026, 4, rows=full_year_rows(2026, 4)), workbook("A", 2027, 1),
         workbook("N", 2027, 1))
    s = scoring.branch_scores("2027Q1", db).set_index("branch_code")
    assert math.isnan(s.loc["N", "prev_overall"]) and pd.isna(s.loc["N", "rank_change"])  # N's first quarter
    assert s.loc["A", "prev_overall"] == approx(scoring.branch_scores("2026Q4", db).iloc[0]["overall"])
    ch = scoring.score_change("2027Q1", db)
    assert list(ch["branch_code"]) == ["A"]  # previous quarter across the year boundary
    h = scoring.history(db)
    assert list(h["period"].unique()) == ["2026Q4", "2027Q1"] and len(h) == 3
    assert scoring.periods(db) == ["2026Q4", "2027Q1"] and scoring.latest_period(db) == "2027Q1"


def test_score_history_and_branch_history_agree_with_history(db):
    save(db, workbook("A", 2026, 3, rows=full_year_rows(2026, 3)), workbook("A", 2026, 4, rows=full_year_rows(2026, 4)),
         workbook("B", 2026, 4, branch_type="student", self_status={"1.1.1": ("mostly", "x")}),
         workbook("C", 2027, 1, college="外国语学院"), workbook("A", 2027, 1))
    h = scoring.history(db)
    sh = scoring.score_history(db)
    assert list(sh.columns[:len(scoring.SCORE_HISTORY_COLUMNS)]) == scoring.SCORE_HISTORY_COLUMNS
    pd.testing.assert_frame_equal(sh[scoring.SCORE_HISTORY_COLUMNS], h[scoring.SCORE_HISTORY_COLUMNS],
                                  check_dtype=False, rtol=0, atol=1e-9)
    for code in ("A", "B", "C", "nobody"):
        bh = scoring.branch_history(code, db)
        want = h[h["branch_code"] == code].reset_index(drop=True)
        assert list(bh["period"]) == list(want["period"])
        assert list(bh["rank"]) == list(want["rank"])
        assert list(bh["overall"]) == pytest.approx(list(want["overall"]), abs=1e-9)


def test_score_history_of_an_empty_database_has_the_columns(db):
    assert scoring.score_history(db).empty
    assert list(scoring.score_history(db).columns) == scoring.SCORE_HISTORY_COLUMNS
    assert scoring.branch_history("A", db).empty


def test_marts_carry_the_previous_quarter_as_branch_scores_shows_it(db):
    save(db, workbook("A", 2026, 4, rows=full_year_rows(2026, 4)), workbook("B", 2026, 4, branch_type="student"),
         workbook("A", 2027, 1), workbook("N", 2027, 1))
    before = scoring.marts("2027Q1", db, previous=True)["prev_branch_scores"]  # across the year boundary
    want = scoring.branch_scores("2026Q4", db)
    assert not set(scoring.CHANGE_COLUMNS) & set(before.columns)
    pd.testing.assert_frame_equal(before, want[before.columns], check_dtype=False)
    assert scoring.marts("2026Q4", db, previous=True)["prev_branch_scores"].empty  # no quarter before
    assert "prev_branch_scores" not in scoring.marts("2027Q1", db)


# ---- comparisons ---------------------------------------------------------------------------------------
def test_item_summary_and_teacher_student_comparison(db):
    ev, c = evidence_rows(2026, 1), {"fee_due": 10, "fee_paid": 10, **evidence_counts()}
    # 6.1.3 is linked to 志愿服务 ledger rows (in `ev`): T2's 完成 is supported and counts 1
    save(db, workbook("T1", 2026, 1, rows=ev, counts=c, self_status={"6.1.3": ("mostly", "x")}),
         workbook("T2", 2026, 1, rows=ev, counts=c),
         workbook("S1", 2026, 1, branch_type="student", rows=ev, counts=c, self_status={"6.1.3": ("not_done", "")}))
    summ = scoring.item_summary("2026Q1", db)
    row = summ[(summ["item_id"] == "6.1.3")].set_index("branch_type")
    assert row.loc["teacher", "branches"] == 2 and row.loc["teacher", "full_share"] == approx(0.5)
    assert row.loc["teacher", "mean_completion"] == approx(0.85)
    assert row.loc["student", "mean_completion"] == approx(0) and row.loc["all", "full_share"] == approx(1 / 3)
    # annual measures do not make an item pending when it has a due measure; 4.1.1 is teachers only
    assert set(summ.loc[summ["item_id"] == "4.1.1", "branch_type"]) == {"teacher", "all"}
    it = scoring.item_type_comparison("2026Q1", db).set_index("item_id")
    assert it.loc["6.1.3", "teacher_mean"] == approx(0.85) and it.loc["6.1.3", "diff"] == approx(0.85)
    assert it.loc["6.1.3", "teacher_std"] == approx(0.15)
    tc = scoring.type_comparison("2026Q1", db).set_index("dimension_id")
    d6 = {"T1": 0.7 * 100, "T2": (0.7 * 3 + 1) / 4 * 100, "S1": 0.7 * 3 / 4 * 100}  # review-only items 0.7
    assert tc.loc[6, "teacher_mean"] == approx((d6["T1"] + d6["T2"]) / 2)
    assert tc.loc[6, "student_mean"] == approx(d6["S1"])
    assert tc.loc[6, "diff"] == approx((d6["T1"] + d6["T2"]) / 2 - d6["S1"])
    assert tc.loc[6, "name"] == "凝聚师生有力"


# ---- submission status ---------------------------------------------------------------------------------
def test_submission_status_against_the_registry(db):
    from pipelines.store import db as dbmod, writes
    from pipelines.workbook.model import RegistryEntry

    with dbmod.connect(db, write=True) as con:
        writes.save_registry(con, [RegistryEntry("A", "甲支部", "机械学院", "teacher", 10),
                                  RegistryEntry("B", "乙支部", "机械学院", "student", 20),
                                  RegistryEntry("C", "丙支部", "电气学院", "teacher", 5)])
    save(db, workbook("A", 2026, 1), workbook("B", 2026, 1), workbook("D", 2026, 1, college="外语学院"))
    save(db, workbook("B", 2026, 1))  # a second version
    st = scoring.submission_status("2026Q1", db).set_index("branch_code")
    assert st["status"].to_dict() == {"A": "submitted", "B": "resubmitted", "C": "missing", "D": "submitted"}
    assert st.loc["B", "version"] == 2 and pd.isna(st.loc["C", "version"])
    assert st["in_registry"].to_dict() == {"A": True, "B": True, "C": True, "D": False}
    assert st.loc["A", "branch_name"] == "甲支部" and st.loc["D", "college"] == "外语学院"
    # registry names in scores; the college ranking counts registry ∪ submitters
    bs = scoring.branch_scores("2026Q1", db).set_index("branch_code")
    assert bs.loc["A", "branch_name"] == "甲支部" and bs.loc["B", "version"] == 2
    cs = scoring.college_scores("2026Q1", db).set_index("college")
    assert (cs.loc["电气学院", "branches"], cs.loc["电气学院", "submitted"]) == (1, 0)
    assert pd.isna(cs.loc["电气学院", "rank"])
    assert (cs.loc["机械学院", "branches"], cs.loc["机械学院", "submitted"]) == (2, 2)


# ---- trace ---------------------------------------------------------------------------------------------
def test_trace_returns_the_source_rows_of_an_item(db):
    q1 = workbook("A", 2026, 1, rows=ledger(("2026-01-20", "report_to_superior"), ("2026-02-01", "theme_day")),
                  counts={"fee_due": 10, "fee_paid": 10, "members_reported": 3})
    q2 = workbook("A", 2026, 2, rows=ledger(("2026-04-01", "theme_day"), ("2026-05-01", "democratic_review"),
                                            ("2026-07-01", "report_to_superior")),  # dated outside Q2
                  counts={"fee_due": 10, "fee_paid": 10, "members_reported": 5},
                  self_status={"3.1.3": ("done", "报告")})
    save(db, q1, q2)
    t = scoring.trace("2026Q2", "A", "3.1.3", db)
    ledger_rows = t[t["source"] == "ledger"]
    got = {(r.measure_id, r.source_file, r.sheet, r.row_no, r.counted) for r in ledger_rows.itertuples()}
    assert got == {("report_superior", q1.file_name, "活动台账", 2, True),
                   ("report_superior", q2.file_name, "活动台账", 4, False),
                   ("review", q2.file_name, "活动台账", 3, True)}
    counts = t[t["source"] == "counts"]
    assert {(r.source_file, r.sheet, r.row_no, r.value, r.counted) for r in counts.itertuples()} == {
        (q1.file_name, "统计数据", 4, 3.0, False), (q2.file_name, "统计数据", 4, 5.0, True)}
    assert not (t["source"] == "self_assessment").any()  # 3.1.3 has no self-assessed measure
    t311 = scoring.trace("2026Q2", "A", "3.1.1", db)
    sa = t311[t311["source"] == "self_assessment"]
    row_no = next(r.row for r in q2.self_assessment if r.item_id == "3.1.1")
    assert list(zip(sa["measure_id"], sa["sheet"], sa["row_no"], sa["status"], sa["evidence"])) == [
        ("self", "自评", row_no, "完成", "有佐证")]
    # the measure the trace explains agrees with the score
    assert measure(db, "2026Q2", "A", "3.1.3", "report_superior")["actual"] == 1
    assert measure(db, "2026Q2", "A", "3.1.3", "member_reports")["actual"] == 5
    fee = scoring.trace("2026Q2", "A", "2.1.2", db)
    assert set(fee.loc[fee["source"] == "counts", "field"]) == {"fee_due", "fee_paid"}
    assert set(fee["period"]) == {"2026Q2"}


def test_unknown_period_returns_empty_frames(db):
    save(db, workbook("A", 2026, 1))
    assert scoring.branch_scores("2030Q1", db).empty
    assert scoring.measure_scores("2030Q1", db).empty
    assert list(scoring.branch_scores("2030Q1", db).columns[:len(scoring.BRANCH_COLUMNS)]) == scoring.BRANCH_COLUMNS


def test_contract_columns(db):
    save(db, workbook("A", 2026, 1), workbook("A", 2026, 2))
    p = "2026Q2"
    expect = {
        "measure_scores": scoring.MEASURE_COLUMNS,
        "item_scores": scoring.ITEM_COLUMNS,
        "branch_scores": scoring.BRANCH_COLUMNS,
        "indicator_scores": ["branch_code", "indicator_id", "score"],
        "college_scores": ["college", "branches", "submitted", "overall", *scoring.DIMENSION_COLUMNS, "rank"],
        "item_summary": ["item_id", "branch_type", "branches", "full_share", "mean_completion"],
        "type_comparison": ["dimension_id", "name", "teacher_mean", "student_mean", "teacher_std",
                            "student_std", "diff"],
        "item_type_comparison": ["item_id", "teacher_mean", "student_mean", "diff"],
        "score_change": ["branch_code", "delta", *scoring.CONTRIBUTION_COLUMNS],
        "submission_status": ["branch_code", "branch_name", "college", "branch_type", "status", "version",
                              "uploaded_at"],
    }
    for name, cols in expect.items():
        df = getattr(scoring, name)(p, db)
        assert set(cols) <= set(df.columns), (name, set(cols) - set(df.columns))
    assert list(scoring.history(db).columns[:1 + len(scoring.BRANCH_COLUMNS)]) == ["period", *scoring.BRANCH_COLUMNS]
    t = scoring.trace(p, "A", "1.2.1", db)
    assert {"source", "source_file", "sheet", "row_no"} <= set(t.columns)
    up, down = scoring.movers(p, db=db)
    assert "main_dimension" in up.columns and "main_dimension" in down.columns
    all_marts = scoring.marts(p, db)
    pd.testing.assert_frame_equal(all_marts["branch_scores"][scoring.BRANCH_COLUMNS],
                                  scoring.branch_scores(p, db)[scoring.BRANCH_COLUMNS], check_dtype=False)


def test_no_members_scores_hours_and_coverage_as_complete(db):
    save(db, workbook("Z", 2026, 4, members=0, counts={"fee_due": 0, "fee_paid": 0}))
    ms = scoring.measure_scores("2026Q4", db, branch_code="Z").set_index("measure_id")
    assert ms.loc["hours", "completion"] == 1 and ms.loc["talks", "completion"] == 1
    assert ms.loc["fee", "completion"] == 1


def test_duplicate_self_assessment_rows_first_answered_row_wins(db):
    from pipelines.workbook.model import SelfAssessmentRow

    wb = workbook("A", 2026, 1)
    wb.self_assessment = [r for r in wb.self_assessment if r.item_id != "6.1.2"] + [
        SelfAssessmentRow(row=40, item_id="6.1.2", status=None, evidence="空白行"),
        SelfAssessmentRow(row=41, item_id="6.1.2", status="mostly", evidence="第二行"),
        SelfAssessmentRow(row=42, item_id="6.1.2", status="done", evidence="第三行")]
    save(db, wb)
    it = item(db, "2026Q1", "A", "6.1.2")
    assert (it["completion"], it["self_status"], it["evidence"]) == (approx(0.7), "基本完成", "第二行")
    t = scoring.trace("2026Q1", "A", "6.1.2", db)
    assert t.loc[t["counted"], "row_no"].tolist() == [41]


# ---- the score as shown ------------------------------------------------------------------------------------
def test_grades_and_ranks_follow_the_score_as_shown(demo_db):
    """The pages show one decimal: a branch shown as 90.0 is 优秀, and two branches shown alike share a rank."""
    g = guide()
    for period in scoring.periods(demo_db):
        bs = scoring.branch_scores(period, demo_db)
        shown = scoring.shown(bs["overall"])
        assert list(bs["grade"]) == [g.grade(v) for v in shown], period
        for _, same in bs.assign(shown=shown).groupby("shown"):
            assert same["rank"].nunique() == 1, (period, list(same["branch_code"]))
        expected = shown.rank(method="min", ascending=False).astype(int)
        assert list(bs["rank"]) == list(expected), period


def test_score_key_rounds_half_up_without_float_noise(db):
    with _session(db, []) as con:
        got = con.execute("SELECT score_key(89.95), score_key(89.9499), score_key(89.95 - 1e-12), shown(99.24),"
                          " shown(99.16)").fetchone()
    assert got == (900, 899, 900, 99.2, 99.2)
    assert [scoring.shown(x) for x in (89.95, 89.9499, 89.95 - 1e-12, 87.25, -0.25)] == [90.0, 89.9, 90.0, 87.3, -0.2]
    assert scoring.shown(pd.Series([87.25, None])).iloc[0] == 87.3
    # negative numbers (a change, a dimension's contribution) too: the SQL macro and its Python twin agree
    values = [-4.26, -4.25, -4.24, -0.05, -0.04, -89.95, -2.5 - 1e-12, 0.0]
    with _session(db, []) as con:
        in_sql = [con.execute("SELECT shown(?)", [v]).fetchone()[0] for v in values]
    assert in_sql == [scoring.shown(v) for v in values] == [-4.3, -4.2, -4.2, 0.0, 0.0, -89.9, -2.5, 0.0]


def test_college_change_compares_the_same_branches(db):
    """A college whose weak branch stops submitting rises in plain mean, but not like for like."""
    def wb(code, q, status):  # 5.2.2 is linked to 宣传典型 rows (evidence_rows): 完成 counts 1, 未完成 0
        return workbook(code, 2026, q, college="机械学院", rows=full_year_rows(2026, q) + evidence_rows(2026, q),
                        self_status={"5.2.2": status})
    save(db, wb("A", 1, ("done", "x")), wb("B", 1, ("not_done", "")))
    save(db, wb("A", 2, ("done", "x")))
    q1 = scoring.branch_scores("2026Q1", db).set_index("branch_code")["overall"]
    q2 = scoring.branch_scores("2026Q2", db).set_index("branch_code")["overall"]
    cs = scoring.college_scores("2026Q2", db).set_index("college").loc["机械学院"]
    assert cs["overall"] == approx(q2["A"]) and cs["prev_overall"] == approx((q1["A"] + q1["B"]) / 2)
    assert cs["same_branches"] == 1 and cs["overall_same"] == approx(q2["A"]) and cs["prev_same"] == approx(q1["A"])
    assert cs["overall"] - cs["prev_overall"] > 1 and abs(cs["overall_same"] - cs["prev_same"]) < 1e-9


def test_marts_returns_exactly_what_each_scoring_function_returns(demo_db):
    """marts() and the single functions share one reader and one shape per mart: a page may take either."""
    period = scoring.latest_period(demo_db)
    bundle = scoring.marts(period, demo_db, previous=True)
    for name in ("measure_scores", "item_scores", "indicator_scores", "branch_scores", "rankings",
                 "college_scores", "item_summary", "type_comparison", "item_type_comparison", "score_change",
                 "submission_status"):
        pd.testing.assert_frame_equal(bundle[name], getattr(scoring, name)(period, demo_db), obj=name)
    items = bundle["item_scores"]
    assert "item_order" not in items and "flag_message" in items
    one = items[items["branch_code"] == items["branch_code"].iloc[0]]
    order = [it.id for it in guide().items]
    assert list(one["item_id"]) == sorted(one["item_id"], key=order.index)  # the guide's item order
    flagged = pd.concat([scoring.item_scores(p, demo_db) for p in scoring.periods(demo_db)])
    flagged = flagged[flagged["flag"].notna()]
    assert not flagged.empty and flagged["flag_message"].str.len().gt(0).all()


@pytest.mark.parametrize("share, decimals, text", [
    (0.8625, 1, "86.3%"), (0.125, 0, "13%"), (0.865, 0, "87%"), (0.5, 0, "50%"), (None, 0, "—"), (float("nan"), 1, "—"),
])
def test_percentages_round_half_up_like_scores(share, decimals, text):
    """One rounding rule for every displayed figure: 86.25 % shows as 86.3 %, never Python's half-to-even 86.2."""
    assert scoring.percent(share, decimals) == text


def test_half_up_agrees_with_the_score_rule():
    values = pd.Series([88.25, 87.35, 0.05, 12.345])
    assert list(scoring.half_up(values, 1)) == list(scoring.shown(values)) == [88.3, 87.4, 0.1, 12.3]
    assert scoring.half_up(2.5, 0) == 3 and scoring.half_up(12.345, 2) == 12.35


def test_a_review_is_found_by_the_fingerprint_of_the_answer_it_judged(demo_db):
    """self_assessment.sql fingerprints only the answers of reviewed items, with stg_self_assessment's expression:
    every answer finds exactly the current review the staging view's answer_fp finds, in the quarter scored and
    in the quarter before it (scored for the change)."""
    from pipelines.store import review

    period = scoring.latest_period(demo_db)
    prev = scoring.periods(demo_db)[-2]
    for p in (period, prev):
        for code in scoring.branch_scores(p, demo_db)["branch_code"][:3]:
            answers = scoring.scored_answers(p, code, demo_db)
            decisions = {a.item_id: ("sent_back", "请补充佐证") if k % 2 else (a.status, "")
                         for k, a in enumerate(answers.itertuples()) if isinstance(a.status, str)}
            review.decide_many(code, p, decisions, reviewer="审核员", db=demo_db)
    with _session(demo_db, [period], "self_assessment") as con:
        found, wrong = con.execute(
            "SELECT count(rv.review_id), count(*) FILTER (WHERE s.review_id IS DISTINCT FROM rv.review_id) "
            "FROM self_assessment s JOIN stg_self_assessment a USING (submission_id, row_no) "
            "LEFT JOIN stg_reviews rv ON rv.branch_code = a.branch_code AND rv.period = a.period "
            "AND rv.item_id = a.item_id AND rv.answer_fp = a.answer_fp").fetchone()
    assert found >= 6 and wrong == 0


def test_weight_shares_add_up_and_follow_the_guide():
    g = guide()
    dims = scoring.dimension_shares()
    assert list(dims) == [d.id for d in g.dimensions] and sum(dims.values()) == approx(1)
    for t in ("teacher", "student"):
        w = scoring.weight_shares(t)
        assert list(w["item"]) == [it.id for it in g.items if it.applies(t)]
        assert w["overall"].sum() == approx(1)
        for _, per_ind in w.groupby("indicator"):
            assert per_ind["item_share"].sum() == approx(1)
            assert per_ind["overall"].sum() == approx(per_ind["indicator_overall"].iloc[0])
        for dim_id, per_dim in w.groupby("dimension_id"):
            assert per_dim["overall"].sum() == approx(dims[dim_id])
    multi = next(it for it in g.items if len(it.measures) > 1)
    ms = scoring.measure_shares(multi.id)
    assert list(ms) == [m.id for m in multi.measures] and sum(ms.values()) == approx(1)
