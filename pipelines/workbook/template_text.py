"""What a branch template says in words: the grey example row of 活动台账, the identity fields a pre-filled
template locks, and the 使用说明 sheet (how to fill it in, what the guide asks this quarter (`checklist`), the
example explained, the mistakes the reader refuses). `pipelines.workbook.template` lays the sheets out."""
from __future__ import annotations

import datetime as dt

from openpyxl.worksheet.worksheet import Worksheet

from pipelines.workbook.checklist import checklist
from pipelines.guide import Guide, guide
from pipelines.guide.period import Period
from pipelines.workbook.xlsx_style import GUIDE_FONTS, WRAP, fit_height, protect

# 支部信息 fields a pre-filled template takes from the registry and locks: a file can never be refused for them.
IDENTITY_FIELDS = ("branch_code", "branch_name", "college", "branch_type", "year", "quarter")
# A template's 活动台账 has one grey example row; the reader skips a row whose 主题 begins with this marker.
EXAMPLE_PREFIX = "示例："
EXAMPLE_ROW = 2
EXAMPLE_TOPIC = "学习贯彻党的二十届四中全会精神"


def sheet_names(g: Guide | None = None) -> dict[str, str]:
    """Sheet key (guide, info, ledger, counts, self_assessment) -> the Chinese sheet name."""
    return dict((g or guide()).workbook.sheets.model_dump())


def example_activity(g: Guide) -> str:
    """The activity type named in examples and messages (the guide's example_activity: 主题党日)."""
    return g.activity_name(g.example_activity)


def catch_all_activity(g: Guide) -> str:
    """The guide's catch-all activity type (catch_all_activity: 其他)."""
    return g.activity_name(g.catch_all_activity)


def _example_date(year: int, quarter: int) -> dt.date:
    return Period(year, quarter).start.replace(day=5)


def example_row(g: Guide, year: int, quarter: int) -> dict[str, object]:
    """The grey example row of a template's 活动台账 (row EXAMPLE_ROW), by ledger column id, for a quarter.

    Its 主题 begins with EXAMPLE_PREFIX; the reader skips such a row (silently when it is this row unchanged)."""
    return {"date": _example_date(year, quarter), "activity_type": example_activity(g),
            "topic": f"{EXAMPLE_PREFIX}{EXAMPLE_TOPIC}（本行为填写示例，不计入台账，"
                     f"请从第 {EXAMPLE_ROW + 1} 行起填写）",
            "expected": 25, "attended": 23, "hours": None, "evidence": "会议记录、签到表、活动照片"}


def guide_sheet(ws: Worksheet, g: Guide, branch_type: str, example: dict[str, object], period: str | None,
                prefilled: bool) -> None:
    """使用说明: how to fill in, what the guide asks this quarter (`checklist`), an example, common mistakes."""
    type_name = g.branch_type_name(branch_type)
    due = (f"二、{Period.parse(period).label}须完成的工作" if period else "二、全年须完成的工作（按季度填报时对照）")
    lines: list[tuple[str, bool]] = [
        (f"{g.title} · {type_name}季度填报表 · 填写说明", True),
        (f"本表由各{type_name}书记或支部委员每季度填写一份，季度结束后报送组织部。"
         f"灰色单元格为模板内容（已保护，不能修改），白色单元格请填写。", False),
        ("", False),
        ("一、填写步骤", True),
        *guide_steps(g, prefilled),
        ("", False),
        (due + "（根据指标指南自动生成，供逐项自查）", True),
        *[(f"    {i}. {line}", False) for i, line in enumerate(checklist(branch_type, period), start=1)],
        ("", False),
        (f"三、填写示例（「{g.workbook.sheets.ledger}」第 {EXAMPLE_ROW} 行的灰色示例行，系统不读取）", True),
        *[(line, False) for line in _example_lines(g, example)],
        ("", False),
        ("四、常见错误（系统会逐条提示并退回修改）", True),
        *[(f"{i}. {line}", False) for i, line in enumerate(mistakes(g), start=1)],
        ("", False),
        (f"指南版本：{g.version}。如有疑问，请联系学校党委组织部。", False),
    ]
    ws.column_dimensions["A"].width = 110
    for r, (text, bold) in enumerate(lines, start=1):
        c = ws.cell(row=r, column=1, value=text)
        c.font = GUIDE_FONTS[(14 if r == 1 else 11, bold)]
        c.alignment = WRAP
        if text:
            fit_height(ws, r, [(text, 110)])
    protect(ws)


def guide_steps(g: Guide, prefilled: bool) -> list[tuple[str, bool]]:
    """一、填写步骤 of 使用说明 as (text, bold) lines; also shown on the public template page."""
    s = sheet_names(g)
    acts = "、".join(a.name for a in g.activity_types)
    statuses = "、".join(o.name for o in g.self_assessment)
    statuses_meaning = "（" + "；".join(f"{o.name}计 {o.value:g} 分" for o in g.self_assessment) + "）"
    training = next((a.name for m in (m for it in g.items for m in it.measures) if m.kind == "hours"
                     for a in g.activity_types if a.id == m.activity), "集中学习培训")
    lecture = next((a.name for a in g.activity_types if a.id == "secretary_lecture"), None)
    fields = {f.id: f.name for f in g.workbook.info_fields}
    if prefilled:
        fixed = "、".join(fields[f] for f in IDENTITY_FIELDS if f in fields)
        info = [(f"1. 「{s['info']}」：{fixed}已按组织部支部名册预先填好并锁定，请核对；如有误请联系组织部更正名册，"
                 f"不要另建文件。党员数已按名册预填，如有变化请改为本季度末人数。请在 B 列填写其余各项：", False)]
        info += [(f"    · {f.name}" + (f"：{f.hint}" if f.hint else ""), False)
                 for f in g.workbook.info_fields if f.id not in IDENTITY_FIELDS]
        name = "5. 保存为 .xlsx 格式报送，文件名已按“季度_支部编码_支部名称”写好，请不要修改文件名。"
    else:
        info = [(f"1. 「{s['info']}」：在 B 列填写本支部的基本信息：", False)]
        info += [(f"    · {f.name}" + (f"：{f.hint}" if f.hint else ""), False) for f in g.workbook.info_fields]
        name = (f"5. 保存为 .xlsx 格式报送，文件名建议写成“2026年第3季度-支部名称.xlsx”（文件名中的季度须与「{s['info']}」"
                "一致）。")
    return [
        *info,
        (f"2. 「{s['ledger']}」：本季度开展的每一次会议、党课、主题党日、学习培训等活动各填一行，从第 {EXAMPLE_ROW + 1} 行起"
         f"连续填写（第 {EXAMPLE_ROW} 行是示例）。活动类型请从下拉列表中选择，可选：{acts}。", False),
        ("    一次会议有多项内容的（如党员大会上书记讲党课、向党员大会报告工作），请按内容各填一行；"
         + (f"书记本人讲党课请选“{lecture}”；" if lecture else "")
         + "每学期末向上级党组织报告工作须登记一行。", False),
        (f"    “{training}”请务必填写学时和实到人数，否则不计入全年人均学时；"
         f"谈心谈话无需逐次登记，在「{s['counts']}」中填写累计人数即可。", False),
        (f"3. 「{s['counts']}」：在 B 列填写各项统计人数（只填人数，不填姓名等个人信息）。"
         f"“累计”类统计项填写本年度 1 月 1 日至本季度末的累计人数。空白按未完成计分，确为 0 请填 0。", False),
        ("    谈心谈话覆盖人数、向支部汇报人数与党员数相比计算覆盖率（第 4 季度须覆盖全体党员），"
         "党费实缴人数 ÷ 应缴人数计算收缴率；入党申请、积极分子、发展党员、推优人数仅作统计，不计分。", False),
        (f"4. 「{s['self_assessment']}」：逐条对照考核要点，在“完成情况”列选择 {statuses}，"
         f"并在最后一列简要填写佐证材料及主要举措{statuses_meaning}。"
         "考核要点后注明“自动计分”的，按台账和统计数据计分，自评仅供参考。", False),
        (name, False),
    ]


def _example_lines(g: Guide, example: dict[str, object]) -> list[str]:
    col = {c.id: c.name for c in g.workbook.ledger_columns}
    training = next((g.activity_name(m.activity) for it in g.items for m in it.measures if m.kind == "hours"),
                    "集中学习培训")
    return [
        f"    {col['date']}：{example['date'].isoformat()}",
        f"    {col['activity_type']}：{example['activity_type']}（从下拉列表选择）",
        f"    {col['topic']}：{EXAMPLE_TOPIC}",
        f"    {col['expected']}：{example['expected']}    {col['attended']}：{example['attended']}",
        f"    {col['hours']}：2（{training}必填，并须填写实到人数；其他活动可不填）",
        f"    {col['evidence']}：{example['evidence']}",
    ]


def mistakes(g: Guide) -> list[str]:
    """The guide's common mistakes (workbook.common_mistakes), filled in: '日期不在所报季度内…'."""
    without = next(o.name for o in g.self_assessment if o.id == g.self_assessment_without_evidence)
    fields = dict(ledger=g.workbook.sheets.ledger, catch_all=catch_all_activity(g), without_evidence=without,
                  example_prefix=EXAMPLE_PREFIX)
    return [line.format(**fields) for line in g.workbook.common_mistakes]
