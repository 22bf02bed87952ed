"""The table sheets of a branch workbook: 活动台账 (ledger), 统计数据 (counts) and 自评 (self-assessment),
read row by row on top of `SheetReader` (which has read 支部信息 first: type, period and members)."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable

from pipelines.workbook import normalise as nz
from pipelines.workbook.container import cell_at, cell_ref, header_columns
from pipelines.guide import Guide
from pipelines.workbook.model import CountValue, LedgerRow, SelfAssessmentRow
from pipelines.guide.period import Period
from pipelines.workbook.problems import show
from pipelines.workbook.sheet_reader import DATE_EXAMPLE, SheetReader
from pipelines.workbook.template_text import EXAMPLE_PREFIX, example_activity, example_row


class WorkbookReader(SheetReader):
    """`SheetReader` with the ledger, counts and self-assessment sheets."""

    # ---- 活动台账
    def read_ledger(self, sheet: str, rows: list[list]) -> list[LedgerRow]:
        g = self.g
        self.clean(sheet, rows)
        wanted = [(c.id, c.name) for c in g.workbook.ledger_columns]
        cols, problems = header_columns(rows, wanted, sheet, self.name)
        self.problems += problems
        if "date" not in cols or "activity_type" not in cols:
            return []
        names = {c.id: c.name for c in g.workbook.ledger_columns}
        # Notes typed beside the table (e.g. a 备注 column) do not make a row an activity.
        filled = [r for r in range(2, len(rows) + 1) if any(not nz.is_blank(cell_at(rows, r, i)) for i in cols.values())]
        filled = self._skip_examples(filled, rows, cols, sheet)
        if len(filled) > g.limits.max_ledger_rows:
            # exact: content past ledger_cap never gets here (`Opened.guard` counts those rows itself)
            self.add("too_many_rows", sheet, "", None, rows=len(filled), max=g.limits.max_ledger_rows)
            filled = filled[: g.limits.max_ledger_rows]
        example = example_activity(g)
        out: list[LedgerRow] = []
        seen: dict[tuple, int] = {}
        for r in filled:
            row = self._ledger_row(sheet, rows, cols, r, names, example)
            if row is None:
                continue
            dup = (row.date, row.activity_type, nz.key(row.topic))
            exact = (*dup, row.hours, row.expected, row.attended)
            if exact in seen:  # the same row pasted twice: counted once (the template's instructions say so)
                self.add("duplicate_row_exact", sheet, cell_ref(r, 0), None, first=seen[exact], row=r)
                continue
            seen[exact] = r
            if dup in seen:
                self.add("duplicate_row", sheet, cell_ref(r, 0), None, first=seen[dup])
            else:
                seen[dup] = r
            out.append(row)
        self._blame_the_period()
        if not filled:
            self.add("ledger_empty", sheet, "A2", None)
        return out

    def _ledger_row(self, sheet: str, rows: list[list], cols: dict[str, int], r: int, names: dict[str, str],
                    example: str) -> LedgerRow | None:
        """Ledger row `r` as an activity, or None (a note row, or a row with an error, recorded)."""
        g = self.g

        def raw(cid):
            return cell_at(rows, r, cols.get(cid))

        def ref(cid):
            return cell_ref(r, cols[cid]) if cid in cols else ""
        if _is_note_row(raw):  # 备注 / 合计 typed under the table: not an activity, say so and skip it
            self.add("ledger_note_row", sheet, ref("date"), raw("date"))
            return None
        ok = True
        date = self._ledger_date(raw("date"), sheet, ref("date"))
        ok &= date is not None
        act_raw = raw("activity_type")
        act = nz.activity_type(act_raw, g)
        if nz.is_blank(act_raw):
            self.add("activity_missing", sheet, ref("activity_type"), act_raw, example=example)
            ok = False
        elif act is None:
            self.add("activity_unknown", sheet, ref("activity_type"), act_raw, example=example)
            ok = False
        nums, nums_ok = self._ledger_numbers(raw, ref, sheet, names)
        if not (ok and nums_ok):
            return None
        if act in self._hours_activities():  # counted as 学时 × 实到人数: both are needed
            missing = [names.get(c, c) for c in ("hours", "attended") if nums[c] is None]
            if missing:
                self.add("training_incomplete", sheet, ref("hours" if nums["hours"] is None else "attended"),
                         None, activity=g.activity_name(act), missing="和".join(f"“{m}”" for m in missing),
                         items="、".join(self._hours_activities()[act]))
        return LedgerRow(row=r, date=date, activity_type=act, activity_raw=nz.text(act_raw), topic=nz.text(raw("topic")),
                         expected=nums["expected"], attended=nums["attended"], hours=nums["hours"],
                         evidence=nz.text(raw("evidence")))

    def _ledger_numbers(self, raw: Callable, ref: Callable, sheet: str, names: dict[str, str]
                        ) -> tuple[dict[str, float | int | None], bool]:
        """应到人数, 实到人数 and 学时 of one row, and whether they are all acceptable (problems recorded)."""
        g, ok = self.g, True
        nums = {}
        for cid in ("expected", "attended", "hours"):
            before = len(self.problems)
            nums[cid] = self.number(raw(cid), sheet, ref(cid), names.get(cid, cid), whole=cid != "hours")
            ok &= len(self.problems) == before
        for cid in ("expected", "attended"):
            if nums[cid] is not None and nums[cid] > g.limits.max_members:
                self.add("headcount_absurd", sheet, ref(cid), raw(cid), field=names.get(cid, cid),
                         max=g.limits.max_members)
                nums[cid], ok = None, False
        if nums["expected"] is not None and nums["attended"] is not None and nums["attended"] > nums["expected"]:
            self.add("attended_exceeds_expected", sheet, ref("attended"), raw("attended"),
                     expected=nums["expected"])
            ok = False
        if nums["hours"] is not None and nums["hours"] > g.limits.max_hours_per_day:
            self.add("hours_too_many", sheet, ref("hours"), raw("hours"), max=f"{g.limits.max_hours_per_day:g}")
            ok = False
        return nums, ok

    def _skip_examples(self, filled: list[int], rows: list[list], cols: dict[str, int], sheet: str) -> list[int]:
        """`filled` without example rows: a row whose 主题 begins with the template's marker (EXAMPLE_PREFIX, in
        any width) is no activity. The template's example row itself is skipped silently (its date is not
        compared: a template copied to another quarter keeps it); an edited one with a warning. A topic that
        only mentions 示例 further on is an ordinary row."""
        if "topic" not in cols:
            return filled
        marker, example = nz.key(EXAMPLE_PREFIX), example_row(self.g, 2000, 1)
        kept = []
        for r in filled:
            topic = cell_at(rows, r, cols["topic"])
            if not nz.key(topic).startswith(marker):
                kept.append(r)
            elif not all(_same(cell_at(rows, r, i), example.get(cid), cid) for cid, i in cols.items() if cid != "date"):
                self.add("ledger_example_row", sheet, cell_ref(r, cols["topic"]), topic, prefix=EXAMPLE_PREFIX)
        return kept

    def _ledger_date(self, raw: object, sheet: str, cell: str) -> dt.date | None:
        try:
            d = nz.parse_date(raw, year=self.period[0] if self.period else None)
        except nz.ImpossibleDate:
            self.add("date_impossible", sheet, cell, raw, example=DATE_EXAMPLE)
            return None
        except nz.InvalidDate:
            self.add("date_invalid", sheet, cell, raw, example=DATE_EXAMPLE)
            return None
        if d is None:
            self.add("date_missing", sheet, cell, raw, example=DATE_EXAMPLE)
            return None
        self.dated += 1
        if self.period:
            period = Period(*self.period)
            if Period.of(d) != period:
                self.add("date_outside_period", sheet, cell, d, year=period.year, quarter=period.quarter,
                         start=period.start, end=period.end)
                self.outside.append((cell, d))
                return None
        if d > self.today:  # an activity that has not happened yet (a quarter still in progress)
            self.add("date_in_future", sheet, cell, d, today=self.today)
            return None
        return d

    def _blame_the_period(self) -> None:
        """When (nearly) every ledger date lies in one other quarter, the 年度/季度 cells are the likely mistake
        (e.g. last quarter's file reused): one error there instead of one per date, which would invite the
        secretary to "fix" correct dates."""
        if not self.period or len(self.outside) < 3 or len(self.outside) < 0.8 * self.dated:
            return
        found, n = Counter(Period.of(d) for _, d in self.outside).most_common(1)[0]
        year, q = found.year, found.quarter
        if n < 0.8 * len(self.outside):
            return
        cells = {c for c, _ in self.outside}
        self.problems = [p for p in self.problems if not (p.code == "date_outside_period" and p.cell in cells)]
        field = "year" if year != self.period[0] else "quarter"
        self.add("period_contradicts_dates", self.info_sheet, self.info_cells.get(field, ""),
                 self.period[0] if field == "year" else self.period[1], n=n, year=year, quarter=q,
                 info_year=self.period[0], info_quarter=self.period[1], ledger=self.g.workbook.sheets.ledger)

    # ---- 统计数据
    def read_counts(self, sheet: str, rows: list[list]) -> list[CountValue]:
        g = self.g
        self.clean(sheet, rows)
        cols, problems = header_columns(rows, [(c.id, c.name) for c in g.workbook.counts_columns], sheet, self.name)
        self.problems += problems
        fcol, vcol = cols.get("field", 0), cols.get("value")
        if vcol is None:
            return []
        by_key = {nz.key(f.name): f for f in g.count_fields}
        out: dict[str, CountValue] = {}
        cells: dict[str, tuple[str, object]] = {}
        for r in range(2, len(rows) + 1):
            label, raw = cell_at(rows, r, fcol), cell_at(rows, r, vcol)
            if nz.is_blank(label):
                continue
            f = by_key.get(nz.key(label))
            if f is None:
                self.add("count_unknown_field", sheet, cell_ref(r, fcol), label)
                continue
            if f.id in out:
                continue
            cell = cell_ref(r, vcol)
            if nz.is_blank(raw) and f.id in self._scored_counts():
                self.add("count_blank", sheet, cell, raw, field=f.name, items="、".join(self._scored_counts()[f.id]))
            before = len(self.problems)
            value = self.number(raw, sheet, cell, f.name, whole=True)
            if value is not None and value > g.limits.max_members:
                self.add("headcount_absurd", sheet, cell, raw, field=f.name, max=g.limits.max_members)
            out[f.id] = CountValue(row=r, field=f.id, value=None if len(self.problems) > before else value)
            cells[f.id] = (cell, raw)
        for f in g.count_fields:
            if f.id not in out:
                self.add("count_row_missing", sheet, "", None, field=f.name)
        self._cross_check_counts(sheet, out, cells)
        return list(out.values())

    def _hours_activities(self) -> dict[str, list[str]]:
        """Activity id -> the items that count its hours (学时 × 实到人数), for this branch type."""
        return _uses(self.g, self.branch_type, lambda m: [m.activity] if m.kind == "hours" and m.activity else [])

    def _scored_counts(self) -> dict[str, list[str]]:
        """Count field id -> the items that score it, for this branch type (all types while it is unknown)."""
        return _uses(self.g, self.branch_type, lambda m: [f for f in (m.count, m.numerator, m.denominator) if f])

    def _cross_check_counts(self, sheet: str, out: dict[str, CountValue], cells: dict) -> None:
        g = self.g
        names = {f.id: f.name for f in g.count_fields}
        measures = [m for it in g.items for m in it.measures]

        def val(fid):
            return out[fid].value if fid in out else None
        coverage = dict.fromkeys(m.count for m in measures if m.kind == "annual_coverage")
        for fid in coverage:
            v = val(fid)
            if v is not None and self.members and v > self.members:
                cell, raw = cells[fid]
                self.add("count_exceeds_members", sheet, cell, raw, field=names[fid], members=self.members)
        pairs = dict.fromkeys((m.numerator, m.denominator) for m in measures if m.kind == "ratio")
        for num, den in pairs:
            a, b = val(num), val(den)
            if a is not None and b is not None and a > b:
                cell, raw = cells[num]
                self.add("count_ratio_exceeds", sheet, cell, raw, field=names[num], other=names[den], expected=show(b))

    # ---- 自评
    def read_self_assessment(self, sheet: str, rows: list[list]) -> list[SelfAssessmentRow]:
        g = self.g
        self.clean(sheet, rows)
        cols, problems = header_columns(rows, [(c.id, c.name) for c in g.workbook.self_assessment_columns], sheet,
                                        self.name)
        self.problems += problems
        if "item_id" not in cols or "status" not in cols:
            return []
        known = {it.id: it for it in g.items}
        options = "、".join(o.name for o in g.self_assessment)
        done = g.answer(g.full_answer)  # the full answer (完成) is the one that needs evidence
        fallback = next(o.name for o in g.self_assessment if o.id == g.self_assessment_without_evidence)
        type_name = g.branch_type_name(self.branch_type) if self.branch_type else "本支部类型"
        out: dict[str, SelfAssessmentRow] = {}
        present: set[str] = set()  # item ids with a row, even a faulty one: "missing" means no row at all
        for r in range(2, len(rows) + 1):
            raw_id = cell_at(rows, r, cols["item_id"])
            if nz.is_blank(raw_id):
                continue
            item_cell = cell_ref(r, cols["item_id"])
            iid = nz.item_id(raw_id)
            present.add(iid)
            if iid not in known:
                self.add("sa_item_unknown", sheet, item_cell, raw_id)
                continue
            if self.branch_type and not known[iid].applies(self.branch_type):
                self.add("sa_item_not_applicable", sheet, item_cell, iid, branch_type=type_name)
                continue
            if iid in out:
                self.add("sa_item_duplicate", sheet, item_cell, iid, first=out[iid].row)
                continue
            raw_status = cell_at(rows, r, cols["status"])
            status_cell = cell_ref(r, cols["status"])
            evidence = nz.text(cell_at(rows, r, cols.get("evidence")))
            status = nz.status(raw_status, g)
            if nz.is_blank(raw_status):
                self.add("sa_status_missing", sheet, status_cell, raw_status, options=options)
            elif status is None:
                self.add("sa_status_unknown", sheet, status_cell, raw_status, options=options)
                continue
            elif status == done.id and not evidence and g.item(iid).self_assessed:  # only where the answer counts
                ev_cell = cell_ref(r, cols["evidence"]) if "evidence" in cols else "“佐证材料”列"
                self.add("sa_no_evidence", sheet, status_cell, done.name, fallback=fallback, evidence_cell=ev_cell)
            out[iid] = SelfAssessmentRow(row=r, item_id=iid, status=status, evidence=evidence)
        if self.branch_type:
            for it in g.items_for(self.branch_type):
                if it.id not in present:
                    self.add("sa_item_missing", sheet, "", None, item=it.id, branch_type=type_name)
        return list(out.values())


_USES: dict[tuple, tuple[Guide, dict[str, list[str]]]] = {}  # the guide is kept, so its id is not reused


def _uses(g: Guide, branch_type: str | None, refs: Callable) -> dict[str, list[str]]:
    """{what a measure refers to: the items of this branch type (all while unknown) with such a measure},
    cached per guide, type and kind of reference (asked for on every ledger and count row)."""
    key = (id(g), branch_type, refs.__code__)
    hit = _USES.get(key)
    if hit is None or hit[0] is not g:
        items = g.items_for(branch_type) if branch_type else g.items
        out: dict[str, list[str]] = {}
        for it in items:
            for m in it.measures:
                for ref in refs(m):
                    if it.id not in out.setdefault(ref, []):
                        out[ref].append(it.id)
        if len(_USES) > 64:
            _USES.clear()
        hit = _USES[key] = (g, out)
    return hit[1]


def _same(raw: object, want: object, cid: str) -> bool:
    """A ledger cell holds the template example's value (numbers as numbers, text after nz.key)."""
    if cid in ("expected", "attended", "hours"):
        try:
            return nz.parse_number(raw) == want
        except nz.InvalidNumber:
            return False
    return nz.key(raw) == nz.key(want)


def _is_note_row(raw: Callable[[str], object]) -> bool:
    """A ledger row that is a note, not an activity: text in the date column that is no date, and neither an
    activity type nor any number. ('备注：…', '合计', '以上活动均有记录')"""
    first = raw("date")
    if nz.is_blank(first) or not isinstance(first, str):
        return False
    try:
        nz.parse_date(first)
        return False
    except (nz.InvalidDate, nz.ImpossibleDate):
        pass
    return all(nz.is_blank(raw(c)) for c in ("activity_type", "expected", "attended", "hours"))
