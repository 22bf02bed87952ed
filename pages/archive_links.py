"""Download links for archived originals, bound to the signed-in admin's browser session.

Streamlit's download button puts the bytes in its media store under a `/media/<id>.xlsx` URL that anyone holding
the URL can fetch, and it stays there after sign-out and after the browser is gone (issue 9, finding 5). So
archived originals never go into the media store: serve.py mounts `route()`, which serves a file only through
a link issued here, and a link serves only while

- it has not been revoked: sign-out revokes every link of the session (pages.access.sign_out_button);
- the browser session it was issued to is connected: closing the browser ends it at once;
- at most `archive_link_ttl_s` seconds (pipelines.config) have passed since its first download.

A token is 256 random bits; links live in this server process's memory, so a restart forgets them all.
"""
from __future__ import annotations

import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

ROUTE = "dj-archive"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

GONE_MESSAGE = ("下载链接已失效：原始文件的下载链接仅在管理员登录期间有效，退出登录、关闭浏览器或首次下载一段时间后即失效。"
                "请回到看板的“数据上传”页，登录后在“报送记录与撤回”中重新下载。")
MISSING_MESSAGE = "归档中找不到该原始文件（可能已被手工删除），请联系系统维护人员。"
NOT_MOUNTED_MESSAGE = ("下载原始文件需要以 `python -m streamlit run serve.py` 启动看板（当前以 app.py 启动，"
                       "没有受保护的下载地址）。请联系系统维护人员按 docs/admin.md 的方式重新启动。")

_mounted = False


@dataclass
class Link:
    """One issued link: which session may use it, for which archived file."""

    session_id: str
    sha256: str
    file_name: str
    first_used: float | None = None


def _session_connected(session_id: str) -> bool:
    """Whether this Streamlit browser session has a live connection (thread-safe in Streamlit's runtime)."""
    from streamlit.runtime import Runtime

    return bool(session_id) and Runtime.exists() and Runtime.instance().is_active_session(session_id)


def _ttl_s() -> float:
    from pipelines.config import settings

    return settings().archive_link_ttl_s


class ArchiveLinks:
    """The issued links of this server process. `clock`, `connected` and `ttl_s` are injectable for tests."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 connected: Callable[[str], bool] = _session_connected,
                 ttl_s: Callable[[], float] = _ttl_s) -> None:
        self.clock, self.connected, self.ttl_s = clock, connected, ttl_s
        self._lock = threading.Lock()
        self._links: dict[str, Link] = {}

    def issue(self, session_id: str, sha256: str, file_name: str) -> str:
        """A token for `sha256` usable by `session_id`. A session holds one unused link at a time: the page
        shows one download, and each rerun reuses it (or replaces it once it was used)."""
        now = self.clock()
        with self._lock:
            self._prune(now)
            for token, link in list(self._links.items()):
                if link.session_id != session_id or link.first_used is not None:
                    continue
                if (link.sha256, link.file_name) == (sha256, file_name):
                    return token
                del self._links[token]
            token = secrets.token_urlsafe(32)
            self._links[token] = Link(session_id, sha256, file_name)
            return token

    def use(self, token: str) -> Link | None:
        """The link behind `token` if it may serve now (its first use starts the time limit), else None."""
        now = self.clock()
        with self._lock:
            link = self._links.get(token)
            if link is None or not self._valid(link, now):
                self._links.pop(token, None)
                return None
            if link.first_used is None:
                link.first_used = now
            return link

    def revoke_session(self, session_id: str) -> int:
        """Forget every link of `session_id` (at sign-out); returns how many there were."""
        with self._lock:
            gone = [t for t, link in self._links.items() if link.session_id == session_id]
            for t in gone:
                del self._links[t]
            return len(gone)

    def __contains__(self, token: str) -> bool:
        """Whether `token` is on record (an expired link stays until the next issue or use prunes it)."""
        with self._lock:
            return token in self._links

    def _valid(self, link: Link, now: float) -> bool:
        fresh = link.first_used is None or now - link.first_used <= self.ttl_s()
        return fresh and self.connected(link.session_id)

    def _prune(self, now: float) -> None:
        for t in [t for t, link in self._links.items() if not self._valid(link, now)]:
            del self._links[t]


LINKS = ArchiveLinks()  # module level: one per server process, shared by all sessions and the route


# ---- the route (mounted by serve.py) --------------------------------------------------------------

def _base_path(base_url_path: str) -> str:
    base = (base_url_path or "").strip("/")
    return f"/{base}" if base else ""


def url(token: str) -> str:
    """The path a browser downloads the file of `token` from, under Streamlit's server.baseUrlPath."""
    from streamlit import config

    return f"{_base_path(config.get_option('server.baseUrlPath'))}/{ROUTE}/{urllib.parse.quote(token)}"


def mounted() -> bool:
    """Whether this process serves `route()` (started with serve.py, not `streamlit run app.py`)."""
    return _mounted


def content_disposition(file_name: str) -> str:
    """`attachment` with the (Chinese) file name as RFC 6266 filename*, and an ASCII-only fallback."""
    fallback = "".join(ch for ch in file_name if ch.isascii() and (ch.isalnum() or ch in "._-")) or "original.xlsx"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(file_name, safe='')}"


def serve(request):
    """GET /dj-archive/<token>: the archived original, or 404 with a Chinese message. Sync, so Starlette runs it
    in its thread pool (it reads a file)."""
    from starlette.responses import PlainTextResponse, Response

    from pipelines.store import journal

    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    link = LINKS.use(request.path_params["token"])
    if link is None:
        return PlainTextResponse(GONE_MESSAGE, status_code=404, headers=headers)
    try:
        data = journal.archived_file(link.sha256)
    except (FileNotFoundError, ValueError):
        return PlainTextResponse(MISSING_MESSAGE, status_code=404, headers=headers)
    headers["Content-Disposition"] = content_disposition(link.file_name)
    return Response(data, media_type=XLSX_MIME, headers=headers)


def route(base_url_path: str = ""):
    """The Starlette route serving archived originals (st.App does not prefix user routes with baseUrlPath)."""
    from starlette.routing import Route

    global _mounted
    _mounted = True
    return Route(f"{_base_path(base_url_path)}/{ROUTE}/{{token}}", serve, methods=["GET"])
