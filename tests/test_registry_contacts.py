"""The registry's optional contact columns (书记姓名, 联系电话): template, reading, validation, storage, and an
existing database gaining the columns."""
from __future__ import annotations

import duckdb
import pytest
import yaml
from openpyxl import load_workbook
from pathlib import Path

from pipelines.store import db as dbmod
from pipelines.guide import GuideError, load_guide
from pipelines.store.registry import load_registry
from pipelines.workbook.model import RegistryEntry
from pipelines.workbook.reader import read_registry
from pipelines.workbook.template import REGISTRY_SHEET, write_registry_workbook

ROOT = Path(__file__).resolve().parent.parent
ENTRIES = [RegistryEntry("JX01-T01", "教工一支部", "机械工程学院", "teacher", 25, "王芳", "0571-8888 8888"),
           RegistryEntry("JX01-T02", "教工二支部", "机械工程学院", "teacher", 20, "李强", "+86 13800000000"),
           RegistryEntry("JX01-S01", "学生一支部", "机械工程学院", "student", 30)]


def rows(db, order: str = "") -> list[list]:
    with dbmod.connect(db) as con:
        return [list(r) for r in con.execute(f"SELECT branch_code, secretary_name, phone FROM registry {order}").fetchall()]


def test_contacts_round_trip_through_the_workbook(tmp_path):
    entries, problems = read_registry(write_registry_workbook(tmp_path / "名册.xlsx", ENTRIES))
    assert not problems
    assert [(e.secretary_name, e.phone) for e in entries] == [("王芳", "0571-8888 8888"),
                                                              ("李强", "+86 13800000000"), (None, None)]


def test_an_odd_phone_is_a_warning_naming_its_cell(tmp_path):
    odd = [RegistryEntry("JX01-T01", "教工一支部", "机械工程学院", "teacher", 25, "王芳", "0571-8888 转 12")]
    entries, problems = read_registry(write_registry_workbook(tmp_path / "名册.xlsx", odd))
    assert len(entries) == 1 and entries[0].phone == "0571-8888 转 12"  # read anyway
    assert [(p.code, p.severity, p.sheet, p.cell) for p in problems] == [
        ("registry_phone_format", "warning", REGISTRY_SHEET, "G2")]
    assert "联系电话“0571-8888 转 12”" in problems[0].message and "0571-88888888" in problems[0].message


def test_a_phone_typed_as_a_number_reads_as_digits(tmp_path):
    path = write_registry_workbook(tmp_path / "名册.xlsx", ENTRIES[:1])
    wb = load_workbook(path)
    wb[REGISTRY_SHEET]["G2"] = 13800000000
    wb.save(path)
    entries, problems = read_registry(path)
    assert entries[0].phone == "13800000000" and not problems


def test_a_registry_without_the_optional_columns_still_reads(tmp_path):
    path = write_registry_workbook(tmp_path / "旧名册.xlsx", ENTRIES)
    wb = load_workbook(path)
    wb[REGISTRY_SHEET].delete_cols(6, 2)
    wb.save(path)
    entries, problems = read_registry(path)
    assert not problems and len(entries) == 3
    assert all(e.secretary_name is None and e.phone is None for e in entries)


def test_contacts_are_stored(tmp_path):
    db = tmp_path / "r.duckdb"
    written, _ = load_registry(write_registry_workbook(tmp_path / "名册.xlsx", ENTRIES), db, actor="test")
    assert written == 3
    assert rows(db, "ORDER BY branch_code") == [["JX01-S01", None, None], ["JX01-T01", "王芳", "0571-8888 8888"],
                                    ["JX01-T02", "李强", "+86 13800000000"]]


def test_a_database_made_before_the_columns_gains_them_on_its_next_write(tmp_path):
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))  # the registry table as it was, with an older schema fingerprint
    con.execute("CREATE TABLE registry (branch_code VARCHAR PRIMARY KEY, branch_name VARCHAR NOT NULL, "
                "college VARCHAR NOT NULL, branch_type VARCHAR NOT NULL, members INTEGER NOT NULL, "
                "updated_at TIMESTAMP NOT NULL)")
    con.execute("INSERT INTO registry VALUES ('OLD-1', '老支部', '老学院', 'teacher', 9, now())")
    con.execute("CREATE TABLE schema_meta AS SELECT 'older' AS fingerprint")
    con.close()
    written, _ = load_registry(write_registry_workbook(tmp_path / "名册.xlsx", ENTRIES[:1]), db, actor="test")
    assert written == 1
    assert rows(db) == [["JX01-T01", "王芳", "0571-8888 8888"]]


def test_an_unknown_optional_column_names_its_yaml_path(tmp_path):
    raw = yaml.safe_load((ROOT / "indicator_guide.yaml").read_text(encoding="utf-8"))
    raw["workbook"]["registry_optional_columns"].append({"id": "email", "name": "邮箱"})
    path = tmp_path / "guide.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(GuideError, match=r"registry_optional_columns\.2\.id.*email"):
        load_guide(path)
