"""Scoring: measure → item → indicator → dimension → overall, rankings and comparisons.

Every number is derived at query time from the staging views (current submissions only) and the current
guide, so a changed weight in indicator_guide.yaml re-scores every quarter consistently. The logic lives in
`pipelines/sql/marts/*.sql` (one mart per file, a chain of named CTEs ending in `final`); the guide enters as
small registered relations (`g_measures`, `g_items`, …) built here from `guide()`, so no item id, weight or
value is written in SQL. Each public function opens one short read connection under the database lock.

The method, in Chinese for the 组织部, is in docs/scoring.md.
"""
from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import duckdb
import pandas as pd

from pipelines import db as dbmod
from pipelines.config import settings
from pipelines.guide import Guide, guide
from pipelines.guide.period import Period

SQL_DIR = Path(__file__).resolve().parent / "sql" / "marts"
DIMENSION_COLUMNS = [f"d{i}" for i in range(1, 8)]
CONTRIBUTION_COLUMNS = [f"c{i}" for i in range(1, 8)]

# DuckDB threads per scoring connection. The marts are small (a quarter is ~10⁵ rows): one thread avoids
# scheduling overhead and leaves the other core to concurrent page loads (measured in bench/bench_scoring.py).

# The one scoring chain, in dependency order: each is a temp table named after its SQL file. All but
# `branches` are keyed by submission_id and hold numbers only, so the whole history is computed by the
# same chain as one quarter; period and names are joined from `branches` where a mart is read, and the
# self-assessment text by the view self_assessment_detail (read only by the single-quarter details).
_CHAIN = ["branches", "evidence", "self_assessment", "self_assessment_detail", "measure_scores", "item_scores",
          "indicator_scores", "dimension_scores", "rankings", "branch_scores"]
_VIEWS = {"self_assessment_detail", "rankings"}  # computed only where read (branch_scores reads overall only)

# Public column lists (docs/design.md "Scoring"); extra columns follow these.
MEASURE_COLUMNS = ["branch_code", "item_id", "measure_id", "measure_name", "kind", "actual", "required",
                   "completion", "status", "weight"]
ITEM_COLUMNS = ["branch_code", "item_id", "indicator_id", "dimension_id", "completion", "pending", "flagged",
                "self_status", "evidence"]
BRANCH_COLUMNS = ["branch_code", "branch_name", "branch_type", "college", "members", *DIMENSION_COLUMNS,
                  "overall", "grade", "rank", "rank_in_type", "rank_in_college", "prev_overall", "delta",
                  "prev_rank", "rank_change", "version", "guide_version"]
SCORE_HISTORY_COLUMNS = ["period", "branch_code", "branch_name", "branch_type", "college", *DIMENSION_COLUMNS,
                         "overall", "rank"]
# branch_scores columns that compare a period with the one before it
CHANGE_COLUMNS = ["prev_overall", "delta", "prev_rank", "rank_change"]

FLAG_MESSAGES = {
    "no_evidence": "自评为“完成”但未填写佐证材料，按“{answer}”计分",
    "blank_status": "未填写自评完成情况，按 0 计分",
    "no_ledger": "自评为“完成”但台账/统计数据中没有对应佐证，按“{answer}”计分，待核实",
    "sent_back": "审核已退回补充佐证，按“{answer}”计分，待核实",
    "unreviewed": "自评为“完成”，本项无台账佐证关联，审核认定前按“{answer}”计分，待核实",
}


# ---- guide as relations ------------------------------------------------------------------------------
def guide_frames(g: Guide) -> dict[str, pd.DataFrame]:
    """The guide as small relations the SQL joins against (the only place ids and weights enter SQL)."""
    measures, items, evidence = [], [], []
    order = 0
    for dim in g.dimensions:
        for ind in dim.indicators:
            for it in ind.items:
                order += 1
                for t in it.applies_to:
                    items.append({"item_id": it.id, "indicator_id": ind.id, "dimension_id": dim.id,
                                  "branch_type": t, "weight": float(it.weight), "item_order": order,
                                  "self_assessed": it.self_assessed})
                ev = it.evidence
                for activity, count in ([(a, None) for a in ev.activities] + [(None, c) for c in ev.counts]
                                        if ev else []):
                    evidence.append({"item_order": order, "activity": activity, "count_field": count,
                                     "scope": ev.scope})
                for k, m in enumerate(it.measures):
                    measures.append({
                        "item_id": it.id, "indicator_id": ind.id, "dimension_id": dim.id,
                        "measure_id": m.id, "measure_name": m.name, "kind": m.kind, "activity": m.activity,
                        "required": None if m.required is None else float(m.required),
                        "count_field": m.count, "numerator": m.numerator, "denominator": m.denominator,
                        "weight": float(m.weight), "measure_order": order * 100 + k,
                    })
    answers = {a.id: a for a in g.self_assessment}
    done = answers[g.full_answer]
    fallback = answers[g.self_assessment_without_evidence]
    return {
        "g_measures": pd.DataFrame(measures).astype({"required": "float64"}),
        "g_items": pd.DataFrame(items),
        "g_indicators": pd.DataFrame([{"indicator_id": ind.id, "dimension_id": d.id, "name": ind.name,
                                       "weight": float(ind.weight)} for d in g.dimensions for ind in d.indicators]),
        "g_dimensions": pd.DataFrame([{"dimension_id": d.id, "name": d.name, "short": d.short,
                                       "weight": float(d.weight)} for d in g.dimensions]),
        "g_evidence": pd.DataFrame(evidence, columns=["item_order", "activity", "count_field", "scope"]).astype(
            {"item_order": "int64", "activity": "string", "count_field": "string", "scope": "string"}),
        "g_answers": pd.DataFrame([{"status": a.id, "name": a.name, "value": float(a.value)}
                                   for a in g.self_assessment]),
        "g_grades": pd.DataFrame([{"name": gr.name, "min": float(gr.min)} for gr in g.grades]),
        "g_settings": pd.DataFrame([{"guide_version": g.version, "done_status": done.id,
                                     "without_evidence_status": fallback.id,
                                     "without_evidence_name": fallback.name,
                                     "without_evidence_value": float(fallback.value),
                                     "review_blend": bool(g.review.blend),
                                     "review_self_share": float(g.review.self_share)}]),
    }


SHOWN_DECIMALS = 1  # scores are shown, graded and ranked at this precision (dashboard, report, CLI)
# score_key(x): the score as shown, as an integer (tenths), rounded half up via millionths so float noise
# from summation order never splits a tie; shown(x): the same as a number. Grades and ranks use these.
_MACROS = (f"CREATE OR REPLACE TEMP MACRO score_key(x) AS "
           f"(round(x * 1000000)::BIGINT + {10 ** (6 - SHOWN_DECIMALS) // 2}) // {10 ** (6 - SHOWN_DECIMALS)};"
           f"CREATE OR REPLACE TEMP MACRO shown(x) AS score_key(x) / {10 ** SHOWN_DECIMALS}::DOUBLE;")


def half_up(x, decimals: int):
    """A number (or Series) rounded half up (四舍五入) to `decimals` places, via millionths so float noise never
    tips a value shown as x.x5 — the one rounding rule of every displayed figure (scores, shares, percentages)."""
    unit = 10 ** (6 - decimals)
    if isinstance(x, pd.Series):
        return ((x * 1_000_000).round() + unit // 2).floordiv(unit) / 10 ** decimals
    if x is None or pd.isna(x):
        return x
    return (round(float(x) * 1_000_000) + unit // 2) // unit / 10 ** decimals


def shown(x):
    """A score (number or Series) as shown, graded and ranked: SHOWN_DECIMALS decimals, half up — the Python
    twin of the SQL macro, so a page never shows 87.2 for a score ranked as 87.3."""
    return half_up(x, SHOWN_DECIMALS)


def percent(share, decimals: int = 0) -> str:
    """A 0–1 share or completion as a percentage, half up: '86%' (decimals=0) or '86.3%'; '—' when missing."""
    if share is None or pd.isna(share):
        return "—"
    return f"{half_up(float(share) * 100, decimals):.{decimals}f}%"



def shown_change(now, before):
    """A change as shown beside two shown scores: their difference (numbers or Series), so 71.0 → 55.5
    always reads −15.5, never the −15.4 of the unrounded scores. NaN/None when either is missing."""
    if isinstance(now, pd.Series) or isinstance(before, pd.Series):
        return (shown(now) - shown(before)).round(SHOWN_DECIMALS)
    if now is None or before is None or pd.isna(now) or pd.isna(before):
        return None
    return round(shown(now) - shown(before), SHOWN_DECIMALS)


def shown_share(x):
    """核实率 (0–1, number or Series) as shown: a whole percentage, half up; None/NaN stays missing."""
    if isinstance(x, pd.Series):
        return half_up(x * 100, 0)
    if x is None or pd.isna(x):
        return x
    return int(half_up(float(x) * 100, 0))


@lru_cache(maxsize=None)
def _sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def _arrow(df: pd.DataFrame):
    import pyarrow as pa

    return pa.Table.from_pandas(df, preserve_index=False)


def _targets(periods: list[str]) -> pd.DataFrame:
    rows = []
    for p in sorted({Period.parse(p) for p in periods}):
        rows.append({"period": str(p), "year": p.year, "quarter": p.quarter, "prev_period": str(p.previous)})
    return pd.DataFrame(rows, columns=["period", "year", "quarter", "prev_period"]).astype(
        {"year": "int32", "quarter": "int32"})


_FRAMES: dict[int, tuple[Guide, dict]] = {}


def _frames_for(g: Guide) -> dict:
    """The guide relations as Arrow tables (typed, so binding them in SQL costs nothing), per guide object."""
    import pyarrow as pa

    # guide() returns the same object until the file changes; keep the tables of the last few guides
    hit = _FRAMES.get(id(g))
    if hit is None or hit[0] is not g:
        if len(_FRAMES) > 8:
            _FRAMES.clear()
        tables = {k: pa.Table.from_pandas(v, preserve_index=False) for k, v in guide_frames(g).items()}
        hit = _FRAMES[id(g)] = (g, tables)
    return hit[1]


def _register_guide(con: duckdb.DuckDBPyConnection, g: Guide | None = None) -> None:
    for name, frame in _frames_for(g or guide()).items():
        con.register(name, frame)


@contextmanager
def _session(db, periods: list[str] | None, upto: str = "branch_scores", *,
             with_prev: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read connection with the guide relations registered and the chain built for `periods`
    (None: every period with a current submission), up to and including the temp table `upto`. With
    `with_prev`, each period's previous quarter is scored too, so ranks and deltas can be compared.
    """
    with dbmod.connect(db) as con:
        con.execute(f"SET threads = {int(settings().scoring_threads)}")
        dbmod.readable(con)
        _register_guide(con)
        con.execute(_MACROS)
        if periods is None:
            periods = [str(Period(y, q)) for y, q in con.execute(_PERIODS_SQL).fetchall()]
        wanted = list(periods) + ([str(Period.parse(p).previous) for p in periods] if with_prev else [])
        con.register("g_targets", _arrow(_targets(wanted)))
        for table in _CHAIN:
            kind = "VIEW" if table in _VIEWS else "TABLE"
            con.execute(f"CREATE OR REPLACE TEMP {kind} {table} AS {_sql(table)}")
            if table == upto:
                break
        yield con


def _int_types(t):
    import pyarrow as pa

    if pa.types.is_integer(t):
        return pd.Int64Dtype()  # nullable, like DuckDB's own .df()
    return None


def _df(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> pd.DataFrame:
    """Run a query and return a DataFrame via Arrow (several times faster than .df() for string columns)."""
    rel = con.sql(sql, params=params) if params else con.sql(sql)
    return rel.to_arrow_table().to_pandas(types_mapper=_int_types)


def _mart(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None, *,
          period: str | None = None) -> pd.DataFrame:
    """One mart's rows; with `period`, only that period's (the filter is pushed into the SQL)."""
    if period is None:
        return _df(con, _sql(name), params)
    sql = f"SELECT * FROM (\n{_sql(name)}\n) AS mart WHERE period = $period"
    return _df(con, sql, {**(params or {}), "period": period})


def _only(df: pd.DataFrame, period: str | None, columns: list[str] | None = None,
          sort: list[str] | None = None) -> pd.DataFrame:
    """Rows of one period (or all), contract columns first, a clean index."""
    if period is not None and "period" in df.columns:
        if (df["period"] != period).any():
            df = df[df["period"] == period]
        df = df.drop(columns=["period"])
    if columns:
        df = df[[c for c in columns if c in df.columns] + [c for c in df.columns if c not in columns]]
    if sort:
        df = df.sort_values(sort, kind="stable")
    return df.reset_index(drop=True)


# ---- periods -----------------------------------------------------------------------------------------
_PERIODS_SQL = "SELECT DISTINCT year, quarter FROM stg_submissions ORDER BY year, quarter"


def periods(db=None) -> list[str]:
    """Periods with at least one current submission, ascending."""
    with dbmod.connect(db) as con:
        rows = con.execute(_PERIODS_SQL).fetchall()
    return [str(Period(y, q)) for y, q in rows]


def latest_period(db=None) -> str | None:
    """The most recent period with any current submission, or None when there is none."""
    ps = periods(db)
    return ps[-1] if ps else None


# ---- one reader and one shape per mart ---------------------------------------------------------------------
# Every mart is read by _read (the rows of one period) and shaped by its _SHAPES entry (contract columns first,
# sorted, helper columns dropped), whether it comes from its own function or from marts(): the same frame
# either way.
def _flag_messages() -> dict[str, str]:
    g = guide()
    name = next(a.name for a in g.self_assessment if a.id == g.self_assessment_without_evidence)
    return {k: v.format(answer=name) for k, v in FLAG_MESSAGES.items()}


def _with_flag_message(df: pd.DataFrame) -> pd.DataFrame:
    messages = _flag_messages()
    return df.assign(flag_message=df["flag"].map(lambda f: messages.get(f) if isinstance(f, str) else None))


def _shape_measures(df: pd.DataFrame, period: str) -> pd.DataFrame:
    return _only(_with_flag_message(df).drop(columns=["measure_order"]), period, MEASURE_COLUMNS)


def _shape_items(df: pd.DataFrame, period: str) -> pd.DataFrame:
    df = _with_flag_message(df).sort_values(["branch_code", "item_order"], kind="stable")
    return _only(df.drop(columns=["item_order"]), period, ITEM_COLUMNS)


def _shape_item_summary(df: pd.DataFrame, period: str) -> pd.DataFrame:
    # equal means sort in the guide's order, even when summation order leaves them apart by float noise
    df = _only(df.assign(_mean=df["mean_completion"].round(9)), period,
               ["item_id", "branch_type", "branches", "full_share", "mean_completion"],
               ["branch_type", "_mean", "item_order"])
    return df.drop(columns=["item_order", "_mean"])


def _shape_item_types(df: pd.DataFrame, period: str) -> pd.DataFrame:
    order = {it.id: k for k, it in enumerate(guide().items)}
    df = df.assign(_o=df["item_id"].map(order)).sort_values("_o", kind="stable").drop(columns="_o")
    return _only(df, period)


def _shaper(columns: list[str] | None, sort: list[str] | None):
    return lambda df, period: _only(df, period, columns, sort)


_SHAPES: dict[str, object] = {
    "measure_scores": _shape_measures,
    "item_scores": _shape_items,
    "indicator_scores": _shaper(["branch_code", "indicator_id", "score"], ["branch_code", "indicator_id"]),
    "branch_scores": _shaper(BRANCH_COLUMNS, ["rank", "branch_code"]),
    "rankings": _shaper(None, ["dimension_id", "rank", "branch_code"]),
    "college_scores": _shaper(["college", "branches", "submitted", "overall", *DIMENSION_COLUMNS, "rank"],
                              ["rank", "college"]),
    "item_summary": _shape_item_summary,
    "type_comparison": _shaper(None, ["dimension_id"]),
    "item_type_comparison": _shape_item_types,
    "score_change": _shaper(["branch_code", "delta", *CONTRIBUTION_COLUMNS], ["branch_code"]),
    "submission_status": _shaper(["branch_code", "branch_name", "college", "branch_type", "status",
                                  "version", "uploaded_at"], ["college", "branch_code"]),
}
# marts read with their text joined by a detail file (the chain's tables hold numbers only)
_DETAILS = {"measure_scores": "measure_detail", "item_scores": "item_detail"}
# chain tables read as they are, with period and branch code joined from `branches`
_KEYED = {"indicator_scores", "rankings", "branch_scores"}


def _keyed(table: str, where: str = "") -> str:
    """SQL for a chain table with its submission's period and branch code in front (`table` is ours)."""
    return (f"SELECT b.period, b.branch_code, t.* EXCLUDE (submission_id) "
            f"FROM {table} t JOIN branches b USING (submission_id) {where}")


def _read(con: duckdb.DuckDBPyConnection, name: str, period: str) -> pd.DataFrame:
    """The unshaped rows of one mart for one period, in a session that has built what it needs."""
    if name in _DETAILS:
        return _mart(con, _DETAILS[name], {"period": period})
    if name in _KEYED:
        return _df(con, _keyed(name, "WHERE b.period = $p"), {"p": period})
    return _mart(con, name, period=period)


def _one(name: str, period: str, db, upto: str = "branch_scores", *, with_prev: bool = True,
         branch_code: str | None = None) -> pd.DataFrame:
    """One mart of one period, shaped: what each public function below returns."""
    period = str(Period.parse(period))
    with _session(db, [period], upto, with_prev=with_prev) as con:
        df = _read(con, name, period)
    if branch_code is not None:
        df = df[df["branch_code"] == branch_code]
    return _SHAPES[name](df, period)


# ---- per branch ----------------------------------------------------------------------------------------
def measure_scores(period: str, db=None, branch_code: str | None = None) -> pd.DataFrame:
    """Completion of every due measure per branch (completion NaN and status 'pending' when not yet due).

    Extra columns: flagged, flag (no_evidence | blank_status), flag_message, self_status, evidence.
    """
    return _one("measure_scores", period, db, "measure_scores", with_prev=False, branch_code=branch_code)


def item_scores(period: str, db=None, branch_code: str | None = None) -> pd.DataFrame:
    """Item completion per branch: the weighted mean of its due measures (NaN and pending when none is due).

    Items that do not apply to the branch's type have no row; rows in the guide's item order per branch.
    Extra columns: flag, flag_message, weight.
    """
    return _one("item_scores", period, db, "item_scores", with_prev=False, branch_code=branch_code)


def indicator_scores(period: str, db=None) -> pd.DataFrame:
    """Indicator score (0–100) per branch; indicators whose items are all pending have no row.

    Extra columns: dimension_id, items_due.
    """
    return _one("indicator_scores", period, db, "indicator_scores", with_prev=False)


def branch_scores(period: str, db=None) -> pd.DataFrame:
    """Per branch: the radar d1..d7, overall, grade, ranks (school, type, college), change, guide version.

    Extra columns: year, quarter, uploaded_at, ranked_branches.
    """
    return _one("branch_scores", period, db)


def rankings(period: str, db=None) -> pd.DataFrame:
    """Ranks of every branch by overall and by each dimension (long form: metric = overall | d1..d7).

    Columns: branch_code, branch_type, college, metric, dimension_id (0 = overall), score, rank,
    rank_in_type, rank_in_college, ranked_branches, prev_score, delta, prev_rank, rank_change, … .
    """
    return _one("rankings", period, db)


# ---- comparisons -------------------------------------------------------------------------------------
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
    """Teacher vs student per dimension: means, spread (population std) and diff = teacher − student."""
    return _one("type_comparison", period, db, "dimension_scores", with_prev=False)


def item_type_comparison(period: str, db=None) -> pd.DataFrame:
    """Teacher vs student per item (due items only): means and diff = teacher − student; plus std and n."""
    return _one("item_type_comparison", period, db, "item_scores", with_prev=False)


def history(db=None) -> pd.DataFrame:
    """branch_scores of every period, with a period column, ascending by period then rank."""
    ps = periods(db)
    if not ps:
        return pd.DataFrame(columns=["period", *BRANCH_COLUMNS])
    with _session(db, ps) as con:
        df = _df(con, _keyed("branch_scores", "ORDER BY year, quarter, rank, branch_code"))
    return _only(df, None, ["period", *BRANCH_COLUMNS])


def score_history(db=None) -> pd.DataFrame:
    """Every branch's overall, d1..d7 and school rank in every period (the same numbers as history()),
    ascending by period then rank: what the trend charts need, from the same chain without the previous
    quarters' comparisons.

    Columns: period, branch_code, branch_name, branch_type, college, d1..d7, overall, rank.
    """
    cols = ", ".join(f"h.{c}" for c in SCORE_HISTORY_COLUMNS)
    with _session(db, None, with_prev=False) as con:
        return _df(con, f"SELECT {cols} FROM ({_keyed('branch_scores')}) AS h "
                        "ORDER BY h.year, h.quarter, h.rank, h.branch_code")


def branch_history(branch_code: str, db=None) -> pd.DataFrame:
    """One branch's overall, d1..d7 and school rank in every period it was scored (score_history's rows of
    that branch), ascending by period."""
    df = score_history(db)
    return df[df["branch_code"] == branch_code].reset_index(drop=True)


def score_change(period: str, db=None) -> pd.DataFrame:
    """Change of overall against the previous quarter, split into each dimension's contribution c1..c7.

    c_k = (share of dimension k × its score) now − the same before, so c1 + … + c7 = delta exactly.
    Branches without a score in the previous quarter have no row. Extra columns: overall, prev_overall,
    up_dimension, down_dimension (the dimension that added or took away the most).
    """
    return _one("score_change", period, db)


def movers(period: str, n: int = 5, db=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The n most improved (delta > 0) and n most declined (delta < 0) branches, each with main_dimension:
    the dimension whose contribution moved it most in that direction (main_dimension_name, main_contribution).
    """
    period = str(Period.parse(period))
    with _session(db, [period]) as con:
        change = _mart(con, "score_change", period=period)
        names = _read(con, "branch_scores", period)[["branch_code", "branch_name", "branch_type", "college"]]
    change = _only(change, period).merge(names, on="branch_code", how="left")
    dim_names = {d.id: d.name for d in guide().dimensions}

    def pick(df: pd.DataFrame, col: str) -> pd.DataFrame:
        df = df.copy()
        df["main_dimension"] = df[col].astype("int64")
        df["main_dimension_name"] = df["main_dimension"].map(dim_names)
        df["main_contribution"] = [row[f"c{d}"] for d, (_, row) in zip(df["main_dimension"], df.iterrows())]
        cols = ["branch_code", "branch_name", "branch_type", "college", "prev_overall", "overall", "delta",
                "main_dimension", "main_dimension_name", "main_contribution", *CONTRIBUTION_COLUMNS]
        return df[cols].reset_index(drop=True)

    up = change[change["delta"] > 1e-9].sort_values(["delta", "branch_code"], ascending=[False, True]).head(n)
    down = change[change["delta"] < -1e-9].sort_values(["delta", "branch_code"]).head(n)
    return pick(up, "up_dimension"), pick(down, "down_dimension")


def submission_status(period: str, db=None) -> pd.DataFrame:
    """Registry ∪ submitters of the period: status submitted | resubmitted | missing, version, uploaded_at.

    Extra columns: in_registry, file_name.
    """
    period = str(Period.parse(period))
    with dbmod.connect(db) as con:
        con.register("g_targets", _arrow(_targets([period])))
        df = _read(con, "submission_status", period)
    return _SHAPES["submission_status"](df, period)


def has_registry(status: pd.DataFrame) -> bool:
    """Whether a registry is loaded, given submission_status: only then does it list missing branches."""
    return not status.empty and bool(status["in_registry"].any())


def trace(period: str, branch_code: str, item_id: str, db=None) -> pd.DataFrame:
    """The source rows behind one item of one branch in one period (ledger | counts | self_assessment).

    Columns: source, period (of the workbook the row is in), measure_id, source_file, sheet, row_no, counted,
    then detail columns (date, activity_type, activity_raw, topic, expected, attended, hours, evidence,
    field, value, status, status_id).
    """
    period = str(Period.parse(period))
    with _session(db, [period], "branches", with_prev=False) as con:
        df = _df(con, _sql("trace"), {"branch_code": branch_code, "item_id": item_id})
    return df.reset_index(drop=True)


def scored_answers(period: str, branch_code: str, db=None) -> pd.DataFrame:
    """The self-assessment answers one branch-quarter is scored on (the first answered row per item), as a
    review judges them. Columns: item_id, submission_id, row_no, status (answer id or None), evidence,
    answer_fp, value, flag, verified, decision (the current review's), linked, evidence_rows."""
    period = str(Period.parse(period))
    with _session(db, [period], "self_assessment", with_prev=False) as con:
        return _df(con, "SELECT k.item_id, s.submission_id, s.row_no, s.status, a.evidence, s.answer_fp, s.value, "
                        "s.flag, s.verified, s.decision, s.linked, s.evidence_rows "
                        "FROM self_assessment s JOIN branches b USING (submission_id) "
                        "JOIN stg_self_assessment a ON a.submission_id = s.submission_id AND a.row_no = s.row_no "
                        "JOIN (SELECT DISTINCT item_id, item_order FROM g_items WHERE self_assessed) k USING (item_order) "
                        "WHERE b.branch_code = $b AND b.period = $p ORDER BY s.item_order", {"b": branch_code, "p": period})


def evidence_rows(period: str, branch_code: str, db=None) -> pd.DataFrame:
    """The ledger and count rows that support each evidence-linked answer of one branch-quarter (evidence.sql).

    Columns: item_id, source (ledger | counts), period (of the workbook the row is in), sheet, row_no, date,
    activity_type, topic, evidence, field, value.
    """
    period = str(Period.parse(period))
    with _session(db, [period], "evidence", with_prev=False) as con:
        return _df(con, _sql("evidence_detail"), {"b": branch_code, "p": period})


def marts(period: str, db=None, *, previous: bool = False) -> dict[str, pd.DataFrame]:
    """Every mart of one period from a single connection (what a dashboard page load needs at once).

    Keys are the scoring functions' names, and each frame is exactly what that function returns. With
    `previous`, also prev_branch_scores: branch_scores of the calendar quarter before, scored in the same
    session anyway, without its own change columns (prev_overall, delta, prev_rank, rank_change), which
    would need the quarter before that.
    """
    current = Period.parse(period)
    period, prev = str(current), str(current.previous)
    with _session(db, [period]) as con:
        raw = {name: _read(con, name, period) for name in _SHAPES}
        before = _read(con, "branch_scores", prev) if previous else None
    out = {name: _SHAPES[name](df, period) for name, df in raw.items()}
    if before is not None:
        out["prev_branch_scores"] = _only(before.drop(columns=CHANGE_COLUMNS), prev,
                                          [c for c in BRANCH_COLUMNS if c not in CHANGE_COLUMNS],
                                          ["rank", "branch_code"])
    return out


# ---- CLI -----------------------------------------------------------------------------------------------
TABLE_HEADERS = {
    "branch_code": "支部编码", "branch_name": "支部名称", "branch_type_name": "类型", "college": "二级党组织",
    "overall": "总分", "grade": "等次", "rank": "全校排名", "rank_in_type": "类型内排名",
    "item_id": "指标", "completion": "完成率", "flagged": "需核实", "measures": "测评要求（实际/要求）",
}


def _fmt(value, digits: int = 2) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, bool):
        return "是" if value else ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _num(value) -> str:
    return "" if value is None or pd.isna(value) else f"{round(float(value), 2):g}"


def _branch_table(period: str, db) -> pd.DataFrame:
    g = guide()
    df = branch_scores(period, db)
    df["branch_type_name"] = df["branch_type"].map(lambda t: g.branch_type_name(t) if isinstance(t, str) else t)
    cols = ["branch_code", "branch_name", "branch_type", "branch_type_name", "college", *DIMENSION_COLUMNS,
            "overall", "grade", "rank", "rank_in_type", "guide_version"]
    return df[cols]


def _items_table(period: str, branch: str, db) -> tuple[pd.DataFrame, pd.DataFrame]:
    items = item_scores(period, db, branch_code=branch)
    ms = measure_scores(period, db, branch_code=branch)
    rows = []
    for it in items.itertuples():
        parts = []
        for m in ms[ms["item_id"] == it.item_id].itertuples():
            state = "未到期" if m.status == "pending" else f"{m.completion:.0%}"
            parts.append(f"{m.measure_name} {_num(m.actual)}/{_num(m.required)} {state}")
        rows.append({"item_id": it.item_id,
                     "completion": "未到期" if it.pending else float(it.completion),
                     "flagged": bool(it.flagged), "measures": "；".join(parts)})
    return pd.DataFrame(rows, columns=["item_id", "completion", "flagged", "measures"]), ms


def _write(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        pass


def cli_scores(args: argparse.Namespace) -> int:
    """`python -m pipelines scores --db DB --period 2026Q3 [--branch CODE --items] [--format table|csv|json]`.

    Per branch: code, name, type, college, d1..d7, overall, grade, rank, rank within type (and the guide
    version). With --branch/--items: that branch's items, completion or 未到期, each measure's actual vs
    required. Returns 1 with a Chinese message for an unknown period or branch.
    """
    db = args.db or None
    fmt = getattr(args, "format", "table") or "table"
    try:
        period = str(Period.parse(args.period))
    except ValueError as e:
        print(e, file=sys.stderr)
        return 1
    known = periods(db)
    if period not in known:
        have = "、".join(known) if known else "无"
        print(f"没有 {period} 的报送数据。已有季度：{have}", file=sys.stderr)
        return 1
    g = guide()
    if args.branch or args.items:
        if not args.branch:
            print("使用 --items 时须同时指定 --branch 支部编码", file=sys.stderr)
            return 1
        df, ms = _items_table(period, args.branch, db)
        if df.empty:
            print(f"{period} 没有支部 {args.branch} 的报送数据", file=sys.stderr)
            return 1
        if fmt == "json":
            out = []
            for row in df.to_dict("records"):
                sub = ms[ms["item_id"] == row["item_id"]]
                row["measures"] = json.loads(sub[["measure_id", "measure_name", "kind", "actual", "required",
                                                  "completion", "status"]].to_json(orient="records",
                                                                                   force_ascii=False))
                out.append(row)
            _write(json.dumps({"period": period, "branch_code": args.branch, "guide_version": g.version,
                               "items": out}, ensure_ascii=False, indent=1) + "\n")
            return 0
        title = f"{period} 支部 {args.branch} 各指标完成情况（指标指南版本 {g.version}）"
    else:
        df = _branch_table(period, db)
        if fmt == "json":
            _write(df.to_json(orient="records", force_ascii=False, indent=1) + "\n")
            return 0
        title = f"{period} 各支部得分（指标指南版本 {g.version}）"
    if fmt == "csv":
        from pipelines import export  # inert cells: branch names are typed by branches

        _write(export.csv_text(df))
        return 0
    table = df.drop(columns=[c for c in ("branch_type", "guide_version") if c in df.columns])
    score_cols = {*DIMENSION_COLUMNS, "overall"}  # shown as they are graded and ranked
    table = table.apply(lambda col: col.map(lambda v: _fmt(shown(v), SHOWN_DECIMALS) if col.name in score_cols
                                            else _fmt(v)))
    table = table.rename(columns=TABLE_HEADERS)
    legend = "；".join(f"d{d.id}={d.short}" for d in g.dimensions)
    _write(f"{title}\n{table.to_string(index=False)}\n" + ("" if args.items else f"{legend}\n"))
    return 0


# ---- a college's profile and submission progress (二级党组织画像, 催报) -----------------------------------------
def college_items(period: str, college: str, db=None) -> pd.DataFrame:
    """One college's items, weakest first: item_id, branches (its branches judged on the item), full_share,
    mean_completion (0–1), school_mean (every branch judged on it), gap = mean_completion − school_mean.

    Pending items have no row. Extra columns: school_branches.
    """
    period = str(Period.parse(period))
    with _session(db, [period], "item_scores", with_prev=False) as con:
        df = _mart(con, "college_items", {"college": college}, period=period)
    df = df.sort_values(["mean_completion", "item_order"], kind="stable").drop(columns=["item_order"])
    return _only(df, period, ["item_id", "branches", "full_share", "mean_completion", "school_mean", "gap"])


def college_radar(period: str, college: str, db=None) -> pd.DataFrame:
    """The college against the school: rows who = college | school with branches (scored), overall, d1..d7 —
    plain means over the scored branches. No college row when none of its branches was scored."""
    period = str(Period.parse(period))
    with _session(db, [period], with_prev=False) as con:
        df = _mart(con, "college_radar", {"college": college}, period=period)
    return _only(df.sort_values("who"), period, ["who", "branches", "overall", *DIMENSION_COLUMNS])


def submission_progress(period: str, db=None) -> pd.DataFrame:
    """Submission progress against the registry: per college (scope = college) and for the school (scope =
    school, college None), expected, submitted, missing and share (0–1); colleges lowest share first."""
    period = str(Period.parse(period))
    with dbmod.connect(db) as con:
        df = _df(con, _sql("submission_progress"), {"period": period})
    df = df.sort_values(["scope", "share", "college"], kind="stable")
    df["college"] = df["college"].astype(object).where(df["college"].notna(), None)
    return _only(df, period, ["scope", "college", "expected", "submitted", "missing", "share"])


def _register_contacts(con: duckdb.DuckDBPyConnection) -> None:
    """registry_contacts: the registry's optional columns, or NULLs on a database not written since they came."""
    have = {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'registry'")
            .fetchall()}
    cols = [c if c in have else f"NULL::VARCHAR AS {c}" for c in ("secretary_name", "phone")]
    con.execute(f"CREATE OR REPLACE TEMP VIEW registry_contacts AS SELECT branch_code, {', '.join(cols)} FROM registry")


def missing_contacts(period: str, db=None) -> pd.DataFrame:
    """Registry branches without a current submission of the quarter, by college: branch_code, branch_name,
    college, branch_type, secretary_name (registry, else the latest workbook's 书记), phone (registry).

    Extra column: secretary_source (registry | workbook | None).
    """
    period = str(Period.parse(period))
    with dbmod.connect(db) as con:
        _register_contacts(con)
        df = _df(con, _sql("missing_contacts"), {"period": period})
    return _only(df, period, ["branch_code", "branch_name", "college", "branch_type", "secretary_name", "phone"],
                 ["college", "branch_code"])


def college_history(college: str, db=None) -> pd.DataFrame:
    """One college's college_scores in every period with data, ascending: period, branches, submitted, overall,
    d1..d7, rank (among colleges)."""
    ps = periods(db)
    if not ps:
        return pd.DataFrame(columns=["period", "branches", "submitted", "overall", *DIMENSION_COLUMNS, "rank"])
    with _session(db, ps, with_prev=False) as con:
        df = _mart(con, "college_scores")
    df = df[(df["college"] == college) & df["period"].isin(ps)]
    df = df.assign(_o=df["period"].map(Period.parse)).sort_values("_o").drop(columns=["_o", "college"])
    return _only(df, None, ["period", "branches", "submitted", "overall", *DIMENSION_COLUMNS, "rank"])


def item_shortfalls(period: str, item_id: str, college: str | None = None, db=None) -> pd.DataFrame:
    """The branches that fell short of one item in a quarter (completion below full; pending not judged),
    lowest completion first: branch_code, branch_name, college, branch_type, completion (0–1). With `college`,
    only that college's branches."""
    period = str(Period.parse(period))
    with _session(db, [period], "item_scores", with_prev=False) as con:
        df = _mart(con, "item_shortfalls", {"item_id": item_id, "college": college}, period=period)
    return _only(df, period, ["branch_code", "branch_name", "college", "branch_type", "completion"],
                 ["completion", "branch_code"])


def shown_percent(share):
    """A 0–1 share (number or Series) as the percentage shown: SHOWN_DECIMALS decimals, half up (shown's rule);
    `percent` is the same figure as text."""
    return half_up(share * 100, SHOWN_DECIMALS) if isinstance(share, pd.Series) else (
        share if share is None or pd.isna(share) else half_up(float(share) * 100, SHOWN_DECIMALS))
