"""Shared UI for the dashboard pages.

One place for: guide lookups, cached data access (keyed on the database's data version and the guide version,
so a new upload shows on the next interaction and nothing is recomputed otherwise), the quarter picker, empty
states and the error guard that keeps raw tracebacks off the screen. Beside it: pages/charts.py (colours and
figures), pages/tables.py (cells, tables, downloads) and pages/state.py (state kept in the URL, navigation).

Pages only read: every query goes through pipelines.scoring or pipelines.store.db.query_df.
"""
from __future__ import annotations

import contextvars
import copy
import datetime as dt
import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # pages run directly (AppTest) have only pages/ on the path
    sys.path.insert(0, str(ROOT))

from pages.state import flush_url, state_widget, write_choice_now  # noqa: E402
from pages.text import md_text  # noqa: E402
from pipelines import scoring  # noqa: E402
from pipelines.guide import GuideError, guide  # noqa: E402
from pipelines.guide.period import Period  # noqa: E402
from pipelines.report import quarterly  # noqa: E402
from pipelines.scoring import alerts, honours  # noqa: E402
from pipelines.store import db as dbmod  # noqa: E402
from pipelines.store import followup, plan  # noqa: E402

log = logging.getLogger("dangjian.pages")

METRIC_H = 124  # px: bordered metrics in a row share one height whether or not they show a delta


# ---- guide lookups ------------------------------------------------------------------------------
def dim_cols() -> list[str]:
    """The seven dimension score columns of branch_scores: d1..d7."""
    return [f"d{d.id}" for d in guide().dimensions]


def dim_names(short: bool = True) -> list[str]:
    """Dimension names in order (short names for axes, full names for tables)."""
    return [d.short if short else d.name for d in guide().dimensions]


def dim_label_map(short: bool = True) -> dict[str, str]:
    """d1..d7 -> Chinese dimension name."""
    return dict(zip(dim_cols(), dim_names(short)))


def type_name(type_id: str) -> str:
    """Chinese name of a branch type id (teacher / student)."""
    try:
        return guide().branch_type_name(type_id)
    except StopIteration:
        return str(type_id)


def type_ids() -> list[str]:
    """Branch type ids in guide order."""
    return [t.id for t in guide().branch_types]


def item_label(item_id: str, width: int = 18) -> str:
    """'1.2.1 “三会一课”突出政治学习…' — an item id with the start of its text (Guide.item_label)."""
    return guide().item_label(item_id, width)


def period_label(period: str) -> str:
    """'2026Q3' -> '2026 年第 3 季度', '2026 年第 4 季度（进行中）' while it has not ended (Period.status_label);
    anything else as it is."""
    try:
        return Period.parse(period).status_label()
    except ValueError:
        return str(period)


def deadline_text(status: dict) -> tuple[str, str]:
    """(the deadline, how far off it is) as the metrics show them."""
    if status["due_date"] is None:
        return "未设置", "—"
    days = status["days_left"]
    when = "今天截止" if days == 0 else f"剩余 {days} 天" if days > 0 else f"已逾期 {-days} 天"
    return status["due_date"].isoformat(), when


# ---- cached data access -------------------------------------------------------------------------
def db_file() -> Path:
    """The database the app reads (settings().db_path, env DJ_DB_PATH)."""
    return dbmod.db_path()


def data_version() -> int:
    """The data version of the current database (bumped by every committed write)."""
    return dbmod.data_version(db_file())


def guide_version() -> str:
    """The version string of the indicator guide."""
    return guide().version


def guide_key() -> str:
    """What cached scores depend on in the guide: its version and a hash of its content (an edited weight
    re-scores on the next interaction even if nobody changed `version`)."""
    g = guide()
    return f"{g.version}:{g.fingerprint}"


# what scores() may call: "fn" is scoring.fn, else "module.fn" of these pipelines modules (their reads only;
# plan: the stored registry for the template page)
_MODULES = {"scoring": scoring, "alerts": alerts, "honours": honours, "followup": followup, "plan": plan}


@st.cache_data(show_spinner=False, max_entries=512)
def _scoring_call(fn: str, db: str, version: int, guide_version: str, args: tuple, kwargs: tuple):
    module, _, name = fn.rpartition(".")
    return getattr(_MODULES[module or "scoring"], name)(*args, db=db, **dict(kwargs))


_last_good: OrderedDict[tuple, tuple[int, Any]] = OrderedDict()  # query -> (data version, its newest result)
_computing: dict[tuple, int] = {}  # query -> the data version a thread is computing now
_last_good_lock = threading.Lock()
LAST_GOOD_ENTRIES = 256
_stale_served = threading.local()  # .flag: this script thread was served a previous data version (run_page)


def _or_last_good(key: tuple, version: int, compute: Callable[[], Any], as_kept: bool = False) -> Any:
    """compute() for data version `version`, with the last result of the same query (`key`, any version) kept
    for the cases where a viewer is better served by the data it had than by waiting:

    * stale-while-revalidate: right after a write bumped the version (an upload's batch), the first page that
      asks for a query starts computing it; every other page asking for the same query meanwhile gets the
      previous version's result at once instead of queueing behind that computation (st.cache_data would make
      them wait for it, and 30 viewers after an upload then waited many seconds each). The first page waits
      for its computation, but while other pages are running too (a busy server, where the new marts queue for
      the database and the cores) at most REVALIDATE_WAIT_S once per run (a page that has shown a previous
      version does not wait for its other queries), then it also shows the previous version; the computation
      goes on and the next interaction shows the new data. A page served a previous version says
      so (run_page: a toast). A viewer alone, a signed-in admin (who must see what they just wrote), or a query
      never computed in this server process always gets the new data.
    * a writer holding the database past the wait (DatabaseBusy): the last result instead of a warning.

    Kept results are private copies (a page may change what it was given), taken once per query and version; a
    query already computed for the current version is served from here as another copy (copy.deepcopy: a
    frame's copy, about a third of st.cache_data's unpickling of the same frames, and no hashing of the
    arguments). st.cache_data still computes each query once (and waits for a computation in progress).
    `as_kept`: a kept result is handed out as it is, not copied; the caller copies what it gives a page (bundle)."""
    private = (lambda kept: kept) if as_kept else copy.deepcopy
    nested = _in_cached_function()  # inside another cached computation: only the data of `version` will do
    with _last_good_lock:
        have = _last_good.get(key)
        current = have is not None and have[0] == version  # the usual case: computed already
        stale = have is not None and have[0] < version and _computing.get(key) == version and not nested
        if current:
            _last_good.move_to_end(key)
        mine = have is not None and have[0] < version and not stale and not nested
        if mine:
            _computing[key] = version  # this thread computes the new version
    if current:  # kept results are never changed in place, so they are copied outside the lock
        return private(have[1])
    if stale and _reads_own_writes():  # an admin sees what they just wrote: wait for the computation
        stale = False
    if stale:  # another thread computes the new version: serve the old one
        _stale_served.flag = True
        return private(have[1])
    if not mine:  # nothing to fall back on but the busy case: compute here
        try:
            result = compute()
        except dbmod.DatabaseBusy:
            if have is not None and not nested:
                _stale_served.flag = True
                return private(have[1])
            raise
        _keep(key, version, result)
        return result
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def revalidate() -> None:
        try:
            outcome["result"] = compute()
            _keep(key, version, outcome["result"])
        except BaseException as e:  # noqa: BLE001 - handed to the page that asked, if it still waits
            outcome["error"] = e
        finally:
            with _last_good_lock:
                _computing.pop(key, None)
            done.set()

    threading.Thread(target=revalidate, name="dangjian-revalidate", daemon=True).start()
    if _reads_own_writes():  # an admin sees what they just wrote
        wait = None
    elif getattr(_stale_served, "flag", False):  # this run shows the previous version already: no wait at all
        wait = 0.0
    else:
        wait = REVALIDATE_WAIT_S if _busy_server() else None
    done.wait(wait)
    if not done.is_set() or isinstance(outcome.get("error"), dbmod.DatabaseBusy):
        _stale_served.flag = True  # the server is busy: the previous version now, the new one next time
        return private(have[1])
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _in_cached_function() -> bool:
    """Whether this call runs inside an st.cache_data computation (e.g. the quarterly report reading bundle):
    what it returns is cached under the current data version, so it must not be a previous version's."""
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import in_cached_function
    except ImportError:  # another Streamlit: never serve a previous version inside
        return True
    return bool(in_cached_function.get())


REVALIDATE_WAIT_S = 1.5
"""How long the first page asking for a query after a write waits for its new version while other pages run."""
_running_pages = 0  # page bodies running now in this server process (run_page)


def _reads_own_writes() -> bool:
    """Whether this session must never be served a previous version: a signed-in admin uploads, reviews, rolls
    back and closes follow-ups, and after a write must see its result (a decided answer shown again as 待审核
    would be decided twice). Asked only when a previous version would be served."""
    if get_script_run_ctx() is None:
        return False
    from pages import access

    return access.current_admin() is not None


def _busy_server() -> bool:
    """Whether another page is running beside this one."""
    return _running_pages > 1


def _keep(key: tuple, version: int, result: Any) -> None:
    """Remember a private copy of `result` as the newest result of query `key`, unless a newer one is kept."""
    with _last_good_lock:
        have = _last_good.get(key)
        if have is None or have[0] < version:
            _last_good[key] = (version, copy.deepcopy(result))
        _last_good.move_to_end(key)
        while len(_last_good) > LAST_GOOD_ENTRIES:
            _last_good.popitem(last=False)


def served_stale() -> bool:
    """Whether this script thread was served a previous data version since the last call (and forget it)."""
    flag = getattr(_stale_served, "flag", False)
    _stale_served.flag = False
    return flag


def scores(fn: str, *args: Any, **kwargs: Any) -> Any:
    """pipelines.scoring.<fn>(*args, **kwargs) on the app's database, cached on (db, data version, guide version);
    "alerts.<fn>" calls pipelines.scoring.alerts.<fn> (the alerts, their counts and evidence, deadline_status)."""
    return _scores(fn, args, kwargs)


def _scores(fn: str, args: tuple, kwargs: dict, as_kept: bool = False) -> Any:
    db, kw, gk = str(db_file()), tuple(sorted(kwargs.items())), guide_key()
    version = dbmod.data_version(db)
    return _or_last_good(("scores", fn, db, gk, tuple(args), kw), version,
                         lambda: _scoring_call(fn, db, version, gk, tuple(args), kw), as_kept=as_kept)


class Bundle(Mapping):
    """The marts of one period as a page gets them: each frame is copied from the kept result when the page
    first reads it (a page may change what it was given), not all fifteen on every run."""

    def __init__(self, marts: Mapping[str, pd.DataFrame]) -> None:
        self._marts, self._copies = marts, {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._copies:
            self._copies[name] = copy.deepcopy(self._marts[name])
        return self._copies[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._marts)

    def __len__(self) -> int:
        return len(self._marts)


def bundle(period: str) -> Bundle:
    """Every mart of one period from one scoring session (scoring.marts), cached; keys are the scoring
    function names (branch_scores, item_scores, measure_scores, college_scores, item_summary, …) and
    prev_branch_scores (the calendar quarter before; see previous_scores). A read-only mapping: each frame a
    private copy, made when first read.

    One session builds the base marts once, so a page needing several frames of a period pays once.
    """
    return Bundle(_scores("marts", (period,), {"previous": True}, as_kept=True))


def previous_scores(periods: Sequence[str], period: str,
                    data: dict[str, pd.DataFrame] | None = None) -> tuple[str | None, pd.DataFrame | None]:
    """(the calendar quarter before `period`, its branch_scores) when that quarter has data, else (None, None).

    Every change on every page (headline arrows, rank changes, 较上季度, movers, the report) compares with
    the calendar quarter before, so they always agree; after a quarter without data there is no change to
    show (comparison_caption says so). The scores come from bundle(period) (pass it as `data` if the page has
    it already), which scored that quarter anyway; their change columns (delta, …) are not included.
    """
    prev = str(Period.parse(period).previous)
    if prev not in periods:
        return None, None
    return prev, (data or bundle(period))["prev_branch_scores"]


def comparison_caption(periods: Sequence[str], period: str) -> str:
    """What `period` is compared with, for the caption under the quarter selector."""
    prev = str(Period.parse(period).previous)
    if period not in periods:
        return f"当前查看：{period_label(period)}；本季度尚无支部报送"
    if prev in periods:
        return f"当前查看：{period_label(period)}；对比季度：{period_label(prev)}"
    if previous_period(periods, period):
        return f"当前查看：{period_label(period)}；上一季度（{period_label(prev)}）没有报送数据，暂无环比"
    return f"当前查看：{period_label(period)}；这是第一个有数据的季度，暂无环比"


def history() -> pd.DataFrame:
    """Every branch's overall, d1..d7 and school rank in every period (scoring.score_history), cached.

    Columns: period, branch_code, branch_name, branch_type, college, d1..d7, overall, rank.
    """
    return scores("score_history")


# ---- what pages show from the marts, computed once per data version ---------------------------------------
def summary(period: str, periods: Sequence[str]) -> Any:
    """本季度要点 of `period` (pipelines.report.summary.quarter_summary on the cached marts), cached like scores()."""
    return _derived("summary", period, tuple(periods))


def attention(period: str, periods: Sequence[str]) -> Any:
    """需关注 of `period` (pipelines.scoring.attention.attention on the cached marts and the submission statuses of
    the quarters before), cached like scores()."""
    return _derived("attention", period, tuple(periods))


def college_bars(period: str) -> tuple[pd.DataFrame, list[str]]:
    """(briefing.college_bars, briefing.unscored_colleges) of `period`'s college scores, cached like scores()."""
    return _derived("college_bars", period, ())


def trend_colleges(period: str) -> list[str]:
    """The 二级党组织 趋势分析 draws when none is chosen (attention.trend_default_colleges), cached like scores()."""
    return _derived("trend_colleges", period, ())


def _derive(what: str, period: str, periods: tuple) -> Any:
    from pipelines.report.summary import quarter_summary
    from pipelines.scoring import attention as att

    data = bundle(period)
    if what == "summary":
        return quarter_summary(period, db_file(), data=data, periods=list(periods))
    if what == "attention":
        statuses = [data["submission_status"],
                    *(scores("submission_status", p) for p in att.earlier_periods(period, periods))]
        return att.attention(period, db_file(), data=data, periods=periods, statuses=statuses)
    if what == "college_bars":
        from pipelines.report import briefing

        return briefing.college_bars(data["college_scores"]), briefing.unscored_colleges(data["college_scores"])
    if what == "trend_colleges":
        return att.trend_default_colleges(data["college_scores"])
    raise ValueError(what)


@st.cache_data(show_spinner=False, max_entries=128)
def _derived_call(what: str, db: str, version: int, guide_version: str, today: dt.date, period: str,
                  periods: tuple) -> Any:
    return _derive(what, period, periods)  # inside a cached function: the marts of `version` only


def _derived(what: str, period: str, periods: tuple) -> Any:
    """_derive(...) once per (database, data version, guide, day: a quarter's label says 进行中 until it ends),
    served as scores() serves a query (a private copy; a previous version while a new one is computed)."""
    db, gk, today = str(db_file()), guide_key(), dt.date.today()
    version = dbmod.data_version(db)
    return _or_last_good(("derived", what, db, gk, today, period, periods), version,
                         lambda: _derived_call(what, db, version, gk, today, period, periods))


_prefetched: set[tuple] = set()
_prefetch_lock = threading.Lock()
_waiting_prefetches: list[threading.Event] = []  # set when the script run that started them has rendered
PREFETCH_WAIT_S = 3.0  # at most this long for that run (a page without run_page never signals)
PREFETCH_GAP_S = 0.06  # pause between warm-ups: longer than the file lock's poll interval (0.05 s)


def prefetch() -> None:
    """Warm the caches every page needs (the latest quarter's marts, the score history, movers) in a
    background thread, once per (database, data version, guide version) in this server process.

    After an upload the next visitor would otherwise pay every scoring query at once; st.cache_data makes a
    page that asks for a value being computed wait for that computation instead of repeating it. The
    database lock is exclusive, so the warm-up lets pages go first: it starts once the page of the run that
    called it has rendered (that page computes what it needs itself, without queueing behind the warm-up),
    and it pauses between its queries so a waiting page query gets the lock.
    """
    key = (str(db_file()), data_version(), guide_key())
    page_done = threading.Event()
    with _prefetch_lock:
        if key in _prefetched:
            return
        _prefetched.add(key)
        _waiting_prefetches.append(page_done)

    def work() -> None:
        page_done.wait(PREFETCH_WAIT_S)
        try:
            ps = scores("periods")
            if not ps:
                return
            default = default_period(ps)
            for warm in (lambda: bundle(default), history, lambda: scores("movers", default, 5)):
                warm()
                time.sleep(PREFETCH_GAP_S)
        except Exception:  # noqa: BLE001 - a failed warm-up only means the page computes it itself
            log.exception("prefetch failed")

    threading.Thread(target=work, name="dangjian-prefetch", daemon=True).start()


def _page_rendered() -> None:
    """Release the warm-ups waiting for this run's page (see prefetch)."""
    with _prefetch_lock:
        while _waiting_prefetches:
            _waiting_prefetches.pop().set()


@st.cache_data(show_spinner=False, max_entries=256)
def _query_call(sql: str, params: tuple, db: str, version: int) -> pd.DataFrame:
    return dbmod.query_df(sql, list(params), db)


def query(sql: str, *params: Any) -> pd.DataFrame:
    """A read-only SQL query on the app's database, cached on the data version."""
    db = str(db_file())
    version = dbmod.data_version(db)
    return _or_last_good(("query", sql, tuple(params), db), version,
                         lambda: _query_call(sql, tuple(params), db, version))


def data_as_of() -> tuple[str | None, Any]:
    """(latest period, time of the latest upload) of the current data, or (None, None)."""
    df = query("SELECT max(period) AS period, max(uploaded_at) AS at FROM stg_submissions")
    if df.empty or pd.isna(df.at[0, "period"]):
        return None, None
    return str(df.at[0, "period"]), df.at[0, "at"]


def previous_period(periods: Sequence[str], period: str) -> str | None:
    """The latest period with data before `period`, or None."""
    before = [p for p in periods if Period.parse(p) < Period.parse(period)]
    return max(before, key=Period.parse) if before else None


# ---- the quarter picker ---------------------------------------------------------------------------
def period_options(periods: Sequence[str]) -> list[str]:
    """Periods with data, plus the quarter now due when nobody has submitted it yet and a registry says who
    should — so the dashboard can show who is still missing, even before the first submission. Ascending."""
    ps = list(periods)
    due = str(Period.latest_completed())  # the quarter branches are reporting on now
    if not ps or Period.parse(due) > Period.parse(ps[-1]):
        n = query("SELECT count(*) AS n FROM registry")
        if int(n.at[0, "n"]) > 0:
            ps.append(due)
    return ps


def default_period(periods: Sequence[str]) -> str | None:
    """The quarter a page opens on: the latest ended quarter with data; a quarter still in progress
    (Period.in_progress) only when no ended quarter has data."""
    ended = [p for p in periods if Period.parse(p).ended()]
    return ended[-1] if ended else (periods[-1] if periods else None)


def ended_periods(periods: Sequence[str], include_in_progress: bool = False) -> list[str]:
    """`periods` without the quarters still in progress (trend lines, movers), unless asked to include them."""
    return [p for p in periods if include_in_progress or Period.parse(p).ended()]


def period_select(periods: Sequence[str], container: Any = None, key: str = "period") -> str:
    """The shared quarter selector: latest first, labelled 进行中 while a quarter has not ended; default the
    latest ended quarter with data (default_period)."""
    ps = list(periods)
    options = list(reversed(period_options(ps)))
    empty = set(options) - set(ps)
    value = state_widget("select", "季度", options, key, default=default_period(ps) or options[0],
                         container=container, format_func=lambda p: period_label(p) + ("（尚无报送）" if p in empty else ""))
    # A new quarter goes into the URL now, not when the run ends: a quarter not yet cached takes seconds to
    # compute, and a reload, a copied link or a sidebar switch meanwhile lost the choice.
    write_choice_now(key, value)
    return value


# ---- page frame -----------------------------------------------------------------------------------
_VIA_APP: contextvars.ContextVar[bool] = contextvars.ContextVar("via_app", default=False)


def run_navigation(nav: Any) -> None:
    """Run the page app.py's st.navigation chose, marked as run through app.py (see require_entrypoint)."""
    token = _VIA_APP.set(True)
    try:
        nav.run()
    finally:
        _VIA_APP.reset(token)


def require_entrypoint() -> None:
    """Make sure the page runs inside app.py's st.navigation (banner, wide layout, viewer gate).

    Streamlit starts in its legacy `pages/` directory mode whenever a `pages/` folder exists, until some
    script calls st.navigation. If the first visitor opens a page URL directly (/branch?…), Streamlit would
    run the page file on its own. Switching the legacy mode off and rerunning makes app.py run first, and its
    st.navigation then opens the requested page with the same URL. The check is on this run, not on the
    global mode alone: the warm start's own visit may switch the mode off after this session began in it.
    A page file that is itself the main script (AppTest of one page) runs as it is.
    """
    from streamlit.runtime.pages_manager import PagesManager

    ctx = get_script_run_ctx()
    main = Path(ctx.main_script_path).resolve() if ctx is not None and ctx.main_script_path else None
    outside_app = main is not None and main.parent != Path(__file__).resolve().parent and not _VIA_APP.get()
    if PagesManager.uses_pages_directory or outside_app:
        PagesManager.uses_pages_directory = False
        st.rerun()


def header(title: str, caption: str | None = None) -> None:
    """Page title with an optional one-line caption."""
    st.title(title, anchor=False)
    if caption:
        st.caption(caption)


def no_data() -> None:
    """The empty state shown when the database has no submissions yet."""
    st.info(
        "还没有任何支部的报送数据。\n\n"
        "请组织部管理员在左侧“数据上传”页面上传各支部的季度报送表，"
        "或在服务器上运行 `python -m pipelines ingest 文件夹 --db 数据库文件` 导入；导入后刷新本页即可看到结果。",
        icon=":material/inbox:",
    )


def run_page(render: Callable[[], None]) -> None:
    """Run a page body, turning data errors into a Chinese message instead of a traceback; then let the
    background warm-up start (see prefetch)."""
    global _running_pages
    with _last_good_lock:
        _running_pages += 1
    try:
        show_errors(render)
    finally:
        with _last_good_lock:
            _running_pages -= 1
        if served_stale():  # see _or_last_good
            st.toast("最新上传的数据正在计算中，本页暂时显示上一版数据；稍后再操作即可看到最新数据。",
                     icon=":material/sync:")
        flush_url()
        _page_rendered()


def show_errors(render: Callable[[], None]) -> None:
    """Run `render`, turning data errors into a Chinese message instead of a traceback (run_page's guard; a
    fragment gets it through pages.fragments.part)."""
    try:
        render()
    except dbmod.DatabaseBusy as e:
        st.warning(f"{e}\n\n页面会在下次操作时自动重试。", icon=":material/hourglass_top:")
    except GuideError as e:
        st.error(f"指标指南有误，无法计算得分：{e}", icon=":material/error:")
    except Exception as e:  # noqa: BLE001 - the page must never show a raw traceback
        log.exception("page failed")
        st.error(
            f"页面数据加载失败（{type(e).__name__}）。请刷新重试；若问题持续，请联系组织部管理员检查数据库。",
            icon=":material/error:",
        )


BUSY_MESSAGE = "数据库正忙（其他管理员或命令行正在写入），请稍后再试。本次操作未写入任何数据。"


def guarded(action: Callable[[], Any], what: str) -> tuple[bool, Any]:
    """Run an action a button started (a write, a validation): (True, its value), or (False, None) after a
    Chinese message for a busy database or any failure — never a traceback."""
    try:
        return True, action()
    except dbmod.DatabaseBusy:
        st.error(BUSY_MESSAGE, icon=":material/hourglass_top:")
    except PermissionError as e:  # actor.authorize: no signed-in admin, or outside the account's scope
        st.error(md_text(str(e)), icon=":material/block:")
    except Exception as e:  # noqa: BLE001 - the page must never show a raw traceback
        log.exception("%s failed", what)
        st.error(f"{what}失败（{type(e).__name__}）。请稍后重试；若问题持续，请联系系统维护人员查看服务器日志。",
                 icon=":material/error:")
    return False, None



# ---- the quarterly report files (cached like the scores) ------------------------------------------
@st.cache_data(show_spinner=False, max_entries=16)
def _report_call(period: str, db: str, version: int, guide_version: str) -> bytes:
    return quarterly.quarter_report(period, db, data=bundle(period))


def report_bytes(period: str) -> bytes:
    """The quarterly report workbook of `period` (pipelines.report.quarterly), cached on (db, data version, guide);
    right after a write, like the scores, the previous version's while another page builds the new one."""
    db, gk = str(db_file()), guide_key()
    version = dbmod.data_version(db)
    return _or_last_good(("report", period, db, gk), version, lambda: _report_call(period, db, version, gk))


@st.cache_data(show_spinner="正在生成 PDF 简报（含图表）…", max_entries=8)
def _report_pdf_call(period: str, db: str, version: int, guide_version: str) -> bytes:
    from pipelines.report import pdf  # fpdf2 and kaleido load only when a PDF is asked for

    return pdf.quarter_pdf(period, db, data=bundle(period))


def report_pdf_bytes(period: str) -> bytes:
    """The quarterly briefing as PDF (pipelines.report.pdf), cached like report_bytes."""
    return _report_pdf_call(period, str(db_file()), data_version(), guide_key())
