"""Cell styles, protection and saving for the workbooks we write (branch template, registry): each kind of cell
styled once and copied (`Styles`), the ledger's formatted empty rows written without Cell objects
(`BlankRows`, `save`), and the print setup shared with the quarterly report."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from io import BytesIO
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO, Iterable
from zipfile import ZIP_DEFLATED, ZipFile

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.dimensions import SheetDimension
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from pipelines.palette import RED, excel

FONT_NAME = "微软雅黑"  # present in Office/WPS on Windows; LibreOffice substitutes a CJK font

_FONT = Font(name=FONT_NAME, size=11)
_HEADER_FONT = Font(name=FONT_NAME, size=11, bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor=excel(RED))
_EXAMPLE_FONT = Font(name=FONT_NAME, size=11, italic=True, color="808080")
_LOCKED_FILL = PatternFill("solid", fgColor="F2F2F2")
_INPUT_FILL = PatternFill("solid", fgColor="FFFFFF")
_THIN = Side(style="thin", color="BFBFBF")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
WRAP = Alignment(wrap_text=True, vertical="top")
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_LOCKED, _UNLOCKED = Protection(locked=True), Protection(locked=False)
GUIDE_FONTS = {(size, bold): Font(name=FONT_NAME, size=size, bold=bold)
               for size in (11, 14) for bold in (False, True)}
DATE_FORMAT = "yyyy-mm-dd"


class Styles:
    """The cell styles of one workbook, each built once and then copied.

    Assigning font, border, alignment, fill and protection hashes each object into the workbook's style
    lists; doing it once per kind of cell and copying the resulting style array to the others is ~50x
    cheaper. Kinds are built in first-use order, so the workbook's style table comes out as before.
    """

    def __init__(self) -> None:
        self._arrays: dict[tuple, StyleArray] = {}

    def _array(self, ws: Worksheet, key: tuple) -> StyleArray:
        arr = self._arrays.get(key)
        if arr is None:
            cell = Cell(ws)  # a scratch cell, not on the sheet: styling it registers the objects with the workbook
            if key[0] == "header":
                cell.font, cell.fill, cell.alignment, cell.border = _HEADER_FONT, _HEADER_FILL, _CENTER, _BORDER
                cell.protection = _LOCKED
            elif key[0] == "example":  # the ledger's example row: grey italic on grey, locked
                cell.font, cell.fill, cell.alignment, cell.border = _EXAMPLE_FONT, _LOCKED_FILL, WRAP, _BORDER
                cell.protection = _LOCKED
                if key[1]:
                    cell.number_format = key[1]
            else:
                _, locked, number_format, center = key
                cell.font = _FONT
                cell.border = _BORDER
                cell.alignment = _CENTER if center else WRAP
                cell.fill = _LOCKED_FILL if locked else _INPUT_FILL
                cell.protection = _LOCKED if locked else _UNLOCKED
                if number_format:
                    cell.number_format = number_format
            arr = self._arrays[key] = cell._style
        return arr

    def body_array(self, ws: Worksheet, *, locked: bool, number_format: str | None = None,
                   center: bool = False) -> StyleArray:
        """The style of a body cell: thin border, wrapped text, grey and locked or white and unlocked."""
        return self._array(ws, ("body", locked, number_format, center))

    def body(self, cell: Cell, *, locked: bool, number_format: str | None = None, center: bool = False) -> None:
        cell._style = StyleArray(self.body_array(cell.parent, locked=locked, number_format=number_format,
                                                 center=center))

    def header(self, cell: Cell) -> None:
        cell._style = StyleArray(self._array(cell.parent, ("header",)))

    def example(self, cell: Cell, number_format: str | None = None) -> None:
        cell._style = StyleArray(self._array(cell.parent, ("example", number_format)))


@dataclass
class BlankRows:
    """A block of formatted empty rows (the ledger's template rows): rows `first`..`last`, one style per column.

    They are not openpyxl cells: 2,000+ Cell objects cost a third of the writing time (creating, sorting and
    garbage-collecting them). `_SheetWriter` writes these rows as openpyxl writes such cells, so the file is
    the same; a row that gets a value (`raw_cells`) becomes real cells through `fill`.
    """

    first: int
    last: int
    styles: list[tuple[int, StyleArray]]  # (column number, style)

    def __contains__(self, row: int) -> bool:
        return self.first <= row <= self.last

    def fill(self, ws: Worksheet, row: int) -> None:
        """Make `row` real cells in the block's format (cells already formatted are left as they are)."""
        for col, arr in self.styles:
            cell = ws.cell(row=row, column=col)
            if not cell.has_style:
                cell._style = StyleArray(arr)


def protect(ws: Worksheet) -> None:
    # No password: a blank one would prompt in some apps; formatting and row sizing stay allowed.
    for dv in ws.data_validations.dataValidation:  # clearing a cell must never trip a validation
        dv.allow_blank = True
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    ws.protection.formatCells = False


def fit_height(ws: Worksheet, row: int, texts: Iterable[tuple[str, float]]) -> None:
    # Excel does not auto-size wrapped rows written by openpyxl: estimate from CJK chars per column width.
    lines = 1
    for text, width in texts:
        per_line = max(1, int(width / 2.1))
        lines = max(lines, sum(-(-max(len(part), 1) // per_line) for part in str(text).split("\n")))
    ws.row_dimensions[row].height = max(20, 16 * lines + 4)


def list_validation(options: list[str], title: str, prompt: str, error: str) -> DataValidation:
    formula = '"' + ",".join(options) + '"'
    if len(formula) > 255:  # Excel's limit for an inline list; the guide would need a helper sheet
        raise ValueError(f"dropdown list too long for an inline validation: {formula[:60]}…")
    return DataValidation(type="list", formula1=formula, allow_blank=True, showDropDown=False,
                          showInputMessage=True, promptTitle=title[:32], prompt=prompt[:255],
                          showErrorMessage=True, errorStyle="stop", errorTitle="输入有误", error=error[:255])


# ---- saving --------------------------------------------------------------------------------------
class _SheetWriter(WorksheetWriter):
    """openpyxl's worksheet writer, plus a sheet's `BlankRows` written without Cell objects.

    Each blank row is written as the text openpyxl writes for such a row (`<c r="A9" s="5" t="n" />` per
    cell; `tests/test_workbook.py` checks the whole file against openpyxl's own writer, byte for byte).
    Where that text cannot be written directly (a writer without et_xmlfile's `_file`, e.g. lxml's, or a
    row with dimensions), the row's cells are built and written by openpyxl instead.
    """

    def __init__(self, ws: Worksheet, out, blank: BlankRows | None):
        self.blank = blank
        self._blank_row = None  # the row's text as a format string of the row number, built on first use
        super().__init__(ws, out)

    def write_dimensions(self):  # the used range includes the blank rows, as when they were cells
        if self.blank is None:
            return super().write_dimensions()
        ws, cols = self.ws, [col for col, _ in self.blank.styles]
        ref = (f"{get_column_letter(min(ws.min_column, *cols))}{min(ws.min_row, self.blank.first)}:"
               f"{get_column_letter(max(ws.max_column, *cols))}{max(ws.max_row, self.blank.last)}")
        self.xf.send(SheetDimension(ref).to_tree())

    def rows(self):
        rows = super().rows()
        if self.blank is not None:
            present = {r for r, _ in rows}
            rows += [(r, None) for r in range(self.blank.first, self.blank.last + 1) if r not in present]
            rows.sort(key=itemgetter(0))
        return rows

    def write_row(self, xf, row, row_idx):
        if row is not None:
            return super().write_row(xf, row, row_idx)
        raw = getattr(xf, "_file", None)
        if callable(raw) and row_idx not in self.ws.row_dimensions:
            if self._blank_row is None:  # style ids are taken here, in the order openpyxl would take them
                self._blank_row = '<row r="{0}">' + "".join(
                    f'<c r="{c.column_letter}{{0}}" s="{c.style_id}" t="n" />' for c in self._cells(row_idx)
                ) + "</row>"
            raw(self._blank_row.format(row_idx))
        else:
            super().write_row(xf, self._cells(row_idx), row_idx)

    def _cells(self, row_idx: int) -> list[Cell]:
        return [Cell(self.ws, row=row_idx, column=col, style_array=arr) for col, arr in self.blank.styles]


class _ExcelWriter(ExcelWriter):
    def __init__(self, workbook: Workbook, archive: ZipFile, blanks: dict[str, BlankRows]):
        super().__init__(workbook, archive)
        self.blanks = blanks

    def write_worksheet(self, ws):  # openpyxl 3.1's ExcelWriter.write_worksheet, with our sheet writer
        ws._drawing = SpreadsheetDrawing()
        ws._drawing.charts = ws._charts
        ws._drawing.images = ws._images
        writer = _SheetWriter(ws, BytesIO(), self.blanks.get(ws.title))  # in memory: no temp file per sheet
        writer.write()
        ws._rels = writer._rels
        self._archive.writestr(ws.path[1:], writer.out.getvalue())
        self.manifest.append(ws)


def save(wb: Workbook, path: Path | BinaryIO, blanks: dict[str, BlankRows] | None = None) -> None:
    """`wb.save(path)` (openpyxl's `save_workbook`), with each sheet's blank rows (sheet title -> rows);
    `path` may be a binary file object."""
    wb.properties.modified = dt.datetime.now(tz=dt.timezone.utc).replace(tzinfo=None)
    with ZipFile(path, "w", ZIP_DEFLATED, allowZip64=True) as archive:
        _ExcelWriter(wb, archive, blanks or {}).write_data()


def print_setup(ws) -> None:
    """Print landscape on A4, one page wide with the header row repeated (of a sheet with frozen headers):
    secretaries print the templates to sign, the committee prints the quarterly report."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if ws.freeze_panes:
        ws.print_title_rows = "1:1"
