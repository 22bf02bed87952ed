"""The guide's alert (预警), honour (红榜) and follow-up (督办) rules, and the checks that their references resolve.

Each check raises ValueError naming the YAML path (alerts.<index>.<key>, honours.<index>.<key>); the guide's
model validator calls them, so a broken rule stops the guide from loading.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from pipelines.guide.base import Strict
from pipelines.guide.vocab import AlertColor

if TYPE_CHECKING:
    from pipelines.guide.model import Guide

AlertKind = Literal[
    "annual_open", "monthly_gap", "quarter_missing_meeting", "hours_pace", "dues_below", "report_overdue",
    "not_submitted", "late_submission", "grade_is", "score_fall", "falls_in_a_row",
]
# The measure kinds each measure-based alert kind reads; the other alert kinds name no measure.
ALERT_MEASURE_KINDS: dict[str, tuple[str, ...]] = {
    "annual_open": ("annual_count", "annual_coverage"),
    "monthly_gap": ("monthly",),
    "quarter_missing_meeting": ("quarterly",),
    "hours_pace": ("hours",),
    "dues_below": ("ratio",),
    "report_overdue": ("semester",),
}


class AlertLevel(Strict):
    """One level of an alert rule: it applies to quarters from `from_quarter` on (Q1–Q4 of the year) when
    the rule's value (per kind, see docs/scoring.md) is strictly greater than `over`."""

    level: AlertColor
    from_quarter: int = Field(default=1, ge=1, le=4)
    over: float = Field(default=0, ge=0)


class AlertRule(Strict):
    """An alert (预警) rule: a kind implemented in pipelines/scoring/alerts.py, its references and its levels."""

    id: str
    name: str
    kind: AlertKind
    item: str | None = None  # measure-based kinds: the item and measure the rule reads
    measure: str | None = None
    grade: str | None = None  # grade_is: the grade name that raises the alert
    due_months: tuple[int, ...] = ()  # report_overdue: months (1–12) by whose end a report is due
    supersedes: tuple[str, ...] = ()  # rule ids whose alert for the same branch this one replaces
    levels: tuple[AlertLevel, ...] = Field(min_length=1)


class HonourRule(Strict):
    """A 红榜 (honour list) rule, evaluated by pipelines/scoring/honours.py. A candidate qualifies when the rule's
    condition held in the quarter and the `quarters - 1` quarters right before it (year boundaries included).

    branch_streak: the branch's grade is `grade` or better and (with `no_red_alert`) no red alert fired for it.
    college_top: every submitted branch of the college is `grade` or better and the college's mean overall
    ranks among the `top` best colleges of the quarter."""

    id: str
    name: str
    kind: Literal["branch_streak", "college_top"]
    grade: str
    quarters: int = Field(default=1, ge=1, le=12)
    no_red_alert: bool = False  # branch_streak only
    top: int | None = Field(default=None, ge=1)  # college_top only


class FollowupRules(Strict):
    """督办 (follow-up) checks of pipelines/store/followup.py: a task on a weak item counts as 已整改 when the item's
    completion (0–1) in a later quarter reaches `item_resolved`."""

    item_resolved: float = Field(default=1.0, gt=0, le=1)


def check_honours(guide: Guide) -> None:
    """Every honour rule's references resolve; errors name the YAML path (honours.<index>.<key>)."""
    ids = [r.id for r in guide.honours]
    grades = {g.name for g in guide.grades}
    for i, rule in enumerate(guide.honours):
        where = f"honours.{i}"
        if rule.id in ids[:i]:
            raise ValueError(f"{where}.id: duplicate honour rule id {rule.id!r}")
        if rule.grade not in grades:
            raise ValueError(f"{where}.grade: unknown grade {rule.grade!r}")
        if (rule.kind == "college_top") != (rule.top is not None):
            raise ValueError(f"{where}.top: only and always needed by kind college_top")
        if rule.no_red_alert and rule.kind != "branch_streak":
            raise ValueError(f"{where}.no_red_alert: only kind branch_streak reads alerts")


def check_alerts(guide: Guide) -> None:
    """Every alert rule's references resolve; errors name the YAML path (alerts.<index>.<key>)."""
    ids = [r.id for r in guide.alerts]
    grades = {g.name for g in guide.grades}
    for i, rule in enumerate(guide.alerts):
        where = f"alerts.{i}"
        if ids.count(rule.id) > 1:
            raise ValueError(f"{where}.id: duplicate alert rule id {rule.id!r}")
        _check_alert_measure(guide, rule, where)
        if (rule.kind == "grade_is") != (rule.grade is not None):
            raise ValueError(f"{where}.grade: only and always needed by kind grade_is")
        if rule.grade is not None and rule.grade not in grades:
            raise ValueError(f"{where}.grade: unknown grade {rule.grade!r}")
        if (rule.kind == "report_overdue") != bool(rule.due_months):
            raise ValueError(f"{where}.due_months: only and always needed by kind report_overdue")
        if list(rule.due_months) != sorted(set(rule.due_months)) or not all(1 <= m <= 12 for m in rule.due_months):
            raise ValueError(f"{where}.due_months: months must be 1–12, ascending, without repeats")
        for other in rule.supersedes:
            if other not in ids or other == rule.id:
                raise ValueError(f"{where}.supersedes: unknown alert rule {other!r}")


def _check_alert_measure(guide: Guide, rule: AlertRule, where: str) -> None:
    kinds = ALERT_MEASURE_KINDS.get(rule.kind)
    if kinds is None:
        if rule.item or rule.measure:
            raise ValueError(f"{where}.item: kind {rule.kind} reads no measure; remove item and measure")
        return
    if not rule.item or not rule.measure:
        raise ValueError(f"{where}.measure: kind {rule.kind} needs item and measure")
    try:
        item = guide.item(rule.item)
    except KeyError:
        raise ValueError(f"{where}.item: unknown item {rule.item!r}") from None
    measure = next((m for m in item.measures if m.id == rule.measure), None)
    if measure is None:
        raise ValueError(f"{where}.measure: item {rule.item} has no measure {rule.measure!r}")
    if measure.kind not in kinds:
        raise ValueError(f"{where}.measure: {rule.item}/{rule.measure} is {measure.kind}; "
                         f"kind {rule.kind} reads {' or '.join(kinds)}")
