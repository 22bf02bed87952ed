"""本季度要点: a short Chinese summary of one quarter, written from the marts by fixed rules (no language model).

Three to six sentences, in this order: the school mean and its change; the grade distribution and its change;
the colleges and branches that moved most; the weakest items; teacher vs student; who has not submitted.
Every figure comes from scoring.marts (the frames the 全校总览 charts draw) and is shown through
scoring.shown / scoring.shown_change, so the text never says 78.4 where a chart says 78.3. What is worth naming
(how many names, how big a move) comes from the guide's `summary` section. The rules, in Chinese, are in
docs/scoring.md (本季度要点).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

import pandas as pd

from pipelines import scoring
from pipelines.guide import Guide, guide
from pipelines.guide.period import Period
from pipelines.guide.vocab import ReportingStatus

ITEM_LABEL_WIDTH = 16  # as the weakest-items chart on 全校总览 labels its bars


@dataclass(frozen=True)
class Move:
    """A college or branch named for its change: the difference of its two scores as shown."""

    name: str
    change: float


@dataclass(frozen=True)
class WeakItem:
    item_id: str
    label: str  # Guide.item_label, as on the chart
    completion: float  # school-wide mean completion in percent, as shown


@dataclass(frozen=True)
class Facts:
    """The figures the sentences are written from, each as shown (scoring.shown / shown_change)."""

    period: str
    previous: str | None  # the calendar quarter before, when it has scores; else None (no change is told)
    earlier: bool  # some quarter before `period` has scores (False: the first quarter of data)
    scored: int  # branches with a score this quarter
    school_mean: float | None
    school_change: float | None
    types_changed: bool  # the two quarters' scored branch types differ (the mean's change mixes them)
    grades: dict[str, int]
    previous_grades: dict[str, int] | None
    colleges: list[Move]  # named college moves (like-for-like: branches scored in both quarters)
    colleges_moved: int  # colleges that moved at least guide().summary.college_change
    branches: list[Move]
    branches_moved: int
    weak_items: list[WeakItem]
    type_means: dict[str, float]  # branch type id -> mean overall, only when both types are scored
    type_gap: float | None  # first type − second type (guide order)
    gap_dimension: int | None  # the dimension where the two types differ most
    gap_dimension_means: dict[str, float] = field(default_factory=dict)
    registry: bool = False
    total: int | None = None  # branches in the registry ∪ submitters
    submitted: int = 0
    missing: list[str] = field(default_factory=list)  # missing branches named (college, code order)
    missing_count: int = 0


@dataclass(frozen=True)
class Summary:
    period: str
    sentences: list[str]
    facts: Facts

    @property
    def text(self) -> str:
        """The summary as one paragraph (what is copied into meeting papers)."""
        return "".join(self.sentences)


# ---- formatting: every figure through the one rounding rule ------------------------------------------
def _num(shown_value: float) -> str:
    return f"{shown_value:.{scoring.SHOWN_DECIMALS}f}"


def _score(x) -> str:
    return _num(scoring.shown(x))


def _moved(change: float) -> str:
    """'上升 1.4 分' | '下降 1.4 分' | '持平' for a change as shown."""
    if change == 0:
        return "持平"
    return f"{'上升' if change > 0 else '下降'} {_num(abs(change))} 分"


def _quoted(names: list[str]) -> str:
    return "".join(f"“{n}”" for n in names)


# ---- facts ---------------------------------------------------------------------------------------------
def mean_overall(df: pd.DataFrame | None, branch_type: str | None = None) -> float | None:
    """Mean overall of the scored branches (of one type): the headline's and the report's figure."""
    if df is None or df.empty:
        return None
    if branch_type:
        df = df[df["branch_type"] == branch_type]
    return None if df.empty else float(df["overall"].mean())


_mean = mean_overall


def _pick(names: pd.Series, change: pd.Series, threshold: float, n: int) -> tuple[list[Move], int]:
    """The moves of at least `threshold` (shown), at most n named: the biggest falls first (bad news leads),
    one slot kept for the biggest rise when any; ties in name order. Returns (named, how many moved)."""
    df = pd.DataFrame({"name": names.to_numpy(), "change": change.to_numpy()}).dropna()
    eps = 10 ** -(scoring.SHOWN_DECIMALS + 3)  # the changes are already rounded: compare them exactly
    falls = df[df["change"] <= -threshold + eps].sort_values(["change", "name"])
    rises = df[df["change"] >= threshold - eps].sort_values(["change", "name"], ascending=[False, True])
    up = min(len(rises), max(n - len(falls), 1))
    named = pd.concat([falls.head(n - up), rises.head(up)])
    return [Move(str(r.name), float(r.change)) for r in named.itertuples()], len(falls) + len(rises)


def _weak_items(summary: pd.DataFrame, g: Guide, n: int) -> list[WeakItem]:
    """The n items with the lowest school-wide mean completion (item_summary's 'all' rows, pending excluded),
    in the order of the 全校薄弱考核要点 chart."""
    s = summary[(summary["branch_type"] == "all") & (summary["branches"].fillna(0) > 0)]
    s = s.dropna(subset=["mean_completion"]).sort_values(["mean_completion", "item_id"]).head(n)
    return [WeakItem(i, g.item_label(i, ITEM_LABEL_WIDTH), scoring.shown(v * 100))
            for i, v in zip(s["item_id"], s["mean_completion"])]


def _types(bs: pd.DataFrame, tc: pd.DataFrame, g: Guide) -> tuple[dict, float | None, int | None, dict]:
    """Teacher vs student: each type's mean overall, their gap, and the dimension where they differ most."""
    first, second = (t.id for t in g.branch_types)
    means = {t: _mean(bs, t) for t in (first, second)}
    if any(v is None for v in means.values()):
        return {}, None, None, {}
    gap = scoring.shown_change(means[first], means[second])
    tc = tc.sort_values("dimension_id").reset_index(drop=True)
    diff = scoring.shown_change(tc[f"{first}_mean"], tc[f"{second}_mean"]).abs()
    dim = None
    if diff.notna().any() and diff.max() > 0:
        row = tc.loc[diff.idxmax()]  # ties: the first dimension
        dim = int(row["dimension_id"])
        dim_means = {t: scoring.shown(row[f"{t}_mean"]) for t in (first, second)}
    else:
        dim_means = {}
    return {t: scoring.shown(v) for t, v in means.items()}, gap, dim, dim_means


def _submissions(status: pd.DataFrame, scored: int, n: int) -> dict:
    registry = scoring.has_registry(status)
    submitted = int((status["status"] != ReportingStatus.MISSING).sum()) if not status.empty else scored
    if not registry:
        return {"registry": False, "submitted": submitted}
    miss = status[status["status"] == ReportingStatus.MISSING].sort_values(["college", "branch_code"])
    return {"registry": True, "total": len(status), "submitted": submitted,
            "missing": [str(x) for x in miss["branch_name"].head(n)], "missing_count": len(miss)}


def facts(period: str, data: dict[str, pd.DataFrame], periods: list[str]) -> Facts:
    """The summary's figures from scoring.marts(period, previous=True) and the periods with scores."""
    g, rules = guide(), guide().summary
    bs, status = data["branch_scores"], data["submission_status"]
    pbs = data.get("prev_branch_scores")
    pbs = pbs if pbs is not None and not pbs.empty and str(Period.parse(period).previous) in periods else None
    now, before = _mean(bs), _mean(pbs)
    cs = data["college_scores"]
    colleges, colleges_moved = ([], 0) if pbs is None else _pick(
        cs["college"], scoring.shown_change(cs["overall_same"], cs["prev_same"]), rules.college_change,
        rules.names_per_sentence)
    branches, branches_moved = ([], 0) if pbs is None else _pick(
        bs["branch_name"], scoring.shown_change(bs["overall"], bs["prev_overall"]), rules.branch_change,
        rules.names_per_sentence)
    type_means, gap, dim, dim_means = _types(bs, data["type_comparison"], g)
    grades = [gr.name for gr in g.grades]
    return Facts(
        period=period, previous=None if pbs is None else str(Period.parse(period).previous),
        earlier=any(Period.parse(p) < Period.parse(period) for p in periods), scored=len(bs),
        school_mean=None if now is None else scoring.shown(now), school_change=scoring.shown_change(now, before),
        types_changed=pbs is not None and set(bs["branch_type"]) != set(pbs["branch_type"]),
        grades={name: int((bs["grade"] == name).sum()) for name in grades},
        previous_grades=None if pbs is None else {name: int((pbs["grade"] == name).sum()) for name in grades},
        colleges=colleges, colleges_moved=colleges_moved, branches=branches, branches_moved=branches_moved,
        weak_items=_weak_items(data["item_summary"], g, rules.names_per_sentence),
        type_means=type_means, type_gap=gap, gap_dimension=dim, gap_dimension_means=dim_means,
        **_submissions(status, len(bs), rules.names_per_sentence),
    )


# ---- sentences -----------------------------------------------------------------------------------------
def _school_sentence(f: Facts) -> str:
    head = f"{Period.parse(f.period).status_label()}，全校 {f.scored} 个支部平均分 {_num(f.school_mean)} 分"
    if f.previous is not None:
        change = "与上季度持平" if f.school_change == 0 else f"较上季度{_moved(f.school_change)}"
        note = "（两个季度报送的支部类型不同，这一变化受支部构成影响）" if f.types_changed else ""
        return f"{head}，{change}{note}。"
    if f.earlier:
        return f"{head}；上一季度（{Period.parse(f.period).previous.label}）没有报送数据，暂无环比。"
    return f"{head}；这是第一个有数据的季度，暂无环比。"


def _grade_sentence(f: Facts) -> str:
    now = "、".join(f"{name} {n} 个" for name, n in f.grades.items())
    if f.previous_grades is None:
        return f"等次分布：{now}。"
    changed = [f"“{name}”由 {f.previous_grades[name]} 个{'增至' if n > f.previous_grades[name] else '减至'} {n} 个"
               for name, n in f.grades.items() if n != f.previous_grades[name]]
    return f"等次分布：{now}；" + ("较上季度，" + "，".join(changed) if changed else "各等次支部数与上季度相同") + "。"


def _moves_clause(moves: list[Move], moved: int, who: str, what: str, threshold: float) -> str:
    if not moves:
        return f"各{who}{what}较上季度升降均不到 {threshold:g} 分"
    named = "、".join(f"“{m.name}”{_moved(m.change)}" for m in moves)
    more = f"（升降 {threshold:g} 分及以上的共 {moved} 个）" if moved > len(moves) else ""
    return f"{who}中，{named}{more}"


def _movers_sentence(f: Facts) -> str | None:
    if f.previous is None:
        return None
    rules = guide().summary
    return (_moves_clause(f.colleges, f.colleges_moved, "二级党组织", "平均分（两个季度均报送的支部）",
                          rules.college_change) + "；"
            + _moves_clause(f.branches, f.branches_moved, "支部", "总分", rules.branch_change) + "。")


def _weak_sentence(f: Facts) -> str | None:
    if not f.weak_items:
        return None
    return "全校平均完成率最低的考核要点：" + "；".join(f"{w.label}（{_num(w.completion)}%）" for w in f.weak_items) + "。"


def _type_sentence(f: Facts) -> str | None:
    if not f.type_means:
        return None
    g = guide()
    (a, mean_a), (b, mean_b) = f.type_means.items()
    name_a, name_b = g.branch_type_name(a), g.branch_type_name(b)
    head = f"{name_a}平均 {_num(mean_a)} 分，{name_b}平均 {_num(mean_b)} 分，"
    gap = "两类支部持平" if f.type_gap == 0 else \
        f"{name_a if f.type_gap > 0 else name_b}高 {_num(abs(f.type_gap))} 分"
    if f.gap_dimension is None:
        return f"{head}{gap}。"
    dim = g.dimensions[f.gap_dimension - 1].name
    dm = f.gap_dimension_means
    return (f"{head}{gap}；差距最大的一级指标是“{dim}”（{name_a} {_num(dm[a])} 分，"
            f"{name_b} {_num(dm[b])} 分）。")


def _submission_sentence(f: Facts) -> str:
    if not f.registry:
        return f"本季度已有 {f.submitted} 个支部报送；尚未导入支部名册，无法统计未报送的支部。"
    if not f.missing_count:
        return f"支部名册中的 {f.total} 个支部均已报送。"
    more = "等" if f.missing_count > len(f.missing) else ""
    return (f"支部名册中 {f.total} 个支部已报送 {f.submitted} 个，尚有 {f.missing_count} 个未报送："
            f"{_quoted(f.missing)}{more}。")


def sentences(f: Facts) -> list[str]:
    """The summary's sentences from its facts: 3–6 when the quarter has scores, 2 when it has none."""
    if not f.scored:
        return [f"{Period.parse(f.period).status_label()}还没有任何支部报送，暂无得分。", _submission_sentence(f)]
    parts = [_school_sentence(f), _grade_sentence(f), _movers_sentence(f), _weak_sentence(f),
             _type_sentence(f), _submission_sentence(f)]
    return [p for p in parts if p]


def quarter_summary(period: str, db=None, *, data: dict[str, pd.DataFrame] | None = None,
                    periods: list[str] | None = None) -> Summary:
    """本季度要点 of `period`. `data` (scoring.marts(period, previous=True)) and `periods` (scoring.periods)
    are read from `db` unless a page passes what it already holds."""
    period = str(Period.parse(period))
    data = data if data is not None else scoring.marts(period, db, previous=True)
    f = facts(period, data, periods if periods is not None else scoring.periods(db))
    return Summary(period, sentences(f), f)


def cli_summary(args: argparse.Namespace) -> int:
    """`python -m pipelines summary --period 2026Q3 [--db DB]`: the summary as one paragraph."""
    db = args.db or None
    try:
        period = str(Period.parse(args.period))
    except ValueError:
        print(f"季度格式不正确：{args.period}（应为如 2026Q3）", file=sys.stderr)
        return 1
    known = scoring.periods(db)
    if period not in known and scoring.submission_status(period, db).empty:
        have = "、".join(known) if known else "无"
        print(f"没有 {period} 的报送数据，也没有支部名册。已有季度：{have}", file=sys.stderr)
        return 1
    print(f"本季度要点（{Period.parse(period).status_label()}）")
    print(quarter_summary(period, db, periods=known).text)
    return 0
