"""The CLI contract other tools depend on, run as a real `python -m pipelines …` process."""
from __future__ import annotations

import json
import shutil

from ingest_helpers import branch_workbook, registry_workbook, run_cli, snapshot
from pipelines.store import db as dbm
from pipelines.cli import main
from pipelines.config import settings

PROBLEM_KEYS = {"severity", "code", "sheet", "cell", "value", "message"}


def test_ingest_json_report_and_exit_codes(tmp_path):
    db = tmp_path / "cli.duckdb"
    good = tmp_path / "good"
    branch_workbook(good / "a.xlsx", "JX01-T01")
    branch_workbook(good / "more" / "b.xlsx", "JX01-T02")

    ok = run_cli("ingest", str(good), "--db", str(db), "--json")
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)  # exactly one JSON document on stdout
    assert report["ok"] is True and report["counts"]["accepted"] == 2
    assert [(f["file_name"], f["status"], f["branch_code"], f["period"]) for f in report["files"]] == [
        ("a.xlsx", "accepted", "JX01-T01", "2026Q1"), ("b.xlsx", "accepted", "JX01-T02", "2026Q1")]

    bad = branch_workbook(tmp_path / "坏文件.xlsx", "JX01-T03", raw_cells={("ledger", "A2"): "2026/2/30"})
    before = snapshot(db), dbm.data_version(db)
    mixed = run_cli("ingest", str(good / "a.xlsx"), str(bad), "--db", str(db), "--json")
    assert mixed.returncode == 1, mixed.stderr
    assert "\\u" not in mixed.stdout  # ensure_ascii=False: Chinese stays readable
    report = json.loads(mixed.stdout)
    assert report["ok"] is False
    rejected, unchanged = report["files"]  # rejected files first (plan.report_order), as on the upload page
    assert unchanged["status"] == "unchanged" and unchanged["problems"] == []
    assert (rejected["file_name"], rejected["status"], rejected["branch_code"]) == ("坏文件.xlsx", "rejected", "JX01-T03")
    problem = rejected["problems"][0]
    assert PROBLEM_KEYS <= set(problem)
    assert (problem["severity"], problem["sheet"], problem["cell"], problem["value"]) == (
        "error", "活动台账", "A2", "2026/2/30")
    assert (snapshot(db), dbm.data_version(db)) == before


def test_ingest_readable_chinese_summary(tmp_path):
    db = tmp_path / "cli.duckdb"
    good = branch_workbook(tmp_path / "a.xlsx", "JX01-T01")
    bad = branch_workbook(tmp_path / "bad.xlsx", "JX01-T03", raw_cells={("ledger", "A2"): "2026/2/30"})
    out = run_cli("ingest", str(good), str(bad), str(tmp_path / "missing.xlsx"), "--db", str(db))
    assert out.returncode == 1
    assert "[新增] a.xlsx  支部 JX01-T01  2026Q1  第 1 版" in out.stdout
    assert "[退回] bad.xlsx" in out.stdout and "A2" in out.stdout and "2026/2/30" in out.stdout
    assert "[退回] missing.xlsx" in out.stdout and "文件不存在" in out.stdout
    assert "共 3 个文件：新增 1，替换 0，未变化 0，退回 2。" in out.stdout
    assert "Traceback" not in out.stderr


def test_registry_and_rebuild_commands(tmp_path):
    db = tmp_path / "cli.duckdb"
    reg = registry_workbook(tmp_path / "名册.xlsx", ["JX01-T01", "JX01-T02"])
    r = run_cli("registry", str(reg), "--db", str(db))
    assert r.returncode == 0 and "2 个支部" in r.stdout, r.stderr
    assert main(["ingest", str(branch_workbook(tmp_path / "a.xlsx", "JX01-T01")), "--db", str(db)]) == 0

    original = snapshot(db)
    db.unlink()
    r = run_cli("rebuild", "--db", str(db))
    assert r.returncode == 0 and "已从归档重建数据库" in r.stdout, r.stderr
    rebuilt = snapshot(db)
    rebuilt["audit_log"] = [row for row in rebuilt["audit_log"] if row[2] != "rebuild"]
    assert rebuilt == original


# The same dispatch in-process (`main(argv)` is what `python -m pipelines` runs), to keep the suite fast.

def test_registry_with_errors_exits_1_and_writes_nothing(tmp_path, capsys):
    db = tmp_path / "cli.duckdb"
    assert main(["registry", str(registry_workbook(tmp_path / "r.xlsx", ["JX01-T01"])), "--db", str(db)]) == 0
    before = snapshot(db), dbm.data_version(db)
    dup = registry_workbook(tmp_path / "dup.xlsx", ["JX01-T01", "JX01-T01"])
    capsys.readouterr()
    assert main(["registry", str(dup), "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert "未导入" in out and "A3" in out
    assert (snapshot(db), dbm.data_version(db)) == before

    # A branch missing from the registry is rejected: exit 1, its problem in the report.
    unknown = branch_workbook(tmp_path / "unknown.xlsx", "ZZ99-T01")
    assert main(["ingest", str(unknown), "--db", str(db), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["files"][0]["problems"][0]["code"] == "branch_code_unknown"


def test_rebuild_without_archive_says_so(tmp_path, capsys):
    assert main(["rebuild", "--db", str(tmp_path / "none.duckdb")]) == 1
    assert "找不到归档清单" in capsys.readouterr().err


def test_empty_folder_is_not_success(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["ingest", str(tmp_path / "empty"), "--db", str(tmp_path / "x.duckdb")]) == 1
    assert "没有找到任何 .xlsx 文件" in capsys.readouterr().err


def test_default_db_comes_from_settings(tmp_path, capsys):
    """Without --db the CLI uses settings().db_path (DJ_DB_PATH, set per test by conftest)."""
    folder = tmp_path / "in"
    branch_workbook(folder / "a.xlsx", "JX01-T01")
    shutil.copy(folder / "a.xlsx", folder / "copy.xlsx")
    assert main(["ingest", str(folder), "--json"]) == 0
    assert [f["status"] for f in json.loads(capsys.readouterr().out)["files"]] == ["accepted", "unchanged"]
    assert settings().db_path.exists()


def test_ingest_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
    from pipelines.store import archive as arc

    db = tmp_path / "cli.duckdb"
    assert main(["ingest", str(branch_workbook(tmp_path / "v1.xlsx", "JX01-T01")), "--db", str(db)]) == 0
    manifest = arc.manifest_path(arc.folder(db))
    state = (db.read_bytes(), dbm.data_version(db), manifest.read_text())
    v2 = branch_workbook(tmp_path / "v2.xlsx", "JX01-T01", variant=1)
    new = branch_workbook(tmp_path / "new.xlsx", "JX01-T02")
    out = run_cli("ingest", str(v2), str(new), "--db", str(db), "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "[将替换] v2.xlsx  支部 JX01-T01  2026Q1" in out.stdout and "[将新增] new.xlsx" in out.stdout
    assert "共 2 个文件：将新增 1，将替换 1，无变化 0，将退回 0。" in out.stdout and "未写入任何数据" in out.stdout
    as_json = json.loads(run_cli("ingest", str(v2), "--db", str(db), "--dry-run", "--json").stdout)
    assert as_json["dry_run"] is True and as_json["files"][0]["status"] == "replaced"
    assert (db.read_bytes(), dbm.data_version(db), manifest.read_text()) == state


def test_ingest_conflict_policy_is_chosen_on_the_command_line(tmp_path):
    db = tmp_path / "cli.duckdb"
    a = branch_workbook(tmp_path / "a.xlsx", "JX01-T01")
    b = branch_workbook(tmp_path / "b.xlsx", "JX01-T01", variant=1)
    refused = json.loads(run_cli("ingest", str(a), str(b), "--db", str(db), "--json", "--on-conflict", "refuse").stdout)
    assert [f["status"] for f in refused["files"]] == ["rejected", "rejected"]
    assert refused["files"][0]["problems"][-1]["code"] == "batch_conflict"
    kept = json.loads(run_cli("ingest", str(a), str(b), "--db", str(db), "--json").stdout)  # last_wins by default
    assert [(f["status"], f["version"]) for f in kept["files"]] == [("accepted", 1), ("replaced", 2)]
