"""What a branch must do in a quarter (本季度须完成), written from the guide's measures.

One list for the template's 使用说明 sheet and the public template page: every line comes from a measure of the
guide (its name, activity type, count fields, required numbers), so a changed guide changes the list. The two
time rules scoring applies in SQL (scoring/sql/marts/measure_scores.sql) have their Python twins here, held together
by a test (tests/test_prefilled.py): the hours target pro rata by quarter and the semester reports due so far.
"""
from __future__ import annotations

from typing import Iterable

from pipelines.guide import Guide, Measure, guide
from pipelines.guide.period import Period

# The order in which kinds are listed: the month's meetings first, the self-assessment last.
KIND_ORDER = ("monthly", "quarterly", "semester", "hours", "annual_count", "annual_coverage", "ratio")


def hours_target(required: float, quarter: int) -> float:
    """Hours per member due by the end of `quarter`: the year's hours pro rata by quarter (kind 'hours' in
    measure_scores.sql: required * quarter / 4)."""
    return required * quarter / 4


def semester_reports_due(quarter: int) -> int:
    """Semester reports due by the end of `quarter` (kind 'semester' in measure_scores.sql: due end of January
    and end of July, so 1 in Q1–Q2 and 2 in Q3–Q4)."""
    return 1 if quarter <= 2 else 2


def _num(x: float) -> str:
    return f"{round(x, 1):g}"


def _line(g: Guide, m: Measure, quarter: int | None) -> str:
    """One measure's line: what to do, how much (this quarter, or how often for a blank template), and where."""
    ledger, counts = g.workbook.sheets.ledger, g.workbook.sheets.counts
    act = f"「{ledger}」登记为“{g.activity_name(m.activity)}”" if m.activity else ""
    field = {f.id: f.name for f in g.count_fields}
    if m.kind == "monthly":
        when = "、".join(f"{mo} 月" for mo in Period(2000, quarter).months) + "各 1 次" if quarter else "每月 1 次"
        return f"{m.name}：{when}（{act}）"
    if m.kind == "quarterly":
        return f"{m.name}：{'本季度' if quarter else '每季度'}至少 1 次（{act}）"
    if m.kind == "semester":
        when = (f"本年截至本季度末累计 {semester_reports_due(quarter)} 次" if quarter
                else f"每学期末 1 次，全年 {semester_reports_due(4)} 次")
        return f"{m.name}：{when}（{act}）"
    if m.kind == "hours":
        if quarter:
            when = (f"本年截至本季度末人均应达 {_num(hours_target(m.required, quarter))} 学时"
                    f"（全年 {_num(m.required)} 学时，按季度进度计算）")
        else:
            when = f"全年人均 {_num(m.required)} 学时，按季度进度：" + "、".join(
                f"第 {q} 季度末 {_num(hours_target(m.required, q))}" for q in range(1, 5))
        return f"{m.name}：{when}；{act}，每次须填写学时和实到人数"
    if m.kind == "annual_count":
        when = "本季度为全年最后一个季度，尚未完成的须在本季度内完成" if quarter == 4 else "年底前完成即可"
        return f"{m.name}：全年至少 {_num(m.required)} 次，{when}（{act}）"
    if m.kind == "annual_coverage":
        return (f"{m.name}：在「{counts}」填写本年累计“{field[m.count]}”，"
                "第 4 季度末须覆盖全体党员")
    if m.kind == "ratio":
        return f"{m.name}：在「{counts}」填写“{field[m.denominator]}”和“{field[m.numerator]}”"
    raise ValueError(f"no checklist line for measure kind {m.kind}")


def checklist(branch_type: str, period: str | None = None, *, met: Iterable[tuple[str, str]] = ()) -> list[str]:
    """The requirements of the guide for a branch type, as Chinese lines: for `period` ('2026Q4') what is due
    this quarter (each month's meetings, the quarter's 党员大会, the hours target so far, the annual items),
    or without a period how often each is due (a blank template).

    `met` lists (item id, measure id) of annual requirements already met this year; they are left out, so a
    page that knows a branch's results shows only what is still open.
    """
    g = guide()
    quarter = Period.parse(period).quarter if period else None
    done = set(met)
    measures = [(it, m) for it in g.items_for(branch_type) for m in it.measures]
    lines = []
    for kind in KIND_ORDER:
        for it, m in measures:
            if m.kind != kind or (kind in ("annual_count", "annual_coverage") and (it.id, m.id) in done):
                continue
            lines.append(f"{_line(g, m, quarter)}〔考核要点 {it.id}〕")
    own = {it.id for it, m in measures if m.kind == "self_assessed"}
    if own:
        best = g.answer(g.full_answer).name
        lines.append(f"「{g.workbook.sheets.self_assessment}」：逐条选择完成情况（{len(own)} 条考核要点需自评），"
                     f"选择“{best}”的须填写佐证材料及主要举措")
    return lines
