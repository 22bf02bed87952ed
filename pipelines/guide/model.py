"""The indicator guide (indicator_guide.yaml) as typed, validated objects.

Everything that names an item, an activity type, a weight or a sheet comes from here; no other module
repeats those lists.
"""
from __future__ import annotations

import hashlib
from functools import cached_property
from string import Formatter
from typing import Literal

from pydantic import Field, field_validator, model_validator

from pipelines.guide.base import Strict
from pipelines.guide.rules import AlertRule, FollowupRules, HonourRule, check_alerts, check_honours
from pipelines.guide.vocab import MeasureKind

BranchType = Literal["teacher", "student"]  # their names are the guide's branch_types


# A weight (of a measure, item, indicator or dimension) is at most this: the marts add weighted scores exactly as
# DECIMAL(18, 12) terms (scoring/session.py _EXACT_MACROS), which hold up to 10⁶, and a weight × a score of 100 stays
# far inside. The school's guide uses 1–60.
MAX_WEIGHT = 1000

class Named(Strict):
    id: str
    name: str
    synonyms: tuple[str, ...] = ()


class BranchTypeDef(Named):
    """A branch type (教师党支部 / 学生党支部); `short` is its name in column headers (教师; default its name)."""

    short: str = ""


class SelfAssessmentOption(Strict):
    id: str
    name: str
    value: float = Field(ge=0, le=1)
    synonyms: tuple[str, ...] = ()  # what secretaries type instead of the dropdown's name


class Grade(Strict):
    name: str
    min: float = Field(ge=0, le=100)


class CountField(Strict):
    id: str
    name: str
    scope: Literal["quarter", "year_to_date"]
    hint: str = ""


class Limits(Strict):
    max_hours_per_day: float = 24
    max_file_mb: float = 10
    max_uncompressed_mb: float = 100
    max_ledger_rows: int = 2000
    max_members: int = 1000
    # 党员数 may differ from the registry's by this share (at least 1 member) before it is a warning
    members_tolerance: float = Field(default=0.1, ge=0, le=1)


class SummaryRules(Strict):
    """Rules of the quarter summary (本季度要点, pipelines/report/summary.py): what is worth a sentence."""

    names_per_sentence: int = Field(default=3, ge=1, le=5)  # colleges, branches or items named in one sentence
    college_change: float = Field(default=5.0, gt=0)  # a college's like-for-like mean moved this much: named
    branch_change: float = Field(default=10.0, gt=0)  # a branch's overall moved this much: named


class Measure(Strict):
    """How one requirement of an item is computed (测评规则)."""

    id: str
    kind: MeasureKind
    name: str
    weight: float = Field(default=1, gt=0, le=MAX_WEIGHT)
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


class Evidence(Strict):
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


class ReviewPolicy(Strict):
    """How review decisions (审核) enter the score; docs/scoring.md 审核与核实率 has the worked example."""

    # False: a reviewed item scores the reviewed value. True: self_share × the answer's own value +
    # (1 − self_share) × the reviewed value (e.g. self 40 % / review 60 %).
    blend: bool = False
    self_share: float = Field(default=0.4, ge=0, le=1)


class Item(Strict):
    """A third-level item (三级指标 / 考核要点)."""

    id: str
    text: str
    weight: float = Field(default=1, gt=0, le=MAX_WEIGHT)
    applies_to: tuple[BranchType, ...] = ("teacher", "student")
    parts: dict[BranchType, str] = Field(default_factory=dict)
    measures: tuple[Measure, ...] = Field(min_length=1)
    evidence: Evidence | None = None  # self-assessed items only; without it the item is review-only

    def applies(self, branch_type: str) -> bool:
        return branch_type in self.applies_to

    @property
    def self_assessed(self) -> bool:
        return any(m.kind == "self_assessed" for m in self.measures)


class Indicator(Strict):
    """A second-level indicator (二级指标)."""

    id: str
    name: str
    weight: float = Field(default=1, gt=0, le=MAX_WEIGHT)
    items: tuple[Item, ...] = Field(min_length=1)


class Dimension(Strict):
    """A first-level dimension (一级指标), one axis of the radar."""

    id: int = Field(ge=1, le=7)
    name: str
    short: str
    weight: float = Field(gt=0, le=MAX_WEIGHT)
    indicators: tuple[Indicator, ...] = Field(min_length=1)


class Column(Strict):
    id: str
    name: str
    hint: str = ""


class Sheets(Strict):
    guide: str
    info: str
    ledger: str
    counts: str
    self_assessment: str


# Optional registry columns the code stores (RegistryEntry fields); the guide gives their Chinese headers.
REGISTRY_OPTIONAL_IDS = ("secretary_name", "phone")
# The names a common mistake may use, filled in by pipelines.workbook.template.mistakes.
MISTAKE_FIELDS = frozenset({"ledger", "catch_all", "without_evidence", "example_prefix"})


class Workbook(Strict):
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


class Guide(Strict):
    version: str
    title: str
    school: str
    branch_types: tuple[BranchTypeDef, ...]
    self_assessment: tuple[SelfAssessmentOption, ...]
    full_answer: str  # the answer id that claims an item fully done (完成): it needs evidence
    self_assessment_without_evidence: str
    grades: tuple[Grade, ...]
    activity_types: tuple[Named, ...]
    catch_all_activity: str  # the activity type id for anything no other type names (其他)
    example_activity: str  # the activity type id named in the template's examples and messages
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
        for key in ("full_answer", "self_assessment_without_evidence"):
            if getattr(self, key) not in answers:
                raise ValueError(f"{key}: unknown answer {getattr(self, key)!r}")
        for key in ("catch_all_activity", "example_activity"):
            if getattr(self, key) not in activities:
                raise ValueError(f"{key}: unknown activity type {getattr(self, key)!r}")
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
        check_alerts(self)
        check_honours(self)
        return self

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

    def gap_label(self) -> str:
        """'教师−学生': how a gap between the first two branch types reads (first − second, as scoring's diff)."""
        return "−".join(t.short or t.name for t in self.branch_types[:2])

    def activity_name(self, activity_id: str) -> str:
        return next(a.name for a in self.activity_types if a.id == activity_id)

    def answer(self, answer_id: str) -> SelfAssessmentOption:
        """The self-assessment answer `answer_id` (e.g. `guide.answer(guide.full_answer)`)."""
        return next(a for a in self.self_assessment if a.id == answer_id)

    def lookup(self, kind: Literal["branch_type", "activity_type"], text: str) -> str | None:
        """Map what a secretary typed (name or synonym, already normalised) to an id, or None."""
        options = self.branch_types if kind == "branch_type" else self.activity_types
        for opt in options:
            if text == opt.id or text == opt.name or text in opt.synonyms:
                return opt.id
        return None
