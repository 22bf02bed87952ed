"""The indicator guide (indicator_guide.yaml) as typed, validated objects.

Everything that names an item, an activity type, a weight or a sheet comes from here; no other module
repeats those lists.
"""
from __future__ import annotations

import hashlib
from functools import cached_property, lru_cache
from pathlib import Path
from string import Formatter
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipelines.config import settings

BranchType = Literal["teacher", "student"]
MeasureKind = Literal[
    "monthly", "quarterly", "semester", "annual_count", "annual_coverage", "hours", "ratio", "self_assessed"
]


class GuideError(Exception):
    """The guide file is missing or broken; the message names the offending key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Named(_Strict):
    id: str
    name: str
    synonyms: tuple[str, ...] = ()


class SelfAssessmentOption(_Strict):
    id: str
    name: str
    value: float = Field(ge=0, le=1)
    synonyms: tuple[str, ...] = ()  # what secretaries type instead of the dropdown's name


class Grade(_Strict):
    name: str
    min: float = Field(ge=0, le=100)


class CountField(_Strict):
    id: str
    name: str
    scope: Literal["quarter", "year_to_date"]
    hint: str = ""


class Limits(_Strict):
    max_hours_per_day: float = 24
    max_file_mb: float = 10
    max_uncompressed_mb: float = 100
    max_ledger_rows: int = 2000
    max_members: int = 1000
    # 党员数 may differ from the registry's by this share (at least 1 member) before it is a warning
    members_tolerance: float = Field(default=0.1, ge=0, le=1)


class SummaryRules(_Strict):
    """Rules of the quarter summary (本季度要点, pipelines/report/summary.py): what is worth a sentence."""

    names_per_sentence: int = Field(default=3, ge=1, le=5)  # colleges, branches or items named in one sentence
    college_change: float = Field(default=5.0, gt=0)  # a college's like-for-like mean moved this much: named
    branch_change: float = Field(default=10.0, gt=0)  # a branch's overall moved this much: named


class Measure(_Strict):
    """How one requirement of an item is computed (测评规则)."""

    id: str
    kind: MeasureKind
    name: str
    weight: float = Field(default=1, gt=0)
    activity: str | None = None  # activity type id, for ledger-based kinds
    required: float | None = None  # annual_count: times a year; hours: hours per member per year
    count: str | None = None  # annual_coverage: count field id of covered members
    numerator: str | None = None  # ratio
    denominator: str | None = None  # ratio

    @model_validator(mode="after")
    def _parameters(self) -> "Measure":
        needs = {
            "monthly": ["activity"],
            "quarterly": ["activity"],
            "semester": ["activity"],
            "annual_count": ["activity", "required"],
            "hours": ["activity", "required"],
            "annual_coverage": ["count"],
            "ratio": ["numerator", "denominator"],
            "self_assessed": [],
        }[self.kind]
        missing = [k for k in needs if getattr(self, k) is None]
        if missing:
            raise ValueError(f"measure {self.id!r} of kind {self.kind} needs {', '.join(missing)}")
        return self


class Evidence(_Strict):
    """What in the workbook evidences a self-assessed item (佐证): ledger activity types and/or count fields,
    looked for in this quarter's workbook or in every workbook of the year so far. `source` quotes the item's
    own sentence the link is chosen from (docs/scoring.md lists each link beside its sentence)."""

    activities: tuple[str, ...] = ()  # activity type ids: a ledger row of one of them dated in its quarter
    counts: tuple[str, ...] = ()  # count field ids: a value above 0
    scope: Literal["quarter", "year_to_date"] = "quarter"
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _something(self) -> "Evidence":
        if not self.activities and not self.counts:
            raise ValueError("evidence needs activities or counts")
        return self


class ReviewPolicy(_Strict):
    """How review decisions (审核) enter the score; docs/scoring.md 审核与核实率 has the worked example."""

    # False: a reviewed item scores the reviewed value. True: self_share × the answer's own value +
    # (1 − self_share) × the reviewed value (e.g. self 40 % / review 60 %).
    blend: bool = False
    self_share: float = Field(default=0.4, ge=0, le=1)


class Item(_Strict):
    """A third-level item (三级指标 / 考核要点)."""

    id: str
    text: str
    weight: float = Field(default=1, gt=0)
    applies_to: tuple[BranchType, ...] = ("teacher", "student")
    parts: dict[BranchType, str] = Field(default_factory=dict)
    measures: tuple[Measure, ...] = Field(min_length=1)
    evidence: Evidence | None = None  # self-assessed items only; without it the item is review-only

    def applies(self, branch_type: str) -> bool:
        return branch_type in self.applies_to

    @property
    def self_assessed(self) -> bool:
        return any(m.kind == "self_assessed" for m in self.measures)


class Indicator(_Strict):
    """A second-level indicator (二级指标)."""

    id: str
    name: str
    weight: float = Field(default=1, gt=0)
    items: tuple[Item, ...] = Field(min_length=1)


class Dimension(_Strict):
    """A first-level dimension (一级指标), one axis of the radar."""

    id: int = Field(ge=1, le=7)
    name: str
    short: str
    weight: float = Field(gt=0)
    indicators: tuple[Indicator, ...] = Field(min_length=1)


class Column(_Strict):
    id: str
    name: str
    hint: str = ""


class Sheets(_Strict):
    guide: str
    info: str
    ledger: str
    counts: str
    self_assessment: str


# Optional registry columns the code stores (RegistryEntry fields); the guide gives their Chinese headers.
REGISTRY_OPTIONAL_IDS = ("secretary_name", "phone")
# The names a common mistake may use, filled in by pipelines.workbook.template.mistakes.
MISTAKE_FIELDS = frozenset({"ledger", "catch_all", "without_evidence", "example_prefix"})


class Workbook(_Strict):
    sheets: Sheets
    info_fields: tuple[Column, ...]
    registry_optional_columns: tuple[Column, ...] = ()
    ledger_columns: tuple[Column, ...]
    counts_columns: tuple[Column, ...]
    self_assessment_columns: tuple[Column, ...]
    # 常见错误, in the template's 使用说明 and on the public template page (pipelines.workbook.template.mistakes);
    # {ledger}, {catch_all}, {without_evidence} and {example_prefix} are filled in from the guide and template.
    common_mistakes: tuple[str, ...] = ()

    @field_validator("common_mistakes")
    @classmethod
    def _known_fields(cls, lines: tuple[str, ...]) -> tuple[str, ...]:
        for i, line in enumerate(lines):
            used = {f for _, f, _, _ in Formatter().parse(line) if f is not None}
            if used - MISTAKE_FIELDS:
                unknown = ", ".join(sorted(used - MISTAKE_FIELDS))
                raise ValueError(f"workbook.common_mistakes[{i}]: unknown field(s) {unknown} "
                                 f"(known: {', '.join(sorted(MISTAKE_FIELDS))})")
        return lines

    @model_validator(mode="after")
    def _registry_ids(self) -> "Workbook":
        for i, col in enumerate(self.registry_optional_columns):
            if col.id not in REGISTRY_OPTIONAL_IDS:
                raise ValueError(f"workbook.registry_optional_columns.{i}.id: unknown column {col.id!r} "
                                 f"(known: {', '.join(REGISTRY_OPTIONAL_IDS)})")
        return self


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


class AlertLevel(_Strict):
    """One level of an alert rule: it applies to quarters from `from_quarter` on (Q1–Q4 of the year) when
    the rule's value (per kind, see docs/scoring.md) is strictly greater than `over`."""

    level: Literal["red", "yellow"]
    from_quarter: int = Field(default=1, ge=1, le=4)
    over: float = Field(default=0, ge=0)


class AlertRule(_Strict):
    """An alert (预警) rule: a kind implemented in pipelines/alerts.py, its references and its levels."""

    id: str
    name: str
    kind: AlertKind
    item: str | None = None  # measure-based kinds: the item and measure the rule reads
    measure: str | None = None
    grade: str | None = None  # grade_is: the grade name that raises the alert
    due_months: tuple[int, ...] = ()  # report_overdue: months (1–12) by whose end a report is due
    supersedes: tuple[str, ...] = ()  # rule ids whose alert for the same branch this one replaces
    levels: tuple[AlertLevel, ...] = Field(min_length=1)


class HonourRule(_Strict):
    """A 红榜 (honour list) rule, evaluated by pipelines/honours.py. A candidate qualifies when the rule's
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


class FollowupRules(_Strict):
    """督办 (follow-up) checks of pipelines/store/followup.py: a task on a weak item counts as 已整改 when the item's
    completion (0–1) in a later quarter reaches `item_resolved`."""

    item_resolved: float = Field(default=1.0, gt=0, le=1)


class Guide(_Strict):
    version: str
    title: str
    school: str
    branch_types: tuple[Named, ...]
    self_assessment: tuple[SelfAssessmentOption, ...]
    self_assessment_without_evidence: str
    grades: tuple[Grade, ...]
    activity_types: tuple[Named, ...]
    count_fields: tuple[CountField, ...]
    limits: Limits
    summary: SummaryRules = SummaryRules()
    review: ReviewPolicy = ReviewPolicy()
    dimensions: tuple[Dimension, ...] = Field(min_length=7, max_length=7)
    workbook: Workbook
    alerts: tuple[AlertRule, ...] = ()
    honours: tuple[HonourRule, ...] = ()
    followups: FollowupRules = FollowupRules()

    @model_validator(mode="after")
    def _references(self) -> "Guide":
        activities = {a.id for a in self.activity_types}
        counts = {c.id for c in self.count_fields}
        answers = {s.id for s in self.self_assessment}
        if self.self_assessment_without_evidence not in answers:
            raise ValueError(f"self_assessment_without_evidence: unknown answer {self.self_assessment_without_evidence!r}")
        if [d.id for d in self.dimensions] != list(range(1, 8)):
            raise ValueError("dimensions: ids must be 1..7 in order")
        seen: set[str] = set()
        for dim in self.dimensions:
            for ind in dim.indicators:
                if not ind.id.startswith(f"{dim.id}."):
                    raise ValueError(f"dimensions.{dim.id}.indicators.{ind.id}: id must start with {dim.id}.")
                for item in ind.items:
                    where = f"dimensions.{dim.id}.indicators.{ind.id}.items.{item.id}"
                    if not item.id.startswith(f"{ind.id}."):
                        raise ValueError(f"{where}: id must start with {ind.id}.")
                    if item.id in seen:
                        raise ValueError(f"{where}: duplicate item id")
                    seen.add(item.id)
                    self._check_evidence(item, where, activities, counts)
                    for m in item.measures:
                        if m.activity and m.activity not in activities:
                            raise ValueError(f"{where}.measures.{m.id}.activity: unknown activity type {m.activity!r}")
                        for ref in (m.count, m.numerator, m.denominator):
                            if ref and ref not in counts:
                                raise ValueError(f"{where}.measures.{m.id}: unknown count field {ref!r}")
        mins = [g.min for g in self.grades]
        if mins != sorted(mins, reverse=True) or mins[-1] != 0:
            raise ValueError("grades: minimums must descend and end at 0")
        self._check_alerts()
        self._check_honours()
        return self

    def _check_honours(self) -> None:
        """Every honour rule's references resolve; errors name the YAML path (honours.<index>.<key>)."""
        ids = [r.id for r in self.honours]
        grades = {g.name for g in self.grades}
        for i, rule in enumerate(self.honours):
            where = f"honours.{i}"
            if rule.id in ids[:i]:
                raise ValueError(f"{where}.id: duplicate honour rule id {rule.id!r}")
            if rule.grade not in grades:
                raise ValueError(f"{where}.grade: unknown grade {rule.grade!r}")
            if (rule.kind == "college_top") != (rule.top is not None):
                raise ValueError(f"{where}.top: only and always needed by kind college_top")
            if rule.no_red_alert and rule.kind != "branch_streak":
                raise ValueError(f"{where}.no_red_alert: only kind branch_streak reads alerts")

    @staticmethod
    def _check_evidence(item: Item, where: str, activities: set[str], counts: set[str]) -> None:
        ev = item.evidence
        if ev is None:
            return
        if not item.self_assessed:
            raise ValueError(f"{where}.evidence: only self-assessed items take an evidence link")
        for a in ev.activities:
            if a not in activities:
                raise ValueError(f"{where}.evidence.activities: unknown activity type {a!r}")
        for c in ev.counts:
            if c not in counts:
                raise ValueError(f"{where}.evidence.counts: unknown count field {c!r}")
        if ev.source not in item.text:
            raise ValueError(f"{where}.evidence.source: not a quote of the item's text")

    def _check_alerts(self) -> None:
        """Every alert rule's references resolve; errors name the YAML path (alerts.<index>.<key>)."""
        ids = [r.id for r in self.alerts]
        grades = {g.name for g in self.grades}
        for i, rule in enumerate(self.alerts):
            where = f"alerts.{i}"
            if ids.count(rule.id) > 1:
                raise ValueError(f"{where}.id: duplicate alert rule id {rule.id!r}")
            self._check_alert_measure(rule, where)
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

    def _check_alert_measure(self, rule: AlertRule, where: str) -> None:
        kinds = ALERT_MEASURE_KINDS.get(rule.kind)
        if kinds is None:
            if rule.item or rule.measure:
                raise ValueError(f"{where}.item: kind {rule.kind} reads no measure; remove item and measure")
            return
        if not rule.item or not rule.measure:
            raise ValueError(f"{where}.measure: kind {rule.kind} needs item and measure")
        try:
            item = self.item(rule.item)
        except KeyError:
            raise ValueError(f"{where}.item: unknown item {rule.item!r}") from None
        measure = next((m for m in item.measures if m.id == rule.measure), None)
        if measure is None:
            raise ValueError(f"{where}.measure: item {rule.item} has no measure {rule.measure!r}")
        if measure.kind not in kinds:
            raise ValueError(f"{where}.measure: {rule.item}/{rule.measure} is {measure.kind}; "
                             f"kind {rule.kind} reads {' or '.join(kinds)}")

    # ---- lookups -------------------------------------------------------------------------------
    @cached_property
    def fingerprint(self) -> str:
        """A short hash of the whole guide: changes with any weight, rule or text, even if `version` does not."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:12]

    @property
    def indicators(self) -> list[Indicator]:
        return [ind for d in self.dimensions for ind in d.indicators]

    @property
    def items(self) -> list[Item]:
        return [it for d in self.dimensions for ind in d.indicators for it in ind.items]

    def items_for(self, branch_type: str) -> list[Item]:
        return [it for it in self.items if it.applies(branch_type)]

    def item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)

    def item_label(self, item_id: str, width: int = 18) -> str:
        """'1.2.1 “三会一课”突出政治学习…' — an item id with the start of its text (charts, the summary)."""
        try:
            text = self.item(item_id).text
        except KeyError:
            return item_id
        return f"{item_id} {text[:width]}…" if len(text) > width else f"{item_id} {text}"

    def dimension_of(self, item_id: str) -> Dimension:
        return self.dimensions[int(item_id.split(".")[0]) - 1]

    def grade(self, score: float) -> str:
        return next(g.name for g in self.grades if score >= g.min)

    def alert_rule(self, rule_id: str) -> AlertRule:
        for rule in self.alerts:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def grade_at_least(self, grade: str, floor: str) -> bool:
        """Whether `grade` is `floor` or better (grades are listed best first)."""
        names = [g.name for g in self.grades]
        return grade in names and names.index(grade) <= names.index(floor)

    def measure(self, item_id: str, measure_id: str) -> Measure:
        return next(m for m in self.item(item_id).measures if m.id == measure_id)

    def branch_type_name(self, type_id: str) -> str:
        return next(t.name for t in self.branch_types if t.id == type_id)

    def activity_name(self, activity_id: str) -> str:
        return next(a.name for a in self.activity_types if a.id == activity_id)

    def lookup(self, kind: Literal["branch_type", "activity_type"], text: str) -> str | None:
        """Map what a secretary typed (name or synonym, already normalised) to an id, or None."""
        options = self.branch_types if kind == "branch_type" else self.activity_types
        for opt in options:
            if text == opt.id or text == opt.name or text in opt.synonyms:
                return opt.id
        return None


def _locate(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return ".".join(str(p) for p in err["loc"]) or "(root)"


def load_guide(path: str | Path | None = None) -> Guide:
    """Load and check the guide; raise GuideError naming the broken key."""
    path = Path(path or settings().guide_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise GuideError(f"指标指南文件不存在：{path}") from e
    except yaml.YAMLError as e:
        raise GuideError(f"指标指南文件 {path} 不是有效的 YAML：{e}") from e
    try:
        return Guide.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        raise GuideError(f"指标指南文件 {path} 有误，位置 {_locate(e)}：{err['msg']}") from e


@lru_cache(maxsize=4)
def _cached(path: str, mtime: float) -> Guide:
    return load_guide(path)


def guide(path: str | Path | None = None) -> Guide:
    """The current guide, re-read when the file changes."""
    p = Path(path or settings().guide_path)
    return _cached(str(p), p.stat().st_mtime if p.exists() else 0.0)
