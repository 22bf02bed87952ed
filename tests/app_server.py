"""Running the real dashboard for browser tests: `streamlit run serve.py` (the README's command; app.py with a
warm start) on a free port, and Debian's chromium."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling out, which this closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(db: Path, log_path: Path, *, script: str = "serve.py", extra_args: Iterable[str] = (),
              drop_env: Iterable[str] = (), timeout_s: float = 60, root: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """`streamlit run <script>` headless on a free port with DJ_DB_PATH=db; returns (process, base url).

    `script` is serve.py (with the warm start) or app.py (without). `drop_env` names environment variables
    the app must not inherit (e.g. admin secrets of the caller). `root`: the tree to run (a bench's baseline
    revision), this one by default.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in set(drop_env)}
    env.update(DJ_DB_PATH=str(db), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", PYTHONPATH=str(root))
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false", *extra_args],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout_s
    while True:
        try:
            if urllib.request.urlopen(base + "/_stcore/health", timeout=2).status == 200:
                return proc, base
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError("streamlit did not start:\n" + Path(log_path).read_text())
        time.sleep(0.3)


@contextlib.contextmanager
def demo_app(demo_db_master: Path, folder: Path, **kwargs) -> Iterator[tuple[str, Path]]:
    """The app on a private copy of the demo database (and its archive) in `folder`: yields (base URL, db);
    the server stops on exit."""
    for f in demo_db_master.parent.iterdir():
        (shutil.copytree if f.is_dir() else shutil.copy)(f, folder / f.name)
    db = folder / demo_db_master.name
    proc, base = start_app(db, folder / "streamlit.log", **kwargs)
    try:
        yield base, db
    finally:
        stop_app(proc)


def stop_app(proc: subprocess.Popen) -> None:
    """Stop the app started by start_app."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def settled(page, timeout: float = 60_000) -> None:
    """Wait until the app in `page` has finished its current script run."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="running"]', state="detached",
                           timeout=timeout)
    page.wait_for_timeout(300)


def sign_in(page, base: str, account: str, password: str, signed_in_text: str | None = None,
            path: str = "/upload") -> None:
    """Open an admin page (数据上传, or `path`) and sign in as an admin, the way a person does; waits for
    `signed_in_text` (default '已登录管理员：<account>')."""
    page.goto(base + path)
    page.get_by_label("管理员账号").wait_for(timeout=90_000)
    settled(page)
    page.get_by_label("管理员账号").fill(account)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.get_by_text(signed_in_text or f"已登录管理员：{account}").wait_for(timeout=30_000)
    settled(page)
