"""plan → apply: the batch rules, score simulation and registry diff as plain functions on real files and a
real DuckDB database (no AppTest)."""
from __future__ import annotations

import pandas as pd
import pytest

from ingest_helpers import branch_workbook, registry_entries, registry_workbook
from pipelines.store import archive as arc
from pipelines import scoring
from pipelines.store import changes, ingest, journal, plan, registry, versions
from pipelines.store import db as dbm
from pipelines.store.actor import Actor, authorize
from pipelines.config import settings

CODES = ["JX01-T01", "JX01-T02", "JX01-T03"]


@pytest.fixture
def db(tmp_path):
    path = settings().db_path
    n, _ = registry.load_registry(registry_workbook(tmp_path / "名册.xlsx", CODES), path, actor="setup")
    assert n == 3
    return path


def _state(path):
    """Everything a write could touch: database bytes, data version, manifest lines."""
    manifest = arc.manifest_path(journal.archive_dir(path))
    return path.read_bytes(), dbm.data_version(path), manifest.read_text() if manifest.exists() else ""


def test_conflict_rule_refuse_versus_last_wins(db, tmp_path):
    a = branch_workbook(tmp_path / "a.xlsx", "JX01-T01")
    b = branch_workbook(tmp_path / "b.xlsx", "JX01-T01", variant=1)
    other = branch_workbook(tmp_path / "c.xlsx", "JX01-T02")

    last = plan.plan([a, b, other], db, on_conflict="last_wins")
    assert [r.status for r in last.results] == ["accepted", "replaced", "accepted"]
    assert [p.code for p in last.results[1].problems] == ["batch_replaces"] and not last.conflicts

    refused = plan.plan([a, b, other], db, on_conflict="refuse")
    assert [r.status for r in refused.results] == ["rejected", "rejected", "accepted"]
    assert [r.file_name for r in refused.conflicts] == ["a.xlsx", "b.xlsx"]
    assert all("a.xlsx" in r.errors[0].message and "b.xlsx" in r.errors[0].message for r in refused.conflicts)
    assert [r.status for r in ingest.apply(refused, "orgadmin")] == ["rejected", "rejected", "accepted"]
    assert dbm.query_df("SELECT branch_code FROM submissions", path=db)["branch_code"].tolist() == ["JX01-T02"]
    with pytest.raises(ValueError):
        plan.plan([a], db, on_conflict="first_wins")


def test_plan_writes_nothing_even_with_scores(db, tmp_path):
    ingest.ingest([branch_workbook(tmp_path / "v1.xlsx", "JX01-T01")], db)
    before = _state(db)
    made = plan.plan([branch_workbook(tmp_path / "v2.xlsx", "JX01-T01", variant=1),
                      branch_workbook(tmp_path / "new.xlsx", "JX01-T02")], db, with_scores=True)
    assert [r.status for r in made.results] == ["replaced", "accepted"]
    assert set(made.scores_after) == {"2026Q1"} and len(made.parsed) == 2
    assert made.missing[["period", "branch_code"]].values.tolist() == [["2026Q1", "JX01-T03"]]
    assert _state(db) == before


def test_apply_writes_the_parsed_workbooks_without_reading_the_files(db, tmp_path):
    files = [branch_workbook(tmp_path / f"{c}.xlsx", c) for c in CODES[:2]]
    made = plan.plan(files, db)
    originals = [f.read_bytes() for f in files]
    for f in files:
        f.unlink()  # apply has only the plan
    done = ingest.apply(made, Actor("orgadmin"))
    assert [(r.status, r.version) for r in done] == [("accepted", 1), ("accepted", 1)]
    assert [journal.archived_file(r.sha256, db) for r in done] == originals
    assert [e["actor"] for e in journal.read_manifest(db) if e["action"] == "ingest"] == ["orgadmin"] * 2


def test_simulated_scores_equal_the_scores_after_the_real_write(db, tmp_path):
    ingest.ingest([branch_workbook(tmp_path / "v1.xlsx", "JX01-T01", variant=1)], db)
    made = plan.plan([branch_workbook(tmp_path / "v2.xlsx", "JX01-T01"),
                      branch_workbook(tmp_path / "t2.xlsx", "JX01-T02")], db, with_scores=True)
    cp = changes.change_preview(made)
    ingest.apply(made, "orgadmin")
    real = changes.overall("2026Q1", db).sort_values("branch_code").reset_index(drop=True)
    simulated = made.scores_after["2026Q1"].sort_values("branch_code").reset_index(drop=True)
    pd.testing.assert_frame_equal(simulated, real)
    row = cp.replaced.iloc[0]
    assert row["支部编码"] == "JX01-T01" and row["新总分"] == real.loc[0, "overall"]
    assert row["原总分"] == made.scores_before["2026Q1"].set_index("branch_code").loc["JX01-T01", "overall"]
    assert list(cp.new["支部编码"]) == ["JX01-T02"] and list(cp.missing["支部编码"]) == ["JX01-T03"]
    assert len(scoring.branch_scores("2026Q1", db=db)) == 2


def test_registry_diff_added_removed_renamed_changed():
    current = pd.DataFrame([e.__dict__ for e in registry_entries(["JX01-T01", "JX01-T02", "JX01-T03"])])
    new = registry_entries(["JX01-T01", "JX01-T02", "JX01-T04"])
    new[0].branch_name = "机械学院教工一支部"
    new[1].members = 30
    diff = changes.registry_diff(new, current).set_index("支部编码")
    assert diff["变化"].to_dict() == {"JX01-T01": "修改", "JX01-T02": "修改", "JX01-T04": "新增", "JX01-T03": "移除"}
    assert diff.loc["JX01-T01", "变化内容"].startswith("名称：")
    assert diff.loc["JX01-T02", "变化内容"] == "党员数：12 → 30"


def test_writes_refuse_an_empty_actor(db, tmp_path):
    made = plan.plan([branch_workbook(tmp_path / "a.xlsx", "JX01-T01")], db)
    before = _state(db)
    for write in (lambda: ingest.apply(made, ""), lambda: ingest.apply(made, Actor("  ")),
                  lambda: versions.rollback("JX01-T01", "2026Q1", db, actor=""),
                  lambda: versions.withdraw("JX01-T01", "2026Q1", db, actor=None),
                  lambda: versions.start_fresh(db, actor=""),
                  lambda: registry.load_registry(registry_workbook(tmp_path / "r.xlsx", CODES), db, actor="")):
        with pytest.raises(PermissionError, match="已登录的管理员"):
            write()
    assert _state(db) == before and db.exists()
    assert authorize("orgadmin", ["JX01-T01"]) == Actor("orgadmin")
