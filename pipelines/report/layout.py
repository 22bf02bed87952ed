"""Print layout of the quarterly report workbook: A4 page setup with the title, the quarter and 第 X 页 / 共 Y 页
in each sheet's header and footer, wrapped text with row heights that show it, sheet widths that print at no
less than 9 pt.

Excel and LibreOffice never grow a row for wrapped text written by openpyxl (no row height is stored, and
merged cells are never auto-fitted), so every wrapped row gets an explicit height from its text's display width
(CJK characters double, export.display_width) and its column widths.
"""
from __future__ import annotations

import math

from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from pipelines.report import export
from pipelines.palette import GREY as _GREY
from pipelines.palette import RED as _RED
from pipelines.palette import excel
from pipelines.guide.period import Period

TITLE = "党建“双创”季度简报"
RED, GREY = excel(_RED), excel(_GREY)  # the one palette, as openpyxl takes colours
MARGIN_IN = 0.5  # left/right page margins in inches
# Printable width of A4 (0.5 in side margins) in column-width units at 100 %, as LibreOffice prints them
# (measured: a 104-unit sheet prints portrait at 71 %). Fit-to-width may shrink a wider sheet down to MIN_SCALE
# (11 pt text then prints at ≥ 9 pt): a sheet up to PORTRAIT_WIDTH / MIN_SCALE wide prints portrait, a wider
# one landscape; none should be wider than LANDSCAPE_WIDTH / MIN_SCALE.
PORTRAIT_WIDTH = 74
LANDSCAPE_WIDTH = 110
MIN_SCALE = 0.85
DEFAULT_WIDTH = 8.43
LINE_HEIGHT = 1.4  # row height in points per line, as a multiple of the font size (CJK fonts run tall)


def header_text(period: str) -> str:
    return f"{TITLE} · {Period.parse(period).status_label()}"


FOOTER_TEXT = "第 &P 页 / 共 &N 页"


def page_setup(ws, period: str, *, title_rows: str | None = None, orientation: str = "landscape",
               header: str | None = None) -> None:
    """A4, one page wide, the sheet's header row repeated, title and quarter in the header (or `header`, for a
    file other than the report), page numbers in the footer."""
    ws.page_setup.orientation = orientation
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = MARGIN_IN
    ws.page_margins.top = ws.page_margins.bottom = 0.75
    ws.page_margins.header = ws.page_margins.footer = 0.3
    ws.print_options.horizontalCentered = True
    if title_rows:
        ws.print_title_rows = title_rows
    for part, text in ((ws.oddHeader.center, header or header_text(period)), (ws.oddFooter.center, FOOTER_TEXT)):
        part.text, part.size = text, 11


def column_width(ws, column: int) -> float:
    """A column's width in character units (an unset one at Excel's default 8.43; openpyxl would say 13)."""
    letter = get_column_letter(column)
    return (ws.column_dimensions[letter].width if letter in ws.column_dimensions else None) or DEFAULT_WIDTH


def width(ws, columns: int | None = None) -> float:
    """The width of the sheet's first `columns` columns (default: all) in character units."""
    return sum(column_width(ws, j) for j in range(1, (columns or ws.max_column) + 1))


def orientation(ws) -> str:
    return "portrait" if width(ws) <= PORTRAIT_WIDTH / MIN_SCALE else "landscape"


def sheet_title(ws, name: str, period: str) -> None:
    """Row 1: the sheet's title with the quarter."""
    ws.cell(1, 1, f"{name}（{Period.parse(period).status_label()}）").font = Font(size=14, bold=True, color=RED)
    ws.row_dimensions[1].height = 24


def lines(text, chars: float) -> int:
    """Lines `text` takes wrapped in a column `chars` units wide (explicit line breaks count)."""
    usable = max(chars - 1.5, 1)
    return sum(max(1, math.ceil(export.display_width(part) / usable)) for part in str(text).split("\n"))


def fit_row(ws, row: int, spans: dict[int, float] | None = None) -> None:
    """Give `row` the height its wrapped cells need (`spans`: column -> width for a merged cell)."""
    need = 0.0
    for cell in ws[row]:
        if cell.value is None or not (cell.alignment and cell.alignment.wrap_text):
            continue
        chars = (spans or {}).get(cell.column) or column_width(ws, cell.column)
        size = (cell.font.sz if cell.font and cell.font.sz else 11)
        need = max(need, lines(cell.value, chars) * size * LINE_HEIGHT + 2)
    if need:
        ws.row_dimensions[row].height = max(need, ws.row_dimensions[row].height or 0)


def paragraph(ws, row: int, text: str, span: int, size: int = 11) -> None:
    """`text` wrapped across columns 1..span of `row` (merged), with the row's height to show all of it."""
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=span)
    cell = export.put(ws, row, 1, text)
    cell.font = Font(size=size)
    cell.alignment = Alignment(wrap_text=True, vertical="top")
    fit_row(ws, row, {1: width(ws, span)})
