"""The quarterly briefing as a PDF, for those who read and print it from a phone.

Same content as the workbook's first sheets (pipelines/report/quarterly.py: briefing, frames), laid out with fpdf2 on A4
portrait: page 1 the title, 本季度要点, 等次分布 and 需关注; then two charts as static images (plotly's own
export through kaleido, which drives the system's Chromium); then 支部排名, 考核要点 (weakest first) and
未报送支部. Every page has the title and quarter in its header and 第 X 页 / 共 Y 页 in its footer. The text font
is Noto Sans CJK SC (Debian: fonts-noto-cjk), embedded as a subset, so the file reads the same on any phone.
"""
from __future__ import annotations

import datetime as dt
import functools
import subprocess
import warnings

import pandas as pd
import plotly.graph_objects as go
import kaleido
import plotly.io as pio
from fpdf import FPDF
from fpdf.fonts import FontFace

from pipelines import scoring
from pipelines.report import quarterly
from pipelines.guide.period import Period
from pipelines.report.layout import RED, TITLE, header_text

FONT = "cjk"
FONT_NAME = "Noto Sans CJK SC"
BODY_PT, SMALL_PT = 10.5, 9.5  # nothing in the PDF is smaller than SMALL_PT
HEADINGS = FontFace(emphasis="BOLD", fill_color=(244, 225, 228))
CHART_PX = (1000, 520)  # drawn the page's width (180 mm): 1 px ≈ 0.51 pt, so 18 px text prints at ≈ 9.2 pt
TYPE_COLORS = ("#C8102E", "#1F77B4", "#E6A23C")  # school (Party red), then the two branch types


class FontMissing(RuntimeError):
    """No CJK font installed: the PDF cannot show Chinese."""


@functools.cache
def cjk_font(style: str = "Regular") -> tuple[str, int]:
    """(file, index in the collection) of Noto Sans CJK SC in `style`, as fontconfig finds it."""
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}\t%{index}", f"{FONT_NAME}:style={style}"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        path, index = out.split("\t")
    except (OSError, subprocess.SubprocessError, ValueError) as e:
        raise FontMissing("未找到中文字体 Noto Sans CJK，无法生成 PDF（Debian：apt-get install fonts-noto-cjk）") from e
    if "CJK" not in path:
        raise FontMissing("未找到中文字体 Noto Sans CJK，无法生成 PDF（Debian：apt-get install fonts-noto-cjk）")
    return path, int(index or 0)


class _Pdf(FPDF):
    def __init__(self, period: str):
        super().__init__(format="A4")
        self.running_head = header_text(period)
        for style, weight in (("", "Regular"), ("B", "Bold")):
            path, index = cjk_font(weight)
            self.add_font(FONT, style, path, collection_font_number=index)
        self.set_margins(15, 18, 15)
        self.set_auto_page_break(True, margin=18)

    def header(self):
        self.set_font(FONT, "", SMALL_PT)
        self.set_text_color(107, 114, 128)
        self.set_y(8)
        self.cell(0, 6, self.running_head, align="C")
        self.set_text_color(0)
        self.set_y(18)

    def footer(self):
        self.set_y(-13)
        self.set_font(FONT, "", SMALL_PT)
        self.cell(0, 6, f"第 {self.page_no()} 页 / 共 {{nb}} 页", align="C")

    def heading(self, text: str, size: float = 13) -> None:
        self.ln(3)
        self.set_font(FONT, "B", size)
        self.multi_cell(0, size * 0.55, text, align="L")
        self.ln(1)
        self.set_font(FONT, "", BODY_PT)

    def table(self, df: pd.DataFrame, widths: tuple[float, ...], align: str = "LEFT") -> None:  # type: ignore[override]
        self.set_font(FONT, "", BODY_PT)
        with super().table(col_widths=widths, headings_style=HEADINGS, text_align=align, line_height=6,
                           first_row_as_headings=True) as t:
            t.row([str(c) for c in df.columns])
            for row in df.itertuples(index=False):
                t.row([_text(v, str(col)) for v, col in zip(row, df.columns)])
        self.ln(2)


def _text(value, column: str) -> str:
    """A cell as shown: scores with the shown decimals (changes signed), counts as integers, blanks empty."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        signed = any(w in column for w in quarterly.SIGNED_HEADERS)
        return f"{value:+.{scoring.SHOWN_DECIMALS}f}" if signed else f"{value:.{scoring.SHOWN_DECIMALS}f}"
    if isinstance(value, int) and any(w in column for w in quarterly.SIGNED_HEADERS):
        return f"{value:+d}"
    return str(value)


def _chart(fig: go.Figure) -> bytes:
    fig.update_layout(font=dict(family=FONT_NAME, size=18), template="plotly_white",
                      margin=dict(l=10, r=10, t=60, b=10), legend=dict(orientation="h", y=-0.12, yanchor="top"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # plotly: "kopts ignored if using a server"
        return pio.to_image(fig, format="png", width=CHART_PX[0], height=CHART_PX[1], scale=2)


def charts(tables: dict) -> list[bytes]:
    """The seven dimensions (school and both types) and the colleges' mean scores, as PNG images."""
    dims = tables["七个一级指标"]
    fig = go.Figure([go.Bar(name=col.removesuffix("平均") if col != "全校平均" else col, x=dims["一级指标"],
                            y=dims[col], marker_color=color)
                     for col, color in zip([c for c in dims.columns if c.endswith("平均")], TYPE_COLORS)])
    fig.update_layout(title="七个一级指标平均得分", barmode="group", yaxis_range=[0, 100])
    images = [_chart(fig)]
    cs = tables["二级党组织"].dropna(subset=["平均总分"]).sort_values("平均总分")
    if not cs.empty:
        bar = go.Figure(go.Bar(x=cs["平均总分"], y=cs["二级党组织"], orientation="h", marker_color=f"#{RED}",
                               text=[f"{v:.{scoring.SHOWN_DECIMALS}f}" for v in cs["平均总分"]], textposition="outside"))
        bar.update_layout(title="二级党组织平均总分", xaxis_range=[0, 105])
        images.append(_chart(bar))
    return images


def quarter_pdf(period: str, db=None, *, now: dt.datetime | None = None,
                data: dict[str, pd.DataFrame] | None = None) -> bytes:
    """The briefing of `period` as PDF bytes (`data`: scoring.marts(period, db, previous=True))."""
    period = str(Period.parse(period))
    data = data if data is not None else scoring.marts(period, db, previous=True)
    b = quarterly.briefing(period, db, now=now, data=data)
    tables = quarterly.frames(period, db, data)
    pdf = _Pdf(period)
    pdf.set_title(f"{TITLE} {period}")
    pdf.add_page()
    _first_page(pdf, b)
    if not data["branch_scores"].empty:
        pdf.add_page()
        kaleido.start_sync_server(silence_warnings=True)  # one Chromium for both charts
        try:
            images = charts(tables)
        finally:
            kaleido.stop_sync_server(silence_warnings=True)
        for image in images:
            pdf.image(image, w=pdf.epw)
            pdf.ln(4)
    _tables(pdf, tables)
    return bytes(pdf.output())


def _first_page(pdf: _Pdf, b: quarterly.Briefing) -> None:
    pdf.set_font(FONT, "B", 20)
    pdf.set_text_color(200, 16, 46)
    pdf.cell(0, 11, b.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.set_font(FONT, "", 12)
    pdf.cell(0, 7, b.subtitle, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", SMALL_PT)
    pdf.cell(0, 6, b.stamp, new_x="LMARGIN", new_y="NEXT")
    pdf.heading("本季度要点")
    for i, sentence in enumerate(b.sentences, 1):
        pdf.multi_cell(0, 6, f"{i}. {sentence}", align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.heading("等次分布（支部数）", 12)
    pdf.table(b.grades, (1, 1, 1, 1), align="CENTER")
    pdf.heading(f"需关注（每类至多 {quarterly.attention.LIST_SIZE} 个）", 12)
    if b.attention.empty:
        pdf.multi_cell(0, 6, "本季度没有需关注的支部。")
    else:
        pdf.table(b.attention, (2.2, 4.4, 3.6, 1.2, 1.2, 1.6))


def _tables(pdf: _Pdf, tables: dict) -> None:
    ranking = tables["支部排名"][["排名", "支部", "二级党组织", "类型", "总分", "等次", "较上季度"]]
    items = tables["考核要点"][["考核要点", "内容", "全校平均完成率（%）", "参与计算的支部数"]]
    for title, df, widths, empty in (
            ("支部排名", ranking, (1, 4.4, 3.6, 2, 1.2, 1.2, 1.6), "本季度暂无数据。"),
            ("考核要点（完成率从低到高）", items, (1.3, 7, 1.8, 1.6), "本季度暂无数据。"),
            ("未报送支部", tables["未报送支部"], (2, 4.5, 3.6, 2),
             "本季度全部支部均已报送。" if tables["registry"] else "尚未导入支部名册，无法统计未报送支部。")):
        pdf.add_page()
        pdf.heading(title, 14)
        if df.empty:
            pdf.multi_cell(0, 6, empty)
        else:
            pdf.table(df.astype(object), widths)
