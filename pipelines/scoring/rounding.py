"""The one rounding rule of every displayed figure (四舍五入 to SHOWN_DECIMALS): the SQL macros the marts grade and
rank with, and their Python twins for the pages, the report and the CLI."""
from __future__ import annotations

import pandas as pd

SHOWN_DECIMALS = 1  # scores are shown, graded and ranked at this precision (dashboard, report, CLI)
# score_key(x): the score as shown, as an integer (tenths), rounded half up via millionths so float noise never
# splits a tie; shown(x): the same as a number. Grades and ranks use these, score_change compares contributions
# (negative too) with it. floor, as Python's // in half_up: DuckDB's // truncates, which rounds −4.26 to −4.2.
_MACROS = (f"CREATE OR REPLACE TEMP MACRO score_key(x) AS "
           f"floor((round(x * 1000000)::BIGINT + {10 ** (6 - SHOWN_DECIMALS) // 2}) / {10 ** (6 - SHOWN_DECIMALS)})"
           f"::BIGINT;"
           f"CREATE OR REPLACE TEMP MACRO shown(x) AS score_key(x) / {10 ** SHOWN_DECIMALS}::DOUBLE;")


def half_up(x, decimals: int):
    """A number (or Series) rounded half up (四舍五入) to `decimals` places, via millionths so float noise never
    tips a value shown as x.x5 — the one rounding rule of every displayed figure (scores, shares, percentages)."""
    unit = 10 ** (6 - decimals)
    if isinstance(x, pd.Series):
        return ((x * 1_000_000).round() + unit // 2).floordiv(unit) / 10 ** decimals
    if x is None or pd.isna(x):
        return x
    return (round(float(x) * 1_000_000) + unit // 2) // unit / 10 ** decimals


def shown(x):
    """A score (number or Series) as shown, graded and ranked: SHOWN_DECIMALS decimals, half up — the Python
    twin of the SQL macro, so a page never shows 87.2 for a score ranked as 87.3."""
    return half_up(x, SHOWN_DECIMALS)


def percent(share, decimals: int = 0) -> str:
    """A 0–1 share or completion as a percentage, half up: '86%' (decimals=0) or '86.3%'; '—' when missing."""
    if share is None or pd.isna(share):
        return "—"
    return f"{half_up(float(share) * 100, decimals):.{decimals}f}%"


def shown_change(now, before):
    """A change as shown beside two shown scores: their difference (numbers or Series), so 71.0 → 55.5
    always reads −15.5, never the −15.4 of the unrounded scores. NaN/None when either is missing."""
    if isinstance(now, pd.Series) or isinstance(before, pd.Series):
        return (shown(now) - shown(before)).round(SHOWN_DECIMALS)
    if now is None or before is None or pd.isna(now) or pd.isna(before):
        return None
    return round(shown(now) - shown(before), SHOWN_DECIMALS)


def shown_share(x):
    """核实率 (0–1, number or Series) as shown: a whole percentage, half up; None/NaN stays missing."""
    if isinstance(x, pd.Series):
        return half_up(x * 100, 0)
    if x is None or pd.isna(x):
        return x
    return int(half_up(float(x) * 100, 0))


def shown_percent(share):
    """A 0–1 share (number or Series) as the percentage shown: SHOWN_DECIMALS decimals, half up (shown's rule);
    `percent` is the same figure as text."""
    return half_up(share * 100, SHOWN_DECIMALS) if isinstance(share, pd.Series) else (
        share if share is None or pd.isna(share) else half_up(float(share) * 100, SHOWN_DECIMALS))
