"""One workbook's validation state (`SheetReader`): problems, what 支部信息 said (type, period, members), and
the 支部信息 sheet itself, checked against the registry and the file name. The table sheets are read by its
subclass `pipelines.workbook.table_sheets.WorkbookReader`."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from pipelines.workbook import normalise as nz
from pipelines.workbook.container import cell_at, cell_ref
from pipelines.config import settings
from pipelines.guide import Guide
from pipelines.workbook.model import BranchInfo, Problem, RegistryEntry
from pipelines.workbook.problems import make

REQUIRED_INFO = ("branch_code", "branch_name", "college", "branch_type", "year", "quarter", "members")
DATE_EXAMPLE = "2026-03-05"
# A period in a file name: 2026Q2, 2026-Q2, 2026年第2季度, 2026年第二季度 (after nz.key: no spaces, half-width).
_NAME_PERIOD = re.compile(r"(20\d{2})(?:[-_.]?[Qq]([1-4])|年?第?([1-4一二三四])季度)")
_CN_DIGITS = str.maketrans("一二三四", "1234")
_NAME_TOKENS = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)*")  # code-like tokens of an upper-cased file name


class SheetReader:
    """One workbook's validation state; each `read_*` method appends to `problems`."""

    def __init__(self, g: Guide, name: str, registry: dict[str, RegistryEntry] | None,
                 today: dt.date | None = None):
        self.g, self.name, self.registry = g, name, registry
        self.today = today or settings().upload_day or dt.date.today()  # no ledger date may lie after it
        self.problems: list[Problem] = []
        self.branch_type: str | None = None
        self.period: tuple[int, int] | None = None
        self.members: int | None = None
        self.info_sheet, self.info_cells = "", {}  # where 支部信息 put each field (for messages)
        self.outside: list[tuple[str, dt.date]] = []  # ledger dates outside the period: (cell, date)
        self.dated = 0  # ledger rows with a readable date
        self._by_name: dict[str, list[RegistryEntry]] | None = None  # registry by name key (built on demand)

    def add(self, code: str, sheet: str = "", cell: str = "", value: object = None, **fields) -> None:
        self.problems.append(make(code, file=self.name, sheet=sheet, cell=cell, value=value, **fields))

    def clean(self, sheet: str, rows: list[list]) -> None:
        """Remove the characters that may not be stored (nz.CONTROL) from every text cell of `rows`, in place,
        with one warning per cell naming it and what was removed."""
        for r, row in enumerate(rows, start=1):
            for col, value in enumerate(row):
                if isinstance(value, str) and nz.CONTROL.search(value):
                    cleaned, removed = nz.strip_controls(value)
                    row[col] = cleaned
                    self.add("control_chars_removed", sheet, cell_ref(r, col), cleaned, n=len(value) - len(cleaned),
                             removed="、".join(removed))

    def number(self, raw, sheet, cell, field, *, whole: bool) -> float | int | None:
        """Parse a non-negative number; record a problem and return None when it is not one."""
        try:
            n = nz.parse_int(raw) if whole else nz.parse_number(raw)
        except nz.NotInteger:
            self.add("number_not_integer", sheet, cell, raw, field=field, example="12")
            return None
        except nz.InvalidNumber:
            self.add("number_invalid", sheet, cell, raw, field=field, example="12")
            return None
        if n is not None and n < 0:
            self.add("negative_number", sheet, cell, raw, field=field)
            return None
        return n

    # ---- 支部信息
    def read_info(self, sheet: str, rows: list[list]) -> BranchInfo | None:
        g = self.g
        self.clean(sheet, rows)
        at = {}
        for r in range(1, len(rows) + 1):  # from row 1: a deleted header row must not hide the first field
            k = nz.key(cell_at(rows, r, 0))
            if k and k not in at:
                at[k] = r
        values: dict[str, object] = {}
        cells: dict[str, str] = {}
        for f in g.workbook.info_fields:
            r = at.get(nz.key(f.name))
            if r is None:
                if f.id in REQUIRED_INFO:
                    self.add("info_field_missing", sheet, "", None, field=f.name)
                continue
            raw, cell = cell_at(rows, r, 1), f"B{r}"
            cells[f.id] = cell
            if nz.is_blank(raw):
                if f.id in REQUIRED_INFO:
                    self.add("info_value_missing", sheet, cell, raw, field=f.name,
                             hint=f"（{f.hint}）" if f.hint else "")
                continue
            values[f.id] = self._info_value(f.id, f.name, raw, sheet, cell)
        self.branch_type = values.get("branch_type")
        self.members = values.get("members")
        if values.get("year") and values.get("quarter"):
            self.period = (values["year"], values["quarter"])
        self.info_sheet, self.info_cells = sheet, cells
        self._check_registry(values, cells, sheet)
        self._check_file_name(values, cells, sheet)
        if not (values.get("branch_code") and self.period):
            return None
        # Partial info (unknown type, bad member count) still names the branch and period in reports.
        return BranchInfo(
            branch_code=values["branch_code"], branch_name=values.get("branch_name") or "",
            college=values.get("college") or "", branch_type=self.branch_type or "",
            year=self.period[0], quarter=self.period[1], members=self.members or 0,
            secretary=values.get("secretary") or "", filled_by=values.get("filled_by") or "",
            filled_on=values.get("filled_on"),
        )

    def _info_value(self, fid: str, fname: str, raw: object, sheet: str, cell: str) -> object:
        g = self.g
        if fid == "branch_type":
            t = nz.branch_type(raw, g)
            if t is None:
                self.add("branch_type_unknown", sheet, cell, raw, options="、".join(x.name for x in g.branch_types))
            return t
        if fid == "year":
            try:
                return nz.parse_year(raw)
            except nz.InvalidNumber:
                self.add("year_invalid", sheet, cell, raw, example=dt.date.today().year)
                return None
        if fid == "quarter":
            try:
                return nz.parse_quarter(raw)
            except nz.InvalidNumber:
                self.add("quarter_invalid", sheet, cell, raw)
                return None
        if fid == "members":
            n = self.number(raw, sheet, cell, fname, whole=True)
            if n is not None and not 1 <= n <= g.limits.max_members:
                self.add("members_absurd", sheet, cell, raw, max=g.limits.max_members)
                return None
            return n
        if fid == "filled_on":
            try:
                return nz.parse_date(raw)
            except nz.InvalidDate:
                self.add("date_invalid_optional", sheet, cell, raw, example=DATE_EXAMPLE)
                return None
        if fid == "branch_code":  # no spaces, half-width, upper case, plain dashes (see nz.code)
            return nz.code(raw)
        return nz.text(raw)

    def _check_registry(self, values: dict, cells: dict, sheet: str) -> None:
        """The registry's code decides the branch: a name or college that differs is a warning and the
        registry's is used (written back into `values`); another branch's exact name under this code (a copied
        file) and a different branch type (the other type's template) are errors."""
        code = values.get("branch_code")
        if self.registry is None or not code:
            return
        entry = self.registry.get(code)
        got = values.get("branch_name")
        if entry is None:
            other = self._named(got, code)
            if other:
                self.add("branch_code_unknown_name_known", sheet, cells["branch_code"], code,
                         name=other.branch_name, expected=other.branch_code)
            else:
                self.add("branch_code_unknown", sheet, cells["branch_code"], code)
            return
        if got and nz.key(got) != nz.key(entry.branch_name):
            other = self._named(got, code)  # only here and above: indexing a 1,000-branch registry costs more than a read
            code_ = "branch_name_of_other_branch" if other else "registry_name_differs"
            self.add(code_, sheet, cells.get("branch_name", ""), got, branch_code=code, expected=entry.branch_name,
                     other_code=other.branch_code if other else "")
        college = values.get("college")
        if college and nz.key(college) != nz.key(entry.college):
            self.add("registry_college_differs", sheet, cells.get("college", ""), college, branch_code=code,
                     expected=entry.college)
        values["branch_name"], values["college"] = entry.branch_name, entry.college
        self._check_members(values.get("members"), entry, sheet, cells.get("members", ""))
        got_type = values.get("branch_type")
        if got_type and entry.branch_type and got_type != entry.branch_type:
            self.add("registry_type_differs", sheet, cells.get("branch_type", ""), self._type_name(got_type),
                     expected=self._type_name(entry.branch_type))

    def _check_members(self, members: int | None, entry: RegistryEntry, sheet: str, cell: str) -> None:
        """党员数 beyond the guide's tolerance (limits.members_tolerance, a share of the registry's number) from
        the registry's: a warning naming both; the workbook's number is the one scored."""
        if not members or not entry.members:
            return
        allowed = max(1.0, self.g.limits.members_tolerance * entry.members)
        if abs(members - entry.members) > allowed:
            self.add("registry_members_differ", sheet, cell, members, branch_code=entry.branch_code,
                     expected=entry.members, tolerance=f"{self.g.limits.members_tolerance:.0%}")

    def _named(self, name: object, code: str) -> RegistryEntry | None:
        """The registered branch, other than `code`, whose name is exactly `name` (after nz.key), if any."""
        if nz.is_blank(name) or not self.registry:
            return None
        if self._by_name is None:
            self._by_name = {}
            for e in self.registry.values():
                self._by_name.setdefault(nz.key(e.branch_name), []).append(e)
        return next((e for e in self._by_name.get(nz.key(name), []) if e.branch_code != code), None)

    def _type_name(self, type_id: str) -> str:
        return next((t.name for t in self.g.branch_types if t.id == type_id), type_id)

    def _check_file_name(self, values: dict, cells: dict, sheet: str) -> None:
        """A period or a registered branch code in the file name must agree with 支部信息 (a file copied from
        another quarter or branch and only half edited would otherwise replace the wrong data)."""
        stem = Path(self.name).stem
        m = _NAME_PERIOD.search(nz.key(stem))
        if m and self.period:
            named = (int(m.group(1)), int(m.group(2) or m.group(3).translate(_CN_DIGITS)))
            if named != self.period:
                self.add("file_name_period_mismatch", sheet, cells.get("quarter", ""), self.period[1],
                         name_year=named[0], name_quarter=named[1], year=self.period[0], quarter=self.period[1])
        code = values.get("branch_code")
        if self.registry and code:
            tokens = _NAME_TOKENS.findall(nz.code(stem))
            named = [t for t in tokens if t in self.registry and t != code]
            if named and code not in tokens:
                self.add("file_name_branch_mismatch", sheet, cells.get("branch_code", ""), code, name_code=named[0])
