"""A college's profile and submission progress (二级党组织画像, 催报)."""
from __future__ import annotations

import duckdb
import pandas as pd

from pipelines.store import db as dbmod
from pipelines.guide.period import Period
from pipelines.scoring.columns import DIMENSION_COLUMNS
from pipelines.scoring.session import _df, _mart, _only, _session, _sql


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


def item_shortfalls(period: str, item_id: str, college: str | None = None, db=None) -> pd.DataFrame:
    """The branches that fell short of one item in a quarter (completion below full; pending not judged),
    lowest completion first: branch_code, branch_name, college, branch_type, completion (0–1). With `college`,
    only that college's branches."""
    period = str(Period.parse(period))
    with _session(db, [period], "item_scores", with_prev=False) as con:
        df = _mart(con, "item_shortfalls", {"item_id": item_id, "college": college}, period=period)
    return _only(df, period, ["branch_code", "branch_name", "college", "branch_type", "completion"],
                 ["completion", "branch_code"])
