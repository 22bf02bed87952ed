"""A period (季度): one calendar quarter, written 2026Q3. Every quarter rule — parsing, labels, the quarter
before and after, its months and dates, the latest completed quarter, whether a quarter is still in progress —
lives here and nowhere else."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

# '2026Q3', '2026q3', ' 2026 Q03 ' — a four-digit year, Q, a quarter 1–4
_PATTERN = re.compile(r"\s*(\d{4})\s*[Qq]\s*0*([1-4])\s*")
IN_PROGRESS = "（进行中）"  # appended to the label of a quarter that has not ended


@dataclass(frozen=True, order=True)
class Period:
    """One calendar quarter; ordered by time, hashable, `str()` is the canonical '2026Q3'."""

    year: int
    quarter: int

    def __post_init__(self) -> None:
        if not 1 <= self.quarter <= 4:
            raise ValueError(f"季度应为 1–4，而不是 {self.quarter}")

    @classmethod
    def parse(cls, text: str | Period) -> Period:
        """'2026Q3', '2026q3', ' 2026 Q3 ' → Period(2026, 3); ValueError (in Chinese) when it is no period."""
        if isinstance(text, Period):
            return text
        m = _PATTERN.fullmatch(str(text))
        if not m:
            raise ValueError(f"季度格式不正确：{text}（应为如 2026Q3）")
        return cls(int(m[1]), int(m[2]))

    @classmethod
    def of(cls, day: dt.date) -> Period:
        """The quarter `day` falls in."""
        return cls(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def latest_completed(cls, today: dt.date | None = None) -> Period:
        """The last quarter that has fully ended before `today` (2026-11-27 → 2026Q3): the one branches are
        reporting on now."""
        return cls.of(today or dt.date.today()).previous

    def ended(self, today: dt.date | None = None) -> bool:
        """Whether the quarter is over on `today` (its last day is before it): the one rule for "complete"."""
        return self.end < (today or dt.date.today())

    def in_progress(self, today: dt.date | None = None) -> bool:
        """Whether the quarter has not ended on `today` (the current quarter, or one still to come): its data
        can only be partial, so it is labelled 进行中, is not the default view and stays out of trends."""
        return not self.ended(today)

    def status_label(self, today: dt.date | None = None) -> str:
        """`label`, with '（进行中）' while the quarter has not ended: '2026 年第 4 季度（进行中）'."""
        return self.label + (IN_PROGRESS if self.in_progress(today) else "")

    def __str__(self) -> str:
        return f"{self.year}Q{self.quarter}"

    @property
    def label(self) -> str:
        """'2026 年第 3 季度', as every page and the report write it."""
        return f"{self.year} 年第 {self.quarter} 季度"

    @property
    def short_label(self) -> str:
        """'2026年Q3': compact, for chart axes."""
        return f"{self.year}年Q{self.quarter}"

    @property
    def previous(self) -> Period:
        """The calendar quarter before (2026Q1 → 2025Q4)."""
        return Period(self.year - 1, 4) if self.quarter == 1 else Period(self.year, self.quarter - 1)

    @property
    def next(self) -> Period:
        """The calendar quarter after (2025Q4 → 2026Q1)."""
        return Period(self.year + 1, 1) if self.quarter == 4 else Period(self.year, self.quarter + 1)

    @property
    def months(self) -> list[int]:
        """Its three months, e.g. [7, 8, 9] for Q3."""
        return [3 * (self.quarter - 1) + i for i in (1, 2, 3)]

    @property
    def start(self) -> dt.date:
        """Its first day."""
        return dt.date(self.year, self.months[0], 1)

    @property
    def end(self) -> dt.date:
        """Its last day."""
        return self.next.start - dt.timedelta(days=1)

    def back(self, n: int) -> list[Period]:
        """The `n` quarters ending with this one, ascending (at least this one)."""
        out = [self]
        while len(out) < n:
            out.append(out[-1].previous)
        return out[::-1]
