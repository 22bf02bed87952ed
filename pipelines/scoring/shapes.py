"""One reader and one shape per mart: what each public function returns, and marts() (all of them at once)."""
from __future__ import annotations

import duckdb
import pandas as pd

from pipelines.guide import guide
from pipelines.guide.period import Period
from pipelines.scoring.columns import (BRANCH_COLUMNS, CHANGE_COLUMNS, CONTRIBUTION_COLUMNS, DIMENSION_COLUMNS,
                                       ITEM_COLUMNS, MEASURE_COLUMNS)
from pipelines.scoring.session import _df, _keyed, _mart, _only, _session


# ---- one reader and one shape per mart ---------------------------------------------------------------------
# Every mart is read by _read (the rows of one period) and shaped by its _SHAPES entry (contract columns first,
# sorted, helper columns dropped), whether it comes from its own function or from marts(): the same frame
# either way.
def _with_flag_message(df: pd.DataFrame) -> pd.DataFrame:
    # flag_message comes joined from g_flags (session._flag_frame), last; no flag → missing. Rows without any
    # message give None in an object column, as a per-row map always gave.
    if len(df) and not df["flag_message"].notna().any():
        df = df.assign(flag_message=pd.Series([None] * len(df), index=df.index, dtype=object))
    return df


def _shape_measures(df: pd.DataFrame, period: str) -> pd.DataFrame:
    return _only(_with_flag_message(df).drop(columns=["measure_order"]), period, MEASURE_COLUMNS)


def _shape_items(df: pd.DataFrame, period: str) -> pd.DataFrame:
    # item_detail.sql sorts by branch_code, item_order (cheaper there than in pandas)
    return _only(_with_flag_message(df).drop(columns=["item_order"]), period, ITEM_COLUMNS)


def _shape_item_summary(df: pd.DataFrame, period: str) -> pd.DataFrame:
    # equal means sort in the guide's order, even when summation order leaves them apart by float noise
    df = _only(df.assign(_mean=df["mean_completion"].round(9)), period,
               ["item_id", "branch_type", "branches", "full_share", "mean_completion"],
               ["branch_type", "_mean", "item_order"])
    return df.drop(columns=["item_order", "_mean"])


def _side_by_side(df: pd.DataFrame, keys: list[str], layout: list[str]) -> pd.DataFrame:
    """Long rows (one per branch type: mean, std, n) set side by side by the guide's branch types: one row per
    key with <type>_mean, <type>_std, <type>_n (0 when the type has no branch) and diff = the first type's mean −
    the second's, columns in `layout` order (e.g. ["mean", "std", "diff", "n"], each stat for every type)."""
    types = [t.id for t in guide().branch_types]
    out = df[keys].drop_duplicates().reset_index(drop=True)
    for t in types:
        part = df.loc[df["branch_type"] == t, [*keys, "mean", "std", "n"]]
        out = out.merge(part.rename(columns={s: f"{t}_{s}" for s in ("mean", "std", "n")}), on=keys, how="left")
        out[f"{t}_n"] = out[f"{t}_n"].fillna(0).astype("Int64")
    out["diff"] = out[f"{types[0]}_mean"] - out[f"{types[1]}_mean"] if len(types) > 1 else float("nan")
    columns = [c for s in layout for c in (["diff"] if s == "diff" else [f"{t}_{s}" for t in types])]
    return out[[*keys, *columns]]


def _shape_types(df: pd.DataFrame, period: str) -> pd.DataFrame:
    df = _side_by_side(df, ["period", "dimension_id", "name"], ["mean", "std", "diff", "n"])
    return _only(df, period, None, ["dimension_id"])


def _shape_item_types(df: pd.DataFrame, period: str) -> pd.DataFrame:
    df = _side_by_side(df, ["period", "item_id"], ["mean", "diff", "std", "n"])
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
    "type_comparison": _shape_types,
    "item_type_comparison": _shape_item_types,
    "score_change": _shaper(["branch_code", "delta", *CONTRIBUTION_COLUMNS], ["branch_code"]),
    "submission_status": _shaper(["branch_code", "branch_name", "college", "branch_type", "status",
                                  "version", "uploaded_at"], ["college", "branch_code"]),
}
# marts read with their text joined by a detail file (the chain's tables hold numbers only)
_DETAILS = {"measure_scores": "measure_detail", "item_scores": "item_detail"}
# chain tables read as they are, with period and branch code joined from `branches`
_KEYED = {"indicator_scores", "rankings", "branch_scores"}


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


def marts(period: str, db=None, *, previous: bool = False) -> dict[str, pd.DataFrame]:
    """Every mart of one period from a single connection (what a dashboard page load needs at once).

    Keys are the scoring functions' names, and each frame is exactly what that function returns. With
    `previous`, also prev_branch_scores: branch_scores of the calendar quarter before, scored in the same
    session anyway, without its own change columns (prev_overall, delta, prev_rank, rank_change), which
    would need the quarter before that.
    """
    current = Period.parse(period)
    period, prev = str(current), str(current.previous)
    with _session(db, [period], tables=frozenset({"rankings"})) as con:
        raw = {name: _read(con, name, period) for name in _SHAPES}
        before = _read(con, "branch_scores", prev) if previous else None
    out = {name: _SHAPES[name](df, period) for name, df in raw.items()}
    if before is not None:
        out["prev_branch_scores"] = _only(before.drop(columns=CHANGE_COLUMNS), prev,
                                          [c for c in BRANCH_COLUMNS if c not in CHANGE_COLUMNS],
                                          ["rank", "branch_code"])
    return out
