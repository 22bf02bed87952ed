"""Shared fixtures: isolated settings, a real demo database, Streamlit cache hygiene, browser gating."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager

from pipelines import config

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """Every test gets its own database and archive; nothing touches data/."""
    monkeypatch.setenv("DJ_DB_PATH", str(tmp_path / "db" / "test.duckdb"))
    monkeypatch.setenv("DJ_DEMO_DIR", str(tmp_path / "demo"))
    monkeypatch.delenv("DJ_ARCHIVE_DIR", raising=False)
    config.settings.cache_clear()
    yield
    config.settings.cache_clear()


@pytest.fixture(autouse=True)
def isolated_access(monkeypatch):
    """No admin or viewer credentials leak in from the environment, and the sign-in throttle starts clean
    (it lives in the server process, so it outlives a test as it outlives a session)."""
    from pipelines import auth

    for field in ("admins", "view_password_hash", "admin_emails", "view_password_required", "admin_scopes",
                  "admin_email_scopes"):
        monkeypatch.delenv(config.env_name(field), raising=False)
    auth.THROTTLE.reset()
    yield
    auth.THROTTLE.reset()


@pytest.fixture(autouse=True)
def clear_streamlit_caches():
    """Cached results would otherwise leak between AppTest runs."""
    yield
    try:
        import streamlit as st

        st.cache_data.clear()
        st.cache_resource.clear()
    except Exception:  # streamlit not importable in a pure pipeline run
        pass


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory) -> Path:
    """A small demo school (24 branches, 6 quarters) written through the real template, once per session."""
    from pipelines.demo.build import generate

    out = tmp_path_factory.mktemp("demo_files")
    generate(out, seed=7, branches=24, quarters=6)
    return out


@pytest.fixture(scope="session")
def demo_db_master(demo_files, tmp_path_factory) -> Path:
    """The demo files ingested into a real DuckDB file, once per session."""
    from pipelines.demo.build import build_db

    db = tmp_path_factory.mktemp("demo_db") / "demo.duckdb"
    build_db(demo_files, db)
    return db


@pytest.fixture
def demo_db(demo_db_master, tmp_path, monkeypatch) -> Path:
    """A private copy of the demo database, set as the app's database for this test."""
    target = tmp_path / "demo" / "demo.duckdb"
    target.parent.mkdir(parents=True, exist_ok=True)
    for f in demo_db_master.parent.iterdir():
        dest = target.parent / f.name.replace(demo_db_master.name, target.name)
        if f.is_dir():
            shutil.copytree(f, dest)
        else:
            shutil.copy(f, dest)
    monkeypatch.setenv("DJ_DB_PATH", str(target))
    config.settings.cache_clear()
    return target


@pytest.fixture
def files(monkeypatch) -> dict[str, callable]:
    """Download buttons built on click: file name -> the deferred builder of each download button rendered (Streamlit's own registration)."""
    found: dict[str, callable] = {}
    original = MediaFileManager.add_deferred

    def record(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        found[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name=file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return found


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Browser tests use Debian's chromium, never a Playwright download."""
    from app_server import CHROMIUM_ARGS

    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


def pytest_collection_modifyitems(config, items):
    """Browser tests need Debian's chromium; CI (REQUIRE_BROWSER=1) must have it, elsewhere they skip."""
    if os.path.exists(CHROMIUM) or os.environ.get("REQUIRE_BROWSER") == "1":
        return
    skip = pytest.mark.skip(reason="chromium not installed (apt-get install chromium fonts-noto-cjk)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
