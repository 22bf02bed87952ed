"""The demo school: realistic branch workbooks written through the real template, and a database built from them.

A school of about 12 二级党组织 (colleges) and 80 branches (teacher and student) over at least 6 quarters ending
with the latest completed quarter. Each branch follows a profile (exemplary, average, lagging, improving,
declining) that sets a quality between 0 and 1 per quarter; every activity, count and self-assessment answer
is drawn from that quality, so the scores computed from the demo are believable and differ for a reason.

What the generator produces is driven by the guide's measures (monthly, quarterly, semester, annual, hours,
coverage, ratio), so a changed guide changes the demo. The tables below only add what the guide cannot say:
school names, topics, preferred months, how often optional activities happen.

Determinism: the same seed (and `today`) gives byte-identical files — openpyxl's timestamps in docProps and the
zip entries are pinned after writing.
"""
from __future__ import annotations

import datetime as dt
import contextlib
import json
import math
import os
import re
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from openpyxl.utils import get_column_letter

from pipelines.config import settings
from pipelines.guide import Guide, guide
from pipelines.model import BranchInfo, LedgerRow, RegistryEntry
from pipelines.period import Period

ACTOR = "演示数据"
REGISTRY_FILE = "支部名册.xlsx"
SUMMARY_FILE = "demo_summary.json"  # written last: its presence means the folder is complete

TEACHER, STUDENT = "teacher", "student"  # guide branch type ids
TEACHER_SHARE = 0.4


# ---- the school -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class College:
    """A 二级党组织: its code prefix, name, relative size, student majors and named teacher units."""

    code: str
    name: str
    weight: float
    majors: tuple[str, ...] = ()
    units: tuple[str, ...] = ()  # teacher branches named after units (机关处室, 教研室) instead of numbered


COLLEGES: tuple[College, ...] = (
    College("XX", "信息工程学院党委", 10, ("计算机科学", "软件工程", "电子信息工程", "物联网工程")),
    College("JX", "机械工程学院党委", 9, ("机械设计制造", "车辆工程", "智能制造工程")),
    College("JG", "经济与管理学院党委", 9, ("会计学", "财务管理", "市场营销")),
    College("TJ", "土木与建筑工程学院党委", 8, ("土木工程", "建筑学", "工程造价")),
    College("DQ", "电气与自动化学院党委", 7, ("电气工程", "自动化")),
    College("YS", "艺术与传媒学院党委", 6, ("视觉传达设计", "环境设计", "数字媒体艺术")),
    College("JD", "机关党委", 6, (), ("党政办公室", "组织人事处", "教务处", "学生工作处", "财务处",
                                     "后勤保障处", "图书馆", "科研处")),
    College("WY", "外国语学院党总支", 5, ("英语", "商务英语", "日语")),
    College("HH", "化学与环境工程学院党总支", 5, ("应用化学", "环境工程")),
    College("RF", "人文与法学学院党总支", 5, ("法学", "汉语言文学")),
    College("MY", "马克思主义学院党总支", 3, (), ("马克思主义基本原理教研室", "思想道德与法治教研室",
                                               "中国近现代史纲要教研室", "形势与政策教研室")),
    College("SL", "数理学院党总支", 3, ("数学与应用数学",)),
)


@dataclass(frozen=True)
class Profile:
    """How a branch's quality (0–1) moves from the first to the last quarter, and how common the profile is."""

    name: str
    start: float
    end: float
    share: float


PROFILES: tuple[Profile, ...] = (
    Profile("exemplary", 0.96, 0.96, 0.20),
    Profile("average", 0.76, 0.76, 0.35),
    Profile("lagging", 0.45, 0.45, 0.15),
    Profile("improving", 0.42, 0.93, 0.15),
    Profile("declining", 0.93, 0.48, 0.15),
)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余杜叶程魏苏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志文斌海波宁晨雪琳博宇浩然思雨欣怡子涵佳慧"

# Activity types are referred to by guide id (data, not logic). Preferred months for once-a-year activities.
ANNUAL_MONTHS = {
    "life_meeting": (1, 12, 11, 3),  # 组织生活会: usually Q4 or Q1
    "democratic_review": (1, 12, 11, 3),  # 民主评议: usually with the 组织生活会
    "report_to_assembly": (12, 1, 11),  # 年度工作报告 at year end
    "secretary_lecture": (6, 7, 11, 4, 10),  # 七一 or autumn
}
SEMESTER_MONTHS = ((1,), (6, 7))  # semester ends: January, and June/July
SAME_MEETING = {"democratic_review": "life_meeting"}  # 民主评议 usually at the 组织生活会
COMMITTEE_ONLY = {"committee_meeting"}  # attended by the 支委, not by all members
FIXED_DAY = {"theme_day"}  # 每月相对固定1天
NO_ATTENDANCE = {"heart_talk", "report_to_superior"}  # no 应到/实到 for these
LECTURE_HOURS = {"secretary_lecture": 2.0, "party_lecture": 1.5}  # 学时 some secretaries note for a lecture
# Cumulative coverage counts by quarter, as a share of the year's final coverage (talks come early).
COVERAGE_SHAPE = {"members_talked": (0.35, 0.6, 0.85, 1.0)}
DEFAULT_COVERAGE_SHAPE = (0.25, 0.5, 0.75, 1.0)
# Optional activities (no measure): mean per quarter at quality 1, for teacher and student branches.
OPTIONAL_RATES = {
    "party_lecture": (0.6, 0.6),
    "group_meeting": (0.8, 1.2),
    "heart_talk": (0.8, 0.8),
    "volunteer_service": (0.5, 1.6),
    "service_activity": (0.6, 0.5),
    "publicity": (0.4, 0.4),
    "other": (0.3, 0.4),
}
# Student winter and summer breaks: allowed day range in the month; activities there are rarer and online.
BREAKS = {1: (3, 12), 2: (20, 28), 7: (1, 8), 8: (22, 31)}
BREAK_FACTOR = 0.55
# Party-development counts (no measure reads them): mean per quarter for (teacher, student), by quarter 1..4,
# per 30 members; recommended (团组织推优) is for student branches only.
DEVELOPMENT = {
    "applicants": ((0.3, 0.2, 0.2, 0.4), (3.0, 1.5, 2.5, 6.0)),
    "new_members": ((0.1, 0.2, 0.1, 0.3), (0.6, 2.5, 0.4, 2.5)),
    "recommended": (None, (1.5, 2.5, 0.8, 3.0)),
}
ACTIVIST_SHARE = (0.05, 0.45)  # 入党积极分子 stock relative to members

THEMES = (
    "学习贯彻习近平新时代中国特色社会主义思想", "学习党的二十大精神", "学习《中国共产党章程》",
    "学习《中国共产党纪律处分条例》", "学习贯彻全国教育大会精神", "弘扬教育家精神", "加强师德师风建设",
    "铸牢中华民族共同体意识", "学习《中国共产党支部工作条例（试行）》", "落实立德树人根本任务",
    "学习党史 坚定理想信念", "党的创新理论学习", "意识形态工作专题学习", "作风建设专题学习",
)
MONTH_THEMES = {
    3: "学雷锋志愿服务", 4: "全民国家安全教育日学习", 5: "纪念五四运动", 6: "庆祝中国共产党成立{party}周年",
    7: "庆祝中国共产党成立{party}周年", 9: "庆祝教师节", 10: "喜迎国庆", 12: "国家宪法日学习",
}
TOPICS = {
    "committee_meeting": ("研究部署{m}月支部工作", "讨论入党积极分子培养考察情况", "研究{m}月主题党日活动方案",
                          "研究党员发展计划", "分析党员思想动态", "研究党费收缴情况", "研究支部学习计划"),
    "general_meeting": ("传达学习上级党委会议精神", "讨论接收预备党员", "通报支部近期工作", "讨论预备党员转正",
                        "学习《中国共产党支部工作条例（试行）》"),
    "secretary_lecture": ("书记讲党课：{theme}",),
    "party_lecture": ("微党课：{theme}", "专题党课：{theme}"),
    "theme_day": ("{m}月主题党日：{theme}",),
    "group_meeting": ("党小组学习讨论：{theme}",),
    "training": ("集中学习：{theme}", "专题培训：{theme}", "理论学习：{theme}", "党员集中轮训：{theme}"),
    "life_meeting": ("{ry}年度专题组织生活会",),
    "democratic_review": ("{ry}年度民主评议党员",),
    "heart_talk": ("支委与党员谈心谈话", "党员之间谈心谈话", "书记与支委谈心谈话"),
    "report_to_superior": ("{sem}支部工作报告",),
    "report_to_assembly": ("{ry}年度支部工作报告",),
    "volunteer_service": ("社区志愿服务", "图书馆志愿服务", "校园环境整治志愿服务", "学业帮扶志愿服务",
                          "社区科普志愿服务"),
    "service_activity": ("走访慰问困难党员", "困难学生帮扶座谈", "慰问老党员", "为师生办实事"),
    "publicity": ("优秀党员先进事迹宣讲", "身边榜样座谈交流", "先进典型事迹分享会"),
    "other": ("参观红色教育基地", "观看红色电影", "党建知识竞赛"),
}
EVIDENCE = {
    "committee_meeting": "会议记录", "general_meeting": "会议记录", "secretary_lecture": "党课讲稿",
    "party_lecture": "党课讲稿", "theme_day": "活动方案", "group_meeting": "学习记录", "training": "学习笔记",
    "life_meeting": "对照检查材料", "democratic_review": "民主评议表", "heart_talk": "谈心谈话记录",
    "report_to_superior": "工作报告", "report_to_assembly": "工作报告",
}
EVIDENCE_EXTRA = ("签到表", "活动照片", "新闻稿", "会议照片")
SA_ACTIONS = (
    "围绕“{name}”开展专题学习{a}次、研讨交流{b}次",
    "制定“{name}”工作计划并按月推进落实",
    "结合支部实际落实“{name}”，建立工作台账",
    "支委会专题研究“{name}”{a}次，分工到人",
)
SA_DOCS = ("会议记录", "学习笔记", "活动照片", "工作台账", "新闻报道", "工作总结")


# ---- plans --------------------------------------------------------------------------------------------------
@dataclass
class Branch:
    """One demo branch and its habits (drawn once, so a secretary writes the same way every quarter)."""

    index: int
    code: str
    name: str
    college: str
    branch_type: str
    profile: str
    members: int
    secretary: str
    filled_by: str
    committee: int  # 支委 size
    theme_day: int  # the branch's fixed day of the month for 主题党日
    offset: float  # the branch's own deviation from its profile's quality
    synonyms: bool  # writes activity types as it pleases (支委会, 党日活动 …)
    messy_dates: bool  # types some dates as text (2026/3/5, 2026年3月5日)


@dataclass
class Task:
    """Everything needed to write one workbook (picklable, for the process pool)."""

    path: str
    branch_type: str
    info: BranchInfo
    ledger: list[LedgerRow]
    counts: dict[str, float | None]
    self_assessment: dict[str, tuple[str, str]]
    raw_cells: dict[tuple[str, str], object]
    stamp: dt.datetime


@dataclass
class DemoSummary:
    """What `generate` wrote."""

    out_dir: str
    seed: int
    periods: list[str]
    branches: int
    teacher_branches: int
    student_branches: int
    colleges: int
    files: list[str]  # relative to out_dir, in upload order (period, then file name)
    missing: list[tuple[str, str]]  # (branch_code, period) that did not submit
    warning_files: list[str]
    registry: str = REGISTRY_FILE
    seconds: float = 0.0
    profiles: dict[str, str] = field(default_factory=dict)  # branch_code -> profile

    def text(self) -> str:
        """A Chinese one-paragraph description, for the CLI and the app."""
        span = f"{self.periods[0]}–{self.periods[-1]}" if self.periods else "无"
        latest = [c for c, p in self.missing if p == self.periods[-1]]
        return (
            f"已生成演示学校：{self.colleges} 个二级党组织，{self.branches} 个支部"
            f"（教师党支部 {self.teacher_branches} 个，学生党支部 {self.student_branches} 个），"
            f"{len(self.periods)} 个季度（{span}），共 {len(self.files)} 个季度填报文件；"
            f"最新季度 {len(latest)} 个支部未报送（{'、'.join(latest) or '无'}）；"
            f"支部名册：{Path(self.out_dir) / self.registry}；用时 {self.seconds:.1f} 秒。"
        )


def _allocate(total: int, weights: list[float]) -> list[int]:
    """Largest-remainder split of `total` in proportion to `weights` (deterministic)."""
    s = sum(weights)
    if total <= 0 or s <= 0:
        return [0] * len(weights)
    exact = [total * w / s for w in weights]
    out = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


_CN = "零一二三四五六七八九十"


def _cn_number(n: int) -> str:
    if n <= 10:
        return _CN[n]
    if n < 20:
        return "十" + (_CN[n - 10] if n > 10 else "")
    return _CN[n // 10] + "十" + (_CN[n % 10] if n % 10 else "")


def _short(college: str) -> str:
    return re.sub(r"(党委|党总支)$", "", college)


def _person(rng: np.random.Generator) -> str:
    given = "".join(rng.choice(list(GIVEN), size=int(rng.choice([1, 2], p=[0.35, 0.65]))))
    return str(rng.choice(list(SURNAMES))) + given


def plan_school(n_branches: int, seed: int, latest_year: int) -> list[Branch]:
    """The branches of the school: names, codes, colleges and types depend only on the size; profiles,
    members and habits on the seed."""
    n_branches = max(2, n_branches)
    teachers = max(1, round(n_branches * TEACHER_SHARE))
    students = n_branches - teachers
    t_alloc = _allocate(teachers, [c.weight for c in COLLEGES])
    s_alloc = _allocate(students, [c.weight if c.majors else 0 for c in COLLEGES])
    grades = [latest_year - 3, latest_year - 2, latest_year - 1]  # seniors first: the largest branches
    skeleton: list[tuple[str, str, str, str, int]] = []  # code, name, college, type, grade rank (0 = senior)
    for c, nt, ns in zip(COLLEGES, t_alloc, s_alloc):
        short = _short(c.name)
        for k in range(1, nt + 1):
            unit = c.units[k - 1] if k <= len(c.units) else None
            name = f"{unit}党支部" if unit else f"{short}教工第{_cn_number(k)}党支部"
            skeleton.append((f"{c.code}-T{k:02d}", name, c.name, TEACHER, 0))
        combos = [(m, gi) for gi in range(len(grades)) for m in c.majors]
        for k in range(1, ns + 1):
            if k <= len(combos):
                major, gi = combos[k - 1]
                name = f"{major}{grades[gi]}级本科生党支部"
            else:
                gi, name = 1, f"{short}学生第{_cn_number(k - len(combos))}党支部"
            skeleton.append((f"{c.code}-S{k:02d}", name, c.name, STUDENT, gi))

    rng = np.random.default_rng([seed, 0])
    counts = _allocate(len(skeleton), [p.share for p in PROFILES])
    profiles = [p.name for p, n in zip(PROFILES, counts) for _ in range(n)]
    rng.shuffle(profiles)
    branches = []
    for i, ((code, name, college, btype, grade_rank), profile) in enumerate(zip(skeleton, profiles), start=1):
        b_rng = np.random.default_rng([seed, i, 1])
        if btype == TEACHER:
            members = int(b_rng.integers(8, 31))
        else:
            lo, hi = ((25, 61), (15, 41), (10, 26))[grade_rank]
            members = int(b_rng.integers(lo, hi))
        secretary = _person(b_rng)
        branches.append(Branch(
            index=i, code=code, name=name, college=college, branch_type=btype, profile=profile,
            members=members, secretary=secretary,
            filled_by=secretary if b_rng.random() < 0.4 else _person(b_rng),
            committee=5 if members >= 25 else 3, theme_day=int(b_rng.integers(8, 26)),
            offset=float(b_rng.normal(0, 0.03)), synonyms=bool(b_rng.random() < 0.3),
            messy_dates=bool(b_rng.random() < 0.12),
        ))
    return branches


# ---- one branch over time -------------------------------------------------------------------------------------
@dataclass
class _Measures:
    """The guide's measures, grouped by what the generator has to produce for them."""

    monthly: list[str]
    quarterly: list[str]
    semester: list[str]
    annual: list[str]
    hours: list[tuple[str, float]]  # (activity, required hours per member per year)
    coverage: list[str]  # count field ids, year to date
    ratios: list[tuple[str, str]]  # (numerator, denominator) count field ids

    @classmethod
    def of(cls, g: Guide) -> "_Measures":
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


def _quality(branch: Branch, t: int, n: int, rng: np.random.Generator) -> float:
    p = next(p for p in PROFILES if p.name == branch.profile)
    x = t / (n - 1) if n > 1 else 1.0
    q = p.start + (p.end - p.start) * x + branch.offset + rng.normal(0, 0.025)
    return float(np.clip(q, 0.2, 1.0))


def _month_end(year: int, month: int) -> int:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).day


class _Ledger:
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


def _plan_annual(measures: _Measures, branch: Branch, periods: list[Period], q_of: dict[Period, float],
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
class _Quarter:
    """One branch-quarter being simulated: what every activity kind needs to add its ledger rows."""

    g: Guide
    branch: Branch
    year: int
    quarter: int
    members: int
    qual: float
    train_rate: float
    rng: np.random.Generator
    led: _Ledger

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

    def ledger(self, measures: _Measures, annual: dict[tuple[int, str], int | None]) -> None:
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

    def counts(self, measures: _Measures, coverage_state: dict[str, tuple[int, float]]) -> dict[str, float | None]:
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


def _branch_tasks(g: Guide, measures: _Measures, branch: Branch, periods: list[Period], seed: int,
                  out_dir: Path, today: dt.date, skip: set[str], warn: set[str]
                  ) -> tuple[list[Task], RegistryEntry]:
    """Simulate one branch through all periods; return the workbooks it submitted and its registry row."""
    rng = np.random.default_rng([seed, branch.index, 2])
    n = len(periods)
    student = branch.branch_type == STUDENT
    members = branch.members
    qualities = [_quality(branch, t, n, rng) for t in range(n)]
    annual = _plan_annual(measures, branch, periods, {p: qualities[t] for t, p in enumerate(periods)}, rng)

    tasks: list[Task] = []
    coverage_state: dict[str, tuple[int, float]] = {}  # count field -> (year, covered members)
    train_rate = float(np.clip(0.72 + 0.26 * qualities[0] + rng.normal(0, 0.02), 0.6, 0.99))
    for t, p in enumerate(periods):
        year, quarter = p.year, p.quarter
        quarter_sim = _Quarter(g, branch, year, quarter, members, qualities[t], train_rate, rng,
                               _Ledger(g, branch, year, quarter, rng))
        quarter_sim.ledger(measures, annual)
        counts = quarter_sim.counts(measures, coverage_state)
        period = str(p)
        if period not in skip:
            tasks.append(_make_task(g, branch, year, quarter, members, quarter_sim.led, counts, qualities[t], rng,
                                    out_dir, today, period in warn))
        # New 预备党员 join the branch next quarter; graduates leave student branches in July.
        members += int(counts.get("new_members") or 0)
        if student and quarter == 2:
            members -= int(rng.poisson(1.5))
        members = int(np.clip(members, 10 if student else 8, 60 if student else 30))
    entry = RegistryEntry(branch.code, branch.name, branch.college, branch.branch_type, members)
    return tasks, entry


def _make_task(g: Guide, branch: Branch, year: int, quarter: int, members: int, led: _Ledger,
               counts: dict[str, float | None], qual: float, rng: np.random.Generator, out_dir: Path,
               today: dt.date, warn: bool) -> Task:
    period = str(Period(year, quarter))
    names = {a.id: a for a in g.activity_types}
    ledger: list[LedgerRow] = []
    raw_cells: dict[tuple[str, str], object] = {}
    cols = [c.id for c in g.workbook.ledger_columns]
    date_col = get_column_letter(cols.index("date") + 1) if "date" in cols else None
    for r, (date, kind, topic, exp, att, hours, evidence) in enumerate(sorted(led.rows, key=lambda x: (x[0], x[1])),
                                                                      start=2):
        raw = ""
        if branch.synonyms and names[kind].synonyms and rng.random() < 0.5:
            raw = str(rng.choice(names[kind].synonyms))
            if rng.random() < 0.1:
                raw += " "  # stray space, as typed
        ledger.append(LedgerRow(r, date, kind, raw, topic, exp, att, hours, evidence))
        if branch.messy_dates and date_col and rng.random() < 0.2:
            style = int(rng.integers(0, 3))
            text = (f"{date.year}/{date.month}/{date.day}", f"{date.year}年{date.month}月{date.day}日",
                    f"{date.year}.{date.month}.{date.day}")[style]
            raw_cells[("ledger", f"{date_col}{r}")] = text

    self_assessment = _self_assessment(g, branch.branch_type, qual, ledger, rng, warn)
    end = Period(year, quarter).end
    filled_on = min(end + dt.timedelta(days=int(rng.integers(1, 15))), max(today, end))
    info = BranchInfo(branch.code, branch.name, branch.college, branch.branch_type, year, quarter, members,
                      branch.secretary, branch.filled_by, filled_on)
    path = out_dir / period / f"{period}_{branch.code}_{branch.name}.xlsx"
    stamp = dt.datetime.combine(filled_on, dt.time(9, 0)) + dt.timedelta(minutes=int(rng.integers(0, 600)))
    return Task(str(path), branch.branch_type, info, ledger, counts, self_assessment, raw_cells, stamp)


def _self_assessment(g: Guide, branch_type: str, qual: float, ledger: list[LedgerRow], rng: np.random.Generator,
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


# ---- writing --------------------------------------------------------------------------------------------------
_CORE_STAMP = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def _pin_zip(path: Path, stamp: dt.datetime) -> None:
    """Make the file a pure function of its content: fixed zip entry times and docProps timestamps."""
    with zipfile.ZipFile(path) as z:
        entries = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = _CORE_STAMP.sub(lambda m: m.group(1) + iso + m.group(2), data)
            info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    os.replace(tmp, path)


def _write_task(task: Task) -> str:
    from pipelines.workbook import write_workbook

    path = write_workbook(task.path, task.branch_type, info=task.info, ledger=task.ledger, counts=task.counts,
                          self_assessment=task.self_assessment, raw_cells=task.raw_cells)
    _pin_zip(Path(path), task.stamp)
    return task.path


def _write_all(tasks: list[Task], progress: Callable[[int, int], None] | None, workers: int | None) -> None:
    total = len(tasks)
    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    # fork only: spawn would re-import the caller's __main__ (under Streamlit, the app script itself).
    import multiprocessing as mp

    use_pool = workers > 1 and total >= 40 and "fork" in mp.get_all_start_methods()
    if not use_pool:
        for i, task in enumerate(tasks, start=1):
            _write_task(task)
            if progress:
                progress(i, total)
        return
    import pipelines.workbook  # noqa: F401  # imported before fork so workers start warm

    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
        for i, _ in enumerate(pool.map(_write_task, tasks, chunksize=8), start=1):
            if progress:
                progress(i, total)


def generate(out_dir, seed: int | None = None, branches: int = 80, quarters: int = 6, today: dt.date | None = None,
             *, progress: Callable[[int, int], None] | None = None, workers: int | None = None) -> DemoSummary:
    """Write the demo school into `out_dir`: one folder per period of branch workbooks and the registry workbook.

    `seed` None uses `settings().demo_seed`. Quarters end with the latest quarter completed before `today`
    (default: the current date). `progress(done, total)` is called as workbooks are written; `workers` > 1
    writes in a process pool (default: up to 4, by CPU count). Returns a `DemoSummary`, also saved as
    `demo_summary.json` in `out_dir` (written last, so its presence means the folder is complete).
    """
    from pipelines.workbook import write_registry_workbook

    started = time.perf_counter()
    g = guide()
    seed = settings().demo_seed if seed is None else int(seed)
    today = today or dt.date.today()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_previous(out)
    periods = Period.latest_completed(today).back(quarters)  # ending with the latest completed quarter
    school = plan_school(branches, seed, periods[-1].year)
    measures = _Measures.of(g)
    rng = np.random.default_rng([seed, 0, 3])
    latest = str(periods[-1])

    # A few branches (more likely the weak ones) did not submit the latest quarter.
    weights = np.array([{"lagging": 4, "declining": 3}.get(b.profile, 1) for b in school], dtype=float)
    n_missing = min(max(2, round(len(school) * 0.05)), max(0, len(school) // 4))
    missing_idx = set(rng.choice(len(school), size=n_missing, replace=False, p=weights / weights.sum()).tolist())
    # A few submissions carry warnings (完成 without evidence), again more often from weaker branches.
    slots = [(i, str(p)) for i, b in enumerate(school) for p in periods
             if not (i in missing_idx and str(p) == latest)]
    w = np.array([weights[i] for i, _ in slots])
    n_warn = min(len(slots), max(2, round(len(slots) * 0.03)))
    warn_slots = {slots[k] for k in rng.choice(len(slots), size=n_warn, replace=False, p=w / w.sum()).tolist()}

    tasks: list[Task] = []
    registry: list[RegistryEntry] = []
    for i, b in enumerate(school):
        skip = {latest} if i in missing_idx else set()
        warn = {p for (j, p) in warn_slots if j == i}
        t, entry = _branch_tasks(g, measures, b, periods, seed, out, today, skip, warn)
        tasks.extend(t)
        registry.append(entry)
    tasks.sort(key=lambda t: (t.info.period, t.info.branch_code))
    _write_all(tasks, progress, workers)
    reg_path = out / REGISTRY_FILE
    write_registry_workbook(reg_path, registry)
    _pin_zip(reg_path, dt.datetime(periods[-1].year, 1, 1, 9, 0))  # the registry is set up at the start of the year

    warn_paths = {Path(t.path).relative_to(out).as_posix() for t in tasks
                  if (t.info.branch_code, t.info.period) in {(school[i].code, p) for i, p in warn_slots}}
    summary = DemoSummary(
        out_dir=str(out), seed=seed, periods=[str(p) for p in periods], branches=len(school),
        teacher_branches=sum(b.branch_type == TEACHER for b in school),
        student_branches=sum(b.branch_type == STUDENT for b in school),
        colleges=len({b.college for b in school}),
        files=[Path(t.path).relative_to(out).as_posix() for t in tasks],
        missing=sorted((school[i].code, latest) for i in missing_idx),
        warning_files=sorted(warn_paths), profiles={b.code: b.profile for b in school},
    )
    summary.seconds = round(time.perf_counter() - started, 2)
    (out / SUMMARY_FILE).write_text(json.dumps(asdict(summary), ensure_ascii=False, indent=1), encoding="utf-8")
    return summary


def _remove_previous(out: Path) -> None:
    """Delete the files an earlier `generate` wrote here (listed in its summary); never anything else."""
    previous = read_summary(out)
    (out / SUMMARY_FILE).unlink(missing_ok=True)
    if previous is None:
        return
    for f in previous.files:
        (out / f).unlink(missing_ok=True)
    for period in previous.periods:
        with contextlib.suppress(OSError):
            (out / period).rmdir()  # only if empty


def read_summary(files_dir) -> DemoSummary | None:
    """The summary a completed `generate` left in `files_dir`, or None."""
    p = Path(files_dir) / SUMMARY_FILE
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
        raw["missing"] = [tuple(x) for x in raw["missing"]]
        return DemoSummary(**raw)
    except (FileNotFoundError, ValueError, TypeError, KeyError):
        return None


# ---- database ---------------------------------------------------------------------------------------------------
def demo_files(files_dir) -> list[Path]:
    """The branch workbooks of a demo folder in upload order (period, then name)."""
    d = Path(files_dir)
    summary = read_summary(d)
    if summary is not None:
        return [d / f for f in summary.files]
    return sorted(p for p in d.glob("*/*.xlsx") if re.fullmatch(r"\d{4}Q[1-4]", p.parent.name))


def build_db(files_dir, db, *, progress: Callable[[int, int, str], None] | None = None) -> None:
    """Load the demo registry, then ingest every demo workbook into the DuckDB file `db` (actor 演示数据).

    Raises RuntimeError when a demo file is rejected: the demo must always be accepted whole.
    """
    from pipelines import ingest

    d = Path(files_dir)
    n, problems = ingest.load_registry(d / REGISTRY_FILE, db, actor=ACTOR)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise RuntimeError(f"演示支部名册有误：{errors[0].message}")
    results = ingest.ingest(demo_files(d), db, actor=ACTOR, progress=progress)
    rejected = [r for r in results if r.status == "rejected"]
    if rejected:
        r = rejected[0]
        detail = r.problems[0].message if r.problems else ""
        raise RuntimeError(f"演示文件 {r.file_name} 未通过校验：{detail}")
    summary = read_summary(d)
    review_sample(db, seed=summary.seed if summary else 0)


REVIEWER = "组织部审核员（演示）"
REVIEW_SHARE = 0.25  # the share of the latest quarter's branches the demo reviewer has got to


def review_sample(db, *, seed: int = 0) -> int:
    """Review part of the latest quarter through pipelines.review, deterministically from the seed, so the
    review states (待审核, 认定…, 退回补充) and 核实率 have something to show. A supported 完成 is confirmed;
    a 完成 without ledger support or on a review-only item is confirmed or rated 基本完成 (with a comment);
    evidence of a few characters is sent back; other answers are confirmed as given. Returns decisions made."""
    from pipelines import review, scoring

    period = scoring.latest_period(db)
    if period is None:
        return 0
    codes = sorted(scoring.branch_scores(period, db)["branch_code"])
    rng = np.random.default_rng([seed, 7])
    chosen = [c for c in codes if rng.random() < REVIEW_SHARE]
    done = 0
    for code in chosen:
        decisions = {}
        for a in scoring.scored_answers(period, code, db).itertuples():
            decisions[a.item_id] = _demo_decision(a, rng)
        done += len(review.decide_many(code, period, decisions, reviewer=REVIEWER, db=db))
    return done


def _demo_decision(answer, rng: np.random.Generator) -> tuple[str, str]:
    from pipelines import review

    status = answer.status if isinstance(answer.status, str) else None
    if status is None:
        return "not_done", "未填写自评，认定未完成"
    if len(answer.evidence.strip()) < 4:
        return review.SENT_BACK, "佐证材料过于简略，请补充会议记录、照片等具体材料"
    if status == "done" and isinstance(answer.flag, str) and rng.random() < 0.5:
        return "mostly", "台账中未见足够的相关活动记录，认定基本完成"
    return status, ""


def ensure_demo_db(db=None, progress: Callable[[float, str], None] | None = None) -> bool:
    """Build the demo database when `db` (default: the configured database) does not exist. Returns True if built.

    Safe for concurrent callers (two Streamlit sessions): a file lock beside the database makes the second wait,
    after which it finds the database and returns False. `progress(fraction 0–1, Chinese text)` drives a progress
    bar. Demo workbooks are generated into `settings().demo_dir` unless a complete set is already there.
    """
    from filelock import FileLock

    from pipelines.db import db_path

    path = db_path(db)
    if path.exists() and not Path(str(path) + ".demo-building").exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda fraction, text: None)
    with FileLock(str(path) + ".demo.lock", timeout=900):
        if path.exists() and not Path(str(path) + ".demo-building").exists():
            return False
        marker = Path(str(path) + ".demo-building")
        marker.touch()
        try:
            demo_dir = settings().demo_dir
            summary = read_summary(demo_dir)
            complete = summary is not None and all((Path(demo_dir) / f).exists() for f in summary.files) \
                and (Path(demo_dir) / REGISTRY_FILE).exists()
            if not complete:
                report(0.0, "正在生成演示学校的填报文件……")
                generate(demo_dir, branches=settings().demo_branches, quarters=settings().demo_quarters,
                         progress=lambda i, n: report(0.6 * i / n, f"正在生成演示填报文件（{i}/{n}）"))
            report(0.6, "正在导入演示数据……")
            _remove_db(path)  # leftovers of an interrupted build
            build_db(demo_dir, path,
                     progress=lambda i, n, name: report(0.6 + 0.4 * i / max(n, 1), f"正在导入演示数据（{i}/{n}）"))
            report(1.0, "演示数据已就绪")
        except BaseException:
            _remove_db(path)
            raise
        finally:
            marker.unlink(missing_ok=True)
    return True


def _remove_db(path: Path) -> None:
    for p in (path, Path(str(path) + ".wal"), Path(str(path) + ".version")):
        p.unlink(missing_ok=True)


def cli_demo(args) -> int:
    """`python -m pipelines demo --out DIR [--seed N] [--branches N] [--quarters N]`: write the demo school."""
    summary = generate(args.out, seed=args.seed, branches=args.branches, quarters=args.quarters)
    print(summary.text())
    if summary.warning_files:
        print(f"其中 {len(summary.warning_files)} 个文件含提示性问题（如“完成”但未填佐证材料），可用于演示校验提示。")
    print(f"导入数据库：python -m pipelines registry {Path(args.out) / REGISTRY_FILE} --db DB，"
          f"再 python -m pipelines ingest {args.out}/20*Q* --db DB")
    return 0
