"""Read and validate a branch workbook (or the registry workbook) with calamine; never raise on bad input.

Order of checks, cheapest first, so a hostile file costs little:
1. size on disk / in memory (limits.max_file_mb) before reading a path;
2. magic bytes: OLE/CFB (D0 CF 11 E0) is either an encrypted xlsx (has an EncryptionInfo stream) or a legacy
   .xls; anything not a zip is not an xlsx;
3. the zip central directory, before any member is inflated: entry count, total declared uncompressed size
   (limits.max_uncompressed_mb) and compression ratio (zip bomb);
4. every member inflated in bounded chunks (constant memory) to verify that declared sizes and CRCs are true,
   so a bomb with lying headers is stopped at the limit too (the refusal names the sheet that inflates);
5. each sheet about to be read is scanned (`sheet_scan`) for content beyond the rows and columns the reader
   reads (`ledger_cap`, MAX_SHEET_ROWS, MAX_REGISTRY_ROWS, MAX_SHEET_COLUMNS): calamine builds a dense grid up
   to the farthest cell, so one stray cell at XFD1048576 would ask for half a terabyte. Such a sheet is not
   read: the problem names the far cell (or, for a ledger with too many rows, gives their real count).
Only then calamine parses a sheet. Product paths run all of this in a child process (`safe_read`).
Every finding is a `Problem` made by `problems.make`; row numbers are the Excel row numbers.

Decisions:
- Duplicate ledger rows (same date, activity type and topic) are a warning, not an error: two talks or two
  group meetings on one day are real; the secretary is asked to tell them apart in the topic. Both rows are kept.
- A ledger row with any error is left out of `ledger`; the file is rejected anyway, and the rows kept are exactly
  the ones that would be stored.
- Control characters (NUL, BEL, BS, ESC, DEL, C1 …; see normalise) are removed from every text cell of every
  sheet read, before any check, with one warning per cell; the file is not rejected for them.
- Blank rows (and notes typed outside the ledger columns) are skipped silently; a note typed in the date column
  of a row without activity type or numbers (备注、合计) is skipped with a warning.
- `info` is filled whenever branch code, year and quarter are readable, even if other fields have errors, so a
  rejected file still names its branch and period in reports; unreadable fields get "" / 0 there.
- Names forgiving, identity strict: the registry's code decides the branch. A branch name or college that
  differs from the registry's is a warning naming both, and the registry's is stored. A name that is exactly
  another registered branch's name under this code is an error (a file copied from another branch and only
  half edited would otherwise replace that branch's data), and so are a branch type other than the registry's
  (the other type's template) and a period or a registered code in the file name that disagrees with 支部信息.
  Branch codes are compared as nz.code spells them (upper case, plain dashes).
- A ledger row whose 主题 begins with the template's example marker (workbook.EXAMPLE_PREFIX) is the example
  row: never an activity, skipped silently when unchanged, with a warning when edited.
- Self-assessment: an item of the other branch type is a warning (ignored); a missing item row is an error (the
  template has every row; a deleted one would silently score as not done); 完成 without evidence is a warning.
- Counts: a blank count is None; it is a warning (naming the items it costs) only when an item of the branch's
  type scores it (推优 may stay blank for teacher branches). calamine reads error cells (#REF!) as blank, so
  the message mentions them. An empty ledger is a warning too. Coverage counts may not
  exceed 党员数 and a ratio's numerator may not exceed its denominator (both taken from the guide's measures).
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

from pipelines.workbook import normalise as nz
from pipelines.workbook.container import MAX_REGISTRY_ROWS, cell_at, cell_ref, header_columns, open_workbook, read_sheets
from pipelines.guide import REGISTRY_OPTIONAL_IDS, Guide, guide
from pipelines.workbook.model import ParsedWorkbook, Problem, RegistryEntry
from pipelines.workbook.table_sheets import WorkbookReader
from pipelines.workbook.template import REGISTRY_FIELDS, REGISTRY_SHEET

log = logging.getLogger(__name__)


def read_workbook(source: Path | bytes | str, file_name: str | None = None, *,
                  registry: dict[str, RegistryEntry] | None = None, today: dt.date | None = None) -> ParsedWorkbook:
    """Read and validate one branch workbook; never raises on bad input (every finding is a `Problem`).

    `source` is a path or the file's bytes; `file_name` (default: the path's name) is what problems name.
    With `registry` (branch code -> entry), the code decides the branch: an unknown code, another branch's
    name under this code or another branch type is an error, a different name or college a warning (the
    registry's is stored). `sha256` is that of the file's bytes, even for rejected files. `today` (default:
    settings().upload_day, else the real date) is the upload day: a later ledger date is an error.
    """
    g = guide()
    name, sha, opened, problems = open_workbook(source, file_name, g)
    parsed = ParsedWorkbook(file_name=name, sha256=sha, problems=problems)
    if opened is None:
        return parsed
    reader = WorkbookReader(g, name, registry, today)
    try:
        with opened.wb:
            s = g.workbook.sheets
            keys = {"info": s.info, "ledger": s.ledger, "counts": s.counts, "self_assessment": s.self_assessment}
            found, problems = read_sheets(opened, keys, name, g)
            reader.problems += problems
            if "info" in found:
                parsed.info = reader.read_info(*found["info"])
            if "ledger" in found:
                parsed.ledger = reader.read_ledger(*found["ledger"])
            if "counts" in found:
                parsed.counts = reader.read_counts(*found["counts"])
            if "self_assessment" in found:
                parsed.self_assessment = reader.read_self_assessment(*found["self_assessment"])
    except Exception as e:  # a reader bug or calamine failing mid-sheet must not take the upload page down
        log.exception("reading %s failed", name)
        reader.add("file_corrupt", detail=f"读取工作表时出错：{type(e).__name__}")
    parsed.problems += reader.problems
    return parsed


# ---- the registry workbook -----------------------------------------------------------------------
def read_registry(source: Path | bytes | str, file_name: str | None = None
                  ) -> tuple[list[RegistryEntry], list[Problem]]:
    """Read the registry workbook (支部名册): valid entries and the problems found; never raises.

    The sheet 支部名册 is used when present, else the first sheet; columns are found by header name.
    Rows with an error are left out of the entries.
    """
    g = guide()
    name, _, opened, problems = open_workbook(source, file_name, g)
    if opened is None:
        return [], problems
    reader = WorkbookReader(g, name, None)
    entries: list[RegistryEntry] = []
    wb = opened.wb
    try:
        with wb:
            wanted = next((n for n in wb.sheet_names if nz.key(n) == nz.key(REGISTRY_SHEET)), None)
            branch_sheets = {nz.key(g.workbook.sheets.info), nz.key(g.workbook.sheets.ledger)}
            if wanted is None and branch_sheets & {nz.key(n) for n in wb.sheet_names}:
                # a branch's quarterly workbook handed in as the registry: one clear message
                reader.add("submission_not_registry", g.workbook.sheets.info)
                return [], reader.problems
            sheet = wanted or (wb.sheet_names[0] if wb.sheet_names else REGISTRY_SHEET)
            if not wb.sheet_names:
                reader.add("sheet_missing", REGISTRY_SHEET, present="无")
                return [], reader.problems
            refused = opened.guard(sheet, MAX_REGISTRY_ROWS, name)
            if refused:
                return [], [*reader.problems, refused]
            rows = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False, nrows=MAX_REGISTRY_ROWS)
            fields = {f.id: f for f in g.workbook.info_fields}
            cols, problems = header_columns(rows, [(k, fields[k].name) for k in REGISTRY_FIELDS], sheet, name)
            reader.problems += problems
            if problems:
                return [], reader.problems
            cols |= _optional_columns(rows, g)
            entries = _registry_rows(reader, sheet, rows, cols, fields)
    except Exception as e:
        log.exception("reading registry %s failed", name)
        reader.add("file_corrupt", detail=f"读取工作表时出错：{type(e).__name__}")
    return entries, reader.problems


def _optional_columns(rows: list[list], g: Guide) -> dict[str, int]:
    """The guide's optional registry columns (书记姓名, 联系电话) found by header; absent ones are no problem."""
    header = {nz.key(v): i for i, v in enumerate(rows[0] if rows else []) if not nz.is_blank(v)}
    return {col.id: header[nz.key(col.name)] for col in g.workbook.registry_optional_columns
            if nz.key(col.name) in header}


_PHONE = re.compile(r"[0-9+\- ]+")  # digits, +, -, spaces: anything else is a warning, not a refusal


def _contacts(reader: WorkbookReader, sheet: str, r: int, raw: dict, cols: dict[str, int]
              ) -> dict[str, str | None]:
    """The optional contact values of one registry row (None when blank); an odd phone is warned about."""
    out = {k: (None if nz.is_blank(raw.get(k)) else nz.text(raw[k])) for k in REGISTRY_OPTIONAL_IDS}
    if out["phone"] is not None and not _PHONE.fullmatch(out["phone"]):
        reader.add("registry_phone_format", sheet, cell_ref(r, cols["phone"]), out["phone"])
    return out


def _registry_rows(reader: WorkbookReader, sheet: str, rows: list[list], cols: dict[str, int], fields: dict
                   ) -> list[RegistryEntry]:
    g = reader.g
    reader.clean(sheet, rows)
    entries, first = [], {}
    for r in range(2, len(rows) + 1):
        raw = {k: cell_at(rows, r, i) for k, i in cols.items()}
        if all(nz.is_blank(v) for v in raw.values()):
            continue
        ok = True
        for k in ("branch_code", "branch_name", "college", "branch_type", "members"):
            if nz.is_blank(raw[k]):
                reader.add("registry_value_missing", sheet, cell_ref(r, cols[k]), raw[k], field=fields[k].name)
                ok = False
        code = nz.code(raw["branch_code"])
        if code and code in first:
            reader.add("registry_duplicate_code", sheet, cell_ref(r, cols["branch_code"]), raw["branch_code"],
                       first=first[code])
            ok = False
        elif code:
            first[code] = r
        btype = nz.branch_type(raw["branch_type"], g)
        if not nz.is_blank(raw["branch_type"]) and btype is None:
            reader.add("branch_type_unknown", sheet, cell_ref(r, cols["branch_type"]), raw["branch_type"],
                       options="、".join(t.name for t in g.branch_types))
            ok = False
        members = None
        if not nz.is_blank(raw["members"]):
            cell = cell_ref(r, cols["members"])
            before = len(reader.problems)
            members = reader.number(raw["members"], sheet, cell, fields["members"].name, whole=True)
            if len(reader.problems) > before:
                ok = False
            elif not 1 <= members <= g.limits.max_members:
                reader.add("members_absurd", sheet, cell, raw["members"], max=g.limits.max_members)
                ok = False
        contacts = _contacts(reader, sheet, r, raw, cols)
        if ok:
            entries.append(RegistryEntry(branch_code=code, branch_name=nz.text(raw["branch_name"]),
                                         college=nz.text(raw["college"]), branch_type=btype, members=members,
                                         **contacts))
    if not entries and not reader.problems:
        reader.add("registry_empty", sheet)
    return entries
