"""Alerts (预警): the rules of indicator_guide.yaml (`alerts`) evaluated for one quarter over the scores.

Each rule kind is one small function here. It reads the quarter's facts (the scoring marts, the ledger months,
the submissions and the deadline) and yields one hit per branch where its condition holds, with a value, the
evidence in Chinese and the deadline the requirement refers to. The rule's levels in the YAML then decide red,
yellow or nothing, so every id and threshold lives in the guide. The rules in Chinese: docs/scoring.md.
"""
from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pandas as pd

from pipelines.store import db as dbmod
from pipelines import scoring
from pipelines.scoring.session import _df, _keyed, _mart, _session, _sql
from pipelines.guide import AlertRule, Guide, guide
from pipelines.guide.period import Period
from pipelines.guide.vocab import AlertColor, ReportingStatus

_SEVERITY = {"yellow": 1, "red": 2}
COLUMNS = ["branch_code", "branch_name", "college", "branch_type", "rule_id", "rule_name", "level",
           "level_label", "item_id", "evidence", "deadline"]
_NAMES = ["branch_name", "college", "branch_type"]  # from the roster (registry first, else the workbook)
COUNT_COLUMNS = ["college", "rule_id", "rule_name", "level", "level_label", "branches"]
_EPS = 1e-9


@dataclass(frozen=True)
class Hit:
    """A rule's condition holding for one branch: its value (compared with the levels' `over`)."""

    branch_code: str
    value: float
    evidence: str
    deadline: dt.date | None
    item_id: str | None = None


@dataclass
class Facts:
    """What the rules of one quarter read, fetched from one read connection."""

    period: str
    roster: pd.DataFrame  # submission_status of the period: registry ∪ submitters
    measures: pd.DataFrame  # measure_detail of the period
    scores: dict  # (period, branch_code) -> (overall, prev_overall, grade), this quarter and some before
    months: pd.DataFrame  # alerts_months: branch_code, activity, month
    uploads: pd.DataFrame  # alerts_uploads: branch_code, first_upload, due_date
    due_date: dt.date | None  # the period's submission deadline, if an admin set one
    submitted: set  # (branch_code, period) with a current submission, every period
    collected: set  # periods in which any branch submitted

    @property
    def year(self) -> int:
        return Period.parse(self.period).year

    @property
    def quarter(self) -> int:
        return Period.parse(self.period).quarter

    @property
    def quarter_end(self) -> dt.date:
        return Period.parse(self.period).end

    @property
    def year_end(self) -> dt.date:
        return dt.date(self.year, 12, 31)


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


# ---- numbers in evidence text ----------------------------------------------------------------------------
def _num(x) -> str:
    """A figure in evidence text: whole numbers as they are, others through scoring's one rounding rule."""
    x = float(x)
    if abs(x - round(x)) < _EPS:
        return str(int(round(x)))
    return f"{scoring.shown(x):.{scoring.SHOWN_DECIMALS}f}"


def _pct(share: float) -> str:
    return f"{scoring.shown(share * 100):.{scoring.SHOWN_DECIMALS}f}%"


def _score(x: float) -> str:
    return f"{scoring.shown(x):.{scoring.SHOWN_DECIMALS}f}"


# ---- facts -------------------------------------------------------------------------------------------------
def _lookback(g: Guide) -> int:
    """Quarters before the period whose scores the rules need: falls_in_a_row counts up to over + 1 falls."""
    overs = [lv.over for r in g.alerts if r.kind == "falls_in_a_row" for lv in r.levels]
    return max([1] + [int(o) + 1 for o in overs])


def _has_deadlines(con) -> bool:
    # a database written before the deadlines table existed gets it on its next write; until then: none
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'deadlines'").fetchall()[0][0] > 0


def _facts(period: str, db, lookback: int) -> Facts:
    back = [period]
    for _ in range(lookback - 1):
        back.append(str(Period.parse(back[-1]).previous))
    with _session(db, back) as con:  # scores `back` and the quarter before the last of them
        if not _has_deadlines(con):
            con.register("deadlines", pd.DataFrame({"period": pd.Series(dtype="str"),
                                                    "due_date": pd.Series(dtype="datetime64[ns]")}))
        p = {"period": period}
        measures = _mart(con, "measure_detail", p)
        roster = _mart(con, "submission_status", period=period)
        scores = con.execute("SELECT period, branch_code, overall, prev_overall, grade FROM ("
                             + _keyed("branch_scores") + ")").fetchall()
        months = _df(con, _sql("alerts_months"), p)
        uploads = _df(con, _sql("alerts_uploads"), p)
        due = con.execute("SELECT max(due_date) FROM deadlines WHERE period = $period", p).fetchall()[0][0]
        submitted = set(con.execute("SELECT DISTINCT branch_code, period FROM stg_submissions").fetchall())
    return Facts(period=period, roster=roster, measures=measures,
                 scores={(r[0], r[1]): r[2:] for r in scores}, months=months, uploads=uploads,
                 due_date=pd.Timestamp(due).date() if due is not None else None,
                 submitted=submitted, collected={p for _, p in submitted})


def _rows(rule: AlertRule, f: Facts) -> Iterator:
    m = f.measures
    return m[(m["item_id"] == rule.item) & (m["measure_id"] == rule.measure)].itertuples(index=False)


# ---- rule kinds ----------------------------------------------------------------------------------------------
def _annual_open(rule: AlertRule, g: Guide, f: Facts) -> Iterator[Hit]:
    """Value: the year's shortfall (times, or members not yet covered) of an annual measure."""
    counted = g.measure(rule.item, rule.measure).kind == "annual_count"
    for r in _rows(rule, f):
        if not (r.required > 0 and r.actual < r.required - _EPS):
            continue
        if counted:
            text = f"{r.measure_name}：本年已完成 {_num(r.actual)} 次，全年要求 {_num(r.required)} 次"
        else:
            text = (f"{r.measure_name}：本年已覆盖 {_num(r.actual)} 人，党员 {_num(r.required)} 人"
                    f"（{_pct(r.actual / r.required)}）")
        yield Hit(r.branch_code, r.required - r.actual, text, f.year_end, rule.item)


def _monthly_gap(rule: AlertRule, g: Guide, f: Facts) -> Iterator[Hit]:
    """Value: months of the quarter without the activity."""
    activity = g.measure(rule.item, rule.measure).activity
    held = f.months[f.months["activity"] == activity].groupby("branch_code")["month"].agg(set).to_dict()
    for r in _rows(rule, f):
        if r.actual >= r.required:
            continue
        missing = [m for m in Period.parse(f.period).months if m not in held.get(r.branch_code, set())]
        text = (f"本季度 {'、'.join(f'{m} 月' for m in missing)}没有{g.activity_name(activity)}记录"
                f"（{_num(r.actual)}/{_num(r.required)} 个月）")
        yield Hit(r.branch_code, r.required - r.actual, text, f.quarter_end, rule.item)


def _quarter_missing_meeting(rule: AlertRule, g: Guide, f: Facts) -> Iterator[Hit]:
    """Value: meetings missing this quarter (required − held)."""
    name = g.activity_name(g.measure(rule.item, rule.measure).activity)
    for r in _rows(rule, f):
        if r.actual < r.required:
            yield Hit(r.branch_code, r.required - r.actual, f"本季度未召开{name}（{r.measure_name}）",
                      f.quarter_end, rule.item)


def _hours_pace(rule: AlertRule, g: Guide, f: Facts) -> Iterator[Hit]:
    """Value: the share by which the hours per member fall behind the pro-rata target (0.25 = 25 %)."""
    full = g.measure(rule.item, rule.measure).required
    for r in _rows(rule, f):
        if not (r.required > 0 and r.actual < r.required):  # NaN (no members) never fires
            continue
        behind = 1 - r.actual / r.required
        text = (f"本年截至本季度末人均 {_num(r.actual)} 学时，按进度应达 {_num(r.required)} 学时"
                f"（全年 {_num(full)} 学时），落后 {_pct(behind)}")
        yield Hit(r.branch_code, behind, text, f.year_end, rule.item)


def _dues_below(rule: AlertRule, g: Guide, f: Facts) -> Iterator[Hit]:
    """Value: the share of dues unpaid (1 − the measure's completion)."""
    for r in _rows(rule, f):
        if r.completion >= 1 - _EPS:
            continue
        if pd.isna(r.actual) or pd.isna(r.required):
            text = "统计数据中党费应缴人数或实缴人数未填写"
        else:
            text = f"党费实缴 {_num(r.actual)} 人，应缴 {_num(r.required)} 人，收缴率 {_pct(r.completion)}"
        yield Hit(r.branch_code, 1 - r.completion, text, f.quarter_end, rule.item)


def _report_overdue(rule: AlertRule, g: Guide, f: Facts) -> Iterator[Hit]:
    """Value: reports missing whose due month has ended by the end of the quarter."""
    due = [m for m in rule.due_months if m <= Period.parse(f.period).months[-1]]
    name = g.activity_name(g.measure(rule.item, rule.measure).activity)
    for r in _rows(rule, f):
        done = int(r.actual)
        if done >= len(due):
            continue
        first_missing = due[done]
        text = (f"本年已有{name}记录 {done} 次，截至 {due[-1]} 月底应有 {len(due)} 次"
                f"（{first_missing} 月底前应报的一次未报）")
        yield Hit(r.branch_code, len(due) - done, text, _month_end(f.year, first_missing), rule.item)


def _missing_streak(f: Facts, code: str) -> list[str]:
    """This quarter and the quarters right before it without a submission of the branch, newest first.
    A quarter in which nobody submitted ends the streak (the school did not collect it)."""
    streak, p = [f.period], str(Period.parse(f.period).previous)
    while p in f.collected and (code, p) not in f.submitted:
        streak.append(p)
        p = str(Period.parse(p).previous)
    return streak


def _not_submitted(rule: AlertRule, g: Guide, f: Facts) -> Iterator[Hit]:
    """Value: quarters in a row without a submission, ending with this one (registry branches)."""
    for code in f.roster.loc[f.roster["status"] == ReportingStatus.MISSING, "branch_code"]:
        streak = _missing_streak(f, code)
        text = "本季度未报送" if len(streak) == 1 else (
            f"已连续 {len(streak)} 个季度未报送（{'、'.join(Period.parse(p).label for p in reversed(streak))}）")
        yield Hit(code, len(streak), text, f.due_date)


def _late_submission(rule: AlertRule, g: Guide, f: Facts) -> Iterator[Hit]:
    """Value: days the first upload came after the quarter's deadline (no deadline set: never fires)."""
    for r in f.uploads.itertuples(index=False):
        if pd.isna(r.due_date):
            continue
        due, first = pd.Timestamp(r.due_date).date(), pd.Timestamp(r.first_upload)
        days = (first.date() - due).days
        if days > 0:
            text = f"报送截止日期 {due.isoformat()}，首次上传于 {first:%Y-%m-%d %H:%M}，逾期 {days} 天"
            yield Hit(r.branch_code, days, text, due)


def _scores_now(f: Facts) -> Iterator[tuple[str, float, float | None, str]]:
    for (period, code), (overall, prev, grade) in sorted(f.scores.items()):
        if period == f.period:
            yield code, overall, prev, grade


def _grade_is(rule: AlertRule, g: Guide, f: Facts) -> Iterator[Hit]:
    """Value: 1 when the branch's grade this quarter is the rule's grade."""
    for code, overall, _, grade in _scores_now(f):
        if grade == rule.grade:
            yield Hit(code, 1, f"本季度总分 {_score(overall)}，等次为“{grade}”", f.quarter_end)


def _score_fall(rule: AlertRule, g: Guide, f: Facts) -> Iterator[Hit]:
    """Value: points the overall score fell since the quarter before, as shown."""
    for code, overall, prev, _ in _scores_now(f):
        change = scoring.shown_change(overall, prev)
        if change is not None and change < 0:
            text = f"总分由上季度 {_score(prev)} 降至 {_score(overall)}，下降 {_score(-change)} 分"
            yield Hit(code, -change, text, f.quarter_end)


def _falls_in_a_row(rule: AlertRule, g: Guide, f: Facts) -> Iterator[Hit]:
    """Value: quarters in a row, ending with this one, whose overall score fell (as shown)."""
    for code, *_ in _scores_now(f):
        chain, p = [], f.period
        while (p, code) in f.scores:
            overall, prev, _ = f.scores[(p, code)]
            change = scoring.shown_change(overall, prev)
            if change is None or change >= 0:
                break
            chain.append((p, overall, prev))
            p = str(Period.parse(p).previous)
        if chain:
            steps = [f"{Period.parse(chain[-1][0]).previous.label} {_score(chain[-1][2])}"]
            steps += [f"{Period.parse(p).label} {_score(o)}" for p, o, _ in reversed(chain)]
            yield Hit(code, len(chain), f"总分连续 {len(chain)} 个季度下降：{' → '.join(steps)}", f.quarter_end)


KINDS: dict[str, Callable[[AlertRule, Guide, Facts], Iterator[Hit]]] = {
    "annual_open": _annual_open, "monthly_gap": _monthly_gap, "quarter_missing_meeting": _quarter_missing_meeting,
    "hours_pace": _hours_pace, "dues_below": _dues_below, "report_overdue": _report_overdue,
    "not_submitted": _not_submitted, "late_submission": _late_submission, "grade_is": _grade_is,
    "score_fall": _score_fall, "falls_in_a_row": _falls_in_a_row,
}


# ---- public API ----------------------------------------------------------------------------------------------
def level_of(rule: AlertRule, quarter: int, value: float) -> str | None:
    """The most severe of the rule's levels that applies in this quarter (Q1–Q4) to this value, or None."""
    hits = [lv.level for lv in rule.levels if quarter >= lv.from_quarter and value > lv.over + _EPS]
    return max(hits, key=_SEVERITY.__getitem__, default=None)


def _supersede(df: pd.DataFrame, g: Guide) -> pd.DataFrame:
    """Drop the alerts a firing rule replaces for the same branch (`supersedes` in the YAML)."""
    for rule in g.alerts:
        if rule.supersedes:
            fired = set(df.loc[df["rule_id"] == rule.id, "branch_code"])
            df = df[~(df["rule_id"].isin(rule.supersedes) & df["branch_code"].isin(fired))]
    return df


def alerts(period: str, db=None) -> pd.DataFrame:
    """Every alert of one quarter: one row per branch and firing rule, red first, then by college and branch.

    Columns: branch_code, branch_name, college, branch_type, rule_id, rule_name, level (red | yellow),
    level_label (红 | 黄), item_id (None for rules on submissions or scores), evidence (Chinese, with the
    numbers), deadline (the date the requirement refers to; None when not submitted and no deadline is set);
    extra: value (what the levels compare), rule_order.
    """
    period = str(Period.parse(period))
    g = guide()
    f = _facts(period, db, _lookback(g))
    rows = []
    for order, rule in enumerate(g.alerts):
        for hit in KINDS[rule.kind](rule, g, f):
            level = level_of(rule, f.quarter, hit.value)
            if level is not None:
                rows.append({"branch_code": hit.branch_code, "rule_id": rule.id, "rule_name": rule.name,
                             "level": level, "level_label": AlertColor(level).label, "item_id": hit.item_id,
                             "evidence": hit.evidence, "deadline": hit.deadline, "value": float(hit.value),
                             "rule_order": order})
    df = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in _NAMES] + ["value", "rule_order"])
    df = _supersede(df, g)
    names = f.roster[["branch_code", *_NAMES]].drop_duplicates("branch_code")
    df = df.merge(names, on="branch_code", how="left")
    df["item_id"] = df["item_id"].astype(object).where(df["item_id"].notna(), None)
    df["_severity"] = df["level"].map(_SEVERITY)
    df = df.sort_values(["_severity", "college", "branch_code", "rule_order"], ascending=[False, True, True, True],
                        kind="stable")
    return df[COLUMNS + ["value", "rule_order"]].reset_index(drop=True)


def alert_counts(period: str, db=None) -> pd.DataFrame:
    """Alerts of one quarter counted by college, rule and level (branches = how many branches), in rule order."""
    df = alerts(period, db)
    keys = ["college", "rule_id", "rule_name", "level", "level_label", "rule_order"]
    out = df.groupby(keys, dropna=False).size().rename("branches").reset_index()
    out["_severity"] = out["level"].map(_SEVERITY)
    out = out.sort_values(["_severity", "rule_order", "college"], ascending=[False, True, True], kind="stable")
    return out[COUNT_COLUMNS].reset_index(drop=True)


def alert_evidence(period: str, branch_code: str, rule_id: str, db=None) -> pd.DataFrame:
    """The rows behind one alert. For a rule on a measure: scoring.trace's ledger / count rows of that
    measure (source, period, measure_id, source_file, sheet, row_no, counted, detail columns). For a rule on
    submissions or scores: the branch's submission versions of the quarter (source = submission, period,
    version, file_name, uploaded_at, uploaded_by, status). KeyError for an unknown rule id.
    """
    period = str(Period.parse(period))
    rule = guide().alert_rule(rule_id)
    if rule.item is not None:
        df = scoring.trace(period, branch_code, rule.item, db)
        return df[df["measure_id"] == rule.measure].reset_index(drop=True)
    with dbmod.connect(db) as con:
        return con.execute(
            "SELECT 'submission' AS source, period, version, file_name, uploaded_at, uploaded_by, status "
            "FROM submissions WHERE branch_code = $code AND period = $period ORDER BY version",
            {"code": branch_code, "period": period}).df()


def deadlines(db=None) -> pd.DataFrame:
    """The submission deadline of each quarter set so far: period, due_date, set_by, set_at (by period)."""
    with dbmod.connect(db) as con:
        if not _has_deadlines(con):
            return pd.DataFrame(columns=["period", "due_date", "set_by", "set_at"])
        return con.execute("SELECT period, due_date, set_by, set_at FROM deadlines ORDER BY period").df()


def deadline_status(period: str, db=None, today: dt.date | None = None, *, table: pd.DataFrame | None = None) -> dict:
    """The quarter's submission deadline as 催报 shows it: period, due_date (None when not set), set_by,
    days_left (days from `today` to the deadline; negative once it has passed; None without a deadline).
    `table`: `deadlines(db)` when the caller has read it already (one read for many branch-quarters)."""
    period = str(Period.parse(period))
    today = today or dt.date.today()
    df = deadlines(db) if table is None else table
    row = df[df["period"] == period]
    if row.empty:
        return {"period": period, "due_date": None, "set_by": None, "days_left": None}
    due = pd.Timestamp(row["due_date"].iloc[0]).date()
    return {"period": period, "due_date": due, "set_by": row["set_by"].iloc[0], "days_left": (due - today).days}


def alert_totals(period: str, db=None, by: str | None = None) -> pd.DataFrame:
    """Alerts of one quarter counted by level: red, yellow, total (alerts) and branches (with any alert); one row
    for the quarter, or with `by` = college | rule_name one row per college or rule (most red first)."""
    df = alerts(period, db)
    keys = [by] if by else []
    frame = df.assign(red=df["level"].eq("red").astype(int), yellow=df["level"].eq("yellow").astype(int))
    if not keys:
        frame = frame.assign(_all=0)
        keys = ["_all"]
    out = frame.groupby(keys, dropna=False).agg(red=("red", "sum"), yellow=("yellow", "sum"),
                                                branches=("branch_code", "nunique")).reset_index()
    if by is None and out.empty:
        out = pd.DataFrame({"_all": [0], "red": [0], "yellow": [0], "branches": [0]})
    out["total"] = out["red"] + out["yellow"]
    out = out.sort_values(["red", "total", *([by] if by else [])], ascending=[False, False, *([True] if by else [])],
                          kind="stable")
    return out.drop(columns=["_all"], errors="ignore")[[*([by] if by else []), "red", "yellow", "total", "branches"]
                                                       ].reset_index(drop=True)
