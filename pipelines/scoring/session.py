"""The scoring session: a read connection with the guide registered as relations and the chain of marts built.

The guide enters as small registered relations (`g_measures`, `g_items`, …) built here from `guide()`, so no
item id, weight or value is written in SQL. The marts are `sql/marts/*.sql` beside this file (one mart per file,
a chain of named CTEs ending in `final`); the staging views they read are `sql/staging/*.sql`, created by db.py.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

import duckdb
import pandas as pd

from pipelines.store import db as dbmod
from pipelines.config import settings
from pipelines.guide import Guide, guide
from pipelines.guide.period import Period
from pipelines.scoring.rounding import _MACROS

SQL_DIR = Path(__file__).resolve().parent / "sql" / "marts"

# The one scoring chain, in dependency order: each is a temp table named after its SQL file. All but
# `branches` are keyed by submission_id and hold numbers only, so the whole history is computed by the
# same chain as one quarter; period and names are joined from `branches` where a mart is read, and the
# self-assessment text by the view self_assessment_detail (read only by the single-quarter details).
_CHAIN = ["branches", "evidence", "self_assessment", "self_assessment_detail", "measure_scores", "item_scores",
          "indicator_scores", "dimension_scores", "rankings", "branch_scores"]
_VIEWS = {"self_assessment_detail", "rankings"}  # computed only where read (branch_scores reads overall only)

# Exact sums: every score, share and mean the marts add up goes through these (a test holds the SQL to it). Each
# term becomes a DECIMAL with 12 places and the sum is exact, so it does not depend on the order DuckDB's hash
# aggregates and threads hand the rows on: a quarter's scores are the same bits whatever else the chain scores
# and on any number of threads. The terms are completions (0–1) and verified shares times guide weights (≤ 1,000,
# guide/model.py MAX_WEIGHT), scores (0–100) times weights, and person-hours of one ledger row (≤ 24 h × 1,000
# present, the workbook limits): inside DECIMAL(18, 12)'s 10⁶, which sums as fast as a DOUBLE (DECIMAL(38, 18) took
# 2.5×). A term is off by at most 5·10⁻¹³; every figure is shown through millionths (rounding.py).
_EXACT_MACROS = (
    "CREATE OR REPLACE TEMP MACRO xsum(x) AS sum(x::DECIMAL(18, 12))::DOUBLE;"
    "CREATE OR REPLACE TEMP MACRO xavg(x) AS xsum(x) / count(x);"
    # population standard deviation over the values in ascending order (Welford's steps, as stddev_pop, in one order)
    "CREATE OR REPLACE TEMP MACRO xstddev_pop(x) AS list_stddev_pop(list(x ORDER BY x));"
)


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


FLAG_MESSAGES = {
    "no_evidence": "自评为“完成”但未填写佐证材料，按“{answer}”计分",
    "blank_status": "未填写自评完成情况，按 0 计分",
    "no_ledger": "自评为“完成”但台账/统计数据中没有对应佐证，按“{answer}”计分，待核实",
    "sent_back": "审核已退回补充佐证，按“{answer}”计分，待核实",
    "unreviewed": "自评为“完成”，本项无台账佐证关联，审核认定前按“{answer}”计分，待核实",
}


def _flag_frame(g: Guide) -> pd.DataFrame:
    """g_flags: each flag's message with the guide's self_assessment_without_evidence answer named in it (the
    detail reads join it: a map over every measure row in pandas cost ~0.04 s at 10,000 branches)."""
    name = next(a.name for a in g.self_assessment if a.id == g.self_assessment_without_evidence)
    return pd.DataFrame({"flag": list(FLAG_MESSAGES),
                         "flag_message": [m.format(answer=name) for m in FLAG_MESSAGES.values()]})


_FRAMES: dict[int, tuple[Guide, dict]] = {}


def _frames_for(g: Guide) -> dict:
    """The guide relations as Arrow tables (typed, so binding them in SQL costs nothing), per guide object."""
    import pyarrow as pa

    # guide() returns the same object until the file changes; keep the tables of the last few guides
    hit = _FRAMES.get(id(g))
    if hit is None or hit[0] is not g:
        if len(_FRAMES) > 8:
            _FRAMES.clear()
        frames = {**guide_frames(g), "g_flags": _flag_frame(g)}
        tables = {k: pa.Table.from_pandas(v, preserve_index=False) for k, v in frames.items()}
        hit = _FRAMES[id(g)] = (g, tables)
    return hit[1]


def _register_guide(con: duckdb.DuckDBPyConnection, g: Guide | None = None) -> None:
    for name, frame in _frames_for(g or guide()).items():
        con.register(name, frame)


@contextmanager
def _session(db, periods: list[str] | None, upto: str = "branch_scores", *,
             with_prev: bool = True, tables: frozenset[str] = frozenset()) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read connection with the guide relations registered and the chain built for `periods`
    (None: every period with a current submission), up to and including the temp table `upto`. With
    `with_prev`, each period's previous quarter is scored too, so ranks and deltas can be compared.
    `tables`: views of the chain the caller reads itself, built as tables once instead (marts() reads
    rankings, which branch_scores reads too).
    """
    with dbmod.connect(db) as con:
        _reader(con)
        _chain(con, periods, upto, with_prev=with_prev, tables=tables)
        yield con


def _reader(con: duckdb.DuckDBPyConnection) -> None:
    """Make a plain read connection a scoring one: threads, an older file readable, the guide relations, macros."""
    # One DuckDB thread for a school's chain (`_threads_for_size` gives a large one more): a recomputation leaves the
    # other core to the page loads of viewers (bench/bench_scoring.py).
    con.execute(f"SET threads = {int(settings().scoring_threads)}")
    # Arrow results with large string buffers: what pandas' string columns hold, so no cast per column
    con.execute("SET arrow_large_buffer_size = true")
    dbmod.readable(con)
    _register_guide(con)
    con.execute(_MACROS)
    con.execute(_EXACT_MACROS)


def _threads_for_size(con: duckdb.DuckDBPyConnection) -> None:
    """settings().scoring_large_threads DuckDB threads (default 2) for the rest of the session when the chain scores
    at least scoring_large_from submissions (a province: at 10,000 branches, one quarter's marts() 1.9 → 1.5 s on
    two cores, docs/design.md § Scale). The sums are exact (_EXACT_MACROS) and every read is sorted by a unique
    key, so no result depends on the thread count; a small school stays on scoring_threads (a second thread only
    cost CPU there, +10 % at 1,000 branches)."""
    s = settings()
    if s.scoring_large_threads != s.scoring_threads and (
            con.execute("SELECT count(*) FROM branches").fetchall()[0][0] >= s.scoring_large_from):
        con.execute(f"SET threads = {int(s.scoring_large_threads)}")


def _chain(con: duckdb.DuckDBPyConnection, periods: list[str] | None, upto: str = "branch_scores", *,
           with_prev: bool = True, tables: frozenset[str] = frozenset()) -> None:
    """Build the chain on a `_reader` connection (see `_session`)."""
    if periods is None:
        periods = [str(Period(y, q)) for y, q in con.execute(_PERIODS_SQL).fetchall()]
    wanted = list(periods) + ([str(Period.parse(p).previous) for p in periods] if with_prev else [])
    con.register("g_targets", _arrow(_targets(wanted)))
    for table in _CHAIN:
        kind = "VIEW" if table in _VIEWS and table not in tables else "TABLE"
        con.execute(f"CREATE OR REPLACE TEMP {kind} {table} AS {_sql(table)}")
        if table == "branches":
            _threads_for_size(con)
        if table == upto:
            break


# What a review never changes: the submissions (raw rows are insert-only and keyed by submission, so a submission's
# id, file hash and status identify its answers, ledger and counts) and the registry's names, colleges and types.
_CONTENT_KEY = ("SELECT (SELECT (count(*), sum(hash(submission_id, status, sha256, uploaded_at, branch_code, period)))"
                " FROM submissions), (SELECT (count(*), sum(hash(branch_code, branch_name, college, branch_type)))"
                " FROM registry)")
_KEPT: OrderedDict[tuple, Any] = OrderedDict()
_KEPT_LOCK = threading.Lock()
KEPT_ENTRIES = 8  # a quarter's review answers or evidence rows: a few MB each at 1,000 branches


def _kept(con: duckdb.DuckDBPyConnection, db, what: tuple, build: Callable[[], Any]) -> Any:
    """build(), kept in this process while the submissions, the registry and the guide stay as they are (read on
    `con`, under the same lock as whatever else the caller reads): for results a review decision cannot change,
    which the data version (bumped by every write, reviews included) would otherwise recompute after each one."""
    g = guide()
    key = (str(dbmod.db_path(db).resolve()), what, g.version, g.fingerprint,
           repr(con.execute(_CONTENT_KEY).fetchall()[0]))
    with _KEPT_LOCK:
        if key in _KEPT:
            _KEPT.move_to_end(key)
            return _KEPT[key]
    value = build()
    with _KEPT_LOCK:
        _KEPT[key] = value
        while len(_KEPT) > KEPT_ENTRIES:
            _KEPT.popitem(last=False)
    return value


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


def _keyed(table: str, where: str = "") -> str:
    """SQL for a chain table with its submission's period and branch code in front (`table` is ours)."""
    return (f"SELECT b.period, b.branch_code, t.* EXCLUDE (submission_id) "
            f"FROM {table} t JOIN branches b USING (submission_id) {where}")


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
