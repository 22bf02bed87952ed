"""Hostile and careless input in names and free text (issue 9, findings 3 and 4).

Finding 3: a branch or college name is text. Names that look like Markdown (**粗体**, [外链](…), a bare URL) or
like plotly's HTML subset (<b>, <a href>) must show as the characters typed on every page and chart, never as
bold text or a live link. Finding 4: control characters (NUL, BEL, BS, ESC, DEL, C1) typed or pasted into a
cell are removed when the workbook or registry is read, with one warning naming the sheet and cell.
"""
from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

import pytest

from pipelines.store import db as dbmod, ingest
from pipelines.store.registry import load_registry
from pipelines.workbook import normalise as nz
from pipelines.guide import guide
from pipelines.workbook.model import BranchInfo, LedgerRow, RegistryEntry
from pipelines.workbook.reader import read_registry, read_workbook
from pipelines.workbook.template import write_registry_workbook, write_workbook

CONTROL = "\x00\x07\x08\x1b\x7f\x85"


# ---- finding 4: control characters ---------------------------------------------------------------------
def typed(text: str, chars: str) -> str:
    """`text` with `chars` spread into it, as a cell holds them: C0 characters are written the way Excel
    stores them in the file (_x001B_; openpyxl refuses the raw character), DEL and C1 as themselves."""
    out = text[:2]
    for ch in chars:
        out += f"_x{ord(ch):04X}_" if ord(ch) < 0x20 else ch
    return out + text[2:]


NAME, COLLEGE = "机械工程党支部", "机械工程学院"
TOPIC, LEDGER_EVIDENCE, SA_EVIDENCE = "一月支委会", "会议记录", "会议记录与照片"


def control_workbook(path: Path) -> Path:
    """A valid teacher workbook whose name, college, one topic and two evidence cells carry control characters."""
    g = guide()
    info = BranchInfo("JX01-T01", typed(NAME, CONTROL), typed(COLLEGE, "\x1b\x85"), "teacher", 2026, 1, 12,
                      "张书记", "李委员", dt.date(2026, 3, 28))
    ledger = [LedgerRow(0, dt.date(2026, m, 5), "committee_meeting", "", typed(TOPIC, "\x00\x1b") if m == 1 else
                        f"{m}月支委会", 5, 5, None, typed(LEDGER_EVIDENCE, "\x07\x7f") if m == 1 else "会议记录")
              for m in (1, 2, 3)]
    first = g.items_for("teacher")[0].id
    answers = {it.id: ("done", typed(SA_EVIDENCE, "\x08\x85") if it.id == first else "会议记录")
               for it in g.items_for("teacher")}
    return write_workbook(path, "teacher", info=info, ledger=ledger, counts={f.id: 0 for f in g.count_fields},
                          self_assessment=answers)


def column_letter(columns, cid: str) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[[c.id for c in columns].index(cid)]


def test_finding4_control_characters_in_a_workbook_are_removed_with_one_warning_per_cell(tmp_path):
    g = guide()
    parsed = read_workbook(control_workbook(tmp_path / "JX01-T01_2026Q1.xlsx"))
    assert not [p for p in parsed.problems if p.severity == "error"], parsed.problems
    assert (parsed.info.branch_name, parsed.info.college) == (NAME, COLLEGE)
    first = parsed.ledger[0]
    assert (first.topic, first.evidence) == (TOPIC, LEDGER_EVIDENCE)
    sa = next(r for r in parsed.self_assessment if r.item_id == g.items_for("teacher")[0].id)
    assert sa.evidence == SA_EVIDENCE

    s, lc, sc = g.workbook.sheets, g.workbook.ledger_columns, g.workbook.self_assessment_columns
    fields = [f.id for f in g.workbook.info_fields]
    expected = {
        (s.info, f"B{fields.index('branch_name') + 2}"): ("U+0000", "U+0007", "U+0008", "U+001B", "U+007F", "U+0085"),
        (s.info, f"B{fields.index('college') + 2}"): ("U+001B", "U+0085"),
        (s.ledger, f"{column_letter(lc, 'topic')}{first.row}"): ("U+0000", "U+001B"),
        (s.ledger, f"{column_letter(lc, 'evidence')}{first.row}"): ("U+0007", "U+007F"),
        (s.self_assessment, f"{column_letter(sc, 'evidence')}{sa.row}"): ("U+0008", "U+0085"),
    }
    warnings = [p for p in parsed.problems if p.code == "control_chars_removed"]
    assert sorted((p.sheet, p.cell) for p in warnings) == sorted(expected)
    for p in warnings:
        assert p.severity == "warning"
        assert f"「{p.sheet}」工作表 {p.cell} 单元格" in p.message
        assert all(code in p.message for code in expected[(p.sheet, p.cell)]), p.message
        assert not nz.CONTROL.search(p.value) and not nz.CONTROL.search(p.message)


def test_finding4_control_characters_in_the_registry_are_removed_with_one_warning_per_cell(tmp_path):
    path = write_registry_workbook(tmp_path / "名册.xlsx", [
        RegistryEntry("JX01-T01", typed(NAME, CONTROL), COLLEGE, "teacher", 12),
        RegistryEntry("JX01-S01", "学生党支部", typed(COLLEGE, "\x00\x85"), "student", 30),
    ])
    entries, problems = read_registry(path)
    assert [(e.branch_name, e.college) for e in entries] == [(NAME, COLLEGE), ("学生党支部", COLLEGE)]
    warnings = [p for p in problems if p.code == "control_chars_removed"]
    assert sorted((p.cell, p.severity) for p in warnings) == [("B2", "warning"), ("C3", "warning")]
    assert all("U+0000" in p.message and "U+0085" in p.message for p in warnings)


def stored_texts(db: Path) -> list[str]:
    """Every text value of the tables that hold what branches typed."""
    out = []
    with dbmod.connect(db) as con:
        for table, cols in (("raw_info", "branch_name, college, secretary, filled_by"),
                            ("raw_ledger", "activity_raw, topic, evidence"), ("raw_self_assessment", "evidence"),
                            ("registry", "branch_name, college"), ("raw_problems", "value, message")):
            for row in con.execute(f"SELECT {cols} FROM {table}").fetchall():
                out += [v for v in row if isinstance(v, str)]
    return out


def test_finding4_no_control_character_reaches_the_database(tmp_path):
    db = dbmod.db_path()
    registry = write_registry_workbook(tmp_path / "名册.xlsx", [
        RegistryEntry("JX01-T01", typed(NAME, CONTROL), typed(COLLEGE, "\x1b"), "teacher", 12)])
    count, problems = load_registry(registry, db)
    assert count == 1
    results = ingest.ingest([control_workbook(tmp_path / "JX01-T01_2026Q1.xlsx")], db)
    assert [r.status for r in results] == ["accepted"], [p.message for r in results for p in r.problems]
    texts = stored_texts(db)
    assert NAME in texts and TOPIC in texts
    assert not [t for t in texts if nz.CONTROL.search(t)]


@pytest.mark.parametrize("raw, clean", [
    ("a\x00b", "ab"), ("\x1b[31m红\x1b[0m", "[31m红[0m"), ("x\x7fy\x85z\x9f", "xyz"), ("\ud800半\ufffe\uffff", "半"),
    ("长\t文本\r\n第二行", "长 文本 第二行"), ("全角　空格", "全角 空格"),
])
def test_free_text_never_keeps_a_control_character(raw, clean):
    assert nz.text(raw) == clean


# ---- finding 3: names are text -------------------------------------------------------------------------
COLLEGE_A = '<a href="http://evil.example/c">学院</a>'
COLLEGE_B = "**粗体学院** www.evil.example"
COLLEGE_C = "[外链学院](http://evil.example/c) %{y}"
COLLEGE_D = "<b>未报送学院</b> http://evil.example/d"
BRANCHES = [  # code, name, college, type, committee meetings in Q1 and Q2 (so some branches move)
    ("JX01-T01", "**粗体**党支部", COLLEGE_A, "teacher", (3, 1)),
    ("JX01-T02", "[外链](http://evil.example)", COLLEGE_A, "teacher", (1, 3)),
    ("JX02-S01", "http://evil.example/x", COLLEGE_B, "student", (3, 3)),
    ("JX02-T03", "<b>粗</b>党支部", COLLEGE_B, "teacher", (2, 3)),
    ("JX03-S02", '<a href="http://evil.example">x</a>', COLLEGE_C, "student", (3, 2)),
]
MISSING = ("JX04-T04", "未报送党支部", COLLEGE_D, "teacher")  # registry only: its college has no score
PLANTED = [b[1] for b in BRANCHES] + [COLLEGE_A, COLLEGE_B, COLLEGE_C, COLLEGE_D]
PERIOD = "2026Q2"


def hostile_workbook(folder: Path, code: str, name: str, college: str, branch_type: str, quarter: int,
                     meetings: int) -> Path:
    """A valid workbook of the hostile school, written through the real template."""
    g = guide()
    months = [3 * (quarter - 1) + k for k in (1, 2, 3)]
    info = BranchInfo(code, name, college, branch_type, 2026, quarter, 12, "张书记", "李委员",
                      dt.date(2026, months[-1], 28))
    ledger = [LedgerRow(0, dt.date(2026, m, 5), "committee_meeting", "", f"{m}月支委会", 5, 5, None, "会议记录")
              for m in months[:meetings]]
    ledger += [LedgerRow(0, dt.date(2026, m, 12), "theme_day", "", f"{m}月主题党日", 12, 11, None, "照片")
               for m in months]
    counts = {f.id: 0 for f in g.count_fields} | {"fee_due": 12, "fee_paid": 12}
    answers = {it.id: ("done", "会议记录与照片") for it in g.items_for(branch_type)}
    return write_workbook(folder / f"{code}_2026Q{quarter}.xlsx", branch_type, info=info, ledger=ledger,
                          counts=counts, self_assessment=answers)


def build_hostile_db(db: Path, folder: Path) -> Path:
    """A real database of the hostile school: the registry and two quarters ingested from real workbooks."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = [RegistryEntry(code, name, college, btype, 12) for code, name, college, btype, _ in BRANCHES]
    registry = write_registry_workbook(folder / "名册.xlsx", entries + [RegistryEntry(*MISSING, 12)])
    assert load_registry(registry, db)[0] == len(BRANCHES) + 1
    files = [hostile_workbook(folder, code, name, college, btype, q, meetings[q - 1])
             for code, name, college, btype, meetings in BRANCHES for q in (1, 2)]
    results = ingest.ingest(files, db)
    assert {r.status for r in results} == {"accepted"}, [p.message for r in results for p in r.errors]
    return db


@pytest.fixture
def hostile_db(tmp_path) -> Path:
    return build_hostile_db(dbmod.db_path(), tmp_path / "files")


_PUNCT = r"[!-/:-@\[-`{-~]"


AUTOLINK = re.compile(r"(?i)https?://|www\.|[-.\w+]@[-\w]")  # what remark-gfm links in parsed text


def shows_literally(markdown: str, text: str) -> bool:
    """True when `markdown` renders as exactly `text`: every ASCII punctuation character is backslash-escaped
    (so no emphasis, link or directive can form), the text left after the escapes holds nothing GFM would
    autolink, and it is `text` apart from invisible word joiners."""
    bare = re.sub(r"\\" + _PUNCT, "", markdown)
    parsed = re.sub(r"\\(" + _PUNCT + ")", r"\1", markdown)
    return (parsed.replace("\u2060", "") == text and not re.search(_PUNCT, bare)
            and not AUTOLINK.search(parsed))


def test_md_text_escapes_markdown_autolinks_and_directives():
    from pages.text import md_text

    for raw in PLANTED + [":red[红]", ":material/home:", "$x$", "a@evil.example", "# 标题", "1. 列表", "a\\b"]:
        assert shows_literally(md_text(raw), raw), md_text(raw)
    assert md_text("机械工程学院（一）党支部") == "机械工程学院（一）党支部"  # CJK text is left alone
    assert md_text("第一行\n第二行") == "第一行 第二行"


def test_plot_text_escapes_plotly_html_and_templates():
    from pages.text import plot_text

    assert plot_text('<a href="http://evil.example">x</a>') == '&lt;a href="http://evil.example"&gt;x&lt;/a&gt;'
    assert plot_text("<b>粗</b> & %{y}") == "&lt;b&gt;粗&lt;/b&gt; &amp; %&#123;y}"
    assert plot_text("机械工程学院") == "机械工程学院"


def chart_strings(at) -> list[str]:
    """Every string in the plotly figures of an AppTest run (labels, names, hover and bar text)."""
    out: list[str] = []

    def walk(node):
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    import json
    for chart in at.get("plotly_chart"):
        walk(json.loads(chart.proto.spec))
    return out


def assert_charts_show_text(at, expected: list[str]) -> None:
    """No planted markup reaches a chart as markup; each of `expected` is there, escaped."""
    from pages.text import plot_text

    strings = chart_strings(at)
    joined = "\n".join(strings)
    for raw in PLANTED:
        if "<" in raw or "%{" in raw:
            assert raw not in joined, raw
    for raw in expected:
        assert plot_text(raw) in joined, raw


def run_page(name: str, **params: str):
    """One page run in AppTest that showed neither an exception nor an error box (test_pages' helpers)."""
    from test_pages import ok, page

    return ok(page(name, **params).run())


def run_again(at):
    """`at` run again (a tab opened in its session state), checked like run_page."""
    from test_pages import ok

    return ok(at.run())


# a Markdown link, a bare URL, an <a href> (** and <b> are covered by the escaper tests)
@pytest.mark.parametrize("code", ["JX01-T02", "JX02-S01", "JX03-S02"])
def test_finding3_branch_heading_shows_the_name_as_typed(hostile_db, code):
    _, name, college, btype, _ = next(b for b in BRANCHES if b[0] == code)
    at = run_page("branch", period=PERIOD, college=college, branch=code)
    type_name = guide().branch_type_name(btype)
    heading = next(s.value for s in at.subheader if type_name in s.value)
    head_name, _, head_college = heading.split("　·　")
    assert shows_literally(head_name, name) and shows_literally(head_college, college), heading
    assert_charts_show_text(at, [])


def test_finding3_overview_shows_names_as_typed_in_captions_and_charts(hostile_db):
    at = run_page("overview", period=PERIOD)
    caption = next(c.value for c in at.caption if c.value.startswith("本季度没有支部报送"))
    assert shows_literally(caption.split("：", 1)[1], COLLEGE_D), caption
    at.session_state["ov_details"] = "支部排名与热力图"  # the heat map, drawn when its tab is opened
    at = run_again(at)
    assert_charts_show_text(at, [b[1] for b in BRANCHES] + [COLLEGE_A, COLLEGE_B, COLLEGE_C])


def test_finding3_trends_and_compare_show_names_as_typed_in_charts(hostile_db):
    at = run_page("trends", period=PERIOD, branches=[b[0] for b in BRANCHES[:3]])
    assert_charts_show_text(at, [b[1] for b in BRANCHES[:3]] + [COLLEGE_A, COLLEGE_B, COLLEGE_C])
    at = run_page("compare", period=PERIOD)
    at.session_state["cmp_details"] = "分二级党组织"  # the college bars, drawn when their tab is opened
    assert_charts_show_text(run_again(at), [COLLEGE_A, COLLEGE_B, COLLEGE_C])


# ---- finding 3 in real Chromium ---------------------------------------------------------------------------
LIVE_LINKS = """() => [...document.querySelectorAll('a')].filter(a => ((a.getAttribute('href') || '')
    + (a.getAttributeNS('http://www.w3.org/1999/xlink', 'href') || '')).includes('evil.example')).length"""
# plotly draws <b> as a tspan with font-weight bold; Markdown as <strong>
BOLD_PLANTED = """() => [...document.querySelectorAll('b, strong, em, tspan')].filter(e =>
    /粗|外链|evil/.test(e.textContent) && (e.tagName.toLowerCase() !== 'tspan'
    || /bold|italic/.test(e.getAttribute('style') || ''))).length"""
SVG_TEXT = "() => [...document.querySelectorAll('.js-plotly-plot svg text')].map(t => t.textContent).join('\\n')"


@pytest.mark.browser
def test_finding3_no_planted_link_or_bold_is_live_in_chromium(tmp_path, page):
    """全校总览, 支部画像, 趋势分析 and 教师与学生支部对比 of a school whose names are Markdown and HTML: no
    element links to the planted host, nothing planted is bold, and the names show with their '<b>' and '**'."""
    import urllib.parse

    from app_server import start_app, stop_app
    from test_browser import wait_finished

    db = build_hostile_db(dbmod.db_path(), tmp_path / "files")
    proc, base = start_app(db, tmp_path / "streamlit.log")
    code, name, college, *_ = BRANCHES[3]  # <b>粗</b>党支部 of **粗体学院** www.evil.example
    query = urllib.parse.urlencode({"period": PERIOD, "college": college, "branch": code})
    try:
        for path, title, charts in (("", "全校总览", 3), (f"branch?{query}", "支部画像", 1), ("trends", "趋势分析", 4),
                                    ("compare", "教师与学生支部对比", 2)):
            page.goto(f"{base}/{path}")
            wait_finished(page, title, charts)
            if not path:  # the ranking's heat map with every name, drawn when its tab is opened
                page.get_by_role("tab", name="支部排名与热力图").click()
                page.locator(".st-key-ov_heatmap .js-plotly-plot .main-svg").first.wait_for()
                wait_finished(page, title, 4)
            assert page.locator('[data-testid="stException"]').count() == 0, title
            assert page.evaluate(LIVE_LINKS) == 0, title
            assert page.evaluate(BOLD_PLANTED) == 0, title
            svg_text = page.evaluate(SVG_TEXT)
            if title in ("全校总览", "趋势分析"):
                assert name in svg_text, (title, svg_text)  # the tags show as typed
            if title == "全校总览":
                assert COLLEGE_A in svg_text and "**粗体学院** www.evil.example" in svg_text
            if title == "支部画像":
                heading = page.get_by_role("heading", level=3).filter(has_text="党支部").first.inner_text()
                heading = heading.replace("\u2060", "")  # the invisible word joiners that stop autolinks
                assert heading.split("　·　")[0] == name and heading.split("　·　")[2] == college, heading
    finally:
        stop_app(proc)


def test_finding4_a_sheet_name_with_a_control_character_is_stored_without_it(tmp_path):
    import openpyxl

    path = control_workbook(tmp_path / "JX01-T01_2026Q1.xlsx")
    wb = openpyxl.load_workbook(path)
    ledger_name = guide().workbook.sheets.ledger
    wb[ledger_name].title = ledger_name + "\x85"
    wb.save(path)
    db = dbmod.db_path()
    results = ingest.ingest([path], db)
    assert [r.status for r in results] == ["accepted"], [p.message for r in results for p in r.problems]
    assert all(not nz.CONTROL.search(p.sheet or "") for r in results for p in r.problems)
    with dbmod.connect(db) as con:
        sheets = {s for (s,) in con.execute("SELECT DISTINCT sheet FROM raw_ledger").fetchall()}
    assert sheets == {ledger_name}
