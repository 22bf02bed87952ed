"""The demo school: its colleges, branch profiles and branches (`plan_school`), and the tables of names,
topics and habits the guide cannot say (see `pipelines.demo.build`)."""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

import numpy as np

from pipelines.workbook.model import BranchInfo, LedgerRow

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
    """1 -> 一, 12 -> 十二, 105 -> 一百零五, 1010 -> 一千零一十 (up to 9999: a college of a 10,000-branch school)."""
    if n <= 10:
        return _CN[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else _CN[tens]) + "十" + (_CN[ones] if ones else "")
    big, unit, rest = (n // 1000, "千", n % 1000) if n >= 1000 else (n // 100, "百", n % 100)
    if rest == 0:
        return _CN[big] + unit
    inner = _cn_number(rest)
    if 10 <= rest < 20:
        inner = "一" + inner  # 一百一十, not 一百十
    gap = rest < 10 if unit == "百" else rest < 100  # a missing place reads 零
    return _CN[big] + unit + ("零" if gap else "") + inner


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
