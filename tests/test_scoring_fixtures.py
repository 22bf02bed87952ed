"""Builders for scoring tests: ParsedWorkbook objects made in code, written through writes.save_parsed."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
from pathlib import Path

from pipelines.store import db as dbmod, writes
from pipelines.guide import guide
from pipelines.workbook.model import BranchInfo, CountValue, LedgerRow, ParsedWorkbook, SelfAssessmentRow

_counter = itertools.count(1)


def ledger(*rows: tuple) -> list[LedgerRow]:
    """Ledger rows from (date 'YYYY-MM-DD', activity id[, hours, attended]) tuples; rows numbered from 2."""
    out = []
    for k, r in enumerate(rows):
        date, activity = r[0], r[1]
        hours = r[2] if len(r) > 2 else None
        attended = r[3] if len(r) > 3 else 10
        out.append(LedgerRow(row=k + 2, date=dt.date.fromisoformat(date), activity_type=activity,
                             activity_raw=guide().activity_name(activity), topic=f"主题{k}",
                             expected=attended, attended=attended, hours=hours, evidence="会议记录"))
    return out


def workbook(code: str, year: int, quarter: int, *, branch_type: str = "teacher", members: int = 10,
             college: str = "机械学院", name: str | None = None, rows: list[LedgerRow] = (),
             counts: dict[str, float | None] | None = None,
             self_status: dict[str, tuple[str | None, str]] | None = None,
             default_status: tuple[str | None, str] = ("done", "有佐证")) -> ParsedWorkbook:
    """A valid parsed workbook. Self-assessment: one row per item applying to the type, `default_status`
    unless `self_status` says otherwise (item_id -> (status id or None, evidence))."""
    g = guide()
    info = BranchInfo(branch_code=code, branch_name=name or f"{code}支部", college=college,
                      branch_type=branch_type, year=year, quarter=quarter, members=members)
    counts = counts if counts is not None else {"fee_due": members, "fee_paid": members}
    cv = [CountValue(row=k + 2, field=f, value=v) for k, (f, v) in enumerate(counts.items())]
    sa = []
    for k, it in enumerate(g.items_for(branch_type)):
        if not it.self_assessed:
            continue
        st, ev = (self_status or {}).get(it.id, default_status)
        sa.append(SelfAssessmentRow(row=k + 2, item_id=it.id, status=st, evidence=ev))
    n = next(_counter)
    return ParsedWorkbook(file_name=f"{code}_{year}Q{quarter}_{n}.xlsx",
                          sha256=hashlib.sha256(f"{code}{year}{quarter}{n}".encode()).hexdigest(),
                          info=info, ledger=list(rows), counts=cv, self_assessment=sa)


def save(db: Path, *books: ParsedWorkbook, at: dt.datetime | None = None) -> list[tuple[str, int]]:
    """Write workbooks through the real write path."""
    with dbmod.connect(db, write=True) as con:
        return [writes.save_parsed(con, b, actor="test", uploaded_at=at) for b in books]


def full_year_rows(year: int, quarter: int) -> list[LedgerRow]:
    """A ledger meeting every ledger-based measure of the quarter."""
    from pipelines.guide.period import Period

    rows = []
    for m in Period(year, quarter).months:
        rows += [(f"{year}-{m:02d}-05", "committee_meeting"), (f"{year}-{m:02d}-10", "theme_day")]
    rows.append((f"{year}-{Period(year, quarter).months[0]:02d}-20", "general_meeting"))
    return ledger(*rows)


def evidence_rows(year: int, quarter: int, first_row: int = 100) -> list[LedgerRow]:
    """Ledger rows that support every evidence-linked self-assessed item of the quarter (docs/scoring.md
    佐证关联), using only activity types no measure counts, so the ledger-based measures do not move."""
    from pipelines.guide.period import Period

    g = guide()
    measured = {m.activity for it in g.items for m in it.measures if m.activity}
    month = Period(year, quarter).months[0]
    acts = sorted({next(a for a in it.evidence.activities if a not in measured)
                   for it in g.items if it.evidence and it.evidence.activities})
    rows = ledger(*[(f"{year}-{month:02d}-15", a) for a in acts])
    return [dataclasses.replace(r, row=first_row + k) for k, r in enumerate(rows)]


def evidence_counts() -> dict[str, float]:
    """Count values that support every count-linked self-assessed item (fields no measure reads)."""
    g = guide()
    read = {f for it in g.items for m in it.measures for f in (m.count, m.numerator, m.denominator) if f}
    return {next(c for c in it.evidence.counts if c not in read): 1
            for it in g.items if it.evidence and it.evidence.counts}
