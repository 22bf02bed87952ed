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
import hashlib
import io
import logging
import re
from collections import Counter
from collections.abc import Callable
import zipfile
from pathlib import Path

from openpyxl.utils import get_column_letter
from python_calamine import CalamineWorkbook, PasswordError

from pipelines import normalise as nz
from pipelines import sheet_scan
from pipelines.guide import Guide, guide
from pipelines.model import (BranchInfo, CountValue, LedgerRow, ParsedWorkbook, Problem, RegistryEntry,
                             SelfAssessmentRow)
from pipelines.period import Period
from pipelines.problems import make, show
from pipelines.workbook import EXAMPLE_PREFIX, REGISTRY_FIELDS, REGISTRY_SHEET, example_activity, example_row

log = logging.getLogger(__name__)

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")  # directory entry of an encrypted OOXML package
MAX_ZIP_ENTRIES = 2000  # a template has ~15 members; thousands only come from crafted files
MAX_RATIO = 200  # deflate tops out near 1030:1; real xlsx XML stays well under 100:1
RATIO_MIN_BYTES = 5 * 2**20  # small members may compress extremely well without being a threat
CHUNK = 2**20
MAX_SHEET_ROWS = 1000  # info, counts and self-assessment sheets hold a few dozen rows
MAX_REGISTRY_ROWS = 10000  # a university has hundreds of branches
MAX_SHEET_COLUMNS = 64  # the widest sheet has 9 columns; notes typed beside a table still fit
SHARED_STRINGS = "xl/sharedStrings.xml"


def ledger_cap(g: Guide) -> int:
    """Rows read from the ledger sheet: enough to count a little past the limit, with blank rows between."""
    return 2 * g.limits.max_ledger_rows + 2
REQUIRED_INFO = ("branch_code", "branch_name", "college", "branch_type", "year", "quarter", "members")
DATE_EXAMPLE = "2026-03-05"
TABLE_SHEETS = ("ledger", "counts", "self_assessment")  # one record per row: merged cells would hide values
# A period in a file name: 2026Q2, 2026-Q2, 2026年第2季度, 2026年第二季度 (after nz.key: no spaces, half-width).
_NAME_PERIOD = re.compile(r"(20\d{2})(?:[-_.]?[Qq]([1-4])|年?第?([1-4一二三四])季度)")
_CN_DIGITS = str.maketrans("一二三四", "1234")
_NAME_TOKENS = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)*")  # code-like tokens of an upper-cased file name


class _Reject(Exception):
    """Internal: stop reading; the problem is already recorded."""


def _ref(row: int, col: int) -> str:
    """A1 reference from a 1-based row and a 0-based column index."""
    return f"{get_column_letter(col + 1)}{row}"


def _cell(rows: list[list], row: int, col: int | None) -> object:
    """Value at Excel row `row` (1-based) and 0-based column `col`; '' when outside the data."""
    if col is None or row - 1 >= len(rows) or col >= len(rows[row - 1]):
        return ""
    return rows[row - 1][col]


# ---- container checks ----------------------------------------------------------------------------
def _load(source: Path | bytes | str, name: str, g: Guide) -> tuple[bytes, str, list[Problem]]:
    """The file's bytes and SHA-256, or a size/readability problem (a too-large file is hashed, not kept)."""
    limit = g.limits.max_file_mb * 2**20
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        sha = hashlib.sha256(data).hexdigest()
        if len(data) > limit:
            return b"", sha, [_too_large(name, len(data), g)]
        return data, sha, []
    path = Path(source)
    try:
        size = path.stat().st_size
        if size > limit:  # hash in chunks: never hold an oversized file in memory
            h = hashlib.sha256()
            with path.open("rb") as f:
                for chunk in iter(lambda: f.read(CHUNK), b""):
                    h.update(chunk)
            return b"", h.hexdigest(), [_too_large(name, size, g)]
        data = path.read_bytes()
    except OSError as e:
        return b"", "", [make("file_unreadable", file=name, detail=e.strerror or type(e).__name__)]
    return data, hashlib.sha256(data).hexdigest(), []


def _too_large(name: str, size: int, g: Guide) -> Problem:
    return make("file_too_large", file=name, size_mb=f"{size / 2**20:.1f}", limit_mb=f"{g.limits.max_file_mb:g}")


def _sniff(data: bytes) -> str:
    """A Chinese hint of what a non-xlsx file probably is, for the message."""
    head = data[:2048].lstrip()
    if head.startswith(b"%PDF"):
        return "（看起来是 PDF 文件）"
    if head[:1] == b"<":
        return "（看起来是网页或 XML 文件，常见于从其他系统“导出为 Excel”的文件）"
    for enc in ("utf-8", "gb18030"):
        try:
            head.decode(enc)
            return "（看起来是 CSV 或文本文件）"
        except UnicodeDecodeError:
            continue
    return ""


def check_container(data: bytes, name: str, g: Guide | None = None) -> list[Problem]:
    """Problems with the file as a container (not xlsx, encrypted, corrupt, zip bomb); [] when safe to parse.

    The zip central directory is inspected before any member is inflated, so an honest bomb is rejected
    without decompressing a byte; members are then inflated in bounded chunks to catch lying headers.
    """
    g = g or guide()
    if not data:
        return [make("file_empty", file=name)]
    if data.startswith(OLE_MAGIC):
        if ENCRYPTION_STREAM in data:
            return [make("file_encrypted", file=name)]
        kind = "WPS 表格专用格式（.et）" if name.lower().endswith(".et") else "旧版 Excel 97-2003 格式（.xls）"
        return [make("file_old_xls", file=name, kind=kind)]
    if not data.startswith(b"PK"):
        return [make("file_not_xlsx", file=name, kind=_sniff(data))]
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as e:
        return [make("file_corrupt", file=name, detail=f"压缩结构损坏：{e}")]
    limit = g.limits.max_uncompressed_mb * 2**20
    total = sum(i.file_size for i in infos)
    worst = max(infos, key=lambda i: i.file_size / max(i.compress_size, 1), default=None)
    ratio = worst.file_size / max(worst.compress_size, 1) if worst else 0
    if (len(infos) > MAX_ZIP_ENTRIES or total > limit
            or (worst and worst.file_size > RATIO_MIN_BYTES and ratio > MAX_RATIO)):
        culprit = None if len(infos) > MAX_ZIP_ENTRIES else (
            worst if total <= limit else max(infos, key=lambda i: i.file_size))
        return [_bomb(name, total, g, ratio, zf, culprit)]
    names = set(zf.namelist())
    if len(names) != len(infos):  # two members of one name: what we check need not be what calamine reads
        return [make("file_corrupt", file=name, detail="压缩结构中有重名的部件")]
    if "xl/workbook.xml" not in names:
        kind = ("（看起来是 Word 文档）" if "word/document.xml" in names else
                "（看起来是 PowerPoint 文件）" if any(n.startswith("ppt/") for n in names) else
                "（看起来是 WPS/LibreOffice 的 .ods 表格）" if "content.xml" in names else
                "（看起来是一个压缩包）")
        return [make("file_not_xlsx", file=name, kind=kind)]
    inflated = 0
    try:
        for info in infos:
            with zf.open(info) as member:
                seen = 0
                while chunk := member.read(CHUNK):
                    seen += len(chunk)
                    inflated += len(chunk)
                    if inflated > limit or seen > info.file_size:
                        return [_bomb(name, inflated, g, ratio, zf, info)]
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as e:
        # RuntimeError: zipfile's "encrypted member, password required"
        return [make("file_corrupt", file=name, detail=f"内容校验失败：{e}")]
    except Exception as e:  # zlib.error and friends: damaged compressed data
        return [make("file_corrupt", file=name, detail=f"压缩数据损坏：{type(e).__name__}")]
    return []


def _bomb(name: str, size: float, g: Guide, ratio: float, zf: zipfile.ZipFile | None = None,
          culprit: zipfile.ZipInfo | None = None) -> Problem:
    sheet = _sheet_of(zf, culprit.filename) if zf and culprit else ""
    part = (f"，主要来自「{sheet}」工作表" if sheet else
            "，主要来自各工作表中的文字" if culprit and culprit.filename == SHARED_STRINGS else "")
    return make("zip_bomb", file=name, sheet=sheet, part=part, size_mb=f"{size / 2**20:,.0f}",
                limit_mb=f"{g.limits.max_uncompressed_mb:g}",
                ratio=f"，压缩比约 {ratio:,.0f}:1" if ratio > MAX_RATIO else "")


def _sheet_of(zf: zipfile.ZipFile, member: str) -> str:
    """The name of the sheet stored in zip member `member`, or "" (not a sheet, or the workbook unreadable)."""
    if not member.startswith("xl/") or member in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
        return ""
    try:
        return next((s for s, m in sheet_scan.sheet_members(zf).items() if m == member), "")
    except Exception:  # zlib.error and friends: the verdict stands without the name
        return ""


class _Opened:
    """A workbook that passed the container checks: calamine's handle and the zip to scan sheets in first."""

    def __init__(self, wb: CalamineWorkbook, data: bytes):
        self.wb = wb
        self.zip = zipfile.ZipFile(io.BytesIO(data))
        self.members = sheet_scan.sheet_members(self.zip)

    def guard(self, sheet: str, max_rows: int, name: str, *, ledger_max: int | None = None) -> Problem | None:
        """Why `sheet` must not be handed to calamine (content beyond `max_rows` x MAX_SHEET_COLUMNS), or None.

        With `ledger_max`, a sheet past its bounds with more data rows than that is "too many rows", with
        their real count, rather than one stray cell.
        """
        member = self.members.get(sheet)
        if member is None or member not in self.zip.NameToInfo:
            return make("file_corrupt", file=name, sheet=sheet, detail=f"找不到「{sheet}」工作表的内容")
        try:
            ext = sheet_scan.scan(self.zip, member, max_rows, MAX_SHEET_COLUMNS)
        except (sheet_scan.Unsafe, sheet_scan.expat.ExpatError) as e:
            return make("file_corrupt", file=name, sheet=sheet, detail=f"「{sheet}」工作表的内容格式异常：{e}")
        if not ext.far:
            return None
        if ledger_max is not None and ext.rows > ledger_max:
            return make("too_many_rows", file=name, sheet=sheet, rows=ext.rows, max=ledger_max)
        more = f"，另有 {ext.far_count - 1} 个单元格也在范围之外" if ext.far_count > 1 else ""
        return make("cell_out_of_range", file=name, sheet=sheet, cell=ext.far, max_rows=max_rows,
                    max_cols=MAX_SHEET_COLUMNS, last=_ref(max_rows, MAX_SHEET_COLUMNS - 1), more=more)


def _open(source: Path | bytes | str, file_name: str | None, g: Guide
          ) -> tuple[str, str, _Opened | None, list[Problem]]:
    name = file_name or (Path(source).name if not isinstance(source, (bytes, bytearray, memoryview)) else "上传文件")
    data, sha, problems = _load(source, name, g)
    if problems:
        return name, sha, None, problems
    problems = check_container(data, name, g)
    if problems:
        return name, sha, None, problems
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except PasswordError:
        return name, sha, None, [make("file_encrypted", file=name)]
    except Exception as e:  # calamine raises its own errors for XML it cannot parse
        return name, sha, None, [make("file_corrupt", file=name, detail=f"工作簿内容无法解析：{type(e).__name__}")]
    return name, sha, _Opened(wb, data), []


def _sheets(opened: _Opened, keys: dict[str, str], name: str, g: Guide
            ) -> tuple[dict[str, tuple[str, list]], list[Problem]]:
    """Rows of each wanted sheet (key -> (actual name, rows)), matched after normalising names.

    At most `ledger_cap` (ledger) or MAX_SHEET_ROWS rows and MAX_SHEET_COLUMNS columns are read; a sheet with
    content beyond them is not read at all (see `_Opened.guard`).
    """
    wb = opened.wb
    actual = {nz.key(n): n for n in wb.sheet_names}
    if nz.key(REGISTRY_SHEET) in actual and not any(nz.key(w) in actual for w in keys.values()):
        # A registry workbook handed in as a submission: one clear message instead of five missing sheets.
        return {}, [make("registry_not_submission", file=name, sheet=actual[nz.key(REGISTRY_SHEET)])]
    found, problems = {}, []
    for k, wanted in keys.items():
        real = actual.get(nz.key(wanted))
        if real is None:
            problems.append(make("sheet_missing", file=name, sheet=wanted,
                                 present="、".join(f"「{n}」" for n in wb.sheet_names) or "无"))
            continue
        cap = ledger_cap(g) if k == "ledger" else MAX_SHEET_ROWS
        refused = opened.guard(real, cap, name, ledger_max=g.limits.max_ledger_rows if k == "ledger" else None)
        if refused:
            problems.append(refused)
            continue
        sheet = wb.get_sheet_by_name(real)
        rows = sheet.to_python(skip_empty_area=False, nrows=cap)
        shown = nz.strip_controls(real)[0]  # the name as stored and shown: a control character never reaches them
        found[k] = (shown, rows)
        if k in TABLE_SHEETS:  # only the top-left cell of a merged range has a value: the rest read as blank
            for (r0, c0), (r1, c1) in getattr(sheet, "merged_cell_ranges", None) or []:
                if r1 >= 1:  # reaches the data rows (a merged header is harmless)
                    problems.append(make("merged_cells", file=name, sheet=shown,
                                         cell=f"{_ref(r0 + 1, c0)}:{_ref(r1 + 1, c1)}"))
    return found, problems


def _columns(rows: list[list], wanted: list[tuple[str, str]], sheet: str, name: str
             ) -> tuple[dict[str, int], list[Problem]]:
    """Map column ids to 0-based indexes by their header in row 1; a missing header is a problem."""
    header = {nz.key(v): i for i, v in enumerate(rows[0] if rows else []) if not nz.is_blank(v)}
    cols, problems = {}, []
    expected = " | ".join(n for _, n in wanted)
    for pos, (cid, cname) in enumerate(wanted):
        i = header.get(nz.key(cname))
        if i is None:
            problems.append(make("column_missing", file=name, sheet=sheet, cell=_ref(1, pos), column=cname,
                                 expected=expected, value=_cell(rows, 1, pos)))
        else:
            cols[cid] = i
    return cols, problems


# ---- the branch workbook -------------------------------------------------------------------------
class _Reader:
    """One workbook's validation state; each `_read_*` method appends to `problems`."""

    def __init__(self, g: Guide, name: str, registry: dict[str, RegistryEntry] | None):
        self.g, self.name, self.registry = g, name, registry
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
                    self.add("control_chars_removed", sheet, _ref(r, col), cleaned, n=len(value) - len(cleaned),
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
            k = nz.key(_cell(rows, r, 0))
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
            raw, cell = _cell(rows, r, 1), f"B{r}"
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
        other = self._named(got, code)
        if entry is None:
            if other:
                self.add("branch_code_unknown_name_known", sheet, cells["branch_code"], code,
                         name=other.branch_name, expected=other.branch_code)
            else:
                self.add("branch_code_unknown", sheet, cells["branch_code"], code)
            return
        if got and nz.key(got) != nz.key(entry.branch_name):
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

    # ---- 活动台账
    def read_ledger(self, sheet: str, rows: list[list]) -> list[LedgerRow]:
        g = self.g
        self.clean(sheet, rows)
        wanted = [(c.id, c.name) for c in g.workbook.ledger_columns]
        cols, problems = _columns(rows, wanted, sheet, self.name)
        self.problems += problems
        if "date" not in cols or "activity_type" not in cols:
            return []
        names = {c.id: c.name for c in g.workbook.ledger_columns}
        # Notes typed beside the table (e.g. a 备注 column) do not make a row an activity.
        filled = [r for r in range(2, len(rows) + 1) if any(not nz.is_blank(_cell(rows, r, i)) for i in cols.values())]
        filled = self._skip_examples(filled, rows, cols, sheet)
        if len(filled) > g.limits.max_ledger_rows:
            # exact: content past ledger_cap never gets here (`_Opened.guard` counts those rows itself)
            self.add("too_many_rows", sheet, "", None, rows=len(filled), max=g.limits.max_ledger_rows)
            filled = filled[: g.limits.max_ledger_rows]
        example = example_activity(g)
        out: list[LedgerRow] = []
        seen: dict[tuple, int] = {}
        for r in filled:
            def raw(cid):
                return _cell(rows, r, cols.get(cid))

            def ref(cid):
                return _ref(r, cols[cid]) if cid in cols else ""
            if _is_note_row(raw):  # 备注 / 合计 typed under the table: not an activity, say so and skip it
                self.add("ledger_note_row", sheet, ref("date"), raw("date"))
                continue
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
            if not ok:
                continue
            if act in self._hours_activities():  # counted as 学时 × 实到人数: both are needed
                missing = [names.get(c, c) for c in ("hours", "attended") if nums[c] is None]
                if missing:
                    self.add("training_incomplete", sheet, ref("hours" if nums["hours"] is None else "attended"),
                             None, activity=g.activity_name(act), missing="和".join(f"“{m}”" for m in missing),
                             items="、".join(self._hours_activities()[act]))
            topic = nz.text(raw("topic"))
            dup = (date, act, nz.key(topic))
            exact = (*dup, nums["hours"], nums["expected"], nums["attended"])
            if exact in seen:  # the same row pasted twice: counted once (the template's instructions say so)
                self.add("duplicate_row_exact", sheet, _ref(r, 0), None, first=seen[exact], row=r)
                continue
            seen[exact] = r
            if dup in seen:
                self.add("duplicate_row", sheet, _ref(r, 0), None, first=seen[dup])
            else:
                seen[dup] = r
            out.append(LedgerRow(row=r, date=date, activity_type=act, activity_raw=nz.text(act_raw), topic=topic,
                                 expected=nums["expected"], attended=nums["attended"], hours=nums["hours"],
                                 evidence=nz.text(raw("evidence"))))
        self._blame_the_period()
        if not filled:
            self.add("ledger_empty", sheet, "A2", None)
        return out

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
            topic = _cell(rows, r, cols["topic"])
            if not nz.key(topic).startswith(marker):
                kept.append(r)
            elif not all(_same(_cell(rows, r, i), example.get(cid), cid) for cid, i in cols.items() if cid != "date"):
                self.add("ledger_example_row", sheet, _ref(r, cols["topic"]), topic, prefix=EXAMPLE_PREFIX)
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
        cols, problems = _columns(rows, [(c.id, c.name) for c in g.workbook.counts_columns], sheet, self.name)
        self.problems += problems
        fcol, vcol = cols.get("field", 0), cols.get("value")
        if vcol is None:
            return []
        by_key = {nz.key(f.name): f for f in g.count_fields}
        out: dict[str, CountValue] = {}
        cells: dict[str, tuple[str, object]] = {}
        for r in range(2, len(rows) + 1):
            label, raw = _cell(rows, r, fcol), _cell(rows, r, vcol)
            if nz.is_blank(label):
                continue
            f = by_key.get(nz.key(label))
            if f is None:
                self.add("count_unknown_field", sheet, _ref(r, fcol), label)
                continue
            if f.id in out:
                continue
            cell = _ref(r, vcol)
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
        cols, problems = _columns(rows, [(c.id, c.name) for c in g.workbook.self_assessment_columns], sheet,
                                  self.name)
        self.problems += problems
        if "item_id" not in cols or "status" not in cols:
            return []
        known = {it.id: it for it in g.items}
        options = "、".join(o.name for o in g.self_assessment)
        done = g.self_assessment[0]  # the top answer (完成) is the one that needs evidence
        fallback = next(o.name for o in g.self_assessment if o.id == g.self_assessment_without_evidence)
        type_name = g.branch_type_name(self.branch_type) if self.branch_type else "本支部类型"
        out: dict[str, SelfAssessmentRow] = {}
        present: set[str] = set()  # item ids with a row, even a faulty one: "missing" means no row at all
        for r in range(2, len(rows) + 1):
            raw_id = _cell(rows, r, cols["item_id"])
            if nz.is_blank(raw_id):
                continue
            item_cell = _ref(r, cols["item_id"])
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
            raw_status = _cell(rows, r, cols["status"])
            status_cell = _ref(r, cols["status"])
            evidence = nz.text(_cell(rows, r, cols.get("evidence")))
            status = nz.status(raw_status, g)
            if nz.is_blank(raw_status):
                self.add("sa_status_missing", sheet, status_cell, raw_status, options=options)
            elif status is None:
                self.add("sa_status_unknown", sheet, status_cell, raw_status, options=options)
                continue
            elif status == done.id and not evidence and g.item(iid).self_assessed:  # only where the answer counts
                ev_cell = _ref(r, cols["evidence"]) if "evidence" in cols else "“佐证材料”列"
                self.add("sa_no_evidence", sheet, status_cell, done.name, fallback=fallback, evidence_cell=ev_cell)
            out[iid] = SelfAssessmentRow(row=r, item_id=iid, status=status, evidence=evidence)
        if self.branch_type:
            for it in g.items_for(self.branch_type):
                if it.id not in present:
                    self.add("sa_item_missing", sheet, "", None, item=it.id, branch_type=type_name)
        return list(out.values())


def read_workbook(source: Path | bytes | str, file_name: str | None = None, *,
                  registry: dict[str, RegistryEntry] | None = None) -> ParsedWorkbook:
    """Read and validate one branch workbook; never raises on bad input (every finding is a `Problem`).

    `source` is a path or the file's bytes; `file_name` (default: the path's name) is what problems name.
    With `registry` (branch code -> entry), an unknown branch code is an error and a name/college/type that
    differs from the registry a warning. `sha256` is that of the file's bytes, even for rejected files.
    """
    g = guide()
    name, sha, opened, problems = _open(source, file_name, g)
    parsed = ParsedWorkbook(file_name=name, sha256=sha, problems=problems)
    if opened is None:
        return parsed
    reader = _Reader(g, name, registry)
    try:
        with opened.wb:
            s = g.workbook.sheets
            keys = {"info": s.info, "ledger": s.ledger, "counts": s.counts, "self_assessment": s.self_assessment}
            found, problems = _sheets(opened, keys, name, g)
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
    name, _, opened, problems = _open(source, file_name, g)
    if opened is None:
        return [], problems
    reader = _Reader(g, name, None)
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
            cols, problems = _columns(rows, [(k, fields[k].name) for k in REGISTRY_FIELDS], sheet, name)
            reader.problems += problems
            if problems:
                return [], reader.problems
            entries = _registry_rows(reader, sheet, rows, cols, fields)
    except Exception as e:
        log.exception("reading registry %s failed", name)
        reader.add("file_corrupt", detail=f"读取工作表时出错：{type(e).__name__}")
    return entries, reader.problems


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


def _registry_rows(reader: _Reader, sheet: str, rows: list[list], cols: dict[str, int], fields: dict
                   ) -> list[RegistryEntry]:
    g = reader.g
    reader.clean(sheet, rows)
    entries, first = [], {}
    for r in range(2, len(rows) + 1):
        raw = {k: _cell(rows, r, i) for k, i in cols.items()}
        if all(nz.is_blank(v) for v in raw.values()):
            continue
        ok = True
        for k in ("branch_code", "branch_name", "college", "branch_type", "members"):
            if nz.is_blank(raw[k]):
                reader.add("registry_value_missing", sheet, _ref(r, cols[k]), raw[k], field=fields[k].name)
                ok = False
        code = nz.code(raw["branch_code"])
        if code and code in first:
            reader.add("registry_duplicate_code", sheet, _ref(r, cols["branch_code"]), raw["branch_code"],
                       first=first[code])
            ok = False
        elif code:
            first[code] = r
        btype = nz.branch_type(raw["branch_type"], g)
        if not nz.is_blank(raw["branch_type"]) and btype is None:
            reader.add("branch_type_unknown", sheet, _ref(r, cols["branch_type"]), raw["branch_type"],
                       options="、".join(t.name for t in g.branch_types))
            ok = False
        members = None
        if not nz.is_blank(raw["members"]):
            cell = _ref(r, cols["members"])
            before = len(reader.problems)
            members = reader.number(raw["members"], sheet, cell, fields["members"].name, whole=True)
            if len(reader.problems) > before:
                ok = False
            elif not 1 <= members <= g.limits.max_members:
                reader.add("members_absurd", sheet, cell, raw["members"], max=g.limits.max_members)
                ok = False
        if ok:
            entries.append(RegistryEntry(branch_code=code, branch_name=nz.text(raw["branch_name"]),
                                         college=nz.text(raw["college"]), branch_type=btype, members=members))
    if not entries and not reader.problems:
        reader.add("registry_empty", sheet)
    return entries
