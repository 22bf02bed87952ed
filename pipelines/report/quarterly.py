"""The quarterly report (季度简报): one Excel workbook of a quarter for the Party committee's meeting papers,
and the same briefing as a PDF (pipelines/report/pdf.py) for those who print from a phone.

Sheets: 简报 (title, 本季度要点, grade counts, 需关注), 概况 (headline figures against the quarter before, the
seven dimensions for the school and both branch types), 支部排名, 支部一级指标得分, 二级党组织, 考核要点 (weakest
first), 未报送支部. Every number comes from scoring.marts, so the report shows what the dashboard shows; the
summary is summary.quarter_summary's and the 需关注 lists are attention.attention's. Print layout (A4, header and
footer, row heights): pipelines/report/layout.py. Built by the 全校总览 page's download buttons and by
`python -m pipelines report`.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from pipelines import scoring
from pipelines.report import export, summary
from pipelines.scoring import attention
from pipelines.report import layout
from pipelines.guide import guide
from pipelines.guide.vocab import AttentionKind, ReportingStatus
from pipelines.palette import LIGHT_GREY, PALE_RED, excel
from pipelines.guide.period import Period
from pipelines.report.layout import GREY, RED, TITLE

HEADER_FILL = PatternFill("solid", fgColor=excel(PALE_RED))
THIN = Side(style="thin", color=excel(LIGHT_GREY))
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
SHEETS = ("简报", "概况", "支部排名", "支部一级指标得分", "二级党组织", "考核要点", "未报送支部")
HONOURS_SHEET = "红榜"  # the last sheet, after SHEETS
SIGNED_HEADERS = ("较上季度", "差值", "变化", "排名变化")  # columns of changes: written with their sign
HEADER_WRAP = 6  # a header wider than this (character units) wraps instead of widening its column
TEXT_WRAP = 30  # a text column (names) no wider than this; longer values wrap
WIDE_TEXT = {"内容": 44}  # long text columns: wider, still wrapped
CENTERED = ("等次", "类型", "类别")


def _period(period: str) -> str:
    return str(Period.parse(period))


def file_name(period: str, fmt: str = "xlsx") -> str:
    return f"党建双创季度报告_{period}.{fmt}"


def _mean(df: pd.DataFrame | None, branch_type: str | None = None) -> float | None:
    if df is None or df.empty:
        return None
    if branch_type:
        df = df[df["branch_type"] == branch_type]
    return None if df.empty else float(df["overall"].mean())


def _round(v):
    """A score as shown; None (an empty cell) when missing."""
    return None if v is None or pd.isna(v) else scoring.shown(v)


def frames(period: str, db=None, data: dict[str, pd.DataFrame] | None = None) -> dict[str, Any]:
    """The report's tables with Chinese headers, keyed by sheet name (概况 split in 概况 and 七个一级指标), and
    "registry": whether a registry is loaded (without one, nobody can be listed as missing). `data`: the
    quarter's scoring.marts(period, db, previous=True) when the caller has them already."""
    period = str(Period.parse(period))
    data = data if data is not None else scoring.marts(period, db, previous=True)
    status = data["submission_status"]
    prev_status = scoring.submission_status(str(Period.parse(period).previous), db)
    ranking, branch_dims = _ranking_tables(data["branch_scores"])
    return {"registry": scoring.has_registry(status), "概况": _summary_table(data, prev_status),
            "七个一级指标": _dimension_table(data), "支部排名": ranking, "支部一级指标得分": branch_dims,
            "二级党组织": _college_table(data["college_scores"]), "考核要点": _items_table(data["item_summary"]),
            "未报送支部": _missing_table(status)}


def _dims() -> list[tuple[str, str]]:
    """(score column, dimension name) of the seven dimensions, in the guide's order."""
    return [(f"d{i}", d.name) for i, d in enumerate(guide().dimensions, 1)]


def _counts(status: pd.DataFrame, scored: pd.DataFrame | None) -> tuple:
    """(branches, submitted, missing) of one quarter; the first and last need a registry."""
    has = scoring.has_registry(status)
    sub = int((status["status"] != ReportingStatus.MISSING).sum()) if not status.empty else (0 if scored is None else len(scored))
    return (len(status) if has else None), sub, (int((status["status"] == ReportingStatus.MISSING).sum()) if has else None)


def _summary_table(data: dict[str, pd.DataFrame], prev_status: pd.DataFrame) -> pd.DataFrame:
    """概况: headline figures of the quarter against the quarter before."""
    g = guide()
    bs, pbs = data["branch_scores"], data.get("prev_branch_scores")
    rows = []
    now_c, before_c = _counts(data["submission_status"], bs), _counts(prev_status, pbs)
    for label, n, b in zip(("支部总数", "已报送支部", "未报送支部"), now_c, before_c):
        rows.append((label, n if n is not None else "未导入支部名册", b, None if n is None or b is None else n - b))
    types = [t.id for t in g.branch_types]
    for label, t in [("全校平均分", None), *[(f"{g.branch_type_name(t)}平均分", t) for t in types]]:
        now, before = _mean(bs, t), _mean(pbs, t)
        rows.append((label, _round(now), _round(before), scoring.shown_change(now, before)))
    for grade in g.grades:
        now = int((bs["grade"] == grade.name).sum())
        before = int((pbs["grade"] == grade.name).sum()) if pbs is not None and not pbs.empty else None
        rows.append((f"等次为“{grade.name}”的支部", now, before, None if before is None else now - before))
    return pd.DataFrame(rows, columns=["项目", "本季度", "上季度", "变化"], dtype=object)  # counts stay ints


def _dimension_table(data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """七个一级指标: the school's mean and each branch type's per dimension, and the gap between the types."""
    g = guide()
    bs, dims = data["branch_scores"], _dims()
    types = [t.id for t in g.branch_types]
    tc = data["type_comparison"].set_index("dimension_id")
    ids = range(1, len(dims) + 1)
    table = {"一级指标": [name for _, name in dims],
             "全校平均": [_round(bs[col].mean()) if not bs.empty else None for col, _ in dims],
             **{f"{g.branch_type_name(t)}平均": [_round(tc[f"{t}_mean"].get(i)) if f"{t}_mean" in tc else None
                                               for i in ids] for t in types}}
    if len(types) == 2:  # the gap reads first type − second type (教师 − 学生), as the compare page shows it
        a, b = types
        table[f"差值（{g.gap_label()}）"] = [
            scoring.shown_change(tc[f"{a}_mean"].get(i), tc[f"{b}_mean"].get(i))
            if f"{a}_mean" in tc and f"{b}_mean" in tc else None for i in ids]
    return pd.DataFrame(table, dtype=object)


def _ranking_tables(bs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """支部排名, and 支部一级指标得分 (the seven scores on a sheet of their own, so the ranking prints legibly
    on one A4 page width)."""
    g = guide()
    ranked = bs.sort_values(["rank", "branch_code"])
    ranking = pd.DataFrame({
        "排名": ranked["rank"].astype("Int64"),
        "排名变化": ranked["rank_change"].astype("Int64"),  # written +3 / -2 (see _table)
        "支部": ranked["branch_name"], "支部编码": ranked["branch_code"], "二级党组织": ranked["college"],
        "类型": ranked["branch_type"].map(g.branch_type_name),
        "总分": scoring.shown(ranked["overall"]), "等次": ranked["grade"],
        "较上季度": scoring.shown_change(ranked["overall"], ranked["prev_overall"]),
        "核实率（%）": scoring.shown_share(ranked["verified"]),  # weight from the ledger or reviewed answers
    })
    branch_dims = pd.DataFrame({
        "排名": ranked["rank"].astype("Int64"), "支部": ranked["branch_name"], "支部编码": ranked["branch_code"],
        **{name: scoring.shown(ranked[col]) for col, name in _dims()},
    })
    return ranking, branch_dims


def _college_table(cs: pd.DataFrame) -> pd.DataFrame:
    cs = cs.sort_values(["rank", "college"], na_position="last")
    return pd.DataFrame({
        "排名": cs["rank"].astype("Int64"), "二级党组织": cs["college"],
        "支部数": cs["branches"].astype("Int64"), "已报送": cs["submitted"].astype("Int64"),
        "平均总分": scoring.shown(cs["overall"]),
        # like for like: a college must not gain because its weakest branches stopped submitting
        "较上季度（两季度均报送的支部）": scoring.shown_change(cs["overall_same"], cs["prev_same"]),
        "参与比较的支部数": cs["same_branches"].astype("Int64"),
        **{name: scoring.shown(cs[col]) for col, name in _dims()},
    })


def _items_table(summ: pd.DataFrame) -> pd.DataFrame:
    """考核要点, weakest first."""
    g = guide()
    types = [t.id for t in g.branch_types]
    by_type = {t: summ[summ["branch_type"] == t].set_index("item_id") for t in [*types, "all"]}
    items = pd.DataFrame([{
        "考核要点": it.id, "一级指标": g.dimension_of(it.id).name, "内容": it.text,
        "全校平均完成率（%）": _pct(by_type["all"], it.id, "mean_completion"),
        "完全完成的支部占比（%）": _pct(by_type["all"], it.id, "full_share"),
        **{f"{g.branch_type_name(t)}平均完成率（%）": _pct(by_type[t], it.id, "mean_completion") for t in types},
        "参与计算的支部数": _count(by_type["all"], it.id),
    } for it in g.items])
    return items.sort_values(["全校平均完成率（%）", "考核要点"], na_position="last").reset_index(drop=True)


def _missing_table(status: pd.DataFrame) -> pd.DataFrame:
    """未报送支部 (empty without a registry: nobody can be listed as missing)."""
    g = guide()
    miss = status[status["status"] == ReportingStatus.MISSING].sort_values(["college", "branch_code"]) \
        if scoring.has_registry(status) else status.iloc[0:0]
    return pd.DataFrame({
        "支部编码": miss.get("branch_code", []), "支部名称": miss.get("branch_name", []),
        "二级党组织": miss.get("college", []),
        "类型": pd.Series(miss.get("branch_type", []), dtype="object").map(
            lambda t: g.branch_type_name(t) if isinstance(t, str) else t),
    })


def _pct(df: pd.DataFrame, item_id: str, col: str):
    v = df[col].get(item_id) if item_id in df.index else None
    return None if v is None or pd.isna(v) else scoring.shown_percent(float(v))  # 四舍五入, as everywhere


def _count(df: pd.DataFrame, item_id: str):
    v = df["branches"].get(item_id) if item_id in df.index else None
    return None if v is None or pd.isna(v) else int(v)


@dataclass(frozen=True)
class Briefing:
    """What the first page says (Excel and PDF alike): title, 本季度要点, grade counts and 需关注."""

    period: str
    title: str
    subtitle: str  # the quarter and the school
    stamp: str  # guide version and generation time
    sentences: list[str]
    grades: pd.DataFrame  # 等次 | 本季度 | 上季度 | 变化
    attention: pd.DataFrame  # 类别 | 支部 | 二级党组织 | 总分 | 等次 | 较上季度


def briefing(period: str, db=None, *, now: dt.datetime | None = None,
             data: dict[str, pd.DataFrame] | None = None, periods: list[str] | None = None) -> Briefing:
    """The briefing page of `period` (`data`: scoring.marts(period, db, previous=True))."""
    g = guide()
    period = _period(period)
    data = data if data is not None else scoring.marts(period, db, previous=True)
    periods = periods if periods is not None else scoring.periods(db)
    s = summary.quarter_summary(period, db, data=data, periods=periods)
    f = s.facts
    grades = pd.DataFrame([(name, n, None if f.previous_grades is None else f.previous_grades[name],
                            None if f.previous_grades is None else n - f.previous_grades[name])
                           for name, n in f.grades.items()], columns=["等次", "本季度", "上季度", "变化"], dtype=object)
    att = attention.attention(period, db, data=data, periods=periods).frame()
    table = pd.DataFrame({
        "类别": att["kind"].map(AttentionKind.labels()), "支部": att["branch_name"], "二级党组织": att["college"],
        "总分": att["overall"], "等次": att["grade"], "较上季度": att["change"],
    })
    stamp = (now or dt.datetime.now()).strftime("%Y-%m-%d %H:%M")
    return Briefing(period, TITLE, f"{Period.parse(period).status_label()} · {g.school}",
                    f"指标指南版本 {g.version} · 生成时间 {stamp}", s.sentences, grades, table)


def quarter_report(period: str, db=None, *, now: dt.datetime | None = None,
                   data: dict[str, pd.DataFrame] | None = None) -> bytes:
    """The report workbook of `period` as .xlsx bytes (`data`: see frames): 简报 first, then the tables, each
    sheet titled, with the quarter and 第 X 页 / 共 Y 页 in its header and footer, printable on A4."""
    g = guide()
    period = _period(period)
    data = data if data is not None else scoring.marts(period, db, previous=True)
    tables = frames(period, db, data)
    wb = Workbook()
    ws = wb.active
    ws.title = SHEETS[0]
    _briefing_sheet(ws, briefing(period, db, now=now, data=data))
    layout.page_setup(ws, period, orientation=layout.orientation(ws))
    ws = wb.create_sheet("概况")
    layout.sheet_title(ws, "概况", period)
    end = _table(ws, tables["概况"], top=3, title="主要数据（与上一季度相比）")
    _table(ws, tables["七个一级指标"], top=end + 2, title="七个一级指标平均得分")
    layout.page_setup(ws, period, orientation=layout.orientation(ws))
    for name in SHEETS[2:]:
        sheet = wb.create_sheet(name)
        layout.sheet_title(sheet, name, period)
        if tables[name].empty:
            sheet["A2"] = "本季度暂无数据。" if name != "未报送支部" else "本季度全部支部均已报送。" \
                if tables["registry"] else "尚未导入支部名册，无法统计未报送支部。"
            sheet["A2"].font = Font(size=11)
            layout.page_setup(sheet, period)
            continue
        _table(sheet, tables[name], top=2)
        sheet.freeze_panes = "A3"
        layout.page_setup(sheet, period, title_rows="2:2", orientation=layout.orientation(sheet))
    _honours_sheet(wb.create_sheet(HONOURS_SHEET), period, db)
    wb.properties.title = f"{TITLE} {period}"
    wb.properties.creator = g.school
    return export.workbook_bytes(wb)


def _honours_sheet(ws, period: str, db) -> None:
    """红榜: the quarter's 样板支部 / 标杆院系 candidates (pipelines.scoring.honours), with the quarters that earned them."""
    from pipelines.scoring.honours import honours_table

    layout.sheet_title(ws, HONOURS_SHEET, period)
    table = honours_table(period, db)
    if table.empty:
        ws["A2"] = "本季度暂无符合条件的样板支部、标杆院系候选。"
        ws["A2"].font = Font(size=11)
        layout.page_setup(ws, period)
        return
    _table(ws, table, top=2)
    ws.freeze_panes = "A3"
    layout.page_setup(ws, period, title_rows="2:2", orientation=layout.orientation(ws))


def _briefing_sheet(ws, b: Briefing) -> int:
    """简报: title, quarter, 本季度要点 (one wrapped sentence a row), 等次分布 and 需关注; returns the last row."""
    att = b.attention if not b.attention.empty else pd.DataFrame({"需关注": ["本季度没有需关注的支部。"]})
    for df in (att, b.grades):  # the tables set the columns first; the sentences wrap across them all
        export.fit_columns(ws, df, header_cap=HEADER_WRAP, cap=TEXT_WRAP)
    span = max(len(att.columns), len(b.grades.columns))
    for row, (text, size, color) in enumerate([(b.title, 18, RED), (b.subtitle, 12, None), (b.stamp, 11, GREY)], 1):
        ws.cell(row, 1, text).font = Font(size=size, bold=row == 1, color=color)
    ws.cell(5, 1, "本季度要点").font = Font(size=13, bold=True)
    row = 6
    for i, sentence in enumerate(b.sentences, 1):
        layout.paragraph(ws, row, f"{i}. {sentence}", span)
        row += 1
    end = _table(ws, b.grades, top=row + 1, title="等次分布（支部数）")
    return _table(ws, att, top=end + 2, title=f"需关注（每类至多 {attention.LIST_SIZE} 个）")


def _table(ws, df: pd.DataFrame, top: int, title: str | None = None) -> int:
    """Write `df` with a bold header from row `top` (after an optional title row); returns the last row used.
    Columns are widened to fit (headers and long text wrap instead), wrapped rows get their heights."""
    if title:
        ws.cell(top, 1, title).font = Font(size=12, bold=True)
        top += 1
    export.fit_columns(ws, df, header_cap=HEADER_WRAP, cap=TEXT_WRAP)
    for j, col in enumerate(df.columns, 1):
        if col in WIDE_TEXT:
            longest = max(export.display_width(v) for v in df[col]) if len(df) else 0
            ws.column_dimensions[get_column_letter(j)].width = min(longest + 2, WIDE_TEXT[col])
        cell = export.put(ws, top, j, col)
        cell.font, cell.fill, cell.border = Font(size=11, bold=True), HEADER_FILL, BOX
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    layout.fit_row(ws, top)
    for i, row in enumerate(df.itertuples(index=False), top + 1):
        for j, value in enumerate(row, 1):
            cell = export.put(ws, i, j, value)  # branch names and colleges are typed by branches: inert
            cell.border, cell.font = BOX, Font(size=11)
            cell.alignment = Alignment(vertical="center")
            _format(cell, str(df.columns[j - 1]))
        layout.fit_row(ws, i)
    return top + len(df)


def _format(cell, header: str) -> None:
    """Number formats (changes signed), centred grades and types, wrapped long text."""
    signed = any(w in header for w in SIGNED_HEADERS)
    if isinstance(cell.value, float):
        cell.number_format = "+0.0;-0.0;0.0" if signed else "0.0"
    elif signed and isinstance(cell.value, int):
        cell.number_format = "+0;-0;0"
        cell.alignment = Alignment(horizontal="center", vertical="center")
    elif header in CENTERED:
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    elif isinstance(cell.value, str):
        cell.alignment = Alignment(wrap_text=True, vertical="center")


def cli_report(args: argparse.Namespace) -> int:
    """`python -m pipelines report --period 2026Q3 [--db DB] [--format xlsx|pdf] [--out FILE]`."""
    if args.period not in scoring.periods(args.db) and scoring.submission_status(args.period, args.db).empty:
        print(f"{args.period} 没有任何报送数据，也没有支部名册，无法生成报告。", file=sys.stderr)
        return 1
    fmt = getattr(args, "format", "xlsx")
    out = Path(args.out or file_name(_period(args.period), fmt))
    if fmt == "pdf":
        from pipelines.report import pdf

        out.write_bytes(pdf.quarter_pdf(args.period, args.db))
    else:
        out.write_bytes(quarter_report(args.period, args.db))
    print(f"已生成 {out}")
    return 0
