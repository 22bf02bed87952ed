"""Issue 9, findings 6 and 8: one archive per database, and a manifest that agrees with the database after a
kill -9 anywhere in a write or a rebuild. Real DuckDB files, real workbooks, real SIGKILLs (the write path's
`store.crash_point` hook, driven by DJ_CRASH_AT in a child process)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingest_helpers import ROOT, branch_workbook, registry_workbook, snapshot
from pipelines.store import archive as arc
from pipelines import config
from pipelines.store import ingest, journal, rebuild, registry, sources, versions
from pipelines.store import db as dbm
from pipelines.config import settings
from pipelines.cli import main

WRITE_POINTS = ["before_intent", "after_intent", "before_commit", "after_commit", "after_commit_record"]
REBUILD_POINTS = ["rebuild_replayed", "rebuild_before_swap", "rebuild_after_swap"]
CODES = ["JX01-T01", "JX01-T02", "JX01-T03"]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hostile_in")
    return {
        "a1": branch_workbook(d / "a1.xlsx", "JX01-T01"),
        "a2": branch_workbook(d / "a2.xlsx", "JX01-T01", variant=2),
        "b": branch_workbook(d / "b.xlsx", "JX01-T02"),
        "c": branch_workbook(d / "c.xlsx", "JX01-T03"),
        "b_q2": branch_workbook(d / "b_q2.xlsx", "JX01-T02", quarter=2),
        "reg": registry_workbook(d / "reg.xlsx", CODES),
        "reg2": registry_workbook(d / "reg2.xlsx", CODES + ["JX02-S01"]),
    }


def _tables(db: Path) -> dict[str, list[tuple]]:
    """Every table, the journal of committed manifest txns included."""
    snap = snapshot(db)
    with dbm.connect(db) as con:
        snap["journal"] = sorted(con.execute("SELECT * FROM journal").fetchall(), key=repr)
    return snap


def _rebuilt_equals_held(db: Path) -> None:
    """Rebuild; the rebuilt tables equal the ones the database held, except the new rebuild's own rows."""
    held = _tables(db)
    rebuild.rebuild(db)
    rebuilt = _tables(db)
    entries = journal.read_manifest(db)
    assert entries[-1]["action"] == "rebuild"
    # a rebuild's own bookkeeping (its journal and audit rows; a killed rebuild settled now may be one more,
    # in the same second) is all that may differ: every data table must be as the database held it
    rebuilds = {e["txn"] for e in entries if e["action"] == "rebuild"}
    for tables in (held, rebuilt):
        tables["journal"] = [r for r in tables["journal"] if r[0] not in rebuilds]
        tables["audit_log"] = [r for r in tables["audit_log"] if r[2] != "rebuild"]
    assert rebuilt == held


def _submission_shas(db: Path) -> list[str]:
    with dbm.connect(db) as con:
        return sorted(r[0] for r in con.execute("SELECT sha256 FROM submissions").fetchall())


def _sha(path: Path) -> str:
    return sources.sha(path.read_bytes())


# ---- finding 6: two databases in one folder --------------------------------------------------------

def test_finding6_two_databases_in_one_folder_rebuild_and_start_fresh_only_their_own(tmp_path, files):
    folder = tmp_path / "data"
    real, other = folder / "real.duckdb", folder / "other.duckdb"
    ingest.ingest([files["a1"]], real)
    # as README's CLI lines do it: `ingest --db 新数据库文件`
    assert main(["ingest", str(files["a2"]), str(files["b"]), str(files["c"]), "--db", str(other)]) == 0
    versions.withdraw("JX01-T03", "2026Q1", other, actor="组织部")
    own_other = _tables(other)

    _rebuilt_equals_held(real)
    assert _submission_shas(real) == [_sha(files["a1"])]  # not the other database's three writes

    backup = versions.start_fresh(real, actor="组织部")
    assert (backup / f"{real.name}.archive" / "manifest.jsonl").exists()
    assert (folder / f"{other.name}.archive" / "manifest.jsonl").exists()
    assert _tables(other) == own_other
    _rebuilt_equals_held(other)


def test_archive_dir_override_still_holds_the_archive(tmp_path, files, monkeypatch):
    shared = tmp_path / "elsewhere"
    monkeypatch.setenv("DJ_ARCHIVE_DIR", str(shared))
    config.settings.cache_clear()
    db = settings().db_path
    ingest.ingest([files["a1"]], db)
    assert (shared / "manifest.jsonl").exists() and not Path(str(db) + ".archive").exists()
    _rebuilt_equals_held(db)


# ---- finding 6: the legacy shared archive/ ------------------------------------------------------------

def _to_legacy(folder: Path, dbs: list[Path], stray: dict | None = None) -> Path:
    """Rewrite the databases' archives as the old layout: one `archive/` per folder, single-line records."""
    legacy = folder / "archive"
    lines = []
    for db in dbs:
        own = settings().archive_for(db)
        lines += [{k: v for k, v in e.items() if k != "phase"} for e in journal.read_manifest(db)]
        shutil.copytree(own, legacy, dirs_exist_ok=True)
        shutil.rmtree(own)
    lines.sort(key=lambda e: e["at"])
    if stray:
        lines.append(stray)  # the old code's "one line too many": a write killed before its COMMIT
    (legacy / "manifest.jsonl").write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in lines),
                                           encoding="utf-8")
    return legacy


def test_finding6_legacy_shared_archive_is_split_between_its_databases(tmp_path, files):
    folder = tmp_path / "data"
    real, other = folder / "dangjian.duckdb", folder / "新数据库文件.duckdb"
    registry.load_registry(files["reg"], real, actor="组织部")
    ingest.ingest([files["a1"], files["a2"]], real)
    versions.rollback("JX01-T01", "2026Q1", real, actor="组织部")
    ingest.ingest([files["b"], files["c"]], other)
    own_real, own_other = _tables(real), _tables(other)
    stray = {**journal.read_manifest(other)[-1], "txn": "f" * 32, "at": "2030-01-01T00:00:00"}
    legacy = _to_legacy(folder, [real, other], stray)

    _rebuilt_equals_held(real)
    assert _tables(real)["submissions"] == own_real["submissions"]
    _rebuilt_equals_held(other)
    assert _submission_shas(other) == sorted([_sha(files["b"]), _sha(files["c"])])  # the stray line stays out
    assert (legacy / "manifest.jsonl").exists()  # left in place as it was, a backup
    assert own_other["submissions"] == _tables(other)["submissions"]


def test_finding6_lost_database_does_not_guess_a_shared_legacy_archive(tmp_path, files):
    folder = tmp_path / "data"
    db = folder / "dangjian.duckdb"
    ingest.ingest([files["a1"], files["b"]], db)
    held = _tables(db)
    _to_legacy(folder, [db])
    db.unlink()
    with pytest.raises(FileNotFoundError, match="旧版共用归档") as exc:
        rebuild.rebuild(db)
    assert "dangjian.duckdb.archive" in str(exc.value)  # says what to rename it to
    (folder / "archive").rename(folder / "dangjian.duckdb.archive")
    rebuild.rebuild(db)
    assert _tables(db)["submissions"] == held["submissions"]


# ---- finding 8: kill -9 anywhere ------------------------------------------------------------------------

ACTIONS = {
    "ingest": "ingest.ingest([{b!r}], actor='组织部')",
    "registry": "registry.load_registry({reg2!r}, actor='组织部')",
    "rollback": "versions.rollback('JX01-T01', '2026Q1', actor='组织部')",
    "withdraw": "versions.withdraw('JX01-T01', '2026Q1', actor='组织部')",
    "rebuild": "rebuild.rebuild()",
}


@pytest.fixture(scope="module")
def history(files, tmp_path_factory) -> Path:
    """A database with a registry and two versions of one branch-quarter (so rollback has work to do)."""
    db = tmp_path_factory.mktemp("history") / "db" / "h.duckdb"
    registry.load_registry(files["reg"], db, actor="组织部")
    ingest.ingest([files["a1"], files["a2"]], db)
    return db


def _copy_history(history: Path, db: Path) -> None:
    shutil.copytree(history.parent, db.parent, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.lock"))
    for f in db.parent.iterdir():
        if f.name.startswith(history.name):
            f.rename(db.parent / f.name.replace(history.name, db.name, 1))


def _killed(action: str, point: str, db: Path, files: dict[str, Path]) -> None:
    code = "from pipelines.store import ingest, rebuild, registry, versions\n" + ACTIONS[action].format(b=str(files["b"]), reg2=str(files["reg2"]))
    env = {**os.environ, "DJ_DB_PATH": str(db), "DJ_CRASH_AT": point}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == -signal.SIGKILL, out.stderr  # it really died at that point


@pytest.mark.parametrize("point", WRITE_POINTS)
@pytest.mark.parametrize("action", ["ingest", "registry", "rollback", "withdraw"])
def test_finding8_kill_during_a_write_leaves_manifest_and_database_agreeing(tmp_path, history, files, action, point):
    db = settings().db_path
    _copy_history(history, db)
    _killed(action, point, db, files)
    _rebuilt_equals_held(db)


@pytest.mark.parametrize("point", WRITE_POINTS)
def test_finding8_next_write_settles_what_a_kill_left(tmp_path, history, files, point):
    db = settings().db_path
    _copy_history(history, db)
    _killed("ingest", point, db, files)
    ingest.ingest([files["c"]], db)  # settles the killed write's intent from the database before its own
    assert arc.unsettled(arc.read_manifest_file(settings().archive_for(db))) == []
    _rebuilt_equals_held(db)


@pytest.mark.parametrize("point", REBUILD_POINTS)
def test_finding8_killed_rebuild_is_cleaned_up_and_agrees(tmp_path, history, files, point):
    db = settings().db_path
    _copy_history(history, db)
    held = _tables(db)
    _killed("rebuild", point, db, files)

    journal.read_manifest(db)  # opening the archive removes what the killed rebuild left
    assert [p.name for p in db.parent.iterdir() if ".rebuild-" in p.name] == []
    after = _tables(db)
    swapped = point == "rebuild_after_swap"
    assert [r[2] for r in after["audit_log"]].count("rebuild") == (1 if swapped else 0)
    assert [r for r in after["audit_log"] if r[2] != "rebuild"] == held["audit_log"]
    _rebuilt_equals_held(db)  # settles the killed rebuild's intent against the database first
    rebuilds = [e for e in journal.read_manifest(db) if e["action"] == "rebuild"]
    assert len(rebuilds) == (2 if swapped else 1)  # the killed one counts iff it was swapped in
    assert [p.name for p in db.parent.iterdir() if ".rebuild-" in p.name] == []
