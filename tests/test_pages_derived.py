"""What pages show from the marts, computed once per data version (pages/common.py summary / attention /
trend_colleges): the same as the pipeline functions on the database, and new after a write. Real DuckDB files."""
from __future__ import annotations

from pages import common as c
from pipelines.report.summary import quarter_summary
from pipelines.scoring import attention
from pipelines.store import db as dbmod
from pipelines.store import writes
import test_pages
from test_pages import _workbook, ok, page

thin_db = test_pages.thin_db  # a fixture of test_pages, used here too


def test_summary_and_attention_are_the_pipelines_own_and_follow_new_data(thin_db):
    periods = c.scores("periods")
    s = c.summary("2025Q2", periods)
    assert s.sentences == quarter_summary("2025Q2", thin_db).sentences
    a = c.attention("2025Q2", periods)
    direct = attention.attention("2025Q2", thin_db)
    assert list(a.lowest["branch_code"]) == list(direct.lowest["branch_code"])
    assert c.summary("2025Q2", periods) is not s  # each caller gets its own copy of the kept result

    with dbmod.connect(thin_db, write=True) as con:  # S02 of 外国语学院 submits: one more scored branch
        writes.save_parsed(con, _workbook("S02", 2025, 2, "student", college="外国语学院"), actor="test")
    after = c.summary("2025Q2", periods)
    assert after.facts.scored == s.facts.scored + 1
    assert after.sentences == quarter_summary("2025Q2", thin_db).sentences
    lowest = list(c.attention("2025Q2", periods).lowest["branch_code"])
    assert "S02" in lowest and lowest == list(attention.attention("2025Q2", thin_db).lowest["branch_code"])
    at = ok(page("overview", period="2025Q2").run())
    assert after.sentences[0] in [t.value for t in at.text]  # 本季度要点, one sentence a line
