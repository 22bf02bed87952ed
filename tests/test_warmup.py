"""The warm start (serve.py → pages/warmup.py) against the real server: `streamlit run` on a free port,
Streamlit's own websocket, the demo database."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from app_server import free_port, start_app, stop_app
from pages.warmup import stream_url, visit_pages

TITLES = ["全校总览", "二级党组织画像", "支部画像", "教师与学生支部对比", "趋势分析", "会议大屏", "预警", "报送进度",
          "督办整改", "指标指南", "填报模板", "数据上传", "审核"]  # navigation order
MEETING_HEADING = "党建“双创”工作季度简报 · "  # the 会议大屏 shows the briefing's title and quarter as its heading


def shown_titles(titles: list[str]) -> list[str]:
    """The headings as visited, with the meeting screen's (which names the quarter) read as its page title."""
    return ["会议大屏" if (t or "").startswith(MEETING_HEADING) else t for t in titles]


@pytest.fixture
def db_copy(demo_db_master, tmp_path) -> Path:
    for f in demo_db_master.parent.iterdir():
        (shutil.copytree if f.is_dir() else shutil.copy)(f, tmp_path / f.name)
    return tmp_path / demo_db_master.name


@pytest.mark.parametrize(("address", "port", "base", "tls", "url"), [
    (None, 8501, "", False, "ws://127.0.0.1:8501/_stcore/stream"),
    ("0.0.0.0", 80, "/dash/", False, "ws://127.0.0.1:80/dash/_stcore/stream"),
    ("10.1.2.3", 8501, "party/dash", True, "wss://10.1.2.3:8501/party/dash/_stcore/stream"),
    ("::1", 8501, "", False, "ws://[::1]:8501/_stcore/stream"),
])
def test_stream_url(address, port, base, tls, url):
    assert stream_url(address, port, base, tls=tls) == url


def test_visit_opens_every_page_of_the_navigation(db_copy, tmp_path):
    proc, base = start_app(db_copy, tmp_path / "app.log", script="app.py")
    try:
        visits = visit_pages(stream_url("127.0.0.1", int(base.rsplit(":", 1)[1])))
    finally:
        stop_app(proc)
    assert shown_titles([v.title for v in visits.values()]) == TITLES
    assert list(visits)[0] == "" and all(v.status == "FINISHED_SUCCESSFULLY" for v in visits.values())
    assert set(visits) == {"", *visits[""].pages}


def test_visit_never_raises_when_no_server_listens():
    t = time.monotonic()
    assert visit_pages(stream_url(None, free_port()), connect_wait_s=0.5) == {}
    assert time.monotonic() - t < 30


def test_serve_py_warms_every_page_as_the_server_starts(db_copy, tmp_path):
    log = tmp_path / "serve.log"
    proc, _base = start_app(db_copy, log)  # serve.py
    try:
        deadline = time.monotonic() + 120
        while "warm start:" not in log.read_text() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        line = next((x for x in log.read_text().splitlines() if "warm start:" in x), "")
    finally:
        stop_app(proc)
    assert line, log.read_text()
    assert shown_titles(line.split("warm start: ", 1)[1].rsplit(" in ", 1)[0].split(", ")) == TITLES
