"""红榜 (honour list): 样板支部 and 标杆院系 candidates of a quarter, by the guide's `honours` rules.

A rule holds for a branch (branch_streak) or a college (college_top) in a quarter; a candidate of quarter P is
one for which it held in P and in the `quarters - 1` quarters right before it, year boundaries included. The
quarters that earned it are the whole unbroken run ending in P. Scores come from scoring.history() and
scoring.college_scores(), red alerts from scoring.alerts; every threshold lives in indicator_guide.yaml.
"""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from pipelines import scoring
from pipelines.guide import Guide, HonourRule, guide
from pipelines.guide.period import Period
from pipelines.scoring import alerts as al

COLUMNS = ["unit", "rule_id", "rule_name", "branch_code", "name", "college", "periods", "periods_label",
           "evidence"]


class _Facts:
    """Scores of every quarter and, fetched when first asked, the red alerts and college means of a quarter."""

    def __init__(self, db):
        self.db = db
        h = scoring.history(db)
        self.grades = {(p, c): g for p, c, g in zip(h["period"], h["branch_code"], h["grade"])}
        self.branches = h.drop_duplicates("branch_code", keep="last").set_index("branch_code")
        self.history = h
        self._red: dict[str, set] = {}
        self._colleges: dict[str, pd.DataFrame] = {}

    def red(self, period: str) -> set:
        if period not in self._red:
            a = al.alerts(period, self.db)
            self._red[period] = set(a.loc[a["level"] == "red", "branch_code"])
        return self._red[period]

    def colleges(self, period: str) -> pd.DataFrame:
        if period not in self._colleges:
            self._colleges[period] = scoring.college_scores(period, self.db)
        return self._colleges[period]


def _run(holds: Callable[[str], bool], period: str) -> list[str]:
    """The unbroken run of quarters ending in `period` in which `holds` is true, oldest first."""
    run, p = [], Period.parse(period)
    while holds(str(p)):
        run.append(str(p))
        p = p.previous
    return run[::-1]


def _branch_holds(rule: HonourRule, g: Guide, f: _Facts, code: str) -> Callable[[str], bool]:
    def holds(p: str) -> bool:
        grade = f.grades.get((p, code))
        return (grade is not None and g.grade_at_least(grade, rule.grade)
                and not (rule.no_red_alert and code in f.red(p)))
    return holds


def _college_holds(rule: HonourRule, g: Guide, f: _Facts, college: str) -> Callable[[str], bool]:
    def holds(p: str) -> bool:
        cs = f.colleges(p)
        row = cs[cs["college"] == college]
        if row.empty or pd.isna(row.iloc[0]["rank"]) or row.iloc[0]["rank"] > rule.top:
            return False
        h = f.history
        grades = h.loc[(h["period"] == p) & (h["college"] == college), "grade"]
        return len(grades) > 0 and all(g.grade_at_least(x, rule.grade) for x in grades)
    return holds


def _label(periods: list[str]) -> str:
    first, last = Period.parse(periods[0]), Period.parse(periods[-1])
    return first.short_label if first == last else f"{first.short_label}—{last.short_label}"


def _evidence(rule: HonourRule, periods: list[str]) -> str:
    n = len(periods)
    if rule.kind == "branch_streak":
        red = "且无红色预警" if rule.no_red_alert else ""
        return f"连续 {n} 个季度等次为{rule.grade}及以上{red}（{_label(periods)}）"
    return (f"连续 {n} 个季度所有已报送支部等次为{rule.grade}及以上，平均分居前 {rule.top} 名"
            f"（{_label(periods)}）")


def honours(period: str, db=None) -> pd.DataFrame:
    """The 红榜 candidates of one quarter, rule by rule in the guide's order, then by college and code.

    Columns: unit (branch | college), rule_id, rule_name, branch_code (None for a college), name (branch or
    college name), college, periods (the quarters that earned it, oldest first, as a tuple), periods_label
    (e.g. 2025年Q4—2026年Q2), evidence (Chinese)."""
    period = str(Period.parse(period))
    g, f = guide(), _Facts(db)
    now = f.history[f.history["period"] == period]
    rows = []
    for rule in g.honours:
        if rule.kind == "branch_streak":
            units = [("branch", r.branch_code, r.branch_name, r.college) for r in now.itertuples()]
        else:
            units = [("college", None, c, c) for c in sorted(now["college"].unique())]
        for unit, code, name, college in units:
            holds = (_branch_holds(rule, g, f, code) if unit == "branch" else _college_holds(rule, g, f, college))
            if not holds(period):  # the quarter itself first: most units stop here, before older quarters
                continue
            run = _run(holds, period)
            if len(run) >= rule.quarters:
                rows.append({"unit": unit, "rule_id": rule.id, "rule_name": rule.name, "branch_code": code,
                             "name": name, "college": college, "periods": tuple(run),
                             "periods_label": _label(run), "evidence": _evidence(rule, run)})
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.sort_values(["college", "branch_code"], kind="stable", na_position="first").sort_values(
        "rule_id", key=lambda s: s.map({r.id: i for i, r in enumerate(g.honours)}), kind="stable"
    ).reset_index(drop=True)


def honours_table(period: str, db=None, *, college: str | None = None) -> pd.DataFrame:
    """The 红榜 for people: 类别, 名称, 二级党组织, 入选季度, 依据 (optionally one college's)."""
    df = honours(period, db)
    if college is not None:
        df = df[df["college"] == college]
    return pd.DataFrame({
        "类别": df["rule_name"].tolist(),
        "名称": [n if u == "college" else f"{n}（{c}）" for u, n, c in zip(df["unit"], df["name"], df["branch_code"])],
        "二级党组织": df["college"].tolist(),
        "入选季度": df["periods_label"].tolist(),
        "依据": df["evidence"].tolist(),
    })
