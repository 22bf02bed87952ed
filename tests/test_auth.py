"""Admin sign-in: bcrypt hashes, a constant-time path, server-side backoff, and locked when nothing is configured."""
from __future__ import annotations

import hmac
import io
import sys

import bcrypt
import pytest

from pages import access
from pipelines import auth
from pipelines.store import db
from pipelines.config import Settings


@pytest.fixture(scope="module")
def admin_hash() -> str:
    return auth.hash_password("正确的密码-2026", rounds=4)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---- hashing ---------------------------------------------------------------------------------------

def test_hash_and_verify(admin_hash):
    assert auth.is_bcrypt_hash(admin_hash)
    assert auth.verify_password("正确的密码-2026", admin_hash)
    assert not auth.verify_password("正确的密码-2027", admin_hash)
    assert not auth.verify_password("", admin_hash)
    # a fresh salt each time
    assert auth.hash_password("abc", rounds=4) != auth.hash_password("abc", rounds=4)


def test_malformed_input_is_refused_not_raised(admin_hash):
    assert not auth.verify_password("abc", "abc")  # a plain-text "hash" is never compared
    assert not auth.verify_password("abc", admin_hash[:-1] + "!")
    assert not auth.verify_password("x" * 100, admin_hash)  # longer than bcrypt's 72 bytes
    with pytest.raises(ValueError):
        auth.hash_password("")
    with pytest.raises(ValueError):
        auth.hash_password("密" * 30)  # 90 bytes in UTF-8


def test_check_credentials_takes_one_bcrypt_check_and_compares_every_name(admin_hash, monkeypatch):
    """Known and unknown accounts cost the same: one bcrypt check and a constant-time compare per account."""
    accounts = {"orgadmin": admin_hash, "second": auth.hash_password("other", rounds=4)}
    calls = {"checkpw": 0, "compare": 0}
    real_checkpw, real_compare = bcrypt.checkpw, hmac.compare_digest

    def checkpw(*a):
        calls["checkpw"] += 1
        return real_checkpw(*a)

    def compare(*a):
        calls["compare"] += 1
        return real_compare(*a)

    monkeypatch.setattr(bcrypt, "checkpw", checkpw)
    monkeypatch.setattr(hmac, "compare_digest", compare)
    for name, password, expected in [
        ("orgadmin", "正确的密码-2026", "orgadmin"),
        (" orgadmin ", "正确的密码-2026", "orgadmin"),
        ("orgadmin", "wrong", None),
        ("nobody", "正确的密码-2026", None),
        ("", "", None),
    ]:
        calls.update(checkpw=0, compare=0)
        assert auth.check_credentials(name, password, accounts) == expected
        assert calls == {"checkpw": 1, "compare": len(accounts)}, name


# ---- settings --------------------------------------------------------------------------------------

def test_missing_secrets_leave_admin_locked():
    config = auth.load_access_config(secrets={}, env=Settings())
    assert not config.admin_configured
    assert config.admins == {}
    assert "docs/admin.md" in access.LOCKED_MESSAGE and "python -m pipelines.auth hash" in access.LOCKED_MESSAGE


def test_admins_from_secrets_and_environment(admin_hash):
    other = auth.hash_password("x", rounds=4)
    config = auth.load_access_config(
        secrets={"admins": {"orgadmin": admin_hash}},
        env=Settings(admins=f"envadmin:{other}, orgadmin:{other}"),
    )
    assert config.admin_configured
    assert config.admins == {"envadmin": other, "orgadmin": admin_hash}  # secrets win for the same name


def test_plain_text_password_in_secrets_is_ignored_and_reported():
    config = auth.load_access_config(secrets={"admins": {"orgadmin": "123456"}}, env=Settings())
    assert not config.admin_configured
    assert any("orgadmin" in p and "bcrypt" in p for p in config.problems)
    assert all("123456" not in p for p in config.problems)


def test_oidc_admins_need_an_allowlist():
    auth_section = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x",
                    "client_id": "id", "client_secret": "s", "server_metadata_url": "https://idp.example/.well-known"}
    config = auth.load_access_config(secrets={"auth": auth_section}, env=Settings())
    assert config.oidc and not config.admin_configured and config.problems
    config = auth.load_access_config(
        secrets={"auth": auth_section, "access": {"admin_emails": ["Admin@Example.edu.cn"]}}, env=Settings())
    assert config.admin_configured and config.admin_emails == {"admin@example.edu.cn"}
    assert config.oidc_providers == ()
    named = auth.load_access_config(secrets={"auth": {"redirect_uri": "x", "cookie_secret": "y",
                                                      "microsoft": {"client_id": "id"}}}, env=Settings())
    assert named.oidc_providers == ("microsoft",)


def test_view_password_setting(admin_hash, monkeypatch):
    assert not auth.load_access_config(secrets={}, env=Settings()).view_password_required
    config = auth.load_access_config(
        secrets={"access": {"view_password_required": True, "view_password_hash": admin_hash}}, env=Settings())
    assert config.view_password_required and config.view_password_hash == admin_hash
    monkeypatch.setenv("DJ_VIEW_PASSWORD_REQUIRED", "true")
    from pipelines import config as cfg

    cfg.settings.cache_clear()
    config = auth.load_access_config(secrets={}, env=Settings(view_password_hash=admin_hash))
    assert config.view_password_required and config.view_password_hash == admin_hash


# ---- backoff ---------------------------------------------------------------------------------------

def test_backoff_after_repeated_failures(admin_hash):
    clock = FakeClock()
    throttle = auth.Throttle(free=3, base_s=2, cap_s=30, clock=clock)
    accounts = {"orgadmin": admin_hash}
    for _ in range(3):  # free attempts
        r = auth.sign_in("orgadmin", "wrong", accounts, session="s1", throttle=throttle)
        assert not r.ok and r.wait_s == 0 and r.message == "账号或密码不正确。"
    r = auth.sign_in("orgadmin", "wrong", accounts, session="s1", throttle=throttle)
    assert not r.ok and r.wait_s == 2 and "2 秒后再试" in r.message

    # while locked even the right password is refused without being checked
    r = auth.sign_in("orgadmin", "正确的密码-2026", accounts, session="s1", throttle=throttle)
    assert not r.ok and r.wait_s == pytest.approx(2)
    # the account is locked from a new browser session too (kept server-side, not in session_state)
    assert not auth.sign_in("orgadmin", "正确的密码-2026", accounts, session="s2", throttle=throttle).ok
    # and the session is locked for other account names
    assert not auth.sign_in("someone", "x", accounts, session="s1", throttle=throttle).ok

    # exponential growth up to the cap
    waits = []
    for _ in range(6):
        clock.now += 1000
        waits.append(auth.sign_in("orgadmin", "wrong", accounts, session="s1", throttle=throttle).wait_s)
    assert waits == [4, 8, 16, 30, 30, 30]

    clock.now += 31
    r = auth.sign_in("orgadmin", "正确的密码-2026", accounts, session="s1", throttle=throttle)
    assert r.ok and r.account == "orgadmin"
    assert throttle.failures("account:orgadmin") == 0


def test_module_throttle_is_shared_server_side():
    assert isinstance(auth.THROTTLE, auth.Throttle)
    import importlib

    assert importlib.import_module("pipelines.auth").THROTTLE is auth.THROTTLE


def test_throttle_memory_is_bounded():
    clock = FakeClock()
    throttle = auth.Throttle(clock=clock, max_keys=100, cap_s=10)
    for i in range(1000):
        clock.now += 1
        throttle.failure([f"account:guess{i}"])
    assert len(throttle._state) <= 100


def test_view_password_backoff_is_per_session(admin_hash):
    clock = FakeClock()
    throttle = auth.Throttle(free=1, base_s=5, cap_s=60, clock=clock)
    assert not auth.check_view_password("x", admin_hash, session="a", throttle=throttle).ok
    r = auth.check_view_password("x", admin_hash, session="a", throttle=throttle)
    assert not r.ok and r.wait_s == 5
    # another visitor is not locked out by the first one's mistakes
    assert auth.check_view_password("正确的密码-2026", admin_hash, session="b", throttle=throttle).ok
    assert not auth.check_view_password("x", None, session="c", throttle=throttle).ok


# ---- audit and command line ------------------------------------------------------------------------

def test_log_action_writes_audit_log():
    assert auth.log_action("orgadmin", "sign_in", "本地账号")
    rows = db.query_df("SELECT actor, action, detail FROM audit_log").to_dict("records")
    assert rows == [{"actor": "orgadmin", "action": "sign_in", "detail": "本地账号"}]


def test_hash_command(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("秘密口令\n"))
    assert auth.main(["hash", "--stdin"]) == 0
    out = capsys.readouterr().out.strip()
    assert auth.is_bcrypt_hash(out) and auth.verify_password("秘密口令", out)


# ---- Streamlit gates -------------------------------------------------------------------------------

def _gate_app():
    import streamlit as st

    from pages import access

    who = access.admin_gate()
    st.write(f"admin={who}")


def _view_app():
    import streamlit as st

    from pages import access

    if access.viewer_gate():
        st.write("dashboard visible")


def _isolated(at):
    at.secrets["dj_test"] = "isolated"  # never read a developer's real .streamlit/secrets.toml
    return at


def test_admin_gate_locked_without_secrets():
    from streamlit.testing.v1 import AppTest

    at = _isolated(AppTest.from_function(_gate_app)).run()
    assert not at.exception
    assert "管理功能已锁定" in at.error[0].value
    assert at.markdown[-1].value == "admin=None"


def test_admin_gate_signs_in_and_rejects_wrong_password(admin_hash):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_gate_app)
    at.secrets["admins"] = {"orgadmin": admin_hash}
    at.run()
    at.text_input(key="dj_auth_name").input("orgadmin")
    at.text_input(key="dj_auth_password").input("wrong")
    at.button[0].click().run()
    assert not at.exception
    assert any("账号或密码不正确" in e.value for e in at.error)
    at.text_input(key="dj_auth_name").input("orgadmin")
    at.text_input(key="dj_auth_password").input("正确的密码-2026")
    at.button[0].click().run()
    assert not at.exception
    assert at.markdown[-1].value == "admin=orgadmin"
    assert db.query_df("SELECT actor, action FROM audit_log").values.tolist() == [["orgadmin", "sign_in"]]


def test_admin_gate_oidc_allowlist():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_gate_app)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 32,
                          "client_id": "id", "client_secret": "s",
                          "server_metadata_url": "https://idp.example.edu.cn/.well-known/openid-configuration"}
    at.secrets["access"] = {"admin_emails": ["admin@example.edu.cn"]}
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception
    assert at.button(key="dj_oidc_login_default").label == "统一身份认证登录"
    at.user = {"is_logged_in": True, "email": "student@example.edu.cn"}
    at.run()
    assert any("不在管理员名单中" in e.value for e in at.error)
    at.user = {"is_logged_in": True, "email": "Admin@example.edu.cn"}
    at.run()
    assert at.markdown[-1].value == "admin=admin@example.edu.cn"


def test_viewer_gate(admin_hash, monkeypatch):
    from streamlit.testing.v1 import AppTest

    at = _isolated(AppTest.from_function(_view_app)).run()
    assert [m.value for m in at.markdown] == ["dashboard visible"]  # open by default

    at = AppTest.from_function(_view_app)
    at.secrets["access"] = {"view_password_required": True}
    at.run()
    assert "尚未配置查看密码" in at.error[0].value

    at = AppTest.from_function(_view_app)
    at.secrets["access"] = {"view_password_required": True, "view_password_hash": admin_hash}
    at.run()
    assert not any(m.value == "dashboard visible" for m in at.markdown)
    at.text_input(key="dj_view_password_input").input("正确的密码-2026")
    at.button[0].click().run()
    assert not at.exception
    assert any(m.value == "dashboard visible" for m in at.markdown)


def test_view_password_guards_the_whole_app(demo_db, admin_hash):
    """app.py calls viewer_gate before navigation: with the setting on, no page renders until the password."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    app_py = Path(__file__).resolve().parent.parent / "app.py"
    at = _isolated(AppTest.from_file(str(app_py), default_timeout=120))
    at.secrets["access"] = {"view_password_required": True, "view_password_hash": admin_hash}
    at.run()
    assert not at.exception
    assert at.text_input(key="dj_view_password_input")
    assert not at.metric and not at.get("plotly_chart")  # nothing of the dashboard yet
    # The form itself is driven above (_gate_app) and in real Chromium (test_browser.py::
    # test_view_password_gate_hides_the_pages_and_keeps_the_link): AppTest turns Streamlit's legacy pages/
    # mode back on before every run, which reruns app.py and drops a form's click. A session that passed:
    at.session_state[access.VIEWER_KEY] = True
    at.run()
    assert not at.exception
    assert at.metric  # the overview's headline figures
