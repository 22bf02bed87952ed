"""Access rules: admin accounts (local bcrypt accounts or OIDC via st.login), the optional view password,
server-side throttling of failed sign-ins, and the audit helper for admin actions. The Streamlit widgets that
use them (sign-in form, sign-out button, view-password gate) are in `pages/access.py`.

Where the settings come from (nothing secret is ever in the repository; each is declared, with its help text,
in `pipelines.config.Settings`):

- `.streamlit/secrets.toml` (or any file given with `streamlit run … --secrets.files`)::

      [admins]                       # local admin accounts: name = bcrypt hash
      orgadmin = "$2b$12$…"

      [admin_scopes]                 # optional: a college admin writes only its college's branches
      jxadmin = "机械工程学院党委"      # (an account not listed here is school-wide)

      [access]
      view_password_required = true  # optional; also DJ_VIEW_PASSWORD_REQUIRED=true
      view_password_hash = "$2b$12$…"
      admin_emails = ["admin@example.edu.cn"]   # OIDC accounts allowed to administer
      admin_email_scopes = { "jx@example.edu.cn" = "机械工程学院党委" }   # optional, as [admin_scopes]

      [auth]                         # Streamlit's own OIDC section; enables the st.login button
      redirect_uri = "…"
      …

- or the environment: `DJ_ADMINS="name:hash,name2:hash2"`, `DJ_VIEW_PASSWORD_HASH`, `DJ_ADMIN_EMAILS="a@x,b@y"`,
  `DJ_ADMIN_SCOPES="name:college"`, `DJ_ADMIN_EMAIL_SCOPES="a@x:college"`.

A hash is made with `python -m pipelines.auth hash` (see docs/admin.md). Plain-text passwords are never accepted
as a configured value: anything that is not a bcrypt hash is ignored and reported on the sign-in page.
"""
from __future__ import annotations

import argparse
import getpass
import hmac
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import bcrypt

from pipelines.store.actor import Actor
from pipelines.config import Settings, settings, split_list

log = logging.getLogger(__name__)

# bcrypt only looks at the first 72 bytes; bcrypt 5 refuses longer input instead of truncating.
MAX_PASSWORD_BYTES = 72

# ---- passwords ---------------------------------------------------------------------------------


def is_bcrypt_hash(value: object) -> bool:
    """Whether a configured value looks like a bcrypt hash ($2a$/$2b$/$2y$, 60 characters)."""
    return (isinstance(value, str) and len(value) == 60
            and value[:4] in ("$2a$", "$2b$", "$2y$") and value[6] == "$")


def hash_password(password: str, rounds: int = 12) -> str:
    """A bcrypt hash of `password` (a new random salt each call). Raises ValueError for empty or too long input."""
    raw = password.encode("utf-8")
    if not raw:
        raise ValueError("密码不能为空")
    if len(raw) > MAX_PASSWORD_BYTES:
        raise ValueError(f"密码过长：最多 {MAX_PASSWORD_BYTES} 字节（约 24 个汉字或 72 个英文字符）")
    return bcrypt.hashpw(raw, bcrypt.gensalt(rounds=rounds)).decode("ascii")


def verify_password(password: str, hashed: str) -> bool:
    """Check `password` against a bcrypt hash (bcrypt compares in constant time). False on any malformed input."""
    raw = password.encode("utf-8")
    if not raw or len(raw) > MAX_PASSWORD_BYTES or not is_bcrypt_hash(hashed):
        return False
    try:
        return bcrypt.checkpw(raw, hashed.encode("ascii"))
    except ValueError:
        return False


@lru_cache(maxsize=8)
def _dummy_hash(rounds: int) -> bytes:
    """A hash of a random password, checked when the account is unknown so timing does not reveal accounts."""
    return bcrypt.hashpw(os.urandom(16).hex().encode(), bcrypt.gensalt(rounds=rounds))


def _rounds(hashed: str) -> int:
    try:
        return int(hashed[4:6])
    except (ValueError, IndexError):
        return 12


def check_credentials(name: str, password: str, accounts: Mapping[str, str]) -> str | None:
    """The canonical account name when (name, password) matches a configured account, else None.

    Every call does exactly one bcrypt check and compares the name against every account with
    hmac.compare_digest, so the time taken does not depend on whether the account exists.
    """
    wanted = name.strip().encode("utf-8")
    match: str | None = None
    for account in accounts:
        if hmac.compare_digest(account.encode("utf-8"), wanted):
            match = account
    if match is not None:
        return match if verify_password(password, accounts[match]) else None
    rounds = _rounds(next(iter(accounts.values()), "")) if accounts else 12
    raw = password.encode("utf-8")[:MAX_PASSWORD_BYTES] or b"x"
    bcrypt.checkpw(raw, _dummy_hash(rounds))
    return None


# ---- settings ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AccessConfig:
    """Access-control settings, merged from st.secrets and Settings (the environment); secrets win for the same
    name."""

    admins: dict[str, str] = field(default_factory=dict)
    """Local admin accounts: name → bcrypt hash."""
    view_password_required: bool = False
    """Whether viewing the dashboard needs the view password."""
    view_password_hash: str | None = None
    """bcrypt hash of the shared view password."""
    oidc: bool = False
    """Whether Streamlit's `[auth]` section is configured (then st.login is offered)."""
    oidc_providers: tuple[str, ...] = ()
    """Named providers under `[auth]` (e.g. `[auth.microsoft]`); empty means the default provider."""
    admin_emails: frozenset[str] = frozenset()
    """OIDC e-mail addresses (lower case) allowed to administer."""
    scopes: dict[str, str] = field(default_factory=dict)
    """College (二级党组织) of each college admin: account name or lower-case e-mail → college; an admin not
    listed is school-wide."""
    problems: tuple[str, ...] = ()
    """Configuration mistakes to show to whoever signs in (never the secret values themselves)."""

    def actor(self, admin: str) -> Actor:
        """The signed-in admin as the Actor every write gets: its name and its scope (None = school-wide)."""
        return Actor(admin, self.scopes.get(admin) or self.scopes.get(admin.lower()))

    @property
    def admin_configured(self) -> bool:
        """Whether at least one way of signing in as admin is configured."""
        return bool(self.admins) or (self.oidc and bool(self.admin_emails))


def _secrets() -> Mapping:
    """st.secrets as a plain mapping; empty when no secrets file exists or Streamlit is absent."""
    try:
        import streamlit as st

        if not st.secrets.load_if_toml_exists():
            return {}
        return st.secrets.to_dict()
    except Exception:  # no secrets file, a broken one, or no runtime: behave as "nothing configured"
        return {}


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def load_access_config(secrets: Mapping | None = None, env: Settings | None = None) -> AccessConfig:
    """Read the access settings from `secrets` (default st.secrets) and `env` (default settings())."""
    secrets = _secrets() if secrets is None else secrets
    env = settings() if env is None else env
    problems: list[str] = []

    admins = dict(env.admins)
    section = secrets.get("admins") or {}
    if isinstance(section, Mapping):
        admins.update({str(k).strip(): str(v).strip() for k, v in section.items()})
    else:
        problems.append("secrets 中的 admins 应为一个段（[admins]，每行“账号名 = 密码哈希”）。")
    for name in [n for n, h in admins.items() if not n or not is_bcrypt_hash(h)]:
        problems.append(f"管理员账号“{name or '（空）'}”的密码不是有效的 bcrypt 哈希，已忽略该账号。")
        del admins[name]

    access = secrets.get("access") or {}
    if not isinstance(access, Mapping):
        access = {}
    required = env.view_password_required or _truthy(access.get("view_password_required", False))
    view_hash = str(access.get("view_password_hash") or env.view_password_hash or "").strip() or None
    if view_hash and not is_bcrypt_hash(view_hash):
        problems.append("查看密码（view_password_hash）不是有效的 bcrypt 哈希，已忽略。")
        view_hash = None

    emails = access.get("admin_emails") or []
    if isinstance(emails, str):
        emails = split_list(emails)
    emails = list(emails) + list(env.admin_emails)
    auth = secrets.get("auth") or {}
    oidc = isinstance(auth, Mapping) and bool(auth)
    providers = tuple(k for k, v in auth.items() if isinstance(v, Mapping)) if oidc else ()
    if oidc and "client_id" in auth:
        providers = ()  # a flat [auth] section is the default provider
    if oidc and not emails:
        problems.append("已配置统一身份认证（[auth]），但 [access] 段中没有 admin_emails，统一身份认证账号无法管理数据。")
    scopes, scope_problems = _scopes(secrets, access, env)
    disabled = {n for n, college in scopes.items() if not college}  # fail closed, never school-wide by mistake
    admins = {n: h for n, h in admins.items() if n not in disabled}
    emails = [e for e in emails if str(e).strip().lower() not in disabled]
    return AccessConfig(
        admins=admins,
        view_password_required=required,
        view_password_hash=view_hash,
        oidc=oidc,
        oidc_providers=providers,
        admin_emails=frozenset(str(e).strip().lower() for e in emails if str(e).strip()),
        scopes={n: college for n, college in scopes.items() if college},
        problems=tuple(problems + scope_problems),
    )


def _scopes(secrets: Mapping, access: Mapping, env: Settings) -> tuple[dict[str, str], list[str]]:
    """Account → college from env and secrets (`[admin_scopes]`, `[access] admin_email_scopes`; secrets win)."""
    problems: list[str] = []
    scopes = {str(k).strip(): str(v).strip() for k, v in env.admin_scopes.items()}
    scopes.update({str(k).strip().lower(): str(v).strip() for k, v in env.admin_email_scopes.items()})
    for where, section, lower in (("[admin_scopes]", secrets.get("admin_scopes"), False),
                                  ("[access] admin_email_scopes", access.get("admin_email_scopes"), True)):
        if section is None:
            continue
        if not isinstance(section, Mapping):
            problems.append(f"secrets 中的 {where} 应写成“账号 = \"二级党组织名称\"”的形式，已忽略。")
            continue
        scopes.update({(str(k).strip().lower() if lower else str(k).strip()): str(v).strip()
                       for k, v in section.items()})
    for name in [n for n, college in scopes.items() if not college]:
        problems.append(f"管理员账号“{name}”的管理范围为空，已停用该账号：请填写二级党组织名称，"
                        "或删除这一行使其成为全校管理员。")
    return scopes, problems


# ---- throttling of failed sign-ins ---------------------------------------------------------------

class Throttle:
    """Exponential backoff after repeated failures, per key (an account and a browser session), kept in
    server memory so reloading the page does not reset it.

    The first `free` failures cost nothing; after that each failure locks the key for
    `base_s * 2**(failures - free)` seconds, at most `cap_s`. A success clears the key.
    """

    def __init__(self, *, free: int = 3, base_s: float = 2.0, cap_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000) -> None:
        self.free, self.base_s, self.cap_s, self.clock, self.max_keys = free, base_s, cap_s, clock, max_keys
        self._lock = threading.Lock()
        self._state: dict[str, tuple[int, float, float]] = {}  # key -> (failures, locked_until, last_seen)

    def wait_s(self, keys: Iterable[str]) -> float:
        """Seconds until any of `keys` may try again (0 when free to try)."""
        now = self.clock()
        with self._lock:
            return max([0.0] + [self._state[k][1] - now for k in keys if k in self._state])

    def failure(self, keys: Iterable[str]) -> float:
        """Record a failed attempt for every key; returns the resulting wait in seconds."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            self._prune(now)
            for k in keys:
                failures = self._state.get(k, (0, 0.0, 0.0))[0] + 1
                delay = 0.0 if failures <= self.free else min(self.base_s * 2 ** (failures - self.free - 1), self.cap_s)
                self._state[k] = (failures, now + delay, now)
                wait = max(wait, delay)
        return wait

    def success(self, keys: Iterable[str]) -> None:
        """Forget the failures of `keys`."""
        with self._lock:
            for k in keys:
                self._state.pop(k, None)

    def reset(self) -> None:
        """Forget every failure (a server restart does the same)."""
        with self._lock:
            self._state.clear()

    def failures(self, key: str) -> int:
        """How many failures are on record for `key`."""
        with self._lock:
            return self._state.get(key, (0, 0.0, 0.0))[0]

    def _prune(self, now: float) -> None:
        # Forget keys quiet for twice the cap; bounds memory when someone tries many account names.
        if len(self._state) < self.max_keys:
            return
        for k in [k for k, (_, _, seen) in self._state.items() if now - seen > 2 * self.cap_s]:
            del self._state[k]
        while len(self._state) >= self.max_keys:
            self._state.pop(next(iter(self._state)))


THROTTLE = Throttle()  # module level: one per server process, shared by all sessions


@dataclass(frozen=True)
class SignIn:
    """The outcome of one sign-in attempt."""

    ok: bool
    account: str | None = None
    wait_s: float = 0.0
    message: str = ""


def _wait_message(wait_s: float) -> str:
    return f"登录失败次数过多，请 {max(1, round(wait_s))} 秒后再试。"


def sign_in(name: str, password: str, accounts: Mapping[str, str], *, session: str = "",
            throttle: Throttle = THROTTLE) -> SignIn:
    """Check admin credentials under the throttle (keys: the account name and the browser session)."""
    keys = [f"account:{name.strip().lower()}"] + ([f"session:{session}"] if session else [])
    wait = throttle.wait_s(keys)
    if wait > 0:
        return SignIn(False, wait_s=wait, message=_wait_message(wait))
    account = check_credentials(name, password, accounts)
    if account is None:
        wait = throttle.failure(keys)
        log.warning("failed admin sign-in for %r", name.strip()[:64])
        return SignIn(False, wait_s=wait, message=_wait_message(wait) if wait > 0 else "账号或密码不正确。")
    throttle.success(keys)
    return SignIn(True, account=account)


def check_view_password(password: str, hashed: str | None, *, session: str = "",
                        throttle: Throttle = THROTTLE) -> SignIn:
    """Check the shared view password under the throttle (keys: the view password and the session)."""
    keys = ["view"] + ([f"session:{session}"] if session else [])
    wait = throttle.wait_s(keys)
    if wait > 0:
        return SignIn(False, wait_s=wait, message=_wait_message(wait))
    if hashed and verify_password(password, hashed):
        throttle.success([f"session:{session}"] if session else [])
        return SignIn(True, account="viewer")
    # The shared "view" key gets the per-session backoff only, so one visitor cannot lock out everyone.
    wait = throttle.failure([f"session:{session}"] if session else ["view"])
    return SignIn(False, wait_s=wait, message=_wait_message(wait) if wait > 0 else "查看密码不正确。")


# ---- audit ---------------------------------------------------------------------------------------

def log_action(actor: str, action: str, detail: str = "", db=None) -> bool:
    """Record an admin action in audit_log (its own short write transaction). Returns False, and logs,
    when the database is busy or cannot be written: an audit row must not make the action itself fail."""
    from pipelines.store import db as dbmod
    from pipelines.store.writes import audit

    try:
        with dbmod.connect(db, write=True, changes_data=False) as con:  # no page recomputes for a sign-in
            audit(con, actor, action, detail)
        return True
    except dbmod.DatabaseBusy:
        log.warning("audit_log busy; not recorded: %s %s %s", actor, action, detail)
        return False
    except Exception:  # e.g. a read-only disk: sign-in itself must still work
        log.exception("audit_log write failed; not recorded: %s %s %s", actor, action, detail)
        return False


# ---- command line --------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    """`python -m pipelines.auth hash`: prompt for a password twice and print its bcrypt hash."""
    p = argparse.ArgumentParser(prog="python -m pipelines.auth", description="管理员账号工具")
    sub = p.add_subparsers(dest="command", required=True)
    h = sub.add_parser("hash", help="为密码生成 bcrypt 哈希（写入 secrets.toml 或环境变量）")
    h.add_argument("--stdin", action="store_true", help="从标准输入读取密码（一行），用于脚本")
    args = p.parse_args(argv)
    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("密码：")
        if getpass.getpass("再次输入密码：") != password:
            print("两次输入的密码不一致。", file=sys.stderr)
            return 1
    try:
        print(hash_password(password))
    except ValueError as e:
        print(str(e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
