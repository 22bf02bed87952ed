"""One writer at a time: concurrent ingests (threads, and the CLI in a second process) lose nothing and
store each accepted file once; a writer that finds the database busy waits, then says so clearly."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from ingest_helpers import ROOT, branch_workbook, code_of, run_cli
from pipelines import config
from pipelines.store import db as dbm, ingest, journal, plan, registry, sources, versions

BUSY = "数据库正被其他程序写入"


@pytest.fixture(scope="session")
def batch(tmp_path_factory) -> dict[str, list[Path]]:
    """Two overlapping batches: 3 files only in A, 3 only in B, 3 identical files in both, and two different
    versions of one branch-quarter (one in each batch)."""
    d = tmp_path_factory.mktemp("concurrent")
    files = [branch_workbook(d / f"f{i}.xlsx", code_of(i)) for i in range(9)]
    va = branch_workbook(d / "shared_a.xlsx", "JX09-T01", variant=1)
    vb = branch_workbook(d / "shared_b.xlsx", "JX09-T01", variant=2)
    return {"a": files[0:6] + [va], "b": files[3:9] + [vb]}


def _check_store(db: Path, results: list, batch: dict[str, list[Path]]) -> None:
    """Every distinct file is stored exactly once, every branch-quarter has one current version, and the
    statuses reported by the two writers add up to what the database holds."""
    with dbm.connect(db) as con:
        subs = con.execute("SELECT sha256, branch_code, version, status FROM submissions").fetchall()
        orphans = con.execute(
            "SELECT count(*) FROM submissions s"
            " WHERE NOT EXISTS (SELECT 1 FROM raw_info i WHERE i.submission_id = s.submission_id)"
            " OR NOT EXISTS (SELECT 1 FROM raw_ledger l WHERE l.submission_id = s.submission_id)").fetchone()[0]
        loads = con.execute("SELECT count(DISTINCT load_id) FROM submissions").fetchone()[0]
    distinct = {sources.sha(p.read_bytes()) for p in batch["a"] + batch["b"]}
    assert Counter(s for s, *_ in subs) == Counter({sha: 1 for sha in distinct})  # stored once, none lost
    assert len(subs) == loads == 11 and orphans == 0
    current = Counter(b for _, b, _, st in subs if st == "current")
    assert set(current.values()) == {1} and len(current) == 10
    assert sorted((v, st) for _, b, v, st in subs if b == "JX09-T01") == [(1, "superseded"), (2, "current")]

    statuses = Counter(r["status"] for r in results)
    assert statuses == Counter(accepted=10, replaced=1, unchanged=3)  # the shared 3: once written, once unchanged
    written = Counter(r["sha256"] for r in results if r["status"] in ("accepted", "replaced"))
    assert set(written.values()) == {1}
    manifest = journal.read_manifest(db)
    assert Counter(e["sha256"] for e in manifest) == Counter({sha: 1 for sha in distinct})


def test_two_threads_ingest_at_once(batch, monkeypatch):
    db = config.settings().db_path
    monkeypatch.setattr(ingest, "WRITE_SLICE_S", 0)  # one lock round per file: the threads alternate file by file
    start = threading.Barrier(2)
    results: dict[str, list] = {}
    errors = []

    def run(name):
        try:
            start.wait()
            results[name] = ingest.ingest(batch[name], db, actor=f"admin-{name}")
        except Exception as e:  # surfaced below; an exception in a thread would otherwise vanish
            errors.append(e)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    _check_store(db, [r.as_dict() for n in ("a", "b") for r in results[n]], batch)


def _loaded(pid: int, library: str) -> bool:
    try:
        return library in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def test_cli_process_and_app_ingest_at_once(batch, tmp_path, monkeypatch):
    db = tmp_path / "shared.duckdb"
    monkeypatch.setattr(ingest, "WRITE_SLICE_S", 0)  # the app side takes the lock once per file
    monkeypatch.setenv("DJ_LOCK_TIMEOUT_S", "60")
    config.settings.cache_clear()
    env = {**os.environ, "DJ_DB_PATH": str(db), "DJ_LOCK_TIMEOUT_S": "60"}
    proc = subprocess.Popen([sys.executable, "-m", "pipelines", "ingest", *map(str, batch["a"]), "--db", str(db),
                             "--json"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    app_results: list = []
    errors: list = []

    def app():
        try:
            app_results.extend(ingest.ingest(batch["b"], db, actor="app"))
        except Exception as e:
            errors.append(e)

    # Hold the lock while both writers start, so they really compete for it once it is free.
    # The CLI is close to the lock once DuckDB is loaded (imported just before ingest runs); the assertions
    # hold for any interleaving, the wait only makes a real race likely.
    with dbm.locked(db):
        thread = threading.Thread(target=app)
        thread.start()
        deadline = time.monotonic() + 20
        while not _loaded(proc.pid, "duckdb") and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        time.sleep(0.7)
    out, err = proc.communicate(timeout=60)
    thread.join(60)
    assert proc.returncode == 0 and not errors, (err, errors)
    cli_results = json.loads(out)["files"]
    _check_store(db, cli_results + [r.as_dict() for r in app_results], batch)
    actors = [e["actor"] for e in journal.read_manifest(db)]
    assert "app" in actors and any(a.startswith("cli") for a in actors)


def test_busy_writer_waits_then_raises(tmp_path, monkeypatch, batch):
    db = config.settings().db_path
    monkeypatch.setenv("DJ_LOCK_TIMEOUT_S", "0.5")
    config.settings.cache_clear()
    ingest.ingest(batch["a"][:1], db)
    before = dbm.data_version(db)
    with dbm.connect(db, write=True):  # another writer mid-transaction
        t0 = time.monotonic()
        with pytest.raises(dbm.DatabaseBusy, match=BUSY):
            ingest.ingest(batch["a"][1:2], db)
        assert time.monotonic() - t0 >= 0.45  # it waited for the timeout first
        # The CLI says so in Chinese and exits 2, without a traceback.
        r = run_cli("ingest", str(batch["a"][1]), "--db", str(db), "--json", env={"DJ_LOCK_TIMEOUT_S": "0.5"})
    assert r.returncode == 2
    assert BUSY in r.stderr and "Traceback" not in r.stderr
    assert json.loads(r.stdout)["error"] == "database_busy"
    assert dbm.data_version(db) == before + 1  # only the holder's own (empty) commit


def test_every_write_and_command_reports_busy(tmp_path, monkeypatch, batch, capsys):
    from ingest_helpers import registry_workbook
    from pipelines.cli import main

    db = config.settings().db_path
    ingest.ingest(batch["a"][:1], db)
    reg = registry_workbook(tmp_path / "reg.xlsx", ["JX01-T01"])
    monkeypatch.setenv("DJ_LOCK_TIMEOUT_S", "0.2")
    config.settings.cache_clear()
    with dbm.locked(db):
        for write in (lambda: versions.rollback("JX01-T01", "2026Q1", db, actor="a"),
                      lambda: versions.withdraw("JX01-T01", "2026Q1", db, actor="a"),
                      lambda: registry.load_registry(reg, db, actor="a"),
                      lambda: plan.preview(batch["b"][:1], db)):
            with pytest.raises(dbm.DatabaseBusy, match=BUSY):
                write()
        capsys.readouterr()
        assert main(["registry", str(reg), "--db", str(db)]) == 2
        assert main(["rebuild", "--db", str(db)]) == 2
        assert main(["ingest", str(batch["b"][0]), "--db", str(db)]) == 2
        assert capsys.readouterr().err.count(BUSY) == 3
    assert versions.withdraw("JX01-T01", "2026Q1", db, actor="a") is not None  # free again: it goes through


def test_waiting_writer_gets_in_when_the_lock_frees(batch):
    db = config.settings().db_path
    held = threading.Event()

    def hold():
        with dbm.locked(db):
            held.set()
            time.sleep(0.6)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(5)
    t0 = time.monotonic()
    (r,) = ingest.ingest(batch["a"][:1], db)
    t.join()
    assert r.status == "accepted" and time.monotonic() - t0 >= 0.4
