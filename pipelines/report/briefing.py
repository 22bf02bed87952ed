"""The figures of the leadership briefing (全校总览's first screen, the 会议大屏): headline means with their
change, grade counts with their change, the college bars' labels, the radar's dimension means.

Every figure is as shown (scoring.shown / shown_change), so the page, the meeting screen, 本季度要点 and the
report always print the same number; the pages only lay these out.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipelines import scoring
from pipelines.report.summary import Facts, mean_overall

UP, DOWN = "↑", "↓"


@dataclass(frozen=True)
class Figure:
    """One headline figure: its value as shown and its change against last quarter as shown (None: none)."""

    label: str
    value: float | None
    change: float | None


@dataclass(frozen=True)
class GradeCount:
    """Branches of one grade this quarter, and the change in that count (None: no previous quarter)."""

    grade: str
    count: int
    change: int | None


def change_text(change: float | None, digits: int = scoring.SHOWN_DECIMALS) -> str:
    """A shown change as an arrow: '↑1.4', '↓12.7'; '持平' when it rounds to 0 (never '+0.0'); '' when unknown."""
    if change is None or pd.isna(change):
        return ""
    if round(float(change), digits) == 0:
        return "持平"
    return f"{UP if change > 0 else DOWN}{abs(float(change)):.{digits}f}"


def headline_means(bs: pd.DataFrame, pbs: pd.DataFrame | None, types: dict[str, str]) -> list[Figure]:
    """The school mean and each branch type's mean (types: id -> Chinese name), each with its change."""
    out = []
    for label, t in [("全校平均分", None)] + [(f"{name}平均分", tid) for tid, name in types.items()]:
        now, before = mean_overall(bs, t), mean_overall(pbs, t)
        out.append(Figure(label, scoring.shown(now), scoring.shown_change(now, before)))
    return out


def grade_counts(f: Facts) -> list[GradeCount]:
    """优秀 / 良好 / 一般 / 较差 counts of 本季度要点's facts, each with its change against last quarter."""
    prev = f.previous_grades
    return [GradeCount(g, n, None if prev is None else n - prev.get(g, 0)) for g, n in f.grades.items()]


def college_bars(cs: pd.DataFrame) -> pd.DataFrame:
    """The scored colleges in rank order with what their bars show: overall (shown), change (like-for-like:
    branches scored in both quarters, shown), label ('64.5 ↓12.7'), grade of the shown mean.

    Columns: college, rank, overall, change, label, grade, submitted, branches, same_branches.
    """
    from pipelines.guide import guide

    df = cs.dropna(subset=["overall", "rank"]).sort_values(["rank", "college"]).reset_index(drop=True)
    overall = scoring.shown(df["overall"])
    change = scoring.shown_change(df["overall_same"], df["prev_same"])
    labels = [f"{v:.{scoring.SHOWN_DECIMALS}f}" + (f" {change_text(d)}" if change_text(d) not in ("", "持平") else "")
              for v, d in zip(overall, change)]
    return pd.DataFrame({
        "college": df["college"], "rank": df["rank"].astype(int), "overall": overall, "change": change,
        "label": labels, "grade": [guide().grade(v) for v in overall],
        "submitted": df["submitted"], "branches": df["branches"], "same_branches": df["same_branches"],
    })


def unscored_colleges(cs: pd.DataFrame) -> list[str]:
    """Colleges of the registry with no scored branch this quarter, by name."""
    return sorted(cs.loc[cs["overall"].isna(), "college"])


def verified_means(bs: pd.DataFrame, dim_cols: list[str]) -> list[float | None]:
    """Each dimension's mean 核实率 over the scored branches, as shown (a whole percentage; None when none)."""
    cols = [f"v{k}" for k in range(1, len(dim_cols) + 1)]
    if bs.empty or not set(cols) <= set(bs.columns):
        return [None] * len(dim_cols)
    return [None if pd.isna(m := bs[col].mean()) else scoring.shown_share(m) for col in cols]


def dimension_means(bs: pd.DataFrame, dim_cols: list[str], branch_type: str | None = None) -> list[float | None]:
    """The radar's values: the mean of each dimension over the scored branches (of one type), as shown."""
    if branch_type:
        bs = bs[bs["branch_type"] == branch_type]
    if bs.empty:
        return [None] * len(dim_cols)
    return [scoring.shown(bs[col].mean()) for col in dim_cols]
