"""The one writer of every Excel and CSV file the product gives out (the quarterly report, the pages'
downloads, the upload page's 校验结果, `scores --format csv`).

Branch names, colleges and ledger topics are typed by branches, so a file we give out must never carry a live
formula or break on a stray control character:
- text beginning with = + - @ tab or CR gets a leading apostrophe (OWASP "CSV injection"), so neither Excel
  nor LibreOffice evaluates it; numbers (negative ones too) stay numbers;
- characters XML 1.0 forbids (openpyxl refuses them with IllegalCharacterError) are dropped;
- an .xlsx text cell is always written as text, never as a formula (openpyxl makes any str starting with '='
  a formula), and `workbook_bytes` turns any formula cell left in a workbook back into inert text.
"""
from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, KNOWN_TYPES
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.workbook.child import INVALID_TITLE_REGEX

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# openpyxl's list of control characters plus the rest XML 1.0 forbids (U+FFFE, U+FFFF, lone surrogates)
ILLEGAL_XML = re.compile(f"{ILLEGAL_CHARACTERS_RE.pattern}|[\ufffe\uffff\ud800-\udfff]")
MAX_WIDTH = 60  # column width cap in Excel character units


def inert(value: Any) -> Any:
    """`value` safe for a spreadsheet cell: text without XML-illegal characters and, when it begins with
    = + - @ tab or CR, with a leading apostrophe; anything that is not text is returned unchanged."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_XML.sub("", value)
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def inert_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` whose text cells and column names went through `inert`; numeric columns untouched."""
    out = df.rename(columns=lambda col: inert(str(col)))
    for i in range(out.shape[1]):
        if not pd.api.types.is_numeric_dtype(out.iloc[:, i]):
            out.isetitem(i, out.iloc[:, i].map(inert, na_action="ignore"))
    return out


def csv_text(df: pd.DataFrame) -> str:
    """`df` as CSV text (no index), every text cell inert; lines end in CRLF (RFC 4180), so a text holding a
    bare CR is quoted instead of splitting its row in Excel."""
    return inert_frame(df).to_csv(index=False, lineterminator="\r\n")


def csv_bytes(df: pd.DataFrame) -> bytes:
    """`df` as a CSV file Excel opens in Chinese (UTF-8 with BOM), every text cell inert."""
    return csv_text(df).encode("utf-8-sig")


def cell_value(value: Any) -> Any:
    """What openpyxl can store for a DataFrame value: None for missing, Python scalars for numpy ones, inert
    text."""
    if value is None or (not isinstance(value, str) and pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)  # Excel has no time zones; the wall time is what was shown
    elif not isinstance(value, KNOWN_TYPES):
        value = str(value)
    return inert(value)


def put(ws, row: int, column: int, value: Any, *, editable: bool = False):
    """Write one value into `ws` as an inert cell (text always as text); returns the cell.

    `editable`: for a workbook the user edits and uploads again (the registry), text keeps its characters (no
    apostrophe); call `mark_text` once the cell is styled."""
    if editable and isinstance(value, str):
        cell = ws.cell(row, column, ILLEGAL_XML.sub("", value))
    else:
        cell = ws.cell(row, column, cell_value(value))
    if isinstance(cell.value, str):
        cell.data_type = "s"
    return cell


def mark_text(cell) -> None:
    """Mark a formula-like text cell with Excel's own text marker (quotePrefix): shown and read back without an
    apostrophe, and still text when someone edits the cell. Set after any style, which would reset it."""
    if isinstance(cell.value, str) and cell.value.startswith(FORMULA_PREFIXES):
        cell.quotePrefix = True


def sheet_title(name: str) -> str:
    """A worksheet title Excel accepts: no [ ] : * ? / \\ nor control characters, at most 31 characters."""
    return INVALID_TITLE_REGEX.sub("", ILLEGAL_XML.sub("", name))[:31] or "Sheet1"


def display_width(value: Any) -> int:
    """Display width in Excel character units: CJK characters count double."""
    text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def fit_columns(ws, df: pd.DataFrame, sample: int = 200, *, header_cap: int | None = None,
                cap: int = MAX_WIDTH) -> None:
    """Widen each column of `ws` (from A) to fit `df`'s header and its first `sample` values, at most `cap`
    units; a header counts at most `header_cap` units (the caller wraps a longer one)."""
    for j, col in enumerate(df.columns, 1):
        head = display_width(col) if header_cap is None else min(display_width(col), header_cap)
        width = max([head] + [display_width(v) for v in df.iloc[:sample, j - 1]])
        letter = get_column_letter(j)
        # openpyxl makes a column 13 wide on first access: only a width set before counts
        before = ws.column_dimensions[letter].width if letter in ws.column_dimensions else 0
        ws.column_dimensions[letter].width = max(before or 0, min(width + 2, cap))


def xlsx_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """A plain workbook, one sheet per table: bold header row, frozen below it, columns fitted."""
    wb = Workbook()
    for k, (name, df) in enumerate(sheets.items()):
        ws = wb.active if k == 0 else wb.create_sheet()
        ws.title = sheet_title(name)
        for j, col in enumerate(df.columns, 1):
            put(ws, 1, j, str(col)).font = Font(bold=True)
        for i, row in enumerate(df.itertuples(index=False), 2):
            for j, value in enumerate(row, 1):
                put(ws, i, j, value)
        ws.freeze_panes = "A2"
        fit_columns(ws, df)
    return workbook_bytes(wb)


def workbook_bytes(wb: Workbook) -> bytes:
    """`wb` saved as .xlsx bytes, after turning any formula cell into inert text (our files hold no formulas)."""
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.value = inert(str(cell.value))
                    cell.data_type = "s"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
