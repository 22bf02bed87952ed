"""需关注: the branches a quarter's briefing names for the committee's attention, by three fixed rules, and the
colleges 趋势分析 draws by default:

- the lowest overall scores (LIST_SIZE branches, lowest first; ties by branch code);
- the largest falls of the overall score against the quarter before (LIST_SIZE, largest first; a change that
  shows as 0.0 is no fall);
- repeat non-submitters: registry branches without a submission this quarter and the quarter before, with how
  many quarters in a row they missed (counted back over quarters in which someone submitted: a quarter nobody
  submitted was not collected and ends the count, as for the alert 连续两个季度未报送).

One module for the quarterly report (Excel and PDF), 全校总览 and the 会议大屏, so they name the same branches;
every score through scoring.shown / shown_change.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from pipelines import scoring
from pipelines.guide.period import Period
from pipelines.guide.vocab import AttentionKind, ReportingStatus

LIST_SIZE = 5  # names per 需关注 list: what a first screen and the briefing page hold
EARLIER_QUARTERS = 3  # how far back a repeat non-submitter's streak is counted
TREND_COLLEGES = 4  # lowest and largest-falling colleges each, drawn by default on 趋势分析
COLUMNS = ["kind", "branch_code", "branch_name", "college", "branch_type", "overall", "grade", "change", "quarters",
           "note"]


@dataclass(frozen=True)
class Attention:
    """The three lists of one quarter, each a frame with COLUMNS (overall / change as shown, NaN when none;
    quarters: consecutive quarters missed, for repeat_missing)."""

    period: str
    lowest: pd.DataFrame
    falls: pd.DataFrame
    repeat_missing: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.lowest.empty and self.falls.empty and self.repeat_missing.empty

    def frame(self) -> pd.DataFrame:
        """The three lists one after another (kind: an AttentionKind), as the briefing prints them."""
        parts = [df for df in (self.lowest, self.falls, self.repeat_missing) if not df.empty]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def _scored(bs: pd.DataFrame, kind: str) -> pd.DataFrame:
    out = pd.DataFrame({
        "kind": kind, "branch_code": bs["branch_code"], "branch_name": bs["branch_name"], "college": bs["college"],
        "branch_type": bs["branch_type"], "overall": scoring.shown(bs["overall"]), "grade": bs["grade"],
        "change": scoring.shown_change(bs["overall"], bs["prev_overall"]), "quarters": pd.NA,
        "note": [f"上季度 {scoring.shown(p):.{scoring.SHOWN_DECIMALS}f} 分" if pd.notna(p) else "上季度未报送"
                 for p in bs["prev_overall"]],
    })
    return out.reset_index(drop=True)[COLUMNS]


def lowest(bs: pd.DataFrame, n: int = LIST_SIZE) -> pd.DataFrame:
    """The n branches with the lowest overall score as shown (ties by code)."""
    if bs.empty:
        return pd.DataFrame(columns=COLUMNS)
    ranked = bs.assign(_s=scoring.shown(bs["overall"])).sort_values(["_s", "branch_code"]).head(n)
    return _scored(ranked, AttentionKind.LOWEST)


def falls(bs: pd.DataFrame, n: int = LIST_SIZE) -> pd.DataFrame:
    """The n largest falls of the overall score as shown (branches scored in both quarters)."""
    if bs.empty:
        return pd.DataFrame(columns=COLUMNS)
    change = scoring.shown_change(bs["overall"], bs["prev_overall"])
    fell = bs.assign(_c=change)[change < 0].sort_values(["_c", "branch_code"]).head(n)
    return _scored(fell, AttentionKind.FALLS)


def earlier_periods(period: str, periods: Sequence[str], n: int = EARLIER_QUARTERS) -> list[str]:
    """The calendar quarters before `period` that were collected (someone submitted), newest first, stopping at
    the first one that was not: the quarters a missing streak is counted over."""
    out, p = [], Period.parse(period)
    for _ in range(n):
        p = p.previous
        if str(p) not in periods:
            break
        out.append(str(p))
    return out


def repeat_missing(statuses: Sequence[pd.DataFrame], period: str, n: int | None = None) -> pd.DataFrame:
    """Registry branches missing this quarter and the quarter before, with how many quarters in a row they
    missed; longest streak first. `statuses`: submission_status of `period`, then of earlier_periods(period).
    Without a registry nobody is missing."""
    if not statuses or not scoring.has_registry(statuses[0]):
        return pd.DataFrame(columns=COLUMNS)
    now = statuses[0]
    miss = now[now["status"] == ReportingStatus.MISSING].copy()
    streak = pd.Series(1, index=miss.index)
    alive = pd.Series(True, index=miss.index)
    for before in statuses[1:]:
        missed = set(before.loc[before["status"] == ReportingStatus.MISSING, "branch_code"]) if scoring.has_registry(before) else set()
        alive &= miss["branch_code"].isin(missed)
        streak += alive.astype(int)
    miss["quarters"] = streak
    miss = miss[miss["quarters"] >= 2].sort_values(["quarters", "college", "branch_code"], ascending=[False, True, True])
    miss = miss if n is None else miss.head(n)
    label = Period.parse(period).label
    return pd.DataFrame({
        "kind": AttentionKind.REPEAT_MISSING, "branch_code": miss["branch_code"], "branch_name": miss["branch_name"],
        "college": miss["college"], "branch_type": miss["branch_type"], "overall": float("nan"), "grade": None,
        "change": float("nan"), "quarters": miss["quarters"].astype("Int64"),
        "note": [f"截至{label}已连续 {k} 个季度未报送" for k in miss["quarters"]],
    }).reset_index(drop=True)[COLUMNS]


def attention(period: str, db=None, *, data: dict[str, pd.DataFrame] | None = None,
              periods: Sequence[str] | None = None, statuses: Sequence[pd.DataFrame] | None = None,
              n: int = LIST_SIZE) -> Attention:
    """需关注 of `period`. `data` (scoring.marts(period)), `periods` (scoring.periods) and `statuses` (the
    submission_status of `period` and of earlier_periods, newest first) are read from `db` unless the caller
    holds them already (a page passes its cached frames)."""
    period = str(Period.parse(period))
    data = data if data is not None else scoring.marts(period, db)
    periods = list(periods) if periods is not None else scoring.periods(db)
    if statuses is None:
        statuses = [data["submission_status"], *(scoring.submission_status(p, db)
                                                 for p in earlier_periods(period, periods))]
    bs = data["branch_scores"]
    return Attention(period, lowest(bs, n), falls(bs, n), repeat_missing(statuses, period, n))


def trend_default_colleges(cs: pd.DataFrame, n: int = TREND_COLLEGES) -> list[str]:
    """The colleges 趋势分析 draws when nobody picked any: the n lowest by overall this quarter, then the n
    with the largest like-for-like fall (as on 全校总览's bars) not already named."""
    scored = cs.dropna(subset=["overall"]).assign(shown=lambda d: scoring.shown(d["overall"]))
    low = list(scored.sort_values(["shown", "college"])["college"].head(n))
    change = scoring.shown_change(scored["overall_same"], scored["prev_same"])
    fallers = scored.assign(change=change)
    fallers = fallers[fallers["change"] < 0].sort_values(["change", "college"])
    return low + [c for c in fallers["college"] if c not in low][:n]
