"""Real branch and registry workbooks written by `pipelines.workbook.template`, and database snapshots, for the
ingest, CLI and concurrency tests."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from pipelines.store import db as dbm
from pipelines.guide import guide
from pipelines.workbook.model import BranchInfo, LedgerRow, RegistryEntry
from pipelines.guide.period import Period
from pipelines.workbook.template import write_registry_workbook, write_workbook

ROOT = Path(__file__).resolve().parent.parent
TABLES = ["submissions", "raw_info", "raw_ledger", "raw_counts", "raw_self_assessment", "raw_problems",
          "registry", "audit_log", "reviews"]
MEMBERS = 12


def code_of(i: int, branch_type: str = "teacher") -> str:
    return f"JX{i // 10 + 1:02d}-{'T' if branch_type == 'teacher' else 'S'}{i % 10 + 1:02d}"


def branch_workbook(path: Path, code: str = "JX01-T01", year: int = 2026, quarter: int = 1, *,
                    variant: int = 0, branch_type: str = "teacher",
                    raw_cells: dict[tuple[str, str], object] | None = None) -> Path:
    """A valid, fully filled workbook; `variant` changes a topic so the bytes (and SHA-256) differ."""
    g = guide()
    info = BranchInfo(code, f"{code} 党支部", "机械工程学院", branch_type, year, quarter, MEMBERS, "张书记", "李委员",
                      dt.date(year, Period(year, quarter).months[-1], 28))
    ledger = []
    for m in Period(year, quarter).months:
        ledger.append(LedgerRow(0, dt.date(year, m, 5), "committee_meeting", "", f"{m}月支委会 v{variant}", 5, 5,
                                None, "会议记录"))
        ledger.append(LedgerRow(0, dt.date(year, m, 12), "theme_day", "", f"{m}月主题党日", MEMBERS, MEMBERS - 1,
                                None, "照片、签到表"))
    ledger.append(LedgerRow(0, dt.date(year, Period(year, quarter).months[1], 20), "training", "", "集中学习", MEMBERS,
                            MEMBERS, 8.0, "签到表"))
    counts = {f.id: 0 for f in g.count_fields}
    counts.update(fee_due=MEMBERS, fee_paid=MEMBERS, members_reported=3, members_talked=4)
    answers = {it.id: ("done", "会议记录与照片") for it in g.items_for(branch_type)}
    return write_workbook(path, branch_type, info=info, ledger=ledger, counts=counts, self_assessment=answers,
                          raw_cells=raw_cells)


def registry_entries(codes: list[str]) -> list[RegistryEntry]:
    return [RegistryEntry(c, f"{c} 党支部", "机械工程学院", "teacher" if "-T" in c else "student", MEMBERS)
            for c in codes]


def registry_workbook(path: Path, codes: list[str]) -> Path:
    return write_registry_workbook(path, registry_entries(codes))


def snapshot(db: Path, *, ids: bool = True) -> dict[str, list[tuple]]:
    """Full contents of every table, sorted, so two databases can be compared exactly."""
    out = {}
    with dbm.connect(db) as con:
        for t in TABLES:
            cols = [r[0] for r in con.execute(f"DESCRIBE {t}").fetchall()]
            if not ids:
                cols = [c for c in cols if c not in ("submission_id", "load_id")]
            rows = con.execute(f"SELECT {', '.join(cols)} FROM {t}").fetchall()
            out[t] = sorted(rows, key=repr)
    return out


def run_cli(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """`python -m pipelines …` in a fresh process, with this test's settings in its environment."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "pipelines", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def confirm_every_answer(db) -> None:
    """A reviewer confirms every self-assessment as answered, so the scores are the hand-computed ones above
    (an unreviewed 完成 without ledger support counts as 基本完成: pipelines/store/review.py, docs/scoring.md 十一)."""
    from pipelines import scoring
    from pipelines.store import review

    for period in scoring.periods(db):
        for code in scoring.branch_scores(period, db)["branch_code"]:
            answers = scoring.scored_answers(period, code, db)
            decisions = {a.item_id: (a.status, "") for a in answers.itertuples() if isinstance(a.status, str)}
            review.decide_many(code, period, decisions, reviewer="审核员", db=db)
