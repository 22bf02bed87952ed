"""The demo school: deterministic, realistic, accepted by the real reader, and built into a real DuckDB file."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import threading
from pathlib import Path

import duckdb
from openpyxl import load_workbook

from pipelines.demo import build, work
from pipelines.config import settings
from pipelines.demo.school import PROFILES
from pipelines.guide import guide
from pipelines.guide.period import Period
from pipelines.workbook.reader import read_registry, read_workbook

TODAY = dt.date(2026, 11, 27)


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.xlsx"))}


def _cells(path: Path) -> list[tuple]:
    wb = load_workbook(path)
    return [(ws.title, c.coordinate, c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row
            if c.value is not None]


def _registry(folder: Path) -> dict:
    entries, problems = read_registry(folder / build.REGISTRY_FILE)
    assert not problems
    return {e.branch_code: e for e in entries}


# ---- determinism ------------------------------------------------------------------------------------------
def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path):
    a = build.generate(tmp_path / "a", seed=11, branches=6, quarters=2, today=TODAY)
    b = build.generate(tmp_path / "b", seed=11, branches=6, quarters=2, today=TODAY)
    c = build.generate(tmp_path / "c", seed=12, branches=6, quarters=2, today=TODAY)
    ha, hb = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert ha == hb and len(ha) == len(a.files) + 1  # byte-identical, registry included
    assert a.files == b.files and a.missing == b.missing
    first = a.files[0]
    assert _cells(tmp_path / "a" / first) == _cells(tmp_path / "b" / first)
    # Same school (names and codes depend on size only), different data.
    shared = sorted(set(a.files) & set(c.files))
    assert shared
    assert any(_cells(tmp_path / "a" / f) != _cells(tmp_path / "c" / f) for f in shared)


def test_seed_defaults_to_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("DJ_DEMO_SEED", "99")
    settings.cache_clear()
    s = build.generate(tmp_path / "d", branches=2, quarters=1, today=TODAY)
    assert s.seed == 99


# ---- periods ------------------------------------------------------------------------------------------------
def test_quarters_end_with_latest_completed_quarter(tmp_path):
    s = build.generate(tmp_path, seed=3, branches=5, quarters=6, today=TODAY)
    assert s.periods == ["2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2", "2026Q3"]
    folders = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert folders == s.periods
    for f in s.files:
        period, name = f.split("/")
        assert re.fullmatch(r"\d{4}Q[1-4]_[A-Z]{2}-[TS]\d{2}_.+党支部\.xlsx", name), name
        assert name.startswith(period + "_")
    # Every branch submitted every quarter except the few missing the latest one.
    assert len(s.files) == s.branches * 6 - len(s.missing)


def test_fixture_school_has_requested_size(demo_files):
    s = build.read_summary(demo_files)
    assert s.branches == 24 and len(s.periods) == 6
    assert s.periods[-1] == str(Period.latest_completed(dt.date.today()))
    assert len(_registry(demo_files)) == 24


def test_default_school_shape():
    """80 branches: ~12 colleges, both types (40/60), realistic members, a clear code scheme, all five profiles."""
    school = build.plan_school(80, seed=2026, latest_year=2026)
    assert len(school) == 80
    assert len({b.college for b in school}) == 12
    teachers = [b for b in school if b.branch_type == "teacher"]
    students = [b for b in school if b.branch_type == "student"]
    assert (len(teachers), len(students)) == (32, 48)
    assert all(8 <= b.members <= 30 for b in teachers)
    assert all(10 <= b.members <= 60 for b in students)
    assert len({b.code for b in school}) == 80 and len({b.name for b in school}) == 80
    assert all(re.fullmatch(r"[A-Z]{2}-T\d{2}", b.code) for b in teachers)
    assert all(re.fullmatch(r"[A-Z]{2}-S\d{2}", b.code) for b in students)
    assert {"机械工程学院党委", "信息工程学院党委", "马克思主义学院党总支"} <= {b.college for b in school}
    assert any(b.name == "计算机科学2023级本科生党支部" for b in school)
    assert any(b.name == "机械工程学院教工第一党支部" for b in school)
    assert {b.profile for b in school} == {p.name for p in PROFILES}


# ---- content ------------------------------------------------------------------------------------------------
def test_a_few_branches_missing_the_latest_quarter(demo_files):
    s = build.read_summary(demo_files)
    latest = s.periods[-1]
    assert 2 <= len(s.missing) <= 4
    registry = _registry(demo_files)
    for code, period in s.missing:
        assert period == latest and code in registry  # in the registry, so the dashboard can say who is missing
        assert not list((demo_files / latest).glob(f"{latest}_{code}_*.xlsx"))
        assert list((demo_files / s.periods[-2]).glob(f"*_{code}_*.xlsx"))  # they did submit before


def test_every_file_is_accepted_and_a_few_carry_warnings(demo_files):
    s = build.read_summary(demo_files)
    registry = _registry(demo_files)
    with_warnings = []
    # the registry holds today's 党员数: earlier quarters (before members joined or graduated) may differ
    # beyond the tolerance, a warning naming both numbers; the latest quarter agrees with it
    drift = "registry_members_differ"
    for f in build.demo_files(demo_files):
        parsed = read_workbook(f, registry=registry)
        assert parsed.valid, (f.name, [p.message for p in parsed.errors])
        found = {p.code for p in parsed.warnings}
        assert drift not in found or f.parent.name != s.periods[-1], f.name
        if found - {drift}:
            with_warnings.append(f.relative_to(demo_files).as_posix())
            assert found - {drift} == {"sa_no_evidence"}
    assert sorted(with_warnings) == s.warning_files
    assert 2 <= len(with_warnings) <= 0.1 * len(s.files)


def test_messy_but_valid_entries_are_normalised(demo_files):
    """Synonyms (支委会, 党日活动 …) and dates typed as text are read back as the guide's types and real dates."""
    g = guide()
    names = {a.id: a.name for a in g.activity_types}
    synonyms = text_dates = 0
    date_col = [c.id for c in g.workbook.ledger_columns].index("date") + 1
    for f in build.demo_files(demo_files)[:60]:
        parsed = read_workbook(f)
        synonyms += sum(r.activity_raw != names[r.activity_type] for r in parsed.ledger)
        ws = load_workbook(f, read_only=True)[g.workbook.sheets.ledger]
        text_dates += sum(isinstance(row[0], str) for row in ws.iter_rows(min_row=2, min_col=date_col,
                                                                         max_col=date_col, values_only=True))
    assert synonyms > 0 and text_dates > 0


def test_profiles_shape_the_ledger(demo_db_master, demo_files):
    """Exemplary branches hold every monthly meeting and reach 32 h/member/year; lagging ones skip and fall short."""
    s = build.read_summary(demo_files)
    g = guide()
    monthly = {m.activity for it in g.items for m in it.measures if m.kind == "monthly"}
    hours = next(m for it in g.items for m in it.measures if m.kind == "hours")
    with duckdb.connect(str(demo_db_master), read_only=True) as con:
        months = con.execute(f"""
            SELECT branch_code, period, activity_type, count(DISTINCT month) AS n FROM stg_ledger
            WHERE activity_type IN ({', '.join('?' * len(monthly))}) GROUP BY ALL""", list(monthly)).df()
        per_member = con.execute("""
            SELECT l.branch_code, l.year, sum(l.hours * l.attended) / any_value(s.members) AS h,
                   count(DISTINCT l.quarter) AS quarters
            FROM stg_ledger l JOIN stg_submissions s USING (submission_id)
            WHERE l.activity_type = ? GROUP BY ALL""", [hours.activity]).df()
    months["profile"] = months.branch_code.map(s.profiles)
    exemplary = months[months.profile == "exemplary"]
    assert not exemplary.empty and (exemplary.n == 3).all()
    lagging = months[months.profile == "lagging"]
    assert (lagging.n < 3).any()
    per_member["profile"] = per_member.branch_code.map(s.profiles)
    per_member["yearly"] = per_member.h * 4 / per_member.quarters  # years in the window may be partial
    assert (per_member[per_member.profile == "exemplary"].yearly >= hours.required).all()
    assert (per_member[per_member.profile == "lagging"].yearly < hours.required).all()


def test_profiles_show_in_the_scores(demo_db_master, demo_files):
    """Scored by the real marts: exemplary > average > lagging; improving rises, declining falls."""
    from pipelines import scoring

    s = build.read_summary(demo_files)
    first, last = s.periods[0], s.periods[-1]
    mean = {}
    for period in (first, last):
        df = scoring.branch_scores(period, db=demo_db_master)
        df["profile"] = df.branch_code.map(s.profiles)
        mean[period] = df.groupby("profile").overall.mean()
    assert mean[last]["exemplary"] > mean[last]["average"] > mean[last]["lagging"]
    assert mean[last]["improving"] > mean[first]["improving"] + 10
    assert mean[last]["declining"] < mean[first]["declining"] - 10


def test_student_branches_do_less_in_the_breaks(demo_db_master):
    with duckdb.connect(str(demo_db_master), read_only=True) as con:
        rates = dict(con.execute("""
            SELECT s.branch_type || (l.month IN (1, 2, 7, 8))::INT,
                   count(*) / count(DISTINCT l.branch_code || l.period || l.month)
            FROM stg_ledger l JOIN stg_submissions s USING (submission_id) GROUP BY ALL""").fetchall())
    assert rates["student1"] < 0.7 * rates["student0"]  # winter and summer breaks
    assert rates["teacher1"] > 0.8 * rates["teacher0"]


def test_cumulative_counts_grow_through_the_year_and_reset_in_january(demo_files):
    g = guide()
    coverage = [m.count for it in g.items for m in it.measures if m.kind == "annual_coverage"]
    s = build.read_summary(demo_files)
    by_branch: dict[str, list] = {}
    for f in build.demo_files(demo_files):
        parsed = read_workbook(f)
        counts = {c.field: c.value for c in parsed.counts}
        by_branch.setdefault(parsed.info.branch_code, []).append((parsed.info.year, parsed.info.quarter, counts))
    resets = 0
    for rows in by_branch.values():
        for (y0, q0, c0), (y1, q1, c1) in zip(rows, rows[1:]):
            for fid in coverage:
                if y1 == y0:
                    assert c1[fid] >= c0[fid]
                elif c1[fid] < c0[fid]:
                    resets += 1
    assert resets > 0
    assert s.profiles


# ---- database -----------------------------------------------------------------------------------------------
def test_build_db_matches_the_files(demo_db_master, demo_files):
    s = build.read_summary(demo_files)
    with duckdb.connect(str(demo_db_master), read_only=True) as con:
        subs = con.execute("SELECT count(*), count(DISTINCT uploaded_by), any_value(uploaded_by) FROM submissions "
                           "WHERE status = 'current'").fetchone()
        registry = con.execute("SELECT count(*) FROM registry").fetchone()[0]
        periods = [r[0] for r in con.execute("SELECT DISTINCT period FROM submissions ORDER BY 1").fetchall()]
        warned = con.execute("SELECT count(DISTINCT submission_id) FROM raw_problems "
                             "WHERE code <> 'registry_members_differ'").fetchone()[0]  # see the test above
    assert subs == (len(s.files), 1, build.ACTOR)
    assert registry == s.branches
    assert periods == s.periods
    assert warned == len(s.warning_files)
    # originals archived in the database's own archive, so rebuild works
    assert (demo_db_master.parent / f"{demo_db_master.name}.archive" / "manifest.jsonl").is_file()


def test_ensure_demo_db_builds_once(tmp_path):
    demo_dir = settings().demo_dir
    build.generate(demo_dir, seed=5, branches=4, quarters=2, today=TODAY)
    db = settings().db_path
    assert not db.exists()
    steps: list[tuple[float, str]] = []
    assert build.ensure_demo_db(progress=lambda f, text: steps.append((f, text))) is True
    assert db.exists()
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and all(t for _, t in steps)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == len(build.read_summary(demo_dir).files)
    assert build.ensure_demo_db() is False


def test_ensure_demo_db_generates_when_the_folder_is_empty(tmp_path, monkeypatch):
    # The default school is 80 branches; a smaller one keeps this test fast and exercises the same path.
    monkeypatch.setenv("DJ_DEMO_BRANCHES", "3")
    monkeypatch.setenv("DJ_DEMO_QUARTERS", "1")
    settings.cache_clear()
    db = tmp_path / "fresh" / "demo.duckdb"
    assert build.ensure_demo_db(db) is True
    assert build.read_summary(settings().demo_dir) is not None
    assert build.ensure_demo_db(db) is False


def test_two_sessions_at_once_build_one_database(tmp_path):
    build.generate(settings().demo_dir, seed=6, branches=3, quarters=2, today=TODAY)
    db = tmp_path / "shared" / "demo.duckdb"
    results: list[bool] = []
    errors: list[BaseException] = []

    def session():
        try:
            results.append(build.ensure_demo_db(db))
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=session) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert sorted(results) == [False, True]
    with duckdb.connect(str(db), read_only=True) as con:
        # Each file ingested exactly once.
        assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == \
            len(build.read_summary(settings().demo_dir).files)


def test_cli_demo_prints_a_chinese_summary(tmp_path, capsys):
    from pipelines.cli import main

    out = tmp_path / "cli"
    assert main(["demo", "--out", str(out), "--seed", "4", "--branches", "4", "--quarters", "2"]) == 0
    text = capsys.readouterr().out
    assert "已生成演示学校" in text and "4 个支部" in text and "2 个季度" in text
    assert (out / build.REGISTRY_FILE).exists()
    assert build.read_summary(out).seed == 4


def test_regeneration_replaces_its_own_files_only(tmp_path):
    first = build.generate(tmp_path, seed=1, branches=4, quarters=2, today=TODAY)
    mine = tmp_path / "2026Q3" / "别人的文件.xlsx"
    shutil.copy(tmp_path / first.files[0], mine)
    second = build.generate(tmp_path, seed=1, branches=3, quarters=2, today=TODAY)
    gone = set(first.files) - set(second.files)
    assert gone and not any((tmp_path / f).exists() for f in gone)  # the earlier run's extra branch
    assert mine.exists()  # a file the generator did not write is left alone …
    assert build.demo_files(tmp_path) == [tmp_path / f for f in second.files]  # … and not ingested


def test_demo_has_follow_ups_resolved_and_not_in_the_latest_quarter(demo_db_master):
    from pipelines import scoring
    from pipelines.store import followup
    from pipelines.demo.work import DEMO_FOLLOWUPS

    periods = scoring.periods(demo_db_master)
    df = followup.followups(demo_db_master)
    assert set(df["period"]) == {periods[-2]} and set(df["checked_period"]) == {periods[-1]}
    assert sorted(df["status"]) == ["已整改"] * DEMO_FOLLOWUPS + ["未整改"] * DEMO_FOLLOWUPS


def test_part_of_the_latest_quarter_is_reviewed(demo_db_master):
    """The demo reviewer got to some branches of the latest quarter: reviewed, sent back and 待审核 all show,
    and 核实率 differs between reviewed and unreviewed branches."""
    from pipelines.store import db as dbm
    from pipelines import scoring
    from pipelines.store import review

    period = scoring.latest_period(demo_db_master)
    with dbm.connect(demo_db_master) as con:
        rows = con.execute("SELECT branch_code, period, decision, reviewer FROM reviews").fetchall()
        audited = con.execute("SELECT count(*) FROM audit_log WHERE action = 'review'").fetchone()[0]
    assert rows and audited == len(rows) and {r[1] for r in rows} == {period}
    assert {r[3] for r in rows} == {work.REVIEWER}
    reviewed = {r[0] for r in rows}
    bs = scoring.branch_scores(period, demo_db_master).set_index("branch_code")
    assert 0 < len(reviewed) < len(bs)
    assert bs.loc[sorted(reviewed), "verified"].min() > bs.drop(index=sorted(reviewed))["verified"].max()
    items = scoring.item_scores(period, demo_db_master)
    assert items["review_decision"].notna().any() and items["review_decision"].isna().any()
    assert {review.SENT_BACK, "mostly"} <= {r[2] for r in rows}  # the 审核 page has sent-back items to show
