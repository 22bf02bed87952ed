"""Normalise what branch secretaries really type into workbook cells. Pure functions, no I/O.

Decisions (documented here once):
- Text for lookups (branch type, activity type, status, field names, item ids) is NFKC-normalised (full-width
  letters, digits and punctuation become half-width) and all whitespace, including line breaks and the
  ideographic space, is removed, because Chinese names never contain spaces: "主题 党日\n" → "主题党日".
- Free text (topic, evidence, names) keeps its characters; only runs of whitespace and line breaks collapse to
  one space and the ends are stripped. A tab or line break inside a long text therefore becomes a space.
- Control characters are never stored: C0 controls other than tab, line feed and carriage return (NUL, BEL, BS,
  ESC, …), DEL, C1 controls (U+0080–U+009F) and what XML 1.0 forbids (lone surrogates, U+FFFE, U+FFFF) are
  removed (`CONTROL`, `strip_controls`). They come from copying out of web pages, chat tools and other systems,
  are invisible on screen, and would break the Excel exports. The reader removes them from every text cell with
  a warning naming the cell (`control_chars_removed`); `text()` drops them too, so no other path stores them.
- Dates: real date cells, Excel serial numbers (1900 date system; what a date typed into a text-formatted cell
  or a copy from another system gives), and text in the forms 2026-03-05, 2026/3/5, 2026.3.5, 2026年3月5日,
  20260305, with full-width digits and stray spaces, optionally followed by a time. A well-formed date that
  does not exist (2026-02-30, month 13) raises `ImpossibleDate`; anything else unreadable raises `InvalidDate`.
- Numbers typed as text: "12", "１２", " 12 ", "1,200" and a number followed by a unit secretaries commonly add
  ("12人", "2学时", "1.5小时") are accepted as that number, because the meaning is unambiguous. Anything else
  ("十二", "约12", "12-15", "12人左右") raises `InvalidNumber`: guessing would put wrong numbers into scores.
"""
from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata

from pipelines.guide import Guide

EXCEL_EPOCH = dt.date(1899, 12, 30)  # 1900 date system, including Excel's phantom 1900-02-29
# Serial range accepted as a date: 1900-01-01 .. 9999-12-31 (Excel's own bounds).
_SERIAL_MIN, _SERIAL_MAX = 1, 2958465
UNITS = ("人次", "人", "名", "位", "个", "次", "学时", "课时", "小时", "h")
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4}

_DATE_RE = re.compile(
    r"^(?P<y>\d{4})\s*(?:[-/.年]\s*)(?P<m>\d{1,2})\s*(?:[-/.月]\s*)(?P<d>\d{1,2})\s*[日号]?"
    r"(?:[T\s]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_COMPACT_DATE_RE = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$")
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
# What may not be stored (see the module doc): tab (09), line feed (0A) and carriage return (0D) are whitespace.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class InvalidDate(ValueError):
    """The value cannot be read as a date."""


class ImpossibleDate(InvalidDate):
    """The value has the form of a date that does not exist (2026-02-30)."""


class InvalidNumber(ValueError):
    """The value cannot be read as a number."""


class NotInteger(InvalidNumber):
    """A count of people that is a number but not a whole one."""


def is_blank(value: object) -> bool:
    """True for None, "" and whitespace-only text (what calamine gives for empty cells)."""
    return value is None or (isinstance(value, str) and not value.strip())


def strip_controls(value: str) -> tuple[str, list[str]]:
    """`value` without the characters that may not be stored, and those removed as 'U+001B' (each once)."""
    found = CONTROL.findall(value)
    if not found:
        return value, []
    return CONTROL.sub("", value), list(dict.fromkeys(f"U+{ord(ch):04X}" for ch in found))


def text(value: object) -> str:
    """Free text as written, whitespace runs and line breaks collapsed to one space, control characters
    removed (see strip_controls); numbers without '.0'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        value = value.date() if value.time() == dt.time() else value
    if isinstance(value, dt.date):
        return value.isoformat()
    return " ".join(CONTROL.sub("", str(value)).split())


def key(value: object) -> str:
    """Lookup key: NFKC (full-width → half-width), no whitespace at all. '主题 党日\\n' → '主题党日'."""
    return "".join(unicodedata.normalize("NFKC", text(value)).split())


_DASHES = str.maketrans({ch: "-" for ch in "‐‑‒–—―−"})  # hyphen look-alikes typed by IMEs and Word


def code(value: object) -> str:
    """A branch code as stored and looked up: key(), upper case, any dash as '-'. ' dq—t01 ' → 'DQ-T01'."""
    return key(value).translate(_DASHES).upper()


# ---- dates ---------------------------------------------------------------------------------------
def _make_date(y: int, m: int, d: int, raw: object) -> dt.date:
    try:
        return dt.date(y, m, d)
    except ValueError as e:
        raise ImpossibleDate(f"no such date: {raw!r}") from e


def from_serial(serial: float) -> dt.date:
    """Excel serial number (1900 date system) → date; the time fraction is dropped."""
    if isinstance(serial, bool) or not math.isfinite(serial) or not _SERIAL_MIN <= serial <= _SERIAL_MAX:
        raise InvalidDate(f"not an Excel date serial: {serial!r}")
    return EXCEL_EPOCH + dt.timedelta(days=int(serial))


_MONTH_DAY_RE = re.compile(r"^(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]?$")


def parse_date(value: object, year: int | None = None) -> dt.date | None:
    """A cell value as a date; None when blank. Raises InvalidDate / ImpossibleDate (see module doc).

    With `year` (the workbook's 年度), a date typed without its year as '7月5日' is read in that year.
    """
    if is_blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        raise InvalidDate(f"not a date: {value!r}")
    if isinstance(value, (int, float)):
        if float(value).is_integer() and 19000101 <= value <= 99991231:  # 20260305 typed as a number
            return parse_date(str(int(value)))
        return from_serial(float(value))
    if not isinstance(value, str):  # time / timedelta cells
        raise InvalidDate(f"not a date: {value!r}")
    s = unicodedata.normalize("NFKC", value).strip()
    s = " ".join(s.split())
    m = _DATE_RE.match(s) or _COMPACT_DATE_RE.match(s)
    if m:
        return _make_date(int(m["y"]), int(m["m"]), int(m["d"]), value)
    if re.fullmatch(r"\d{5}(\.\d+)?", s):  # a serial stored as text, e.g. pasted from another system
        return from_serial(float(s))
    m = _MONTH_DAY_RE.match(s)
    if m and year:
        return _make_date(year, int(m["m"]), int(m["d"]), value)
    raise InvalidDate(f"not a date: {value!r}")


# ---- numbers -------------------------------------------------------------------------------------
def parse_number(value: object) -> float | None:
    """A cell value as a number; None when blank. Accepts '１２', '1,200', '12人', '2学时'; raises InvalidNumber."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise InvalidNumber(f"not a number: {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise InvalidNumber(f"not a number: {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise InvalidNumber(f"not a number: {value!r}")
    s = key(value).replace(",", "")
    for unit in UNITS:
        if s.lower().endswith(unit) and len(s) > len(unit):
            s = s[: -len(unit)]
            break
    if not _NUMBER_RE.match(s):
        raise InvalidNumber(f"not a number: {value!r}")
    return float(s)


def parse_int(value: object) -> int | None:
    """A count of people: parse_number, then it must be whole (raises NotInteger for 12.5)."""
    n = parse_number(value)
    if n is None:
        return None
    if not n.is_integer():
        raise NotInteger(f"not a whole number: {value!r}")
    return int(n)


def parse_year(value: object) -> int | None:
    """A year such as 2026 (also '2026年', '2026年度', '２０２６'); None when blank; raises InvalidNumber."""
    if isinstance(value, str):
        value = key(value).removesuffix("年度").removesuffix("年")
    n = parse_int(value)
    if n is not None and not 2000 <= n <= 2100:
        raise InvalidNumber(f"not a plausible year: {value!r}")
    return n


def parse_quarter(value: object) -> int | None:
    """A quarter 1–4; also '第1季度', '一季度', 'Q3', '３'. None when blank; raises InvalidNumber."""
    if is_blank(value):
        return None
    if isinstance(value, str):
        s = key(value).upper().removeprefix("第").removeprefix("Q").removesuffix("季度").removesuffix("季")
        s = s.removeprefix("第")
        value = _CN_DIGITS.get(s, s)
    n = parse_int(value)
    if n not in (1, 2, 3, 4):
        raise InvalidNumber(f"not a quarter: {value!r}")
    return n


# ---- guide lookups -------------------------------------------------------------------------------
def branch_type(value: object, g: Guide) -> str | None:
    """Branch type id for what was typed (name, id or synonym, e.g. 教工 → teacher), or None."""
    return g.lookup("branch_type", key(value)) if not is_blank(value) else None


def activity_type(value: object, g: Guide) -> str | None:
    """Activity type id for what was typed (name or synonym, e.g. 支委会 → committee_meeting), or None."""
    return g.lookup("activity_type", key(value)) if not is_blank(value) else None


def status(value: object, g: Guide) -> str | None:
    """Self-assessment status id for a 完成情况 name (or id), or None when unknown or blank."""
    k = key(value)
    return next((o.id for o in g.self_assessment if k in (o.name, o.id, *map(key, o.synonyms))), None) if k else None


def item_id(value: object) -> str:
    """An item id as typed ('１．１．１ ' → '1.1.1'; full-width '。' also read as a dot)."""
    return key(value).replace("。", ".")
