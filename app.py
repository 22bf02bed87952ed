"""党建“双创”分析看板 — entry point: page config, demo database on first start, sidebar facts, navigation.

Run with `streamlit run serve.py` (this script with a warm start) or `streamlit run app.py`. The database is settings().db_path (env DJ_DB_PATH); when it does not
exist the built-in demo school is generated and ingested first, and a banner says so.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import streamlit as st

SCREEN = st.query_params.get("screen") == "1"  # ?screen=1: the 会议大屏, full screen without the sidebar
st.set_page_config(
    page_title="党建“双创”分析看板",
    page_icon=":material/flag:",
    layout="wide",
    # auto: expanded on a laptop, collapsed on a phone (where an open sidebar covers most of the screen)
    initial_sidebar_state="collapsed" if SCREEN else "auto",
)

from pages import access  # noqa: E402
from pages import common as c  # noqa: E402
from pipelines.config import settings  # noqa: E402
from pipelines.guide import GuideError, guide  # noqa: E402

log = logging.getLogger("dangjian.app")


@st.cache_resource(show_spinner=False)
def _demo_builder(path: str) -> dict:
    """Build the demo database once per server process, in a background thread.

    The build must not live in a visitor's script run: Streamlit stops a run when its browser tab closes or
    reruns, which would restart the build for the next visitor. Sessions only watch the shared state.
    """
    from pipelines.demo import build

    state = {"fraction": 0.0, "text": "正在准备演示学校……", "done": False, "error": None}

    def progress(fraction: float, text: str = "") -> None:
        state["fraction"] = min(1.0, max(0.0, float(fraction)))
        if text:
            state["text"] = text

    def run() -> None:
        try:
            build.ensure_demo_db(Path(path), progress=progress)
        except Exception as e:  # noqa: BLE001 - reported to every watching session
            log.exception("demo build failed")
            state["error"] = str(e)
        finally:
            state["done"] = True

    threading.Thread(target=run, name="demo-builder", daemon=True).start()
    return state


def ensure_database() -> None:
    """Build the demo database, with a progress bar, when no database exists yet (or a build was interrupted)."""
    path = c.db_file()
    if path.exists() and not Path(str(path) + ".demo-building").exists():
        return
    state = _demo_builder(str(path))
    if not state["done"]:
        with st.status("首次启动：正在生成演示数据，约需半分钟……", expanded=True):
            st.progress(state["fraction"], text=state["text"])
            st.caption(f"演示学校：{settings().demo_branches} 个支部、{settings().demo_quarters} 个季度的报送表，"
                       "经真实的模板、校验和导入流程生成。")
        time.sleep(0.5)
        st.rerun()
    _demo_builder.clear()
    if state["error"]:
        st.error("演示数据生成失败，请查看服务器日志，或直接导入真实数据（见“数据上传”页面）。")


def demo_share() -> tuple[int, int]:
    """(demo files, all files): submissions written by the demo builder (actor build.ACTOR) and in total."""
    from pipelines.demo.build import ACTOR

    df = c.query("SELECT count(*) AS n, count(*) FILTER (WHERE uploaded_by = ?) AS demo FROM submissions", ACTOR)
    return int(df.at[0, "demo"]), int(df.at[0, "n"])


def demo_banner(demo: int, total: int) -> None:
    """The banner on every page while demo data is shown (or mixed into real data); how to switch to real
    data only for a signed-in admin, who can act on it."""
    how = ("切换为真实数据：组织部管理员在“数据上传”页面点击“清空演示数据，开始使用真实数据”（原数据自动备份），"
           "再上传本校支部名册和各支部报送表；"
           "也可在服务器上用 `python -m pipelines registry` / `ingest` 建立新数据库，"
           "并设置环境变量 `DJ_DB_PATH=新数据库文件` 后重启看板。")
    if not is_admin():
        how = "如需切换为真实数据，请联系组织部管理员。"
    if demo == total:
        st.warning(f"**当前展示的是演示数据**（虚构的学校与支部，仅用于熟悉看板功能）。{how}",
                   icon=":material/science:")
    else:
        st.warning(f"**数据库中仍有 {demo} 份演示报送表**，与 {total - demo} 份真实报送混在一起，排名和平均分会受影响。"
                   f"请为真实数据使用新的数据库文件：{how}", icon=":material/science:")


def is_admin() -> bool:
    """Whether this session is signed in as an admin (pipelines.auth)."""
    try:
        from pipelines import auth

        return auth.current_admin() is not None
    except Exception:  # noqa: BLE001 - no auth module or no access config: not an admin
        return False


def sidebar_facts() -> None:
    """Guide version and data as-of, always visible in the sidebar."""
    period, at = c.data_as_of()
    with st.sidebar:
        st.caption(f"指标指南版本：{c.guide_version()}")
        if period:
            when = f"，最近上传 {at:%Y-%m-%d %H:%M}" if at is not None and not isinstance(at, str) else ""
            st.caption(f"数据截至：{c.period_label(period)}{when}")
        else:
            st.caption("数据截至：尚无报送数据")


def main() -> None:
    """Guide check, viewer gate, demo database, navigation, sidebar facts and banner, then the page."""
    try:
        guide()
    except GuideError as e:
        st.error(f"指标指南文件有误，看板无法启动：{e}")
        st.stop()
    allowed = access.viewer_gate()
    pages = {
        "数据看板": [
            st.Page("pages/overview.py", title="全校总览", icon=":material/dashboard:", default=True),
            st.Page("pages/college.py", title="二级党组织画像", icon=":material/apartment:"),
            st.Page("pages/branch.py", title="支部画像", icon=":material/account_tree:"),
            st.Page("pages/compare.py", title="教师与学生支部对比", icon=":material/compare_arrows:"),
            st.Page("pages/trends.py", title="趋势分析", icon=":material/trending_up:"),
            st.Page("pages/meeting.py", title="会议大屏", icon=":material/tv:"),
        ],
        "预警与督办": [
            st.Page("pages/alerts.py", title="预警", icon=":material/notifications:"),
            st.Page("pages/progress.py", title="报送进度", icon=":material/pending_actions:"),
            st.Page("pages/followups.py", title="督办整改", icon=":material/assignment_turned_in:"),
        ],
        "参考": [
            st.Page("pages/guide.py", title="指标指南", icon=":material/menu_book:"),
            st.Page("pages/template.py", title="填报模板", icon=":material/description:"),
        ],
        "管理": [
            st.Page("pages/upload.py", title="数据上传", icon=":material/upload_file:"),
            st.Page("pages/review.py", title="审核", icon=":material/fact_check:"),
        ],
    }
    # Behind the viewer gate the pages are registered but hidden and not run: no page list leaks, a link to
    # /branch?… keeps its address for after the password, and Streamlit never falls back to listing pages/.
    if SCREEN:  # the meeting screen alone: no sidebar, no page list
        pages = [st.Page("pages/meeting.py", title="会议大屏", icon=":material/tv:", default=True)]
    # expanded: every page listed (no English "View n more" link under the groups)
    nav = st.navigation(pages, position="sidebar" if allowed and not SCREEN else "hidden", expanded=True)
    if not allowed:
        st.stop()
    ensure_database()
    if getattr(nav, "url_path", "") != "review":  # 审核 writes every click: no full warm-up of each version
        c.prefetch()
    try:
        demo, total = demo_share()
        if SCREEN:
            if demo:
                st.caption("演示数据")
        else:
            sidebar_facts()
            if demo:
                demo_banner(demo, total)
    except Exception:  # noqa: BLE001 - the facts are secondary; the page still runs
        log.exception("sidebar facts failed")
    c.run_navigation(nav)


main()
