"""Comparisons of one quarter: colleges, items per branch type, and the branch types side by side."""
from __future__ import annotations

import pandas as pd

from pipelines.scoring.shapes import _one


def college_scores(period: str, db=None) -> pd.DataFrame:
    """Per college (二级党组织): branches (registry ∪ submitters), submitted, mean overall and d1..d7, rank.

    Extra columns: overall_std, prev_overall, prev_rank, rank_change; same_branches, overall_same, prev_same
    (the branches scored in both quarters and their means now and then: the like-for-like change).
    """
    return _one("college_scores", period, db)


def item_summary(period: str, db=None) -> pd.DataFrame:
    """Per item and branch type (teacher | student | all): branches judged, share fully met, mean completion.

    Sorted weakest first within each type. Extra columns: pending, dimension_id, indicator_id.
    """
    return _one("item_summary", period, db, "item_scores", with_prev=False)


def type_comparison(period: str, db=None) -> pd.DataFrame:
    """The guide's branch types side by side per dimension (teacher vs student): name, <type>_mean, <type>_std
    (population), diff = first type − second (guide order), <type>_n."""
    return _one("type_comparison", period, db, "dimension_scores", with_prev=False)


def item_type_comparison(period: str, db=None) -> pd.DataFrame:
    """The guide's branch types side by side per item (due items only): <type>_mean, diff = first type − second
    (guide order: teacher − student); plus <type>_std and <type>_n."""
    return _one("item_type_comparison", period, db, "item_scores", with_prev=False)
