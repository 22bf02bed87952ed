"""Issue 14 (ingest speed): files written a batch per transaction, and `ingest` writing while the readers read.
Each file is still accepted or rejected on its own, a batch killed between its intents and its commit settles
and rebuilds like a single write, and the streamed `ingest` leaves the same tables as plan + apply.
Real DuckDB files, real workbooks, real SIGKILLs (DJ_CRASH_AT in a child process)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingest_helpers import ROOT, branch_workbook, registry_workbook, snapshot
from pipelines.config import settings
from pipelines.store import archive as arc
from pipelines.store import db as dbm
from pipelines.store import ingest, journal, plan, rebuild, registry, sources

CODES = [f"JX01-T0{i}" for i in range(1, 8)]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("batch_in")
    out = {c: branch_workbook(d / f"{c}.xlsx", c) for c in CODES}
    out["T01v2"] = branch_workbook(d / "JX01-T01-v2.xlsx", "JX01-T01", variant=2)
    out["T02q2"] = branch_workbook(d / "JX01-T02-q2.xlsx", "JX01-T02", quarter=2)
    out["bad"] = branch_workbook(d / "bad.xlsx", "JX01-T03", variant=5, raw_cells={("ledger", "A2"): "2026/2/30"})
    out["reg"] = registry_workbook(d / "reg.xlsx", CODES)
    return out


def _tables(db: Path) -> dict[str, list[tuple]]:
    snap = snapshot(db)
    with dbm.connect(db) as con:
        snap["journal"] = sorted(con.execute("SELECT * FROM journal").fetchall(), key=repr)
    return snap


def _manifest_lines(db: Path) -> list[dict]:
    return arc.read_manifest_file(settings().archive_for(db))


def test_streamed_ingest_equals_plan_then_apply(tmp_path, files, monkeypatch):
    """Written while reading (several slices, one file a batch at the end), or after reading: the same tables,
    ids included, and the same results; a repeat of the batch writes nothing."""
    monkeypatch.setattr(ingest, "STREAM_BATCH", 2)
    batch = [files[c] for c in CODES[:4]] + [files["bad"], files["T01v2"], files[CODES[1]], files["T02q2"]]
    a, b = tmp_path / "a" / "a.duckdb", tmp_path / "b" / "b.duckdb"
    for db in (a, b):
        registry.load_registry(files["reg"], db, actor="组织部")
    streamed = ingest.ingest(batch, a, actor="组织部")
    applied = ingest.apply(plan.plan(batch, b, on_conflict="last_wins"), "组织部")
    assert [r.as_dict() for r in streamed] == [r.as_dict() for r in applied]
    assert [r.status for r in streamed] == ["accepted"] * 4 + ["rejected", "replaced", "unchanged", "accepted"]
    assert [r.version for r in streamed] == [1, 1, 1, 1, None, 2, 1, 1]
    assert any(p.code == "batch_replaced_later" for p in streamed[0].problems)
    ta, tb = _tables(a), _tables(b)
    for t in (ta, tb):  # without what differs by nature: random txn ids, and times a second apart
        t["journal"] = sorted(r[1] for r in t["journal"])
        t["audit_log"] = sorted(r[1:] for r in t["audit_log"])
        t["submissions"] = [r[:9] + r[10:] for r in t["submissions"]]  # uploaded_at
        t["registry"] = [r[:5] + r[6:] for r in t["registry"]]  # updated_at
    assert ta == tb
    again = batch[1:4] + [files["T01v2"], files["T02q2"]]  # the current versions: nothing to write
    assert [r.status for r in ingest.ingest(again, a, actor="组织部")] == ["unchanged"] * 5


def test_one_transaction_per_batch_and_a_file_the_database_refuses_is_rejected_alone(tmp_path, files):
    """Three files go into one transaction; the database refuses the second (its submission number is taken),
    so the batch is written again one file per transaction: the first and third are written with the numbers
    the batch drew (2 and 4: a retry drawing new ones would give 5 and 7), the second is rejected on its own,
    and the manifest holds only what committed."""
    db = settings().db_path
    registry.load_registry(files["reg"], db, actor="组织部")
    ingest.ingest([files[CODES[0]]], db)  # submission 1
    with dbm.connect(db, write=True) as con:  # submission 3 taken by a row no workbook wrote
        con.execute("INSERT INTO submissions VALUES (3, 3, 'JX99-T99', 2025, 1, '2025Q1', 1, 'x.xlsx', 'f', "
                    "TIMESTAMP '2025-04-01', 'x', 'current')")
    results = ingest.ingest([files[c] for c in CODES[1:4]], db)
    assert [r.status for r in results] == ["accepted", "rejected", "accepted"]
    assert [p.code for p in results[1].errors] == ["write_failed"]
    assert [r.submission_id for r in results] == [2, None, 4]
    with dbm.connect(db) as con:
        assert con.execute("SELECT branch_code FROM submissions WHERE submission_id IN (2, 4) ORDER BY 1"
                           ).fetchall() == [(CODES[1],), (CODES[3],)]
        assert con.execute("SELECT count(*) FROM raw_info WHERE branch_code = ?", [CODES[2]]).fetchone() == (0,)
    committed = [e["file_name"] for e in journal.read_manifest(db) if e["action"] == "ingest"]
    assert committed == [f"{c}.xlsx" for c in (CODES[0], CODES[1], CODES[3])]
    lines = _manifest_lines(db)
    # the batch's try failed at its insert, before any intent line; the retries wrote one file each
    assert [e for e in lines if e.get("group") or e.get("action") == "void"] == []
    assert arc.unsettled(lines) == []


@pytest.fixture(scope="module")
def history(files, tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("batch_history") / "db" / "h.duckdb"
    registry.load_registry(files["reg"], db, actor="组织部")
    ingest.ingest([files[CODES[0]]], db)
    return db


def _copy(history: Path, db: Path) -> None:
    shutil.copytree(history.parent, db.parent, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.lock"))
    for f in db.parent.iterdir():
        if f.name.startswith(history.name):
            f.rename(db.parent / f.name.replace(history.name, db.name, 1))


BATCH = [CODES[1], CODES[2], "T01v2", "T02q2", CODES[3]]


@pytest.mark.parametrize("point", ["after_intent", "before_commit", "after_commit"])
def test_a_batch_killed_between_its_intents_and_its_commit_settles_and_rebuilds(tmp_path, history, files,
                                                                                 monkeypatch, point):
    db = settings().db_path
    _copy(history, db)
    code = ("from pipelines.store import ingest\n"
            f"ingest.ingest({[str(files[k]) for k in BATCH]!r}, actor='组织部')")
    env = {**os.environ, "DJ_DB_PATH": str(db), "DJ_CRASH_AT": point}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == -signal.SIGKILL, out.stderr

    lines = _manifest_lines(db)
    left = arc.unsettled(lines)
    assert len(left) == len(BATCH)  # one transaction: all five intents written together, none settled
    assert [e["group"] for e in lines if e.get("txn") in left] == [[k, len(BATCH)] for k in range(len(BATCH))]
    committed = point == "after_commit"
    with dbm.connect(db) as con:
        stored = con.execute("SELECT count(*) FROM submissions").fetchone()[0]
    assert stored == 1 + (len(BATCH) if committed else 0)  # all of the batch or none of it

    # The next writer settles them from the manifest's end, even when the batch's intents reach further back
    # than its first look (here 200 bytes: the window grows until it holds the batch's first intent).
    monkeypatch.setattr(arc, "_TAIL_BYTES", 200)
    (r,) = ingest.ingest([files[CODES[4]]], db)
    assert r.status == "accepted"
    lines = _manifest_lines(db)
    assert arc.unsettled(lines) == []
    shas = {sources.sha(files[k].read_bytes()) for k in BATCH}
    assert ({e["sha256"] for e in journal.read_manifest(db)} >= shas) == committed

    held = _tables(db)
    rebuild.rebuild(db)
    rebuilt = _tables(db)
    rebuilds = {e["txn"] for e in journal.read_manifest(db) if e["action"] == "rebuild"}
    for t in (held, rebuilt):
        t["journal"] = [row for row in t["journal"] if row[0] not in rebuilds]
        t["audit_log"] = [row for row in t["audit_log"] if row[2] != "rebuild"]
    assert rebuilt == held


def test_tail_grows_to_the_first_intent_of_the_last_batch(tmp_path, monkeypatch):
    archive = tmp_path / "a.archive"
    entries = [journal.entry("ingest", actor="x", at=journal.now(), detail=f"文件 {k}" * 20) for k in range(6)]
    arc.append(archive, arc.intent(entries[0]))
    arc.append(archive, arc.end_record(entries[0]["txn"], "commit"))
    arc.append(archive, arc.intents(entries[1:]))  # a batch of five, killed before its commit
    monkeypatch.setattr(arc, "_TAIL_BYTES", 100)
    assert arc.unsettled(arc._tail(archive)) == [e["txn"] for e in entries[1:]]
    arc.settle(archive, lambda txn: False)
    lines = arc.read_manifest_file(archive)
    assert lines[-1]["action"] == "void" and lines[-1]["refs"] == [e["txn"] for e in entries[1:]]
    assert arc.unsettled(lines) == [] and [e["txn"] for e in arc.effective(lines)] == [entries[0]["txn"]]
