"""Scores across quarters: the history, a branch's and a college's history, the change and the movers."""
from __future__ import annotations

import pandas as pd

from pipelines.guide import guide
from pipelines.guide.period import Period
from pipelines.scoring.columns import (BRANCH_COLUMNS, CONTRIBUTION_COLUMNS, DIMENSION_COLUMNS,
                                       SCORE_HISTORY_COLUMNS)
from pipelines.scoring.session import _df, _keyed, _mart, _only, _session, periods
from pipelines.scoring.shapes import _one, _read


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
