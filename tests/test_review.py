"""Review (审核) of self-assessed answers and evidence from the ledger: the default policy, the blend, 核实率,
re-submission, rollback/withdraw, audit and rebuild — each against a hand-computed case on real DuckDB files."""
from __future__ import annotations

import pandas as pd
import pytest
import yaml

from pipelines import config, scoring
from pipelines.store import ingest, rebuild, review, versions
from pipelines.store import db as dbmod
from pipelines.config import settings
from pipelines.guide import guide
from test_scoring_fixtures import evidence_counts, evidence_rows, full_year_rows, ledger, save, workbook


@pytest.fixture
def db():
    return settings().db_path


def approx(x):
    return pytest.approx(x, abs=1e-9)


def items(db, period, code) -> pd.DataFrame:
    return scoring.item_scores(period, db, branch_code=code).set_index("item_id")


def flag(row) -> str | None:
    return row["flag"] if isinstance(row["flag"], str) else None


def d5(db, period="2026Q1", code="A") -> pd.Series:
    return scoring.branch_scores(period, db).set_index("branch_code").loc[code]


def _reviewed_branch(db):
    """A: empty ledger, every answer 完成 with text, so unreviewed each scores 0.7: 5.2.2 is linked to 宣传典型
    ledger rows and has none (no_ledger); 5.1.1, 5.1.2, 5.2.1 have no link (review-only: unreviewed)."""
    save(db, workbook("A", 2026, 1))
    review.decide("A", "2026Q1", "5.2.2", "done", reviewer="审核员甲", db=db)
    review.decide("A", "2026Q1", "5.1.1", "mostly", reviewer="审核员甲", comment="只见计划，未见总结", db=db)
    review.decide("A", "2026Q1", "5.2.1", review.SENT_BACK, reviewer="审核员甲", comment="请补充典型材料", db=db)


def test_unsupported_done_counts_as_mostly_until_the_ledger_supports_it(db):
    save(db, workbook("A", 2026, 1),
         workbook("B", 2026, 1, rows=ledger(("2026-02-03", "publicity"), ("2026-04-03", "publicity"))),
         workbook("C", 2026, 1, rows=ledger(("2026-04-03", "publicity"))))  # dated in Q2: not in Q1's window
    a, b, c = (items(db, "2026Q1", k).loc["5.2.2"] for k in "ABC")
    assert (a["completion"], flag(a), bool(a["linked"]), a["evidence_rows"]) == (approx(0.7), "no_ledger", True, 0)
    assert "待核实" in a["flag_message"]
    assert (b["completion"], flag(b), b["evidence_rows"]) == (approx(1.0), None, 1)
    assert (c["completion"], flag(c)) == (approx(0.7), "no_ledger")
    assert not bool(items(db, "2026Q1", "A").loc["5.1.1", "linked"])  # review-only: as answered
    rows = scoring.evidence_rows("2026Q1", "B", db)
    assert list(rows["item_id"]) == ["5.2.2"] and rows.iloc[0]["activity_type"] == "publicity"


def test_year_to_date_and_count_links(db):
    save(db, workbook("A", 2026, 1, rows=ledger(("2026-03-01", "heart_talk")), counts={"applicants": 2}),
         workbook("A", 2026, 2, counts={"applicants": 0}))
    q2 = items(db, "2026Q2", "A")
    # 3.1.1 谈心谈话 and 2.1.1 党员发展 look at the year so far: Q1's rows support Q2's answers
    assert flag(q2.loc["3.1.1"]) is None and flag(q2.loc["2.1.1"]) is None
    assert q2.loc["2.1.1", "evidence_rows"] == 1  # Q1's 入党申请人数 2; Q2's 0 is no evidence
    # 7.1.2 looks at this quarter only
    assert q2.loc["7.1.2", "flag"] == "no_ledger"


def test_default_policy_reviewed_values_sent_back_and_verified_share(db):
    _reviewed_branch(db)
    it = items(db, "2026Q1", "A")
    assert it.loc["5.2.2", "completion"] == approx(1.0) and flag(it.loc["5.2.2"]) is None
    assert it.loc["5.1.1", "completion"] == approx(0.7) and it.loc["5.1.1", "review_decision"] == "mostly"
    assert it.loc["5.2.1", "completion"] == approx(0.7) and it.loc["5.2.1", "flag"] == "sent_back"
    assert it.loc["5.1.2", "completion"] == approx(0.7) and pd.isna(it.loc["5.1.2", "review_decision"])
    assert it.loc["5.1.2", "flag"] == "unreviewed"
    assert list(it.loc[["5.2.2", "5.1.1", "5.2.1", "5.1.2"], "verified"]) == [1, 1, 0, 0]
    row = d5(db)
    # 5.1 = (0.7 + 0.7)/2, 5.2 = (0.7 + 1.0)/2 → d5 = (70 + 85)/2 = 77.5; verified: 5.1 ½, 5.2 ½ → v5 = 0.5
    assert row["d5"] == approx(77.5) and row["v5"] == approx(0.5)


def test_blend_is_a_yaml_switch(db, tmp_path, monkeypatch):
    raw = yaml.safe_load(open(settings().guide_path, encoding="utf-8"))
    raw["review"] = {"blend": True, "self_share": 0.4}
    path = tmp_path / "guide.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("DJ_GUIDE_PATH", str(path))
    config.settings.cache_clear()
    assert guide().review.blend
    _reviewed_branch(db)
    it = items(db, "2026Q1", "A")
    assert it.loc["5.2.2", "completion"] == approx(0.4 * 1 + 0.6 * 1)
    assert it.loc["5.1.1", "completion"] == approx(0.4 * 1 + 0.6 * 0.7)  # 0.82
    assert it.loc["5.2.1", "completion"] == approx(0.7)  # sent back: not a review value, the default rule
    assert it.loc["5.1.2", "completion"] == approx(0.7)  # unreviewed: the default rule
    assert d5(db)["d5"] == approx(((0.82 + 0.7) / 2 + (0.7 + 1) / 2) / 2 * 100)  # (76 + 85)/2 = 80.5


def test_verified_share_by_hand(db):
    save(db, workbook("A", 2026, 1))
    it = items(db, "2026Q1", "A")
    # 1.2.1: committee w3 + assembly w2 computed, lecture w2 pending, dual_life w1 self → 5/6
    assert it.loc["1.2.1", "verified"] == approx(5 / 6) and it.loc["1.1.1", "verified"] == approx(0)
    row = d5(db)
    # d1: 1.1 (all self) 0, 1.2 = (2 × 5/6 + 1 × 1)/3 = 8/9 → 4/9; d3: 3.1.3 alone is computed → 1/4
    assert row["v1"] == approx(4 / 9) and row["v3"] == approx(0.25) and row["v5"] == approx(0)
    bs = scoring.branch_scores("2026Q1", db).iloc[0]
    weights = {d.id: d.weight for d in guide().dimensions}
    want = sum(weights[k] * bs[f"v{k}"] for k in weights) / sum(weights.values())
    assert bs["verified"] == approx(want)
    review.decide("A", "2026Q1", "1.2.1", "done", reviewer="审核员甲", db=db)
    assert items(db, "2026Q1", "A").loc["1.2.1", "verified"] == approx(1.0)
    assert d5(db)["v1"] == approx(0.5)


def test_empty_ledger_all_done_ranks_below_complete_ledger_mostly_until_reviewed(db):
    for q in (1, 4):
        months = full_year_rows(2026, q) + evidence_rows(2026, q)
        save(db, workbook("E", 2026, q, counts={}, default_status=("done", "无")),
             workbook("F", 2026, q, rows=months, counts={"fee_due": 10, "fee_paid": 10, **evidence_counts()},
                      default_status=("mostly", "见台账")))
        bs = scoring.branch_scores(f"2026Q{q}", db).set_index("branch_code")
        assert bs.loc["E", "overall"] < bs.loc["F", "overall"], q
        # both ledgers were computed (the empty one to 0): the same weight of the two scores is checked
        assert bs.loc["E", "verified"] == approx(bs.loc["F", "verified"]) and bs.loc["E", "verified"] < 0.5
    before = d5(db, "2026Q1", "E")["overall"]
    for it in guide().items_for("teacher"):
        if it.self_assessed:
            review.decide("E", "2026Q1", it.id, "done", reviewer="审核员甲", db=db)
    after = d5(db, "2026Q1", "E")
    assert after["overall"] > before and after["v5"] == approx(1.0)


def test_decisions_need_a_reviewer_and_a_comment_when_lower_or_sent_back(db):
    save(db, workbook("A", 2026, 1, self_status={"5.1.2": ("mostly", "记录")}))
    with pytest.raises(PermissionError, match="已登录的管理员"):
        review.decide("A", "2026Q1", "5.1.1", "done", reviewer=" ", db=db)
    with pytest.raises(ValueError, match="须填写审核意见"):
        review.decide("A", "2026Q1", "5.1.1", "not_done", reviewer="甲", db=db)
    with pytest.raises(ValueError, match="须填写审核意见"):
        review.decide("A", "2026Q1", "5.1.2", review.SENT_BACK, reviewer="甲", db=db)
    with pytest.raises(ValueError, match="不是自评指标"):
        review.decide("A", "2026Q1", "1.2.2", "done", reviewer="甲", db=db)
    with pytest.raises(ValueError, match="没有当前报送"):
        review.decide("Z", "2026Q1", "5.1.1", "done", reviewer="甲", db=db)
    review.decide("A", "2026Q1", "5.1.2", "done", reviewer="甲", db=db)  # higher than the answer: no comment
    with dbmod.connect(db) as con:
        assert con.execute("SELECT count(*) FROM reviews").fetchone()[0] == 1


def test_history_and_audit_keep_every_decision(db):
    save(db, workbook("A", 2026, 1))
    review.decide("A", "2026Q1", "5.1.1", review.SENT_BACK, reviewer="甲", comment="补材料", db=db)
    review.decide("A", "2026Q1", "5.1.1", "done", reviewer="乙", db=db)
    h = scoring.review_history("A", "2026Q1", "5.1.1", db)
    assert list(h["decision_name"]) == ["认定完成", "退回补充"] and list(h["reviewer"]) == ["乙", "甲"]
    assert list(h["current"]) == [True, False] and h.iloc[1]["comment"] == "补材料"
    assert len(scoring.review_history("A", "2026Q1", db=db)) == 2  # every item of the branch-quarter
    with dbmod.connect(db) as con:
        audit = con.execute("SELECT actor, detail FROM audit_log WHERE action = 'review' ORDER BY logged_at, actor"
                            ).fetchall()
    assert sorted(a for a, _ in audit) == sorted(["甲", "乙"])
    assert any("退回补充" in d and "补材料" in d for _, d in audit)


def test_resubmission_resets_only_changed_items_and_rollback_brings_the_review_back(db):
    save(db, workbook("A", 2026, 1))
    for item_id in ("5.1.1", "5.1.2", "6.1.1"):
        review.decide("A", "2026Q1", item_id, "done", reviewer="甲", db=db)
    # v2: 5.1.2's evidence text changes, 6.1.1's answer changes, 5.1.1 is the same
    save(db, workbook("A", 2026, 1, self_status={"5.1.2": ("done", "新增会议纪要"), "6.1.1": ("mostly", "有佐证")}))
    it = items(db, "2026Q1", "A")
    assert it.loc["5.1.1", "review_decision"] == "done" and it.loc["5.1.1", "verified"] == 1
    assert pd.isna(it.loc["5.1.2", "review_decision"]) and it.loc["5.1.2", "verified"] == 0
    assert pd.isna(it.loc["6.1.1", "review_decision"]) and it.loc["6.1.1", "completion"] == approx(0.7)
    assert versions.rollback("A", "2026Q1", db, actor="甲") is not None  # v1 again: its reviews again
    it = items(db, "2026Q1", "A")
    assert list(it.loc[["5.1.1", "5.1.2", "6.1.1"], "review_decision"]) == ["done", "done", "done"]
    assert versions.withdraw("A", "2026Q1", db, actor="甲") is not None
    with pytest.raises(ValueError, match="没有当前报送"):
        review.decide("A", "2026Q1", "5.1.1", "done", reviewer="甲", db=db)


def test_rebuild_replays_review_decisions(db, tmp_path):
    from ingest_helpers import branch_workbook, snapshot

    ingest.ingest([branch_workbook(tmp_path / "a.xlsx")], db, actor="甲")
    review.decide("JX01-T01", "2026Q1", "5.1.1", "mostly", reviewer="甲", comment="材料不全", db=db)
    before = snapshot(db)
    rebuild.rebuild(db, actor="甲")
    after = snapshot(db)
    assert after["reviews"] == before["reviews"] and len(after["reviews"]) == 1
    assert items(db, "2026Q1", "JX01-T01").loc["5.1.1", "completion"] == approx(0.7)
