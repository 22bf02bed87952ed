"""The college page's numbers (college_items, college_radar) and 催报's (submission_progress, missing_contacts,
deadline_status, set_deadline's refusal without an admin), on a real database from real workbooks."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from ingest_helpers import confirm_every_answer
from pipelines.scoring import alerts as al
from pipelines import scoring
from pipelines.store.ingest import ingest
from pipelines.store.registry import load_registry
from pipelines.store.versions import set_deadline
from pipelines.workbook.model import RegistryEntry
from pipelines.workbook.template import write_registry_workbook
from test_alerts import NOT_DONE, book

A, B = "学院甲", "学院乙"
REGISTRY = [RegistryEntry("JX01-T01", "JX01-T01 党支部", A, "teacher", 10, "王芳", "0571-1111"),
            RegistryEntry("JX01-T02", "JX01-T02 党支部", A, "teacher", 10),
            RegistryEntry("JX02-T01", "JX02-T01 党支部", B, "teacher", 10, "李强", "138 0000 0000"),
            RegistryEntry("JX02-T02", "JX02-T02 党支部", B, "teacher", 10)]
WEAK = "5.1.1"
P = "2026Q1"


@pytest.fixture(scope="module")
def two_colleges(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("college_books")
    db = tmp_path_factory.mktemp("college_db") / "c.duckdb"
    load_registry(write_registry_workbook(db.parent / "名册.xlsx", REGISTRY), db, actor="test")
    book(folder, "JX01-T01", 2026, 1)
    book(folder, "JX01-T02", 2026, 1, answers={WEAK: NOT_DONE})
    book(folder, "JX02-T01", 2026, 1)
    book(folder, "JX02-T02", 2025, 4)  # submitted before, not this quarter: its workbook names 张书记
    assert all(r.status == "accepted" for r in ingest([folder], db, actor="test"))  # college: a warning
    confirm_every_answer(db)  # the hand-computed scores take the answers as given
    return db


def test_college_items_weakest_first_beside_the_school(two_colleges):
    items = scoring.college_items(P, A, two_colleges)
    assert list(items.columns[:6]) == ["item_id", "branches", "full_share", "mean_completion", "school_mean", "gap"]
    weak = items.iloc[0]
    assert weak["item_id"] == WEAK and weak["branches"] == 2 and weak["full_share"] == 0.5
    scores = scoring.item_scores(P, two_colleges)
    got = scores[scores["item_id"] == WEAK].set_index("branch_code")["completion"]
    assert weak["mean_completion"] == pytest.approx(got[["JX01-T01", "JX01-T02"]].mean())
    assert weak["school_mean"] == pytest.approx(got.mean())  # three branches scored
    assert weak["gap"] == pytest.approx(weak["mean_completion"] - weak["school_mean"])
    assert items["mean_completion"].is_monotonic_increasing and items["item_id"].is_unique
    assert scoring.college_items(P, "没有的学院", two_colleges).empty


def test_college_radar_is_the_mean_of_its_branches_and_the_school(two_colleges):
    radar = scoring.college_radar(P, A, two_colleges).set_index("who")
    bs = scoring.branch_scores(P, two_colleges)
    cols = [*scoring.DIMENSION_COLUMNS, "overall"]
    pd.testing.assert_series_equal(radar.loc["college", cols].astype(float),
                                   bs[bs["college"] == A][cols].mean(), check_names=False)
    pd.testing.assert_series_equal(radar.loc["school", cols].astype(float), bs[cols].mean(), check_names=False)
    assert radar.loc["college", "branches"] == 2 and radar.loc["school", "branches"] == 3
    assert scoring.college_scores(P, two_colleges).set_index("college").loc[A, "overall"] == pytest.approx(
        radar.loc["college", "overall"])
    assert list(scoring.college_radar(P, "没有的学院", two_colleges)["who"]) == ["school"]


def test_submission_progress_per_college_and_school(two_colleges):
    got = scoring.submission_progress(P, two_colleges)
    assert got[["scope", "college", "expected", "submitted", "missing", "share"]].values.tolist() == [
        ["college", B, 2, 1, 1, 0.5], ["college", A, 2, 2, 0, 1.0], ["school", None, 4, 3, 1, 0.75]]


def test_missing_branches_with_their_contacts(two_colleges):
    got = scoring.missing_contacts(P, two_colleges)
    assert got[["branch_code", "college", "secretary_name", "secretary_source"]].values.tolist() == [
        ["JX02-T02", B, "张书记", "workbook"]]  # registry blank: the 书记 of its latest workbook
    assert got["phone"].isna().all()
    earlier = scoring.missing_contacts("2025Q4", two_colleges)
    assert earlier.set_index("branch_code").loc["JX02-T01", ["secretary_name", "phone"]].tolist() == [
        "李强", "138 0000 0000"]


def test_deadline_status_counts_days_and_only_an_admin_sets_it(two_colleges, tmp_path):
    db = tmp_path / "d.duckdb"
    assert al.deadline_status(P, db)["days_left"] is None
    set_deadline(P, "2026-04-10", db, actor="组织部")
    assert al.deadline_status(P, db, today=dt.date(2026, 4, 7))["days_left"] == 3
    late = al.deadline_status("2026q1", db, today=dt.date(2026, 4, 12))
    assert late["days_left"] == -2 and late["due_date"] == dt.date(2026, 4, 10) and late["set_by"] == "组织部"
    for nobody in ("", "  ", None):
        with pytest.raises(PermissionError, match="管理员"):
            set_deadline(P, "2026-04-20", db, actor=nobody)
    assert al.deadline_status(P, db)["due_date"] == dt.date(2026, 4, 10)  # unchanged
