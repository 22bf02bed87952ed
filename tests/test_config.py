"""Settings in one place: the Streamlit config agrees with the palette and the guide's limits; access settings
come from the environment through Settings."""
from __future__ import annotations

import math
import tomllib

import pytest

from pipelines import auth, config, palette
from pipelines.guide import guide

STREAMLIT_CONFIG = config.ROOT / ".streamlit" / "config.toml"


@pytest.fixture(scope="module")
def toml() -> dict:
    return tomllib.loads(STREAMLIT_CONFIG.read_text(encoding="utf-8"))


def test_theme_colours_are_the_palette(toml):
    theme = toml["theme"]
    assert theme["primaryColor"] == theme["redColor"] == palette.RED
    assert theme["linkColor"] == palette.LINK_RED
    assert theme["textColor"] == palette.INK
    assert theme["grayColor"] == palette.GREY
    assert theme["backgroundColor"] == palette.PAPER
    assert theme["secondaryBackgroundColor"] == palette.PANEL
    assert theme["sidebar"]["backgroundColor"] == palette.SIDEBAR
    assert theme["chartCategoricalColors"] == palette.CATEGORICAL
    assert theme["chartSequentialColors"] == palette.SEQUENTIAL


def test_streamlit_upload_limit_is_the_guides_file_limit(toml):
    assert toml["server"]["maxUploadSize"] == math.ceil(guide().limits.max_file_mb)


def test_every_setting_has_help_text():
    missing = [name for name, f in config.Settings.model_fields.items() if not f.description]
    assert not missing


def test_access_settings_come_from_the_environment(monkeypatch):
    admin_hash = auth.hash_password("口令-2026", rounds=4)
    monkeypatch.setenv(config.env_name("admins"), f"envadmin:{admin_hash}")
    monkeypatch.setenv(config.env_name("admin_emails"), "A@example.edu.cn; b@example.edu.cn")
    monkeypatch.setenv(config.env_name("view_password_hash"), admin_hash)
    config.settings.cache_clear()
    access = auth.load_access_config(secrets={"access": {"admin_emails": ["c@example.edu.cn"]}})
    assert access.admins == {"envadmin": admin_hash}
    assert access.admin_emails == {"a@example.edu.cn", "b@example.edu.cn", "c@example.edu.cn"}
    assert access.view_password_hash == admin_hash and not access.view_password_required


def test_cli_defaults_are_the_settings(monkeypatch):
    from pipelines.cli import build_parser

    args = build_parser().parse_args(["demo", "--out", "x"])
    s = config.settings()
    assert (args.seed, args.branches, args.quarters) == (s.demo_seed, s.demo_branches, s.demo_quarters)
    monkeypatch.setenv(config.env_name("demo_branches"), "12")
    config.settings.cache_clear()
    assert build_parser().parse_args(["demo", "--out", "x"]).branches == 12
    assert build_parser().parse_args(["template", "--type", "student", "--out", "x"]).type == "student"
