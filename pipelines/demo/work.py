"""The demo school's work after its workbooks are in: part of the latest quarter reviewed and a few follow-ups
opened, through the same pipelines functions an admin uses, so every page has review states, 核实率 and 整改
statuses to show. Deterministic from the demo's seed."""
from __future__ import annotations

import numpy as np

from pipelines.guide.period import Period

REVIEWER = "组织部审核员（演示）"
REVIEW_SHARE = 0.25  # the share of the latest quarter's branches the demo reviewer has got to
SEND_BACK_SHARE = 0.15  # of their unsupported or review-only 完成 answers, the share sent back (退回补充)


def review_sample(db, *, seed: int = 0) -> int:
    """Review part of the latest quarter through pipelines.store.review, deterministically from the seed, so the
    review states (待审核, 认定…, 退回补充) and 核实率 have something to show. A supported 完成 is confirmed;
    a 完成 without ledger support or on a review-only item is confirmed, rated 基本完成 or sent back (with a
    comment); evidence of a few characters is sent back; other answers are confirmed as given. Returns decisions made."""
    from pipelines import scoring
    from pipelines.store import review

    period = scoring.latest_period(db)
    if period is None:
        return 0
    codes = sorted(scoring.branch_scores(period, db)["branch_code"])
    rng = np.random.default_rng([seed, 7])
    chosen = [c for c in codes if rng.random() < REVIEW_SHARE]
    done = 0
    for code in chosen:
        decisions = {a.item_id: _decision(a, rng) for a in scoring.scored_answers(period, code, db).itertuples()}
        done += len(review.decide_many(code, period, decisions, reviewer=REVIEWER, db=db))
    return done


def _decision(answer, rng: np.random.Generator) -> tuple[str, str]:
    from pipelines.store import review
    from pipelines.guide import guide

    g = guide()
    status = answer.status if isinstance(answer.status, str) else None
    if status is None:  # the lowest answer (未完成)
        return min(g.self_assessment, key=lambda a: a.value).id, "未填写自评，认定未完成"
    if len(answer.evidence.strip()) < 4:
        return review.SENT_BACK, "佐证材料过于简略，请补充会议记录、照片等具体材料"
    if status == g.full_answer and isinstance(answer.flag, str):
        draw = rng.random()
        if draw < SEND_BACK_SHARE:
            return review.SENT_BACK, "台账中未见相关活动记录，请补充会议记录、照片等佐证材料后重新报送"
        if draw < 0.5:
            return g.self_assessment_without_evidence, "台账中未见足够的相关活动记录，认定基本完成"
    return status, ""


DEMO_FOLLOWUPS = 3  # of each outcome: resolved and not, so the latest quarter shows both


def open_followups(db, actor: str) -> None:
    """Open follow-ups in the second-latest quarter from its alerts: DEMO_FOLLOWUPS the latest quarter's data
    resolves and DEMO_FOLLOWUPS it does not (deterministic: alerts in their own order)."""
    from pipelines import scoring
    from pipelines.store import followup
    from pipelines.scoring import alerts

    periods = scoring.periods(db)
    if len(periods) < 2:
        return
    before, latest = periods[-2], periods[-1]
    now = {(b, r) for b, r in zip(*(alerts.alerts(latest, db)[c] for c in ("branch_code", "rule_id")))}
    submitted = set(scoring.branch_scores(latest, db)["branch_code"])
    picked = {True: [], False: []}
    for r in alerts.alerts(before, db).itertuples(index=False):
        still = (r.branch_code, r.rule_id) in now
        if r.branch_code in submitted and len(picked[still]) < DEMO_FOLLOWUPS:
            picked[still].append(r)
    due = Period.parse(latest).end
    for r in picked[True] + picked[False]:
        followup.open_followup(before, branch_code=r.branch_code, rule_id=r.rule_id, due_date=due, db=db,
                               note=f"针对“{r.rule_name}”制定整改措施，下季度报送时核实。", actor=actor)
