"""The quarterly report workbook (pipelines/report/quarterly.py) on the demo database: its numbers against the scoring
functions, its layout as read back by openpyxl, the empty quarter, and `python -m pipelines report`."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from pipelines import scoring
from pipelines.report import quarterly
from pipelines.cli import main as cli
from pipelines.guide import guide
from pipelines.guide.period import Period


@pytest.fixture
def latest(demo_db) -> str:
    return scoring.periods(demo_db)[-1]


def test_figures_match_the_scoring_functions(demo_db, latest):
    ps = scoring.periods(demo_db)
    bs, before = scoring.branch_scores(latest, demo_db), scoring.branch_scores(ps[-2], demo_db)
    status = scoring.submission_status(latest, demo_db)
    f = quarterly.frames(latest, demo_db)

    summary = f["概况"].set_index("项目")
    assert summary.at["支部总数", "本季度"] == len(status)
    assert summary.at["未报送支部", "本季度"] == int((status["status"] == "missing").sum())
    assert summary.at["全校平均分", "本季度"] == scoring.shown(bs["overall"].mean())
    assert summary.at["全校平均分", "上季度"] == scoring.shown(before["overall"].mean())
    assert summary.at["等次为“优秀”的支部", "本季度"] == int((bs["grade"] == "优秀").sum())

    ranking = f["支部排名"]
    top = bs.sort_values(["rank", "branch_code"]).iloc[0]
    assert ranking.iloc[0]["支部编码"] == top["branch_code"] and ranking.iloc[0]["总分"] == scoring.shown(top["overall"])
    assert list(ranking["排名"]) == sorted(ranking["排名"])
    assert len(ranking) == len(bs)

    per_branch = f["支部一级指标得分"].set_index("支部编码")
    assert per_branch.at[top["branch_code"], guide().dimensions[0].name] == scoring.shown(top["d1"])
    assert len(f["支部排名"].columns) <= 10  # the ranking prints legibly on one A4 width
    dims = f["七个一级指标"].set_index("一级指标")
    first = guide().dimensions[0].name
    assert dims.at[first, "全校平均"] == scoring.shown(bs["d1"].mean())

    items = f["考核要点"]
    summ = scoring.item_summary(latest, demo_db)
    weakest = items.iloc[0]
    expected = summ[(summ["branch_type"] == "all") & (summ["item_id"] == weakest["考核要点"])]["mean_completion"]
    assert weakest["全校平均完成率（%）"] == round(float(expected.iloc[0]) * 100, 1)
    shown = items["全校平均完成率（%）"].dropna()
    assert list(shown) == sorted(shown)  # weakest first
    assert len(items) == len(guide().items)

    missing = status[status["status"] == "missing"]
    assert sorted(f["未报送支部"]["支部编码"]) == sorted(missing["branch_code"])


def test_workbook_reads_back_with_its_sheets_and_formats(demo_db, latest):
    data = quarterly.quarter_report(latest, demo_db, now=dt.datetime(2026, 11, 27, 9, 30))
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == [*quarterly.SHEETS, quarterly.HONOURS_SHEET]
    year, q = latest.split("Q")
    assert wb["简报"]["A1"].value == "党建“双创”季度简报"
    assert f"{int(year)} 年第 {int(q)} 季度" in wb["简报"]["A2"].value
    assert "2026-11-27 09:30" in wb["简报"]["A3"].value and guide().version in wb["简报"]["A3"].value
    ws = wb["支部排名"]
    header = [c.value for c in ws[2]]
    assert header[:3] == ["排名", "排名变化", "支部"]
    total = header.index("总分") + 1
    assert ws.cell(3, total).number_format == "0.0"
    assert ws.cell(3, header.index("较上季度") + 1).number_format == "+0.0;-0.0;0.0"
    assert ws.cell(3, 2).number_format == "+0;-0;0"  # the rank change reads +3 / -2
    assert ws.freeze_panes == "A3" and ws.page_setup.orientation == "landscape"
    assert ws.print_title_rows == "$2:$2"
    counts = {r[0].value: (r[1].value, r[2].value) for r in wb["概况"].iter_rows(min_row=5, max_row=7)}
    assert isinstance(counts["支部总数"][0], int)  # a count is never written as 24.0
    before = scoring.submission_status(str(Period.parse(latest).previous), demo_db)
    assert counts["已报送支部"][1] == int((before["status"] != "missing").sum())  # last quarter's too


def test_a_quarter_nobody_submitted_lists_every_branch_as_missing(demo_db, latest):
    year, q = latest.split("Q")
    empty = f"{int(year) + 1}Q{q}"
    f = quarterly.frames(empty, demo_db)
    registry = scoring.submission_status(latest, demo_db)
    assert f["支部排名"].empty
    assert len(f["未报送支部"]) == len(registry)
    wb = load_workbook(io.BytesIO(quarterly.quarter_report(empty, demo_db)))
    assert wb["支部排名"]["A2"].value == "本季度暂无数据。"


def test_cli_writes_the_report(demo_db, latest, tmp_path, capsys):
    out = tmp_path / "报告.xlsx"
    assert cli(["report", "--db", str(demo_db), "--period", latest.lower(), "--out", str(out)]) == 0
    assert load_workbook(out).sheetnames == [*quarterly.SHEETS, quarterly.HONOURS_SHEET]
    assert str(out) in capsys.readouterr().out


def test_cli_refuses_a_database_without_data(tmp_path, capsys):
    from pipelines.store import db

    empty = tmp_path / "empty.duckdb"
    with db.connect(empty, write=True):  # the schema, no rows
        pass
    assert cli(["report", "--db", str(empty), "--period", "2026Q3", "--out", str(tmp_path / "r.xlsx")]) == 1
    assert "没有任何报送数据" in capsys.readouterr().err
    assert not (tmp_path / "r.xlsx").exists()


def test_without_a_registry_the_report_lists_nobody_as_missing(tmp_path):
    from test_scoring_fixtures import save, workbook

    path = tmp_path / "noreg.duckdb"
    save(path, workbook("T01", 2025, 2))
    f = quarterly.frames("2025Q2", path)
    assert not f["registry"] and f["未报送支部"].empty
    assert f["概况"].set_index("项目").at["未报送支部", "本季度"] == "未导入支部名册"
    wb = load_workbook(io.BytesIO(quarterly.quarter_report("2025Q2", path)))
    assert wb["未报送支部"]["A2"].value == "尚未导入支部名册，无法统计未报送支部。"
