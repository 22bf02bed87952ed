"""The guide layer: the indicator guide (indicator_guide.yaml) as typed objects, the quarter (`Period`) and the
one vocabulary of codes with their Chinese labels.

`guide()` is the current guide; everything that names an item, an activity type, a weight or a sheet comes
from it, and no other module repeats those lists.
"""
from pipelines.guide.load import GuideError, guide, load_guide
from pipelines.guide.model import (
    MISTAKE_FIELDS,
    REGISTRY_OPTIONAL_IDS,
    BranchType,
    Column,
    CountField,
    Dimension,
    Evidence,
    Grade,
    Guide,
    Indicator,
    Item,
    Limits,
    Measure,
    MeasureKind,
    Named,
    ReviewPolicy,
    SelfAssessmentOption,
    Sheets,
    SummaryRules,
    Workbook,
)
from pipelines.guide.period import Period
from pipelines.guide.rules import ALERT_MEASURE_KINDS, AlertKind, AlertLevel, AlertRule, FollowupRules, HonourRule

__all__ = [
    "ALERT_MEASURE_KINDS", "MISTAKE_FIELDS", "REGISTRY_OPTIONAL_IDS", "AlertKind", "AlertLevel", "AlertRule",
    "BranchType", "Column", "CountField", "Dimension", "Evidence", "FollowupRules", "Grade", "Guide", "GuideError",
    "HonourRule", "Indicator", "Item", "Limits", "Measure", "MeasureKind", "Named", "Period", "ReviewPolicy",
    "SelfAssessmentOption", "Sheets", "SummaryRules", "Workbook", "guide", "load_guide",
]
