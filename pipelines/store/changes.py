"""What confirming a plan would change, computed without touching the real database, archive or manifest.

Scores before/after: the database file is copied into a temporary folder under the database lock (so no
writer is mid-transaction), the plan's parsed workbooks are saved into the copy with the store code apply
uses (but without the archive and manifest, which belong to the real database), and the copy is scored
with the same scoring code. Only quarters that a replacement touches are simulated (new branch-quarters
have no "before"), so a whole new quarter costs no extra work; within such a quarter every writable file of
the batch goes into the copy, so the figures equal those after the real write.
"""
from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.store import db as dbm
from pipelines.guide.vocab import FileStatus, ReportingStatus
from pipelines.store.plan import WRITABLE, Plan

OVERALL_COLUMNS = ["branch_code", "branch_name", "overall", "grade"]


def copy_db(db, target: Path) -> bool:
    """Copy the database (and its WAL, if any) under the database lock; False when there is none yet."""
    src = dbm.db_path(db)
    if not src.exists():
        return False
    with dbm.connect(src):  # holds the lock: no writer is mid-transaction while we copy
        shutil.copy2(src, target)
        wal = Path(str(src) + ".wal")
        if wal.exists():
            shutil.copy2(wal, Path(str(target) + ".wal"))
    return True


def overall(period: str, db) -> pd.DataFrame:
    """branch_code, branch_name, overall, grade of one quarter."""
    from pipelines import scoring

    df = scoring.branch_scores(period, db=db)
    return df[OVERALL_COLUMNS] if not df.empty else df


def simulated_periods(plan: Plan) -> list[str]:
    """The quarters a replacement of this plan touches."""
    return sorted({r.period for r in plan.of_status(FileStatus.REPLACED) if r.period})


def simulate(plan: Plan) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Overall scores (before, after) per touched quarter, the after ones from a temporary copy of the
    database holding the plan's writable workbooks of those quarters."""
    from pipelines.store import writes

    periods = simulated_periods(plan)
    if not periods:
        return {}, {}
    before = {p: overall(p, plan.db) for p in periods}
    with tempfile.TemporaryDirectory(prefix="dj_preview_") as tmp:
        copy = Path(tmp) / "preview.duckdb"
        if not copy_db(plan.db, copy):
            return before, {}
        with dbm.connect(copy, write=True) as con:
            batch = [plan.parsed[r.sha256] for r in plan.writable() if r.period in periods]
            writes.save_many(con, batch, actor="preview")
        return before, {p: overall(p, copy) for p in periods}


def missing_branches(plan: Plan) -> pd.DataFrame:
    """Registry branches with no submission in a quarter of the batch, once the batch is written.

    Columns: period, branch_code, branch_name, college.
    """
    from pipelines import scoring

    coming: dict[str, set[str]] = {}
    for r in plan.of_status(*WRITABLE, FileStatus.UNCHANGED):
        if r.period:
            coming.setdefault(r.period, set()).add(r.branch_code)
    rows = []
    for period in sorted(coming):
        status = scoring.submission_status(period, db=plan.db)
        if status.empty:
            continue
        gap = status[(status["status"] == ReportingStatus.MISSING) & ~status["branch_code"].isin(coming[period])]
        rows += [{"period": period, "branch_code": s["branch_code"], "branch_name": s.get("branch_name", ""),
                  "college": s.get("college", "")} for _, s in gap.iterrows()]
    return pd.DataFrame(rows, columns=["period", "branch_code", "branch_name", "college"])


@dataclass
class ChangePreview:
    """What confirming would change, as the tables the upload page shows: new branch-quarters, replaced ones
    with overall before/after, and the registry branches still missing for each quarter of the batch."""

    new: pd.DataFrame
    replaced: pd.DataFrame
    missing: pd.DataFrame


def _score_of(frames: dict[str, pd.DataFrame] | None, period: str, code: str) -> tuple[float | None, str]:
    df = (frames or {}).get(period, pd.DataFrame())
    row = df[df["branch_code"] == code] if not df.empty else df
    if not len(row):
        return None, ""
    return float(row["overall"].iloc[0]), row["branch_name"].iloc[0]


def _replaced_frame(plan: Plan) -> pd.DataFrame:
    rows = []
    for r in plan.of_status(FileStatus.REPLACED):
        before, old_name = _score_of(plan.scores_before, r.period, r.branch_code)
        after, new_name = _score_of(plan.scores_after, r.period, r.branch_code)
        rows.append({"支部编码": r.branch_code, "支部名称": new_name or old_name, "季度": r.period,
                     "文件": r.file_name, "原总分": before, "新总分": after,
                     "变化": None if before is None or after is None else after - before})
    return pd.DataFrame(rows, columns=["支部编码", "支部名称", "季度", "文件", "原总分", "新总分", "变化"])


def change_preview(plan: Plan) -> ChangePreview:
    """The plan's new and replaced branch-quarters (replaced ones with overall before and after) and the
    branches still missing; a plan made without scores gets them here."""
    if plan.scores_after is None:
        plan.scores_before, plan.scores_after = simulate(plan)
    if plan.missing is None:
        plan.missing = missing_branches(plan)
    reg = dbm.query_df("SELECT branch_code, branch_name FROM registry", path=plan.db)
    names = dict(zip(reg["branch_code"], reg["branch_name"]))
    new = pd.DataFrame([{"支部编码": r.branch_code, "支部名称": names.get(r.branch_code, ""), "季度": r.period,
                         "文件": r.file_name} for r in plan.of_status(FileStatus.ACCEPTED)],
                       columns=["支部编码", "支部名称", "季度", "文件"])
    missing = plan.missing.rename(columns={"period": "季度", "branch_code": "支部编码", "branch_name": "支部名称",
                                           "college": "所属二级党组织"})
    return ChangePreview(new, _replaced_frame(plan), missing)


def _type_name(type_id: str) -> str:
    from pipelines.guide import guide

    try:
        return guide().branch_type_name(type_id)
    except StopIteration:
        return str(type_id)


REGISTRY_FIELDS = (("branch_name", "名称"), ("college", "二级党组织"), ("branch_type", "类型"), ("members", "党员数"),
                   ("secretary_name", "书记姓名"), ("phone", "联系电话"))
REGISTRY_DIFF_COLUMNS = ["支部编码", "支部名称", "所属二级党组织", "支部类型", "党员数", "变化", "变化内容"]


def _cell_text(value: Any) -> str:
    """A registry value as compared and shown in the diff: blank (None / NaN) as （空）."""
    return "（空）" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _registry_row(e: Any, change: str, detail: str) -> dict:
    return {"支部编码": e.branch_code, "支部名称": e.branch_name, "所属二级党组织": e.college,
            "支部类型": _type_name(e.branch_type), "党员数": e.members, "变化": change, "变化内容": detail}


def registry_diff(entries: Sequence[Any], current: pd.DataFrame) -> pd.DataFrame:
    """A registry upload against the current registry: each branch 新增 / 修改 / 不变, plus 移除 for current
    branches the workbook no longer lists (a registry workbook replaces the whole registry). A renamed
    branch is a 修改 whose 变化内容 starts with 名称：."""
    cur = {r.branch_code: r for r in current.itertuples()} if not current.empty else {}
    rows = []
    for e in entries:
        old = cur.get(e.branch_code)
        if old is None:
            rows.append(_registry_row(e, "新增", ""))
            continue
        diffs = [f"{label}：{_cell_text(getattr(old, f, None))} → {_cell_text(getattr(e, f))}" for f, label in REGISTRY_FIELDS
                 if _cell_text(getattr(old, f, None)) != _cell_text(getattr(e, f))]
        rows.append(_registry_row(e, "修改", "；".join(diffs)) if diffs else _registry_row(e, "不变", ""))
    listed = {e.branch_code for e in entries}
    rows += [_registry_row(old, "移除", "新名册中没有该支部，将从名册中移除（已报送的数据保留）")
             for code, old in cur.items() if code not in listed]
    return pd.DataFrame(rows, columns=REGISTRY_DIFF_COLUMNS)
