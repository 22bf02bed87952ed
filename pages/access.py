"""Access widgets: the admin sign-in form (or the locked message), the sign-out button and the view-password
gate. The rules behind them (hashing, throttling, which accounts exist) are `pipelines.auth`; this module only
draws them and keeps who is signed in in the session state."""
from __future__ import annotations

import logging

import streamlit as st

from pages import archive_links

from pipelines import auth
from pipelines.store.actor import Actor, unknown_scope
from pipelines.guide.vocab import AuditAction

log = logging.getLogger(__name__)

# Session-state keys (server-side per browser session).
ADMIN_KEY = "dj_admin"
VIEW_ERROR_KEY = "dj_view_error"
VIEWER_KEY = "dj_viewer"

LOCKED_MESSAGE = (
    "管理功能已锁定：尚未配置管理员账号。\n\n"
    "请管理员在服务器上的 `.streamlit/secrets.toml` 中添加 `[admins]` 段（账号名 = bcrypt 密码哈希），"
    "或设置环境变量 `DJ_ADMINS`；若使用统一身份认证，请配置 `[auth]` 段并在 `[access]` 段的 "
    "`admin_emails` 中列出管理员邮箱。密码哈希可用 `python -m pipelines.auth hash` 生成。"
    "配置方法详见 `docs/admin.md`。修改后刷新本页即可。"
)

VIEW_LOCKED_MESSAGE = (
    "看板设置为需要查看密码，但尚未配置查看密码的哈希。\n\n"
    "请管理员在 `.streamlit/secrets.toml` 的 `[access]` 段中设置 `view_password_hash`，"
    "或设置环境变量 `DJ_VIEW_PASSWORD_HASH`（用 `python -m pipelines.auth hash` 生成）。详见 `docs/admin.md`。"
)


# ---- Streamlit widgets ---------------------------------------------------------------------------

def session_id() -> str:
    """This browser session's Streamlit id ("" outside a script run)."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        return ctx.session_id if ctx else ""
    except Exception:
        return ""


def _oidc_user(config: auth.AccessConfig) -> tuple[bool, str]:
    """(logged in through OIDC, e-mail) from st.user; (False, "") when OIDC is not configured."""
    if not config.oidc:
        return False, ""
    try:
        logged_in = bool(st.user.get("is_logged_in", False))
        return logged_in, str(st.user.get("email") or "").strip().lower()
    except Exception:
        return False, ""


def current_admin(config: auth.AccessConfig | None = None) -> str | None:
    """The signed-in admin of this browser session (account name or OIDC e-mail), or None."""
    config = config or auth.load_access_config()
    name = st.session_state.get(ADMIN_KEY)
    if name and name in config.admins:
        return name
    logged_in, email = _oidc_user(config)
    if logged_in and email and email in config.admin_emails:
        return email
    return None


def current_actor(config: auth.AccessConfig | None = None) -> Actor | None:
    """The signed-in admin as the Actor every write gets (name and scope), or None."""
    config = config or auth.load_access_config()
    admin = current_admin(config)
    return config.actor(admin) if admin else None


def _show_problems(config: auth.AccessConfig) -> None:
    for p in config.problems:
        st.warning(p)


def admin_gate(config: auth.AccessConfig | None = None) -> str | None:
    """Render the admin sign-in (or the locked message) unless someone is signed in; return the admin or None.

    Local accounts use a form checked with bcrypt under the throttle; OIDC uses st.login when `[auth]` is
    configured, and only e-mails listed in `[access] admin_emails` are admins.
    """
    config = config or auth.load_access_config()
    admin = current_admin(config)
    if admin:
        if st.session_state.get(ADMIN_KEY) != admin and not st.session_state.get("dj_admin_logged"):
            st.session_state["dj_admin_logged"] = True
            auth.log_action(admin, AuditAction.SIGN_IN, "统一身份认证")
        return admin
    if not config.admin_configured:
        st.error(LOCKED_MESSAGE, icon="🔒")
        _show_problems(config)
        return None

    st.info("上传数据、回退版本和修改支部名册需要管理员登录。", icon="🔐")
    _show_problems(config)
    if config.admins:
        with st.form("dj_admin_sign_in", clear_on_submit=True):
            name = st.text_input("管理员账号", key="dj_auth_name")
            password = st.text_input("密码", type="password", key="dj_auth_password")
            submitted = st.form_submit_button("登录", type="primary")
        if submitted:
            result = auth.sign_in(name or "", password or "", config.admins, session=session_id())
            if result.ok:
                st.session_state[ADMIN_KEY] = result.account
                auth.log_action(result.account, AuditAction.SIGN_IN, "本地账号")
                st.rerun()
            else:
                st.error(result.message)
    if config.oidc:
        logged_in, email = _oidc_user(config)
        if logged_in:
            shown = "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>~$" else ch for ch in email) or "未提供邮箱"
            st.error(f"当前统一身份认证账号（{shown}）不在管理员名单中。")
            if st.button("退出统一身份认证", key="dj_oidc_logout"):
                st.logout()
        else:
            for provider in config.oidc_providers or (None,):
                label = "统一身份认证登录" + (f"（{provider}）" if provider else "")
                if st.button(label, key=f"dj_oidc_login_{provider or 'default'}"):
                    try:
                        st.login(provider) if provider else st.login()
                    except Exception as e:  # e.g. Authlib missing or [auth] incomplete
                        log.warning("st.login failed: %s", e)
                        st.error("统一身份认证暂不可用：服务器缺少 Authlib 组件或 [auth] 配置不完整，请联系管理员。")
    return None


def sign_out_button(admin: str, config: auth.AccessConfig | None = None) -> None:
    """A caption with the signed-in admin and a sign-out button."""
    config = config or auth.load_access_config()
    actor = config.actor(admin)
    # one row, also on a phone (columns would stack the button under the caption): the admin pages' content
    # starts a line higher
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    row.caption(f"已登录管理员：{admin}（管理范围：{actor.scope or '全校'}）")
    warning = unknown_scope(actor)
    if warning:
        st.warning(warning, icon=":material/warning:")
    if row.button("退出登录", key="dj_sign_out"):
        auth.log_action(admin, AuditAction.SIGN_OUT)
        archive_links.LINKS.revoke_session(session_id())  # download links of archived originals die here
        oidc = st.session_state.get(ADMIN_KEY) != admin
        st.session_state.pop(ADMIN_KEY, None)
        st.session_state.pop("dj_admin_logged", None)
        if oidc:
            st.logout()
        st.rerun()


def signed_in_actor() -> Actor | None:
    """The admin pages' frame: the sign-in form until an admin signs in, then who is signed in with a sign-out
    button; returns the signed-in admin's Actor (name and scope), or None while nobody is."""
    config = auth.load_access_config()
    admin = admin_gate(config)
    if not admin:
        return None
    sign_out_button(admin, config)
    return config.actor(admin)


def viewer_gate(config: auth.AccessConfig | None = None) -> bool:
    """For app.py: True when this session may view the dashboard; otherwise renders the view-password form.

    Open when `view_password_required` is off; a signed-in admin may always view.
    """
    config = config or auth.load_access_config()
    if not config.view_password_required or st.session_state.get(VIEWER_KEY) or current_admin(config):
        return True
    if not config.view_password_hash:
        st.error(VIEW_LOCKED_MESSAGE, icon="🔒")
        return False
    with st.form("dj_view_password", clear_on_submit=True):
        password = st.text_input("查看密码", type="password", key="dj_view_password_input")
        submitted = st.form_submit_button("进入看板", type="primary")
    if submitted:
        result = auth.check_view_password(password or "", config.view_password_hash, session=session_id())
        if result.ok:
            st.session_state[VIEWER_KEY] = True
            st.session_state.pop(VIEW_ERROR_KEY, None)
        else:  # shown until the next attempt: app.py's navigation may rerun the script before this run ends
            st.session_state[VIEW_ERROR_KEY] = result.message
        st.rerun()
    message = st.session_state.get(VIEW_ERROR_KEY)
    if message:
        st.error(message)
    return False
