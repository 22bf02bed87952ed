"""Comparisons: colleges, items per branch type, the branch types side by side, and the means of any groups."""
from __future__ import annotations

import pandas as pd

from pipelines.scoring.rounding import shown
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


SPREAD_STATS = ("lowerfence", "q1", "median", "q3", "upperfence", "mean")


def dimension_spread(branch_scores: pd.DataFrame, dims: list[str], types: list[str]) -> pd.DataFrame:
    """How the branches of each type spread on each dimension of one quarter, from its branch_scores: one row
    per (branch_type, dim) with n, lowerfence (min), q1, median, q3 (linear interpolation), upperfence (max) and
    mean — what a box plot draws, without sending every branch's score to the browser. Values as shown (one
    decimal, half up); types without a scored branch are left out."""
    rows = []
    for t in types:
        sub = branch_scores.loc[branch_scores["branch_type"] == t, dims]
        for dim in dims:
            s = pd.to_numeric(sub[dim], errors="coerce").dropna()
            if s.empty:
                continue
            q = s.quantile([0.25, 0.5, 0.75])
            raw = {"lowerfence": s.min(), "q1": q[0.25], "median": q[0.5], "q3": q[0.75], "upperfence": s.max(),
                   "mean": s.mean()}
            rows.append({"branch_type": t, "dim": dim, "n": len(s), **{k: shown(v) for k, v in raw.items()}})
    return pd.DataFrame(rows, columns=["branch_type", "dim", "n", *SPREAD_STATS])


SCORE_COLUMNS = ("overall", "d1", "d2", "d3", "d4", "d5", "d6", "d7")


def group_means(scores: pd.DataFrame, by: list[str] | tuple[str, ...] = (),
                columns: list[str] | tuple[str, ...] = SCORE_COLUMNS) -> pd.DataFrame:
    """The plain mean of each score column over the branches of each group, from scores the query API returned
    (branch_scores of a quarter, score_history of every quarter): e.g. by ["period", "branch_type"] for the types'
    mean lines, ["branch_type"] for one quarter's type means, [] for the school's. One row per group, sorted by
    `by`, with n (the branches with a score) and each column's mean (a branch without it is left out, as in SQL's
    avg). Unrounded, like every score the API returns: shown through `shown` (one rule for every mean on a page).
    Columns not in `scores` are left out."""
    cols = [c for c in columns if c in scores.columns]
    by = list(by)
    frame = scores[by + cols].copy()
    frame[cols] = frame[cols].apply(pd.to_numeric, errors="coerce")
    # each group's rows in one order (by branch, when the frame has it), so a mean is the same bits every call
    if "branch_code" in scores.columns:
        frame = frame.assign(_b=scores["branch_code"]).sort_values(by + ["_b"], kind="stable").drop(columns="_b")
    if not by:
        row = {"n": int(frame[cols[0]].notna().sum()) if cols else len(frame), **frame[cols].mean().to_dict()}
        return pd.DataFrame([row], columns=["n", *cols])
    grouped = frame.groupby(by, sort=True, dropna=False)
    out = grouped[cols].mean()
    out.insert(0, "n", grouped[cols[0]].count() if cols else grouped.size())
    return out.reset_index()
