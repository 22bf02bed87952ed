"""需关注: the branches a quarter's briefing names for the committee's attention, by three fixed rules:

- the lowest overall scores (LIST_SIZE branches, lowest first; ties by branch code);
- the largest falls of the overall score against the quarter before (LIST_SIZE, largest first; only falls);
- repeat non-submitters: registry branches without a submission this quarter and the quarter before (a quarter
  in which nobody submitted was not collected, so it does not count, as for the alert 连续两个季度未报送).

Computed here from scoring.marts, so the quarterly report (Excel and PDF) and the 全校总览 page name the same
branches; every score through scoring.shown / shown_change.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipelines import scoring
from pipelines.period import Period

LIST_SIZE = 5
KINDS = {"lowest": "总分最低", "falls": "降幅最大", "repeat_missing": "连续两个季度未报送"}
COLUMNS = ["kind", "branch_code", "branch_name", "college", "branch_type", "overall", "grade", "change", "note"]


@dataclass(frozen=True)
class Attention:
    """The three lists of one quarter, each a frame with COLUMNS (overall/change as shown; NaN when none)."""

    period: str
    lowest: pd.DataFrame
    falls: pd.DataFrame
    repeat_missing: pd.DataFrame

    def frame(self) -> pd.DataFrame:
        """The three lists one after another (kind: a KINDS key), as the briefing prints them."""
        parts = [df for df in (self.lowest, self.falls, self.repeat_missing) if not df.empty]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def _scored(bs: pd.DataFrame, kind: str) -> pd.DataFrame:
    change = scoring.shown_change(bs["overall"], bs["prev_overall"])
    out = pd.DataFrame({
        "kind": kind, "branch_code": bs["branch_code"], "branch_name": bs["branch_name"], "college": bs["college"],
        "branch_type": bs["branch_type"], "overall": scoring.shown(bs["overall"]), "grade": bs["grade"],
        "change": change,
        "note": [f"上季度 {scoring.shown(p):.{scoring.SHOWN_DECIMALS}f} 分" if pd.notna(p) else "上季度未报送"
                 for p in bs["prev_overall"]],
    })
    return out.reset_index(drop=True)[COLUMNS]


def lowest(bs: pd.DataFrame, n: int = LIST_SIZE) -> pd.DataFrame:
    """The n branches with the lowest overall score as shown."""
    if bs.empty:
        return pd.DataFrame(columns=COLUMNS)
    ranked = bs.assign(_s=scoring.shown(bs["overall"])).sort_values(["_s", "branch_code"]).head(n)
    return _scored(ranked, "lowest")


def falls(bs: pd.DataFrame, n: int = LIST_SIZE) -> pd.DataFrame:
    """The n largest falls of the overall score as shown (branches scored in both quarters)."""
    if bs.empty:
        return pd.DataFrame(columns=COLUMNS)
    change = scoring.shown_change(bs["overall"], bs["prev_overall"])
    fell = bs.assign(_c=change)[change < 0].sort_values(["_c", "branch_code"]).head(n)
    return _scored(fell, "falls")


def repeat_missing(status: pd.DataFrame, previous_status: pd.DataFrame, previous_collected: bool,
                   period: str) -> pd.DataFrame:
    """Registry branches missing this quarter and the quarter before (when that quarter was collected)."""
    if not previous_collected or not scoring.has_registry(status):
        return pd.DataFrame(columns=COLUMNS)
    before = set(previous_status.loc[previous_status["status"] != "missing", "branch_code"])
    miss = status[(status["status"] == "missing") & ~status["branch_code"].isin(before)]
    miss = miss.sort_values(["college", "branch_code"])
    prev = Period.parse(period).previous.label
    return pd.DataFrame({
        "kind": "repeat_missing", "branch_code": miss["branch_code"], "branch_name": miss["branch_name"],
        "college": miss["college"], "branch_type": miss["branch_type"], "overall": float("nan"), "grade": None,
        "change": float("nan"), "note": f"{prev}、{Period.parse(period).label}均未报送",
    }).reset_index(drop=True)[COLUMNS]


def attention(period: str, db=None, *, data: dict[str, pd.DataFrame] | None = None,
              periods: list[str] | None = None) -> Attention:
    """需关注 of `period`. `data` (scoring.marts(period)) and `periods` (scoring.periods) are read from `db`
    unless the caller holds them already."""
    period = str(Period.parse(period))
    data = data if data is not None else scoring.marts(period, db)
    periods = periods if periods is not None else scoring.periods(db)
    prev = str(Period.parse(period).previous)
    bs, status = data["branch_scores"], data["submission_status"]
    collected = prev in periods
    prev_status = scoring.submission_status(prev, db) if collected else status.iloc[0:0]
    return Attention(period, lowest(bs), falls(bs), repeat_missing(status, prev_status, collected, period))
