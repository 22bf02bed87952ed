"""需关注: who the leadership should look at this quarter — the lowest branches, the largest falls, and the
branches that missed the quarter again — and which colleges the trend page draws by default (the lowest and
the largest fallers, not the best).

Every score and change is as shown (scoring.shown / shown_change), like every other figure on the pages.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from pipelines import scoring

LIST_LENGTH = 5  # names per 需关注 list: what a first screen holds
TREND_COLLEGES = 4  # lowest and largest-falling colleges each, drawn by default on 趋势分析


@dataclass(frozen=True)
class Attention:
    """The three 需关注 lists of one quarter.

    lowest / falls: branch_code, branch_name, college, overall, grade, change (shown; change NaN when new).
    repeat_missing: branch_code, branch_name, college, quarters (consecutive quarters missing, at least 2).
    """

    lowest: pd.DataFrame
    falls: pd.DataFrame
    repeat_missing: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.lowest.empty and self.falls.empty and self.repeat_missing.empty


def _branches(bs: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "branch_code": bs["branch_code"], "branch_name": bs["branch_name"], "college": bs["college"],
        "overall": scoring.shown(bs["overall"]), "grade": bs["grade"],
        "change": scoring.shown_change(bs["overall"], bs["prev_overall"]),
    })


def lowest_branches(bs: pd.DataFrame, n: int = LIST_LENGTH) -> pd.DataFrame:
    """The n branches with the lowest overall this quarter (ties by code)."""
    df = _branches(bs).sort_values(["overall", "branch_code"])
    return df.head(n).reset_index(drop=True)


def largest_falls(bs: pd.DataFrame, n: int = LIST_LENGTH) -> pd.DataFrame:
    """The n branches whose overall fell most against last quarter (a fall that shows as 0.0 is no fall)."""
    df = _branches(bs)
    df = df[df["change"] < 0].sort_values(["change", "branch_code"])
    return df.head(n).reset_index(drop=True)


def repeat_missing(statuses: Sequence[pd.DataFrame], n: int | None = None) -> pd.DataFrame:
    """Branches missing this quarter and the quarter before (statuses: submission_status of this quarter,
    then the quarters before it, most recent first), with how many quarters in a row they have missed;
    longest streak first. Without a registry nobody is missing."""
    if not statuses or not scoring.has_registry(statuses[0]):
        return pd.DataFrame(columns=["branch_code", "branch_name", "college", "quarters"])
    now = statuses[0]
    miss = now[now["status"] == "missing"][["branch_code", "branch_name", "college"]].copy()
    streak = pd.Series(1, index=miss.index)
    alive = pd.Series(True, index=miss.index)
    for before in statuses[1:]:
        missed = set(before.loc[before["status"] == "missing", "branch_code"]) if scoring.has_registry(before) else set()
        alive &= miss["branch_code"].isin(missed)
        streak += alive.astype(int)
    miss["quarters"] = streak
    out = miss[miss["quarters"] >= 2].sort_values(["quarters", "college", "branch_code"],
                                                  ascending=[False, True, True])
    return (out if n is None else out.head(n)).reset_index(drop=True)


def attention(bs: pd.DataFrame, statuses: Sequence[pd.DataFrame], n: int = LIST_LENGTH) -> Attention:
    """需关注 of one quarter from its branch_scores and submission statuses (this quarter first)."""
    return Attention(lowest_branches(bs, n), largest_falls(bs, n), repeat_missing(statuses, n))


def trend_default_colleges(cs: pd.DataFrame, n: int = TREND_COLLEGES) -> list[str]:
    """The colleges 趋势分析 draws when nobody picked any: the n lowest by overall this quarter, then the n
    with the largest like-for-like fall (as on 全校总览's bars) not already named."""
    scored = cs.dropna(subset=["overall"]).assign(shown=lambda d: scoring.shown(d["overall"]))
    lowest = list(scored.sort_values(["shown", "college"])["college"].head(n))
    change = scoring.shown_change(scored["overall_same"], scored["prev_same"])
    fallers = scored.assign(change=change)
    fallers = fallers[fallers["change"] < 0].sort_values(["change", "college"])
    return lowest + [c for c in fallers["college"] if c not in lowest][:n]
