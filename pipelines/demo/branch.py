"""One demo branch over time: the measures the guide asks for, a quality per quarter from the branch's profile,
and each quarter's ledger, counts and self-assessment drawn from it (see `pipelines.demo.build`)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from pipelines.demo.school import (ACTIVIST_SHARE, ANNUAL_MONTHS, BREAK_FACTOR, BREAKS, COMMITTEE_ONLY,
                                   COVERAGE_SHAPE, DEFAULT_COVERAGE_SHAPE, DEVELOPMENT, EVIDENCE, EVIDENCE_EXTRA,
                                   FIXED_DAY, LECTURE_HOURS, MONTH_THEMES, NO_ATTENDANCE, OPTIONAL_RATES, PROFILES,
                                   SA_ACTIONS, SA_DOCS, SAME_MEETING, SEMESTER_MONTHS, STUDENT, THEMES, TOPICS,
                                   Branch)
from pipelines.guide import Guide, guide
from pipelines.workbook.model import LedgerRow
from pipelines.guide.period import Period


@dataclass
class Measures:
    """The guide's measures, grouped by what the generator has to produce for them."""

    monthly: list[str]
    quarterly: list[str]
    semester: list[str]
    annual: list[str]
    hours: list[tuple[str, float]]  # (activity, required hours per member per year)
    coverage: list[str]  # count field ids, year to date
    ratios: list[tuple[str, str]]  # (numerator, denominator) count field ids

    @classmethod
    def of(cls, g: Guide) -> "Measures":
        ms = [m for it in g.items for m in it.measures]

        def uniq(xs):
            return list(dict.fromkeys(xs))

        return cls(
            monthly=uniq(m.activity for m in ms if m.kind == "monthly"),
            quarterly=uniq(m.activity for m in ms if m.kind == "quarterly"),
            semester=uniq(m.activity for m in ms if m.kind == "semester"),
            annual=uniq(m.activity for m in ms if m.kind == "annual_count"),
            hours=uniq((m.activity, float(m.required)) for m in ms if m.kind == "hours"),
            coverage=uniq(m.count for m in ms if m.kind == "annual_coverage"),
            ratios=uniq((m.numerator, m.denominator) for m in ms if m.kind == "ratio"),
        )


def branch_quality(branch: Branch, t: int, n: int, rng: np.random.Generator) -> float:
    p = next(p for p in PROFILES if p.name == branch.profile)
    x = t / (n - 1) if n > 1 else 1.0
    q = p.start + (p.end - p.start) * x + branch.offset + rng.normal(0, 0.025)
    return float(np.clip(q, 0.2, 1.0))


def _month_end(year: int, month: int) -> int:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).day


class LedgerPlan:
    """Builds one quarter's ledger rows, avoiding duplicate (date, type) pairs and weekends."""

    def __init__(self, g: Guide, branch: Branch, year: int, quarter: int, rng: np.random.Generator):
        self.g, self.b, self.year, self.quarter, self.rng = g, branch, year, quarter, rng
        self.rows: list[tuple[dt.date, str, str, int | None, int | None, float | None, str]] = []
        self.used: set[tuple[dt.date, str]] = set()

    def day(self, month: int, lo: int = 1, hi: int = 31) -> tuple[int, int]:
        if self.b.branch_type == STUDENT and month in BREAKS:
            blo, bhi = BREAKS[month]
            lo, hi = max(lo, blo), min(hi, bhi)
            if lo > hi:
                lo, hi = BREAKS[month]
        hi = min(hi, _month_end(self.year, month))
        return lo, max(lo, hi)

    def date(self, month: int, lo: int = 1, hi: int = 31, kind: str = "", fixed: int | None = None) -> dt.date:
        lo, hi = self.day(month, lo, hi)
        d = fixed if fixed is not None and lo <= fixed <= hi else int(self.rng.integers(lo, hi + 1))
        end = _month_end(self.year, month)
        for step in range(0, 62):
            cand = d + ((step + 1) // 2) * (1 if step % 2 else -1)
            if not 1 <= cand <= end:
                continue
            date = dt.date(self.year, month, cand)
            if date.weekday() < 5 and (date, kind) not in self.used:
                self.used.add((date, kind))
                return date
        date = dt.date(self.year, month, min(d, end))
        self.used.add((date, kind))
        return date

    def add(self, date: dt.date, kind: str, topic: str, expected: int | None, attended: int | None,
            hours: float | None = None, online: bool = False) -> None:
        ev = EVIDENCE.get(kind, "活动记录")
        extra = self.rng.choice(EVIDENCE_EXTRA, size=int(self.rng.integers(1, 3)), replace=False)
        evidence = "、".join([ev, *[str(x) for x in extra]])
        if online:
            topic += "（线上）"
        self.rows.append((date, kind, topic, expected, attended, hours, evidence))


def _theme(rng: np.random.Generator, year: int, month: int) -> str:
    if month in MONTH_THEMES and rng.random() < 0.5:
        return MONTH_THEMES[month].format(party=year - 1921)
    return str(rng.choice(THEMES))


def _topic(rng: np.random.Generator, kind: str, year: int, month: int) -> str:
    template = str(rng.choice(TOPICS.get(kind, ("{name}",))))
    # A report or review held in Q1 is usually about the year just ended.
    report_year = year - 1 if month <= 3 else year
    if month == 1:
        sem = f"{year - 1}—{year}学年第一学期"
    else:
        sem = f"{year - 1}—{year}学年第二学期"
    return template.format(m=month, theme=_theme(rng, year, month), ry=report_year, sem=sem,
                           name=guide().activity_name(kind))


def _attendance(rng: np.random.Generator, n: int, rate: float) -> int:
    return int(min(n, max(1, round(n * float(np.clip(rate + rng.normal(0, 0.04), 0.3, 1.0))))))


def plan_annual(measures: Measures, branch: Branch, periods: list[Period], q_of: dict[Period, float],
                rng: np.random.Generator) -> dict[tuple[int, str], int | None]:
    """Once-a-year activities: a month per year among the months we cover, and whether it happens."""
    exemplary = branch.profile == "exemplary"
    annual: dict[tuple[int, str], int | None] = {}
    years = sorted({p.year for p in periods})
    for y in years:
        months = [m for p in periods if p.year == y for m in p.months]
        for act in measures.annual:
            preferred = ANNUAL_MONTHS.get(act, tuple(months))
            prefs = [m for m in preferred if m in months]
            if not prefs and y == years[-1] and months[-1] < 12:
                annual[(y, act)] = None  # planned for later this year, after the latest quarter
                continue
            prefs = prefs or months
            weights = np.array([0.55 ** i for i in range(len(prefs))])
            month = int(rng.choice(prefs, p=weights / weights.sum()))
            qual = q_of[Period.of(dt.date(y, month, 1))]
            annual[(y, act)] = month if exemplary or rng.random() < 0.12 + 0.95 * qual else None
        for act, with_act in SAME_MEETING.items():
            if annual.get((y, act)) and annual.get((y, with_act)) and rng.random() < 0.7:
                annual[(y, act)] = annual[(y, with_act)]
    return annual


@dataclass
class Quarter:
    """One branch-quarter being simulated: what every activity kind needs to add its ledger rows."""

    g: Guide
    branch: Branch
    year: int
    quarter: int
    members: int
    qual: float
    train_rate: float
    rng: np.random.Generator
    led: LedgerPlan

    @property
    def months(self) -> list[int]:
        return Period(self.year, self.quarter).months

    @property
    def student(self) -> bool:
        return self.branch.branch_type == STUDENT

    @property
    def exemplary(self) -> bool:
        return self.branch.profile == "exemplary"

    @property
    def meet_rate(self) -> float:
        return 0.7 + 0.28 * self.qual

    def happens(self, base: float, month: int | None = None) -> tuple[bool, bool]:
        """(held, online): exemplary branches always hold it; students hold less in the breaks."""
        in_break = self.student and month in BREAKS
        if self.exemplary:
            return True, in_break
        p = base * (BREAK_FACTOR if in_break else 1.0)
        return bool(self.rng.random() < p), in_break

    def topic(self, act: str, month: int) -> str:
        return _topic(self.rng, act, self.year, month)

    def attendance(self, rate: float | None = None) -> int:
        return _attendance(self.rng, self.members, self.meet_rate if rate is None else rate)

    def monthly(self, act: str) -> None:
        for m in self.months:
            held, online = self.happens(min(0.98, 0.22 + 0.82 * self.qual), m)
            if not held:
                continue
            if act in COMMITTEE_ONLY:  # early in the month, to plan it
                date = self.led.date(m, 1, 10, kind=act)
                att = self.branch.committee - int(self.rng.random() < 0.15)
                self.led.add(date, act, self.topic(act, m), self.branch.committee, att, online=online)
            else:
                date = self.led.date(m, kind=act, fixed=self.branch.theme_day if act in FIXED_DAY else None)
                att = self.attendance()
                self.led.add(date, act, self.topic(act, m), self.members, att, online=online)

    def quarterly(self, act: str) -> None:
        # Students meet in term time: the quarter's middle month, or the first month after a break.
        choices = [m for m in self.months if not (self.student and m in BREAKS)] or self.months
        m = int(self.rng.choice(choices))
        held, _ = self.happens(min(1.0, 0.2 + 0.85 * self.qual))
        if held:
            self.led.add(self.led.date(m, 5, 28, kind=act), act, self.topic(act, m), self.members,
                         self.attendance())

    def semester(self, act: str) -> None:
        for sem_months in SEMESTER_MONTHS:
            due = [m for m in sem_months if m in self.months]
            if not due:
                continue
            m = int(self.rng.choice(due))
            held, _ = self.happens(min(1.0, 0.15 + 0.9 * self.qual))
            if held:
                expected = None if act in NO_ATTENDANCE else self.members
                self.led.add(self.led.date(m, 5, 25, kind=act), act, self.topic(act, m), expected,
                             self.attendance() if expected else None)

    def annual(self, act: str, month: int | None) -> None:
        if month in self.months:
            date = self.led.date(month, 10, 28, kind=act)
            hours = LECTURE_HOURS.get(act) if self.rng.random() < 0.5 else None
            self.led.add(date, act, self.topic(act, month), self.members, self.attendance(), hours=hours)

    def hours(self, act: str, required: float) -> None:
        # Yearly hours per member rise with quality: exemplary well above the requirement, lagging far below.
        rng = self.rng
        yearly = (required * (0.2 + 1.1 * self.qual ** 1.4) if not self.exemplary
                  else required * rng.uniform(1.18, 1.4))
        target = yearly / 4 / self.train_rate
        train_months = [m for m in self.months if not (self.student and m in BREAKS)] or self.months[-1:]
        got = 0.0
        while got < target - (0 if self.exemplary else 1):
            h = float(rng.choice([2, 2, 3, 3, 4, 4, 8] if got + 8 <= target + 2 else [2, 3, 4]))
            m = int(rng.choice(train_months))
            self.led.add(self.led.date(m, kind=act), act, self.topic(act, m), self.members,
                         self.attendance(self.train_rate), hours=h)
            got += h

    def optional(self, act: str, rate_t: float, rate_s: float) -> None:
        rng = self.rng
        k = int(rng.poisson((rate_s if self.student else rate_t) * (0.4 + 0.8 * self.qual)))
        for _ in range(k):
            m = int(rng.choice(self.months))
            if self.student and m in BREAKS and rng.random() > 0.25:
                continue  # few optional student activities in the breaks
            expected = None if act in NO_ATTENDANCE else self.members
            hours = LECTURE_HOURS.get(act) if rng.random() < 0.5 else None
            self.led.add(self.led.date(m, kind=act), act, self.topic(act, m), expected,
                         self.attendance() if expected else None, hours=hours)

    def ledger(self, measures: Measures, annual: dict[tuple[int, str], int | None]) -> None:
        """Every activity of the quarter, kind by kind (the order keeps the random stream reproducible)."""
        for act in measures.monthly:
            self.monthly(act)
        for act in measures.quarterly:
            self.quarterly(act)
        for act in measures.semester:
            self.semester(act)
        for act in measures.annual:
            self.annual(act, annual.get((self.year, act)))
        for act, required in measures.hours:
            self.hours(act, required)
        activity_ids = {a.id for a in self.g.activity_types}
        for act, (rate_t, rate_s) in OPTIONAL_RATES.items():
            if act in activity_ids:
                self.optional(act, rate_t, rate_s)

    def counts(self, measures: Measures, coverage_state: dict[str, tuple[int, float]]) -> dict[str, float | None]:
        """The 统计数据 sheet; `coverage_state` carries the year-to-date coverage from quarter to quarter."""
        rng, members, exemplary = self.rng, self.members, self.exemplary
        counts: dict[str, float | None] = {f.id: None for f in self.g.count_fields}
        for num, den in measures.ratios:
            counts[den] = members
            short = 0 if exemplary else int(rng.binomial(members, max(0.0, 0.14 * (1 - self.qual) ** 1.2)))
            counts[num] = members - short
        for fid in measures.coverage:
            # Cumulative since January: grows through the year and resets in January.
            prev_year, prev = coverage_state.get(fid, (self.year, 0.0))
            if prev_year != self.year:
                prev = 0.0
            final = 1.0 if exemplary else float(np.clip(0.4 + 0.62 * self.qual + rng.normal(0, 0.05), 0.2, 1.0))
            shape = COVERAGE_SHAPE.get(fid, DEFAULT_COVERAGE_SHAPE)
            share = final * shape[self.quarter - 1] * float(rng.uniform(0.9, 1.05))
            covered = float(min(members, max(prev, round(share * members))))
            if self.quarter == 4 and exemplary:
                covered = float(members)
            coverage_state[fid] = (self.year, covered)
            counts[fid] = covered
        tix = 1 if self.student else 0
        size = members / 30
        for fid, rates in DEVELOPMENT.items():
            if fid in counts and rates[tix] is not None:
                counts[fid] = float(rng.poisson(rates[tix][self.quarter - 1] * size * (0.6 + 0.6 * self.qual)))
        if "activists" in counts:
            counts["activists"] = float(rng.poisson(ACTIVIST_SHARE[tix] * members))
            if counts.get("new_members") is not None:
                # 发展党员 come from the 积极分子 pool
                counts["new_members"] = min(counts["new_members"], counts["activists"])
        # Counts of people never exceed the branch's members (the reader rejects that).
        return {k: (min(v, float(members)) if v is not None else None) for k, v in counts.items()}


def self_assessment_answers(g: Guide, branch_type: str, qual: float, ledger: list[LedgerRow], rng: np.random.Generator,
                            warn: bool) -> dict[str, tuple[str, str]]:
    """Answers correlated with quality; items measured only from the ledger get a summary of it as evidence.

    `warn` leaves 1–2 完成 without evidence (a warning, never an error)."""
    ids = [o.id for o in g.self_assessment]  # ordered best to worst by the guide
    best, middle, worst = ids[0], ids[len(ids) // 2], ids[-1]
    held: dict[str, list[LedgerRow]] = {}
    for row in ledger:
        held.setdefault(row.activity_type, []).append(row)
    out: dict[str, tuple[str, str]] = {}
    for item in g.items_for(branch_type):
        u = qual + rng.normal(0, 0.15)
        status = best if u > 0.72 else middle if u > 0.38 else worst
        measure = next((m for m in item.measures if m.kind == "self_assessed"), None)
        if measure is None:
            parts = []
            for m in item.measures:
                rows = held.get(m.activity or "", [])
                if m.kind == "hours":
                    parts.append(f"{g.activity_name(m.activity)}{len(rows)}次，共{sum(r.hours or 0 for r in rows):g}学时")
                elif m.activity:
                    parts.append(f"{g.activity_name(m.activity)}{len(rows)}次")
            evidence = "本季度" + "、".join(parts) + "，详见活动台账" if parts else "详见活动台账和统计数据"
            out[item.id] = (status, evidence)
            continue
        action = str(rng.choice(SA_ACTIONS)).format(name=measure.name, a=int(rng.integers(1, 4)),
                                                    b=int(rng.integers(1, 3)))
        docs = "、".join(str(x) for x in rng.choice(SA_DOCS, size=2, replace=False))
        if status == best:
            evidence = f"{action}；佐证：{docs}"
        elif status == middle:
            evidence = f"{action}，部分工作仍需加强；佐证：{docs}"
        else:
            evidence = f"本季度“{measure.name}”尚未有效开展，已列入下季度工作计划"
        out[item.id] = (status, evidence)
    if warn:
        done = [k for k, (s, _) in out.items() if s == best] or list(out)[:1]
        for k in rng.choice(done, size=min(len(done), int(rng.integers(1, 3))), replace=False):
            out[str(k)] = (best, "")
    return out
