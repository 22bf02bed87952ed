"""Ingest against real DuckDB files and real workbooks: classification, atomicity, history, rollback,
withdraw, the archive and rebuild, and the registry."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ingest_helpers import branch_workbook, registry_workbook, snapshot
from pipelines.store import db as dbm, ingest, journal, plan, rebuild, registry, sources, versions
from pipelines.config import settings


@pytest.fixture
def db(tmp_path) -> Path:
    return settings().db_path


@pytest.fixture(scope="session")
def files(tmp_path_factory) -> dict[str, Path]:
    """A few real workbooks (written once; tests only read them): three versions of one branch-quarter,
    another branch, another quarter, and a bad-cell file."""
    d = tmp_path_factory.mktemp("in")
    return {
        "a1": branch_workbook(d / "a1.xlsx", "JX01-T01"),
        "a2": branch_workbook(d / "a2.xlsx", "JX01-T01", variant=2),
        "a3": branch_workbook(d / "a3.xlsx", "JX01-T01", variant=3),
        "b": branch_workbook(d / "b.xlsx", "JX01-T02"),
        "c_q2": branch_workbook(d / "c_q2.xlsx", "JX01-T01", quarter=2),
        # 2026/2/30 does not exist: a located error in 活动台账 A2
        "bad": branch_workbook(d / "bad.xlsx", "JX01-T03", raw_cells={("ledger", "A2"): "2026/2/30"}),
    }


def _state(db: Path) -> tuple:
    """Everything a rejected write must leave untouched: table contents, data version, manifest."""
    manifest = journal.read_manifest(db)
    return snapshot(db), dbm.data_version(db), json.dumps(manifest, ensure_ascii=False)


def _rows(db: Path, sql: str, params=()) -> list[tuple]:
    with dbm.connect(db) as con:
        return con.execute(sql, list(params)).fetchall()


def test_preview_classifies_without_writing_and_ingest_agrees(db, files):
    first = plan.preview([files["a1"]], db)
    assert [r.status for r in first] == ["accepted"]
    assert not db.exists() and dbm.data_version(db) == 0  # preview wrote nothing, not even an empty file
    ingest.ingest([files["a1"]], db)

    batch = [files["a1"], files["a2"], files["b"], files["bad"]]
    before = _state(db)
    planned = plan.preview(batch, db)
    assert [r.status for r in planned] == ["unchanged", "replaced", "accepted", "rejected"]
    assert [(r.branch_code, r.period) for r in planned[:3]] == [("JX01-T01", "2026Q1"), ("JX01-T01", "2026Q1"),
                                                                ("JX01-T02", "2026Q1")]
    assert _state(db) == before

    done = ingest.ingest(batch, db)
    assert [r.status for r in done] == [r.status for r in planned]
    assert [r.version for r in done] == [1, 2, 1, None]
    assert all(r.sha256 == sources.sha(Path(f).read_bytes()) for r, f in zip(done, batch))


def test_rejected_file_leaves_database_unchanged(db, files):
    ingest.ingest([files["a1"], files["b"]], db)
    before = _state(db)
    archive_before = sorted(p.name for p in settings().archive_for(db).rglob("*.xlsx"))

    # A bad cell in a new branch-quarter, and a bad re-submission of an existing one.
    bad_resubmission = branch_workbook(db.parent.parent / "a_bad.xlsx", "JX01-T01", variant=9,
                                       raw_cells={("ledger", "A3"): "2026-13-01"})
    results = ingest.ingest([files["bad"], bad_resubmission], db)

    assert [r.status for r in results] == ["rejected", "rejected"]
    err = results[0].errors[0]
    assert (err.sheet, err.cell, err.value) == ("活动台账", "A2", "2026/2/30")
    assert err.message and "A2" in err.message
    assert results[1].errors[0].cell == "A3"
    assert _state(db) == before  # contents, data version and manifest byte-for-byte the same
    assert sorted(p.name for p in settings().archive_for(db).rglob("*.xlsx")) == archive_before
    assert _rows(db, "SELECT version FROM submissions WHERE branch_code = 'JX01-T01' AND status = 'current'") == [(1,)]


def test_mixed_folder_batch_writes_only_the_good_ones(db, files, tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "WRITE_SLICE_S", 0)  # one file per write slice, with a rejected file between them
    folder = tmp_path / "quarter"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(files["a1"], folder / "a1.xlsx")
    shutil.copy(files["b"], folder / "sub" / "b.xlsx")  # folders are searched recursively
    shutil.copy(files["bad"], folder / "bad.xlsx")
    (folder / "not_a_workbook.xlsx").write_bytes(b"this is not a zip file")
    (folder / "~$a1.xlsx").write_bytes(b"owner file Excel leaves while a1 is open")  # must be ignored
    (folder / "notes.txt").write_text("ignored")
    shutil.copy(files["c_q2"], folder / "sub" / "UPPER.XLSX")  # Windows names count too
    (folder / "old.xls").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 512)  # an Excel 97 file: refused

    seen = []
    results = ingest.ingest([folder], db, progress=lambda done, total, name: seen.append((done, total, name)))

    by_name = {r.file_name: r for r in results}
    assert {n: r.status for n, r in by_name.items()} == {
        "a1.xlsx": "accepted", "b.xlsx": "accepted", "UPPER.XLSX": "accepted", "bad.xlsx": "rejected",
        "not_a_workbook.xlsx": "rejected", "old.xls": "rejected"}
    assert by_name["not_a_workbook.xlsx"].errors[0].code == "file_not_xlsx"
    assert by_name["old.xls"].errors[0].code == "file_old_xls"
    assert [s[:2] for s in seen] == [(i, 6) for i in range(1, 7)]
    assert sorted(_rows(db, "SELECT branch_code, period, status FROM submissions")) == [
        ("JX01-T01", "2026Q1", "current"), ("JX01-T01", "2026Q2", "current"), ("JX01-T02", "2026Q1", "current")]
    assert _rows(db, "SELECT count(*) FROM raw_info WHERE branch_code = 'JX01-T03'") == [(0,)]


def test_resubmission_replaces_and_keeps_history(db, files):
    (r1,) = ingest.ingest([files["a1"]], db, actor="张管理员")
    (r2,) = ingest.ingest([files["a2"]], db, actor="李管理员")
    assert (r1.status, r1.version, r2.status, r2.version) == ("accepted", 1, "replaced", 2)

    subs = _rows(db, "SELECT version, status, uploaded_by, file_name FROM submissions ORDER BY version")
    assert subs == [(1, "superseded", "张管理员", "a1.xlsx"), (2, "current", "李管理员", "a2.xlsx")]
    # The superseded version's rows stay in the raw tables; staging shows only the current one.
    per_sub = _rows(db, "SELECT submission_id, count(*) FROM raw_ledger GROUP BY 1 ORDER BY 1")
    assert [s for s, _ in per_sub] == [r1.submission_id, r2.submission_id] and per_sub[0][1] == per_sub[1][1]
    assert _rows(db, "SELECT DISTINCT submission_id FROM stg_ledger") == [(r2.submission_id,)]
    assert _rows(db, "SELECT version FROM stg_submissions") == [(2,)]
    assert [a for (a,) in _rows(db, "SELECT action FROM audit_log ORDER BY logged_at")] == ["ingest", "ingest"]


def test_identical_file_is_a_no_op(db, files, tmp_path):
    ingest.ingest([files["a1"]], db)
    before = _state(db)

    (again,) = ingest.ingest([files["a1"]], db)
    assert again.status == "unchanged" and again.version == 1
    assert _state(db) == before  # not even the data version moves

    # The same bytes twice in one batch under another name: the second is reported as a duplicate.
    twin = tmp_path / "twin.xlsx"
    shutil.copy(files["b"], twin)
    results = ingest.ingest([files["b"], twin], db)
    assert [r.status for r in results] == ["accepted", "unchanged"]
    assert [p.code for p in results[1].problems] == ["batch_duplicate"] and "b.xlsx" in results[1].problems[0].message
    assert _rows(db, "SELECT count(*) FROM submissions WHERE branch_code = 'JX01-T02'") == [(1,)]


def test_same_branch_quarter_twice_in_one_batch(db, files):
    planned = plan.preview([files["a1"], files["a2"]], db)
    assert [r.status for r in planned] == ["accepted", "replaced"]
    assert [p.code for p in planned[0].problems] == ["batch_replaced_later"]
    assert [p.code for p in planned[1].problems] == ["batch_replaces"]
    assert all(p.severity == "warning" for r in planned for p in r.problems)

    done = ingest.ingest([files["a1"], files["a2"]], db)
    assert [(r.status, r.version) for r in done] == [("accepted", 1), ("replaced", 2)]
    assert _rows(db, "SELECT version, status FROM submissions ORDER BY version") == [(1, "superseded"), (2, "current")]


def test_rollback_and_withdraw(db, files):
    ids = [ingest.ingest([files[k]], db, actor="admin")[0].submission_id for k in ("a1", "a2", "a3")]

    def statuses():
        return _rows(db, "SELECT version, status FROM submissions WHERE period = '2026Q1' ORDER BY version")

    assert versions.rollback("JX01-T01", "2026Q1", db, actor="admin") == ids[1]
    assert statuses() == [(1, "superseded"), (2, "current"), (3, "rolled_back")]
    assert versions.rollback("JX01-T01", "2026Q1", db, actor="admin") == ids[0]
    assert statuses() == [(1, "current"), (2, "rolled_back"), (3, "rolled_back")]
    version = dbm.data_version(db)
    assert versions.rollback("JX01-T01", "2026Q1", db, actor="admin") is None  # nothing earlier: no write
    assert dbm.data_version(db) == version

    # Submitting the rolled-back file again makes it a new version, not "unchanged".
    (again,) = ingest.ingest([files["a3"]], db)
    assert (again.status, again.version) == ("replaced", 4)

    assert versions.withdraw("JX01-T01", "2026Q1", db, actor="admin") == again.submission_id
    assert _rows(db, "SELECT count(*) FROM stg_submissions WHERE period = '2026Q1'") == [(0,)]
    assert versions.withdraw("JX01-T01", "2026Q1", db, actor="admin") is None
    assert versions.rollback("JX01-T01", "2026Q1", db, actor="admin") is None  # nothing current to roll back

    # After a withdrawal the branch-quarter is open again: a new file is a new version, status accepted.
    (fresh,) = ingest.ingest([files["a2"]], db)
    assert (fresh.status, fresh.version) == ("accepted", 5)

    actions = [a for (a,) in _rows(db, "SELECT action FROM audit_log")]
    assert actions.count("rollback") == 2 and actions.count("withdraw") == 1
    assert [e["action"] for e in journal.read_manifest(db)] == [
        "ingest", "ingest", "ingest", "rollback", "rollback", "ingest", "withdraw", "ingest"]


def test_archive_keeps_every_written_original(db, files):
    (r,) = ingest.ingest([("上传的文件.xlsx", files["a1"].read_bytes())], db)  # (name, bytes) as from the page
    assert r.status == "accepted" and r.file_name == "上传的文件.xlsx"
    assert journal.archived_file(r.sha256, db) == files["a1"].read_bytes()
    stored = settings().archive_for(db) / r.sha256[:2] / f"{r.sha256}.xlsx"
    assert stored.exists()
    assert not list(settings().archive_for(db).rglob("*.tmp"))  # written atomically, no temp left
    with pytest.raises(ValueError):
        journal.archived_file("../../etc/passwd", db)
    with pytest.raises(FileNotFoundError):
        journal.archived_file("0" * 64, db)


def _history(db: Path, files: dict[str, Path], tmp_path: Path) -> None:
    """A realistic history: registry, uploads, a re-submission, a rollback, a withdrawal, a registry update."""
    reg = registry_workbook(tmp_path / "reg.xlsx", ["JX01-T01", "JX01-T02", "JX01-T03"])
    assert registry.load_registry(reg, db, actor="组织部")[0] == 3
    ingest.ingest([files["a1"], files["b"], files["bad"]], db, actor="组织部")
    ingest.ingest([files["a2"], files["a3"], files["c_q2"]], db, actor="管理员乙")
    versions.rollback("JX01-T01", "2026Q1", db, actor="管理员乙")
    versions.withdraw("JX01-T01", "2026Q2", db, actor="管理员乙")
    reg2 = registry_workbook(tmp_path / "reg2.xlsx", ["JX01-T01", "JX01-T02", "JX01-T03", "JX02-S01"])
    assert registry.load_registry(reg2, db, actor="组织部")[0] == 4


def _without_rebuild_rows(snap: dict) -> dict:
    return {**snap, "audit_log": [r for r in snap["audit_log"] if r[2] != "rebuild"]}


def test_rebuild_reproduces_the_same_tables(db, files, tmp_path):
    _history(db, files, tmp_path)
    original = snapshot(db)
    assert {r[-1] for r in original["submissions"]} == {"current", "superseded", "rolled_back", "withdrawn"}
    version = dbm.data_version(db)

    # The database is lost: only the archive (originals + manifest) remains.
    db.unlink()
    results = rebuild.rebuild(db)
    assert [r.status for r in results] == ["accepted", "accepted", "accepted", "replaced", "replaced", "accepted",
                                           "accepted"]
    rebuilt = snapshot(db)
    assert _without_rebuild_rows(rebuilt) == original  # ids, times, actors, versions, statuses, audit log
    assert [r[2] for r in rebuilt["audit_log"]].count("rebuild") == 1
    assert dbm.data_version(db) > version  # pages reload

    # Rebuilding over an existing database swaps in the same content; no temp files are left behind.
    rebuild.rebuild(db)
    assert _without_rebuild_rows(snapshot(db)) == original
    assert sorted(p.name for p in db.parent.iterdir() if p.name.startswith(".")) == []
    assert not Path(str(db) + ".wal").exists()


def test_rebuild_keeps_the_database_when_an_archived_file_is_missing(db, files):
    (r,) = ingest.ingest([files["a1"]], db)
    before = snapshot(db)
    (settings().archive_for(db) / r.sha256[:2] / f"{r.sha256}.xlsx").unlink()
    with pytest.raises(rebuild.RebuildIncomplete) as exc:
        rebuild.rebuild(db)
    assert [p.code for p in exc.value.results[0].problems] == ["archive_missing"]
    assert snapshot(db) == before


def test_registry_with_errors_writes_nothing(db, files, tmp_path):
    reg = registry_workbook(tmp_path / "reg.xlsx", ["JX01-T01", "JX01-T02"])
    n, problems = registry.load_registry(reg, db, actor="组织部")
    assert n == 2 and not [p for p in problems if p.severity == "error"]
    before = _state(db)

    dup = registry_workbook(tmp_path / "dup.xlsx", ["JX01-T01", "JX01-T09", "JX01-T01"])
    n, problems = registry.load_registry(dup, db, actor="组织部")
    assert n == 0
    codes = [(p.code, p.cell) for p in problems if p.severity == "error"]
    assert codes == [("registry_duplicate_code", "A4")]
    assert _state(db) == before

    # With a registry loaded, a workbook of a branch missing from it is rejected, and nothing is written.
    (r,) = ingest.ingest([files["b"]], db)
    assert r.status == "accepted"
    (r,) = ingest.ingest([files["c_q2"]], db)
    assert r.status == "accepted"
    unknown = branch_workbook(tmp_path / "unknown.xlsx", "ZZ99-T01")
    before = _state(db)
    (r,) = ingest.ingest([unknown], db)
    assert r.status == "rejected" and "branch_code_unknown" in [p.code for p in r.errors]
    assert _state(db) == before


def test_manifest_survives_a_torn_line(db, files):
    """A crash mid-append leaves half a line; it is skipped and does not swallow the next entry."""
    ingest.ingest([files["a1"]], db)
    manifest = settings().archive_for(db) / journal.MANIFEST_NAME
    with open(manifest, "ab") as fh:
        fh.write(b'{"txn": "torn", "action": "ing')
    ingest.ingest([files["b"]], db)
    assert [e["file_name"] for e in journal.read_manifest(db)] == ["a1.xlsx", "b.xlsx"]
    original = snapshot(db)
    rebuild.rebuild(db)
    assert _without_rebuild_rows(snapshot(db)) == original


# The schema of databases made before `loads` was folded into `submissions` and staging moved to SQL files
# (pipelines/store/db.py as of that change, comments left out): such a database must open and keep its data.
OLD_SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS load_seq START 1;
CREATE SEQUENCE IF NOT EXISTS submission_seq START 1;
CREATE TABLE IF NOT EXISTS loads (
    load_id      BIGINT PRIMARY KEY,
    source_file  VARCHAR NOT NULL,
    sha256       VARCHAR NOT NULL,
    loaded_at    TIMESTAMP NOT NULL,
    loaded_by    VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (
    submission_id BIGINT PRIMARY KEY,
    load_id       BIGINT NOT NULL,
    branch_code   VARCHAR NOT NULL,
    year          INTEGER NOT NULL,
    quarter       INTEGER NOT NULL,
    period        VARCHAR NOT NULL,
    version       INTEGER NOT NULL,
    file_name     VARCHAR NOT NULL,
    sha256        VARCHAR NOT NULL,
    uploaded_at   TIMESTAMP NOT NULL,
    uploaded_by   VARCHAR NOT NULL,
    status        VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS raw_info (
    submission_id BIGINT NOT NULL,
    load_id       BIGINT NOT NULL,
    source_file   VARCHAR NOT NULL,
    branch_code   VARCHAR NOT NULL,
    branch_name   VARCHAR NOT NULL,
    college       VARCHAR NOT NULL,
    branch_type   VARCHAR NOT NULL,
    year          INTEGER NOT NULL,
    quarter       INTEGER NOT NULL,
    members       INTEGER NOT NULL,
    secretary     VARCHAR,
    filled_by     VARCHAR,
    filled_on     DATE
);
CREATE TABLE IF NOT EXISTS raw_ledger (
    submission_id BIGINT NOT NULL,
    load_id       BIGINT NOT NULL,
    source_file   VARCHAR NOT NULL,
    sheet         VARCHAR NOT NULL,
    row_no        INTEGER NOT NULL,
    date          DATE NOT NULL,
    activity_type VARCHAR NOT NULL,
    activity_raw  VARCHAR,
    topic         VARCHAR,
    expected      INTEGER,
    attended      INTEGER,
    hours         DOUBLE,
    evidence      VARCHAR
);
CREATE TABLE IF NOT EXISTS raw_counts (
    submission_id BIGINT NOT NULL,
    load_id       BIGINT NOT NULL,
    source_file   VARCHAR NOT NULL,
    sheet         VARCHAR NOT NULL,
    row_no        INTEGER NOT NULL,
    field         VARCHAR NOT NULL,
    value         DOUBLE
);
CREATE TABLE IF NOT EXISTS raw_self_assessment (
    submission_id BIGINT NOT NULL,
    load_id       BIGINT NOT NULL,
    source_file   VARCHAR NOT NULL,
    sheet         VARCHAR NOT NULL,
    row_no        INTEGER NOT NULL,
    item_id       VARCHAR NOT NULL,
    status        VARCHAR,
    evidence      VARCHAR
);
CREATE TABLE IF NOT EXISTS raw_problems (
    submission_id BIGINT NOT NULL,
    severity      VARCHAR NOT NULL,
    code          VARCHAR NOT NULL,
    sheet         VARCHAR,
    cell          VARCHAR,
    value         VARCHAR,
    message       VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS registry (
    branch_code  VARCHAR PRIMARY KEY,
    branch_name  VARCHAR NOT NULL,
    college      VARCHAR NOT NULL,
    branch_type  VARCHAR NOT NULL,
    members      INTEGER NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
    logged_at TIMESTAMP NOT NULL,
    actor   VARCHAR NOT NULL,
    action  VARCHAR NOT NULL,
    detail  VARCHAR
);
CREATE OR REPLACE VIEW stg_submissions AS
SELECT s.submission_id, s.branch_code, s.year, s.quarter, s.period, s.version, s.file_name,
       s.uploaded_at, i.branch_name, i.college, i.branch_type, i.members
FROM submissions s JOIN raw_info i USING (submission_id)
WHERE s.status = 'current';
CREATE OR REPLACE VIEW stg_ledger AS
SELECT s.branch_code, s.year, s.quarter, s.period, l.submission_id, l.source_file, l.sheet, l.row_no,
       l.date, month(l.date) AS month, l.activity_type, l.activity_raw, l.topic, l.expected, l.attended,
       l.hours, l.evidence
FROM raw_ledger l JOIN stg_submissions s USING (submission_id);
CREATE OR REPLACE VIEW stg_counts AS
SELECT s.branch_code, s.year, s.quarter, s.period, c.submission_id, c.source_file, c.sheet, c.row_no,
       c.field, c.value
FROM raw_counts c JOIN stg_submissions s USING (submission_id);
CREATE OR REPLACE VIEW stg_self_assessment AS
SELECT s.branch_code, s.year, s.quarter, s.period, a.submission_id, a.source_file, a.sheet, a.row_no,
       a.item_id, a.status, trim(coalesce(a.evidence, '')) AS evidence
FROM raw_self_assessment a JOIN stg_submissions s USING (submission_id);
"""


def test_a_database_with_the_old_schema_opens_and_keeps_its_submissions(db, files):
    from pipelines import scoring
    from pipelines.workbook import reader
    from pipelines.store import writes

    parsed = reader.read_workbook(files["a1"])
    db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db))
    con.execute(OLD_SCHEMA)
    con.execute("CREATE TABLE schema_meta AS SELECT 'old-schema' AS fingerprint")
    status, sub_id = writes.save_parsed(con, parsed, actor="cli")
    con.execute("INSERT INTO loads SELECT load_id, file_name, sha256, uploaded_at, uploaded_by FROM submissions")
    con.close()
    assert status == "accepted"

    # read as it is (readers never run DDL) ...
    assert scoring.periods(db) == ["2026Q1"]
    before = scoring.branch_scores("2026Q1", db)
    assert list(before["branch_code"]) == ["JX01-T01"]
    # ... and after the first write connection has brought its schema up to date
    assert [r.status for r in ingest.ingest([files["a2"]], db)] == ["replaced"]
    subs = _rows(db, "SELECT submission_id, version, status, file_name FROM submissions ORDER BY version")
    assert subs == [(sub_id, 1, "superseded", "a1.xlsx"), (sub_id + 1, 2, "current", "a2.xlsx")]
    assert _rows(db, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'loads'") == [(0,)]
    assert _rows(db, "SELECT fingerprint FROM schema_meta") == [(dbm.SCHEMA_FINGERPRINT,)]
    # the old version is still there to come back to, with the same scores
    assert versions.rollback("JX01-T01", "2026Q1", db, actor="cli") == sub_id
    pd.testing.assert_frame_equal(scoring.branch_scores("2026Q1", db), before)
