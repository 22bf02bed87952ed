"""Issue 14 target 3 (many viewers, an upload beside them): after a write bumps the data version, the first page
that asks for a query computes the new version; other pages asking for the same query meanwhile get the previous
version's result at once (pages/common.py `_or_last_good`), say so, and see the new data on their next
interaction. Real DuckDB files and real writes; a second viewer is a second thread, as in the server."""
from __future__ import annotations

import threading
import time

from streamlit.testing.v1 import AppTest

from pipelines.store import db as dbm, versions

CURRENT = "SELECT count(*) AS n FROM submissions WHERE status = 'current'"


def _count(common) -> int:
    return int(common.query(CURRENT).at[0, "n"])


def _first_viewer_computing(common, demo_db, got: dict) -> threading.Thread:
    """A viewer whose page asks for CURRENT of the new version and is still computing it (it waits for the
    database lock the caller holds); returns its thread once it is computing."""
    t = threading.Thread(target=lambda: got.setdefault("n", _count(common)), daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not common._computing and time.monotonic() < deadline:  # the viewer has started the computation
        time.sleep(0.01)
    assert common._computing, "the first viewer never started computing"
    return t


def test_other_viewers_get_the_previous_version_while_the_first_computes_the_new(demo_db):
    import pages.common as common

    before = _count(common)  # every viewer has the page open: the query has a result in this process
    code, period = common.query("SELECT branch_code, period FROM submissions WHERE status = 'current' "
                                "ORDER BY period DESC, branch_code LIMIT 1").iloc[0]
    version = dbm.data_version(demo_db)
    assert versions.withdraw(code, period, demo_db, actor="test")  # a write: one branch-quarter fewer
    assert dbm.data_version(demo_db) == version + 1

    got: dict = {}
    with dbm.locked(demo_db):  # the database stays busy while the first viewer computes
        first = _first_viewer_computing(common, demo_db, got)
        common.served_stale()
        t0 = time.monotonic()
        stale = common.query(CURRENT)
        waited = time.monotonic() - t0
        assert int(stale.at[0, "n"]) == before and waited < 1.0  # at once, the data it had
        assert common.served_stale() and not common.served_stale()  # noted once, for the page's message
        stale.at[0, "n"] = -1  # a page changing what it was given changes nobody else's copy
        assert _count(common) == before
        assert "n" not in got
    first.join(30)
    assert got["n"] == before - 1  # the first viewer got the new version
    common.served_stale()
    assert _count(common) == before - 1 and not common.served_stale()  # the next interaction: new data


def test_a_viewer_alone_sees_a_write_at_once(demo_db):
    import pages.common as common

    before = _count(common)
    code, period = common.query("SELECT branch_code, period FROM submissions WHERE status = 'current' "
                                "ORDER BY period, branch_code LIMIT 1").iloc[0]
    assert versions.withdraw(code, period, demo_db, actor="test")
    common.served_stale()
    assert _count(common) == before - 1 and not common.served_stale()


def test_a_query_never_computed_waits_for_the_new_version(demo_db):
    """Nothing to fall back on: a page asking for a query this process has never computed gets new data."""
    import pages.common as common

    sql = "SELECT count(*) AS n FROM submissions WHERE status = 'current' AND period >= ?"
    periods = common.scores("periods")
    code, period = common.query("SELECT branch_code, period FROM submissions WHERE status = 'current' "
                                "AND period = ? LIMIT 1", periods[-1]).iloc[0]
    assert versions.withdraw(code, period, demo_db, actor="test")
    got: dict = {}
    with dbm.locked(demo_db):
        first = threading.Thread(target=lambda: got.setdefault("n", int(common.query(sql, periods[-1]).at[0, "n"])),
                                 daemon=True)
        first.start()
        time.sleep(0.3)
    first.join(30)
    n = int(common.query(sql, periods[-1]).at[0, "n"])
    assert got["n"] == n and not common.served_stale()
    with dbm.connect(demo_db) as con:
        assert n == con.execute(sql, [periods[-1]]).fetchone()[0]


PAGE = """
import streamlit as st
from pages import common as c

def render():
    st.metric("现有报送", int(c.query("SELECT count(*) AS n FROM submissions WHERE status = 'current'").at[0, "n"]))

c.run_page(render)
"""


def test_the_page_says_it_shows_the_previous_version(demo_db, monkeypatch):
    """The page run while the first viewer computes ends at once (a page waiting for that computation would
    wait for the database, up to the lock timeout of 60 s, past the run's 20 s)."""
    import pages.common as common
    from pipelines import config

    monkeypatch.setenv("DJ_LOCK_TIMEOUT_S", "60")
    config.settings.cache_clear()
    at = AppTest.from_string(PAGE, default_timeout=60).run()
    before = int(at.metric[0].value)
    assert not at.toast
    code, period = common.query("SELECT branch_code, period FROM submissions WHERE status = 'current' "
                                "ORDER BY period DESC, branch_code DESC LIMIT 1").iloc[0]
    assert versions.withdraw(code, period, demo_db, actor="test")
    got: dict = {}
    with dbm.locked(demo_db):
        first = _first_viewer_computing(common, demo_db, got)
        at.run(timeout=20)
        assert int(at.metric[0].value) == before
        assert "上一版数据" in at.toast[0].value
    first.join(30)
    at.run()
    assert int(at.metric[0].value) == before - 1 and not at.toast


PAGE3 = """
import streamlit as st
from pages import common as c

def render():
    st.metric("现有报送", int(c.query("SELECT count(*) AS n FROM submissions WHERE status = 'current'").at[0, "n"]))
    st.metric("支部", int(c.query("SELECT count(DISTINCT branch_code) AS n FROM submissions WHERE status = 'current'").at[0, "n"]))
    st.metric("季度", int(c.query("SELECT count(DISTINCT period) AS n FROM submissions WHERE status = 'current'").at[0, "n"]))

c.run_page(render)
"""

OTHER_PAGE = """
import streamlit as st
from pages import common as c

c.run_page(lambda: st.write(len(c.query("SELECT * FROM submissions WHERE status <> 'current'"))))
"""


def test_on_a_busy_server_the_first_page_waits_a_moment_then_shows_the_previous_version(demo_db, monkeypatch):
    """The first page asking after a write waits at most REVALIDATE_WAIT_S while another page runs (here one
    waiting for the database too), once for its three queries; the computations go on, and the next run shows
    the new data."""
    import pages.common as common
    from pipelines import config

    monkeypatch.setenv("DJ_LOCK_TIMEOUT_S", "60")
    config.settings.cache_clear()
    at = AppTest.from_string(PAGE3, default_timeout=60).run()
    before = int(at.metric[0].value)
    code, period = common.query("SELECT branch_code, period FROM submissions WHERE status = 'current' "
                                "ORDER BY period DESC, branch_code LIMIT 1").iloc[0]
    assert versions.withdraw(code, period, demo_db, actor="test")
    other = AppTest.from_string(OTHER_PAGE, default_timeout=60)
    with dbm.locked(demo_db):
        beside = threading.Thread(target=other.run, daemon=True)  # another viewer's page, waiting for the database
        beside.start()
        deadline = time.monotonic() + 20
        while common._running_pages < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        t0 = time.monotonic()
        at.run(timeout=20)
        waited = time.monotonic() - t0
        assert int(at.metric[0].value) == before and "上一版数据" in at.toast[0].value
        assert common.REVALIDATE_WAIT_S <= waited < 2 * common.REVALIDATE_WAIT_S + 1  # not once per query
    beside.join(60)
    deadline = time.monotonic() + 30
    while common._computing and time.monotonic() < deadline:  # the computation the page started goes on
        time.sleep(0.05)
    at.run()
    assert int(at.metric[0].value) == before - 1 and not at.toast


def test_a_signed_in_admin_waits_for_the_new_version(demo_db, monkeypatch):
    """An admin writes (uploads, reviews, rolls back): after a write they must see its result, never the previous
    version another viewer is served meanwhile (a decided answer shown again as 待审核 would be decided twice)."""
    import pages.common as common
    from pages import access
    from pipelines import auth, config

    hashed = auth.hash_password("pw-123456", rounds=4)
    monkeypatch.setenv(config.env_name("admins"), f"组织部:{hashed}")
    monkeypatch.setenv("DJ_LOCK_TIMEOUT_S", "60")
    config.settings.cache_clear()
    at = AppTest.from_string(PAGE, default_timeout=60)
    at.session_state[access.ADMIN_KEY] = "组织部"
    at.run()
    before = int(at.metric[0].value)
    code, period = common.query("SELECT branch_code, period FROM submissions WHERE status = 'current' "
                                "ORDER BY period DESC, branch_code DESC LIMIT 1").iloc[0]
    assert versions.withdraw(code, period, demo_db, actor="test")
    held = threading.Event()

    def hold() -> None:  # the database busy for a while, as under an upload's write slice
        with dbm.locked(demo_db):
            held.set()
            time.sleep(2.0)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    held.wait(10)
    got: dict = {}
    first = _first_viewer_computing(common, demo_db, got)
    at.run(timeout=40)
    assert int(at.metric[0].value) == before - 1 and not at.toast  # waited for the new data
    first.join(30)
    holder.join(30)
    assert got["n"] == before - 1


def test_a_cached_computation_never_builds_on_the_previous_version(demo_db):
    """What an st.cache_data function computes is kept under the new data version (the quarterly report reads
    bundle inside one): a query asked inside it waits for the new version rather than take the previous one."""
    import streamlit as st

    import pages.common as common

    @st.cache_data(show_spinner=False)
    def report_like(version: int) -> int:
        return _count(common)

    before = report_like(dbm.data_version(demo_db))
    code, period = common.query("SELECT branch_code, period FROM submissions WHERE status = 'current' "
                                "ORDER BY period, branch_code DESC LIMIT 1").iloc[0]
    assert versions.withdraw(code, period, demo_db, actor="test")
    got: dict = {}
    with dbm.locked(demo_db):
        first = _first_viewer_computing(common, demo_db, {})
        built = threading.Thread(target=lambda: got.setdefault("n", report_like(dbm.data_version(demo_db))),
                                 daemon=True)
        built.start()
        time.sleep(0.5)
        assert "n" not in got  # it waits for the new version
    first.join(30)
    built.join(30)
    assert got["n"] == before - 1


def test_the_template_page_reads_the_registry_like_every_other_page(demo_db, tmp_path):
    """填报模板's registry and deadlines go through common.scores: a new registry is seen at once by a viewer
    alone, and while one viewer computes it after a write, another gets the registry it had at once."""
    import pages.common as common
    from pages import template
    from pipelines.store.registry import load_registry
    from ingest_helpers import registry_workbook

    before = template.registry()
    assert before and template.deadline("2026Q3") is None
    codes = [e.branch_code for e in before][:3]
    written, problems = load_registry(registry_workbook(tmp_path / "名册.xlsx", codes).read_bytes(), demo_db,
                                      actor="test")
    assert written == 3 and not problems
    common.served_stale()
    assert [e.branch_code for e in template.registry()] == codes and not common.served_stale()  # alone: at once

    code, period = common.query("SELECT branch_code, period FROM submissions WHERE status = 'current' "
                                "ORDER BY period, branch_code LIMIT 1").iloc[0]
    assert versions.withdraw(code, period, demo_db, actor="test")  # another write: the registry is recomputed
    got: dict = {}
    with dbm.locked(demo_db):
        t = threading.Thread(target=lambda: got.setdefault("r", template.registry()), daemon=True)
        t.start()
        deadline = time.monotonic() + 10
        while not common._computing and time.monotonic() < deadline:
            time.sleep(0.01)
        assert common._computing, "the first viewer never started computing"
        common.served_stale()
        t0 = time.monotonic()
        assert [e.branch_code for e in template.registry()] == codes and time.monotonic() - t0 < 1.0
        assert common.served_stale()
    t.join(30)
    assert [e.branch_code for e in got["r"]] == codes
