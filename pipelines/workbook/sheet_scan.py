"""A cheap look at a worksheet's XML before calamine builds the sheet's grid.

calamine turns a sheet into one dense rectangle from A1 (or the first cell) to the farthest cell with content,
so a single stray cell at XFD1048576 asks for 17 billion cells and aborts the process. This module streams the
sheet's XML (expat, constant memory, no values kept) and reports where content lies, so the reader can refuse
a sheet whose content reaches past the bounds it is willing to read before calamine touches it.

What counts as content is what calamine would place in its grid, taken generously: a `<c>` with any child
element (`<v>`, `<f>`, `<is>`, even empty; an empty `<is/>` does widen calamine's grid). Cells without a child
(`<c r="XFD1" s="3" t="n"/>`, what a formatted whole column leaves) and the `<dimension>` element are ignored,
as calamine ignores them (both were measured with python-calamine 0.9). Cells and rows without
an `r` attribute take the position after the previous one, as in calamine; rows may come in any order.
"""
from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass
from operator import itemgetter
from xml.parsers import expat

from openpyxl.utils import get_column_letter

MAX_EXCEL_ROW = 1_048_576
CHUNK = 2**20
_REF = re.compile(r"([A-Za-z]{1,7})?([0-9]{1,9})?$")
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"  # r:id on <sheet>
_PART_CAP = 4 * 2**20  # workbook.xml and its relationships are a few KB; never read more than this of them


class Unsafe(Exception):
    """The XML has a construct no spreadsheet program writes (a DTD): refuse it rather than parse it."""


@dataclass
class Extent:
    """Where a sheet holds content: rows after the header with content, and what lies outside the bounds."""

    rows: int = 0  # distinct rows after row 1 with content (any column)
    far: str = ""  # the first cell with content outside the bounds, as Excel names it (e.g. XFD1048576)
    far_count: int = 0  # cells with content outside the bounds


def _local(name: str) -> str:
    return name.rsplit(" ", 1)[-1]


def _read_capped(zf: zipfile.ZipFile, member: str, parts: dict[str, bytes] | None = None) -> bytes:
    if parts is not None and member in parts:
        return parts[member][:_PART_CAP]
    with zf.open(member) as f:
        return f.read(_PART_CAP)


def sheet_members(zf: zipfile.ZipFile, parts: dict[str, bytes] | None = None) -> dict[str, str]:
    """Sheet name -> zip member of its XML, resolved from xl/workbook.xml and its relationships the way
    calamine resolves them; {} when either part is missing or unreadable. parts: members already inflated
    (`container.check_container` keeps them), by name."""
    names = set(zf.namelist())
    if "xl/workbook.xml" not in names or "xl/_rels/workbook.xml.rels" not in names:
        return {}
    targets: dict[str, str] = {}
    sheets: list[tuple[str, str]] = []

    def start(tag, attrs):
        local = _local(tag)
        if local == "Relationship" and attrs.get("Id") and attrs.get("Target"):
            targets[attrs["Id"]] = attrs["Target"]
        elif local == "sheet" and attrs.get("name"):
            sheets.append((attrs["name"], attrs.get(f"{_REL_NS} id", "")))
    try:
        for member in ("xl/_rels/workbook.xml.rels", "xl/workbook.xml"):
            _parse(_read_capped(zf, member, parts), start)
    except (expat.ExpatError, Unsafe, zipfile.BadZipFile, OSError, ValueError, RuntimeError):
        return {}
    return {name: _resolve(targets[rid]) for name, rid in sheets if rid in targets}


def _resolve(target: str) -> str:
    """A relationship target as a zip member name: '/xl/worksheets/sheet1.xml' and 'worksheets/sheet1.xml'
    both mean xl/worksheets/sheet1.xml."""
    path = target.lstrip("/") if target.startswith("/") else (
        target if target.startswith("xl/") else f"xl/{target}")
    return posixpath.normpath(path)


def _parser(start, end=None) -> expat.XMLParserType:
    p = expat.ParserCreate(namespace_separator=" ")
    p.StartElementHandler = start
    if end:
        p.EndElementHandler = end

    def no_dtd(*_):
        raise Unsafe("DOCTYPE")
    p.StartDoctypeDeclHandler = no_dtd
    p.EntityDeclHandler = no_dtd
    return p


def _parse(data: bytes, start) -> None:
    p = _parser(start)
    p.Parse(data, True)


def _cell_position(ref: str, row: int, col: int) -> tuple[int, int] | None:
    """(row, column), 1-based, of a cell reference; missing parts come from the implicit position."""
    m = _REF.match(ref)
    if not m or not (m.group(1) or m.group(2)):
        return None
    if m.group(1):
        col = _col(m.group(1))
    if m.group(2):
        row = int(m.group(2))
    return row, col


class _Scan:
    """expat handlers tracking the position of each cell of <sheetData> and whether it has content."""

    def __init__(self, max_row: int, max_col: int):
        self.max_row, self.max_col = max_row, max_col
        self.extent = Extent()
        self.seen = bytearray(MAX_EXCEL_ROW + 2)  # one flag per row: rows may come out of order
        self.in_data = self.in_row = False
        self.row = self.col = 0
        self.cell: tuple[int, int] | None = None  # position of the open <c>, if any
        self.ref = ""
        self.content = False

    def start(self, tag, attrs):
        local = _local(tag)
        if self.cell is not None:
            self.content = True  # any child of <c>: <v>, <f>, <is>, even empty
        elif local == "sheetData":
            self.in_data = True
        elif self.in_data and local == "row":
            self.in_row = True
            r = attrs.get("r")
            self.row = int(r) if r and r.isdigit() else self.row + 1
            self.col = 0
        elif self.in_row and local == "c":
            ref = attrs.get("r", "")
            pos = _cell_position(ref, self.row, self.col + 1) if ref else (self.row, self.col + 1)
            self.ref = ref[:20]
            self.cell = pos if pos else (MAX_EXCEL_ROW + 1, 0)  # unreadable reference: treat as far
            if pos:
                self.row, self.col = pos
            self.content = False

    def end(self, tag):
        local = _local(tag)
        if local == "c" and self.cell is not None:
            if self.content:
                self._record(*self.cell)
            self.cell = None
        elif local == "row":
            self.in_row = False
        elif local == "sheetData":
            self.in_data = False

    def _record(self, row: int, col: int) -> None:
        e = self.extent
        if 1 < row <= MAX_EXCEL_ROW and not self.seen[row]:
            self.seen[row] = 1
            e.rows += 1
        if row > self.max_row or col > self.max_col or col < 1:
            e.far_count += 1
            if not e.far:
                e.far = f"{get_column_letter(col)}{row}" if 1 <= col <= 16384 and row <= MAX_EXCEL_ROW else self.ref


FAST_MAX_BYTES = 4 * 2**20  # sheets up to this size get the regex fast path first (templates are ~10-100 KB)
_PREFIX = rb"<(?:[A-Za-z_][\w.-]*:)?c"
_ATTRS = rb"(?:\s+[\w:.-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))"
_CELL_START = re.compile(_PREFIX + rb"[\s/>]")
_CELL_TAG = re.compile(_PREFIX + _ATTRS + rb"*\s*/?>")  # a tag made of quoted attributes only
_CELL_REF = re.compile(_PREFIX + rb'\s+r="([A-Z]{1,3})([0-9]{1,7})"')  # r first, as Excel, WPS, LibreOffice write
_SECOND_R = re.compile(_PREFIX + rb'\s+r="[^"]*"' + _ATTRS + rb"*?\s+r\s*=")


_PLAIN_START = re.compile(rb"<c[\s/>]")  # the same without namespace prefixes (most files): far cheaper to scan
_PLAIN_CELL = re.compile(rb'<c\s+r="([A-Z]{1,3})([0-9]{1,7})"'  # r first, then quoted attributes none of them r
                         rb"(?:\s+(?!r\s*=)[\w:.-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*\s*/?>")
_USUAL_CELL = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"(?: (?:s|t|cm|vm|ph)="[^"]*")*\s*/?>')
"""A cell tag as Excel, WPS, LibreOffice and openpyxl write it (r, then the usual attributes): twice as fast to
match as _PLAIN_CELL; when some tag is not like this, _PLAIN_CELL decides."""


def _all_within(data: bytes, max_row: int, max_col: int) -> bool:
    """True when every <c> tag is plain (quoted attributes only) with one explicit in-bounds A1 reference as its
    first attribute and there is no DTD: then no cell, with content or not, lies outside the bounds.
    False means "look closer". All regex work, no Python per cell.

    Without "<!" (a DTD, comment or CDATA) and without ":c" (a namespace prefix on a cell tag, or text that looks
    like one) in the sheet, two regex passes decide it; otherwise the general check does."""
    if b"<!" in data or b":c" in data:
        return _all_within_general(data, max_row, max_col)
    starts = len(_PLAIN_START.findall(data))
    refs = _USUAL_CELL.findall(data)
    if len(refs) != starts:
        refs = _PLAIN_CELL.findall(data)
        if len(refs) != starts:
            return False
    return _refs_within(refs, max_row, max_col)


def _all_within_general(data: bytes, max_row: int, max_col: int) -> bool:
    if b"<!DOCTYPE" in data.upper():
        return False
    starts = len(_CELL_START.findall(data))
    refs = _CELL_REF.findall(data)
    if len(refs) != starts or len(_CELL_TAG.findall(data)) != starts or _SECOND_R.search(data):
        return False
    return _refs_within(refs, max_row, max_col)


def _refs_within(refs: list[tuple[bytes, bytes]], max_row: int, max_col: int) -> bool:
    if not refs:
        return True
    # distinct values first (a sheet has hundreds of cells but a few columns and rows), all in C
    last_row = max(map(int, set(map(itemgetter(1), refs))))
    widest = max(set(map(itemgetter(0), refs)), key=lambda c: (len(c), c))
    return last_row <= max_row and _col(widest.decode()) <= max_col


def _col(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def scan(zf: zipfile.ZipFile, member: str, max_row: int, max_col: int,
         parts: dict[str, bytes] | None = None) -> Extent:
    """Where the sheet stored in `member` has content, against `max_row` rows and `max_col` columns.

    Small sheets whose cells all carry plain in-bounds references are cleared by a regex (a template's sheets
    take well under a millisecond); anything else is streamed through expat, cell by cell. parts: members
    already inflated, by name (the sheet is not inflated again when it is among them).
    Raises `Unsafe` for a DTD and expat.ExpatError for XML that is not well-formed (calamine would fail too).
    """
    data = (parts or {}).get(member)
    if data is None and zf.getinfo(member).file_size <= FAST_MAX_BYTES:
        with zf.open(member) as f:
            data = f.read(FAST_MAX_BYTES + 1)
    if data is not None and len(data) <= FAST_MAX_BYTES and _all_within(data, max_row, max_col):
        return Extent()
    s = _Scan(max_row, max_col)
    p = _parser(s.start, s.end)
    with zf.open(member) as f:
        while chunk := f.read(CHUNK):
            p.Parse(chunk, False)
    p.Parse(b"", True)
    return s.extent
