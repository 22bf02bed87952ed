"""Shared UI for the dashboard pages.

One place for: the colour scheme and plotly template, chart builders, cached data access (keyed on the
database's data version and the guide version, so a new upload shows on the next interaction and nothing
is recomputed otherwise), widget state that survives page switches and lives in the URL, download
buttons, empty states and the error guard that keeps raw tracebacks off the screen.

Pages only read: every query goes through pipelines.scoring or pipelines.store.db.query_df.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # pages run directly (AppTest) have only pages/ on the path
    sys.path.insert(0, str(ROOT))

from pipelines.store import db as dbmod  # noqa: E402
from pipelines import alerts, honours, scoring  # noqa: E402
from pipelines.report import export
from pipelines.store import followup
from pipelines.report import quarterly
from pipelines.guide import GuideError, guide  # noqa: E402
from pages.text import md_text, plot_text  # noqa: E402
from pipelines.period import Period  # noqa: E402
from pipelines.workbook.prefilled import TemplateError  # noqa: E402

log = logging.getLogger("dangjian.pages")

# ---- colours ------------------------------------------------------------------------------------
# pipelines.palette is the one palette; pages use its colours through this module (c.RED, c.TYPE_COLORS, …)
from pipelines.palette import (CATEGORICAL, DARK_RED, DIMENSION_COLORS, DOWN_COLOR, GRADE_COLORS, GREY, GRID, INK, LIGHT_GREY,  # noqa: E402,F401
                               LIGHT_GREY_LINE, LINE_PALETTE, PAPER, RED, SCHOOL_COLOR, SCORE_SCALE, TYPE_COLORS,
                               UP_COLOR)
METRIC_H = 124  # px: bordered metrics in a row share one height whether or not they show a delta
FONT = "Noto Sans CJK SC, Noto Sans SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, sans-serif"

pio.templates["dangjian"] = go.layout.Template(
    layout=dict(
        font=dict(family=FONT, size=14, color=INK),
        colorway=CATEGORICAL,
        paper_bgcolor=PAPER,
        plot_bgcolor=PAPER,
        xaxis=dict(gridcolor=GRID, zerolinecolor=LIGHT_GREY, linecolor=LIGHT_GREY, automargin=True),
        yaxis=dict(gridcolor=GRID, zerolinecolor=LIGHT_GREY, linecolor=LIGHT_GREY, automargin=True),
        hoverlabel=dict(font=dict(family=FONT, size=13)),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0, font=dict(size=13)),
        margin=dict(l=10, r=20, t=40, b=10),
        polar=dict(
            bgcolor="white",
            radialaxis=dict(gridcolor=GRID, linecolor=LIGHT_GREY),
            angularaxis=dict(gridcolor=GRID, linecolor=LIGHT_GREY),
        ),
    )
)
# Streamlit's plotly bundle carries only the English locale, so the Chinese one goes in the config itself
# (plotly's `locales` option): the toolbar's tooltips and the double-click hint read in Chinese.
ZH_CN = {"dictionary": {
    "Autoscale": "自动缩放", "Box Select": "框选", "Compare data on hover": "悬停时比较数据",
    "Double-click on legend to isolate one trace": "双击图例只看这一条", "Double-click to zoom back out": "双击恢复原始大小",
    "Download plot as a png": "下载图片（PNG）", "Download plot as a PNG": "下载图片（PNG）",
    "Download plot": "下载图片", "Lasso Select": "套索选择", "Pan": "平移",
    "Produced with Plotly.js": "由 Plotly.js 生成", "Reset": "重置", "Reset axes": "重置坐标轴", "Reset view": "重置视图",
    "Reset views": "重置视图", "Show closest data on hover": "悬停时显示最近的数据", "Snapshot succeeded": "图片已生成",
    "Taking snapshot - this may take a few seconds": "正在生成图片，请稍候", "Zoom": "缩放", "Zoom in": "放大",
    "Zoom out": "缩小", "Toggle Spike Lines": "显示/隐藏辅助线",
    "Toggle show closest data on hover": "切换悬停时显示最近的数据"}}
PLOTLY_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"], "responsive": True,
                 "locale": "zh-CN", "locales": {"zh-CN": ZH_CN}}

KIND_NAMES = {  # measure kinds are code-level types; their Chinese descriptions live here
    "monthly": "每月开展",
    "quarterly": "每季度开展",
    "semester": "每学期开展",
    "annual_count": "每年次数",
    "annual_coverage": "党员覆盖率",
    "hours": "人均学时",
    "ratio": "比例",
    "self_assessed": "支部自评",
}
STATUS_NAMES = {"met": "达标", "partial": "部分完成", "missed": "未完成", "pending": "未到期"}


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


def fmt_score(x: Any) -> str:
    """A score as displayed everywhere: one decimal, half up as it is graded and ranked; '—' when missing."""
    return "—" if x is None or pd.isna(x) else f"{scoring.shown(x):.1f}"


def fmt_pct(share: Any) -> str:
    """A 0–1 share or completion as the percentage shown: one decimal, half up (scoring.percent); '—' when
    missing."""
    return scoring.percent(share, scoring.SHOWN_DECIMALS)


def delta_args(change: Any, unit: str = "", digits: int = 1) -> dict:
    """st.metric delta arguments for a change: '+1.2' up / '-0.5' down, '持平' without an arrow, none if unknown.

    One colour rule on every page, as on the 进步/退步 charts: a rise in Party red, a fall in warning orange
    with its arrow (bad news must read as bad news); a change that shows as 0.0 is 持平, never '+0.0'.
    """
    if change is None or pd.isna(change):
        return {"delta": None}
    change = float(change)
    if round(change, digits) == 0:
        return {"delta": "与上季度持平", "delta_color": "off", "delta_arrow": "off"}
    return {"delta": f"{change:+.{digits}f}{unit}", "delta_color": "red" if change > 0 else "orange"}


def rank_arrow(change: Any, prev_rank: Any = 0) -> str:
    """Rank change as an arrow: '↑3' (moved up), '↓2', '—' (same), '新' (no previous quarter)."""
    if change is None or pd.isna(change) or (prev_rank is not None and pd.isna(prev_rank)):
        return "新"
    change = int(change)
    return f"↑{change}" if change > 0 else f"↓{-change}" if change < 0 else "—"


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


# what scores() may call: "fn" is scoring.fn, else "module.fn" of these read-only pipelines modules
_MODULES = {"scoring": scoring, "alerts": alerts, "honours": honours, "followup": followup}


@st.cache_data(show_spinner=False, max_entries=512)
def _scoring_call(fn: str, db: str, version: int, guide_version: str, args: tuple, kwargs: tuple):
    module, _, name = fn.rpartition(".")
    return getattr(_MODULES[module or "scoring"], name)(*args, db=db, **dict(kwargs))


_last_good: OrderedDict[tuple, Any] = OrderedDict()  # newest result per query, whatever its data version
_last_good_lock = threading.Lock()
LAST_GOOD_ENTRIES = 256


def _or_last_good(key: tuple, compute: Callable[[], Any]) -> Any:
    """compute(), remembered under `key`; while a writer holds the database past the wait (DatabaseBusy),
    the last result of the same query instead, so a viewer sees the data it had rather than a warning.
    The next interaction after the write computes the new data version."""
    try:
        result = compute()
    except dbmod.DatabaseBusy:
        with _last_good_lock:
            if key in _last_good:
                return _last_good[key]
        raise
    with _last_good_lock:
        _last_good[key] = result
        _last_good.move_to_end(key)
        while len(_last_good) > LAST_GOOD_ENTRIES:
            _last_good.popitem(last=False)
    return result


def scores(fn: str, *args: Any, **kwargs: Any) -> Any:
    """pipelines.scoring.<fn>(*args, **kwargs) on the app's database, cached on (db, data version, guide version);
    "alerts.<fn>" calls pipelines.alerts.<fn> (the alerts, their counts and evidence, deadline_status)."""
    db, kw = str(db_file()), tuple(sorted(kwargs.items()))
    return _or_last_good(("scores", fn, db, guide_key(), tuple(args), kw),
                         lambda: _scoring_call(fn, db, data_version(), guide_key(), tuple(args), kw))


def bundle(period: str) -> dict[str, pd.DataFrame]:
    """Every mart of one period from one scoring session (scoring.marts), cached; keys are the scoring
    function names (branch_scores, item_scores, measure_scores, college_scores, item_summary, …) and
    prev_branch_scores (the calendar quarter before; see previous_scores).

    One session builds the base marts once, so a page needing several frames of a period pays once.
    """
    return dict(scores("marts", period, previous=True))


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
    return _or_last_good(("query", sql, tuple(params), db),
                         lambda: _query_call(sql, tuple(params), db, data_version()))


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


# ---- state that survives page switches and lives in the URL -------------------------------------
# The browser adds a history entry whenever a run changes the URL (Streamlit's page_info_changed pushes unless
# the run follows Back/Forward). So the URL changes only on a user's step: a widget changed, a row or bar picked,
# a page opened; all changes of one run go out as one write (flush_url, at the end of run_page). A default is
# never written. A URL value that differs from the one this session last left is a link or Back/Forward: it wins.
_KEEP = "_keep_"
_URL_SEEN = "_url_seen_"  # (page, {key: value}) as the URL was left at the end of the last run
_URL_PENDING = "_url_pending_"  # keys the user changed in this run: key -> new value (None removes it)
_URL_SHOWN = "_url_shown_"  # this run's widget values: key -> (URL value, chosen)
_URL_KEYS = "_url_keys_"  # + page id: the state widgets that page showed in its last run


def _page_id() -> str:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return getattr(ctx, "page_script_hash", "") or ""


def _url_get(key: str, multi: bool) -> Any:
    if key not in st.query_params:
        return None
    return st.query_params.get_all(key) if multi else st.query_params.get(key)


def url_changed(key: str) -> bool:
    """Whether the URL's `key` changed since this session's last run left it: a link, Back or Forward.

    A key missing after a page switch is no change (the sidebar opens pages without parameters); a key gone
    on the same page is (Back to the view before it was set)."""
    page, seen = st.session_state.get(_URL_SEEN, (None, {}))
    url = st.query_params.get_all(key)
    if not url:
        return key in seen and page == _page_id()
    return url != seen.get(key)


def url_request(key: str, value: Any) -> None:
    """Put `value` (None removes the key) in the URL at the end of this run, as one step of the history."""
    st.session_state.setdefault(_URL_PENDING, {})[key] = value


def url_param(key: str) -> str | None:
    """The URL's value of `key` as this run will leave it: a change requested in this run (url_request), else
    the URL's."""
    pending = st.session_state.get(_URL_PENDING, {})
    return pending[key] if key in pending else st.query_params.get(key)


def pick(widget_key: str, url_key: str, values: Sequence[str], kind: str = "rows") -> str | None:
    """The value picked in a dataframe (kind rows) or plotly chart (kind points) keyed `widget_key`, read before
    it is drawn: a new pick goes into the URL as `url_key` (one history step). Returns the URL's value as this
    run leaves it. Key the widget by the returned value, so a pick undone by Back leaves no ticked row."""
    state = st.session_state.get(widget_key) or {}
    selection = state.get("selection") or {}
    rows = list(selection.get("rows" if kind == "rows" else "point_indices") or [])
    if rows and 0 <= rows[0] < len(values) and values[rows[0]] != url_param(url_key):
        url_request(url_key, values[rows[0]])
    return url_param(url_key)


def _remember(key: str) -> None:
    st.session_state[_KEEP + key] = st.session_state[key]
    url_request(key, st.session_state[key])


def flush_url() -> None:
    """Write this run's requested URL changes as one update (one history entry), then note the URL as left.

    With a change requested, every state widget of the run is mirrored as shown (a branch that followed its
    college's change, too); defaults nobody chose are left out."""
    pending = st.session_state.pop(_URL_PENDING, None)
    shown = st.session_state.pop(_URL_SHOWN, {})
    if pending:
        params: dict[str, Any] = _url_now()
        for key, (value, chosen) in shown.items():
            if chosen and value not in (None, []):
                params[key] = value
            else:
                params.pop(key, None)
        for key, value in pending.items():
            if key not in shown:
                if value in (None, []):
                    params.pop(key, None)
                else:
                    params[key] = value
        wanted = {k: v if isinstance(v, list) else [str(v)] for k, v in params.items()}
        if wanted != _url_now():
            st.query_params.from_dict(wanted)
    st.session_state[_URL_SEEN] = (_page_id(), _url_now())
    if shown:
        st.session_state[_URL_KEYS + _page_id()] = list(shown)


def _url_now() -> dict[str, list[str]]:
    return {k: st.query_params.get_all(k) for k in st.query_params}


def _initial(key: str, options: list, default: Any, multi: bool,
             max_selections: int | None = None) -> tuple[Any, bool]:
    """The widget's starting value and whether it was chosen (this session, or through a link).

    A URL value this session has not seen (a link, Back or Forward) wins over the session's last choice; a
    key gone from the URL on the same page (Back) returns the widget to its default. A multi-select keeps the
    known values of a link once each, at most `max_selections` of them.
    """
    url = _url_get(key, multi)
    if url_changed(key):
        value, chosen = (url, True) if url is not None else (default, False)
        if not chosen:
            st.session_state.pop(_KEEP + key, None)
    elif _KEEP + key in st.session_state:
        value, chosen = st.session_state[_KEEP + key], True
    elif url is not None:
        value, chosen = url, True
    else:
        value, chosen = default, False
    if multi:
        picked = list(dict.fromkeys(v for v in (value or []) if v in options))[:max_selections]
        return (picked if picked or not value else [v for v in default if v in options]), chosen
    return (value if value in options else default), chosen


def state_widget(kind: str, label: str, options: Sequence[Any], key: str, default: Any = None,
                 container: Any = None, **kwargs: Any) -> Any:
    """A selectbox / multiselect / radio whose value survives page switches and is mirrored in the URL.

    The value comes, in order, from a URL value this session has not seen yet (a link, Back), this session's
    last choice, the URL (?key=...), then `default`. Options are strings (so they round-trip through the URL).
    kind: select | multi | radio. The URL changes only when the user changes the widget (see flush_url).
    """
    container = container or st
    options = list(options)
    multi = kind == "multi"
    if default is None and not multi:
        default = options[0] if options else None
    value, chosen = _initial(key, options, list(default or []) if multi else default, multi,
                             kwargs.get("max_selections"))
    # Always re-seed: after a page switch the same key belongs to a new widget (ids include the page).
    st.session_state[key] = value
    widget = {"select": container.selectbox, "multi": container.multiselect, "radio": container.radio}[kind]
    out = widget(label, options, key=key, on_change=_remember, args=(key,), **kwargs)
    url_value = [str(v) for v in out] if multi else (None if out is None else str(out))
    if chosen:
        st.session_state[_KEEP + key] = out
    st.session_state.setdefault(_URL_SHOWN, {})[key] = (url_value, chosen or key in st.session_state.get(
        _URL_PENDING, {}))
    return out


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


def _open(page: str, params: dict[str, str]) -> None:
    """Switch to `page` with `params` in its URL, each kept like a choice; this run's own URL changes are
    dropped (the switch is the one history entry)."""
    for key, value in params.items():
        st.session_state[_KEEP + key] = value
    st.session_state.pop(_URL_PENDING, None)
    st.session_state.pop(_URL_SHOWN, None)
    st.switch_page(page, query_params=params)


def open_branch(period: str, college: str, code: str, *, dim: str | None = None, item: str | None = None) -> None:
    """Go to 支部画像 showing one branch, optionally at one dimension (its filter preselected) and with one
    item's ledger rows open (the choice is kept like any other, and put in the URL)."""
    extra = {k: v for k, v in (("dim", dim), ("item", item)) if v is not None}
    _open("pages/branch.py", {"period": period, "college": college, "branch": code, **extra})


def open_college(period: str, college: str) -> None:
    """Go to 二级党组织画像 showing one college (kept like any other choice, and put in the URL)."""
    _open("pages/college.py", {"period": period, "college": college})


def shortfalls(period: str, item: str, college: str | None, key: str) -> None:
    """The branches that fell short of `item` (scoring.item_shortfalls), lowest first; picking a row opens
    that branch at the item's dimension with the item's ledger rows open."""
    from pages.text import md_text

    rows = scores("item_shortfalls", period, item, college)
    st.markdown(f"**未完全完成“{md_text(item_label(item, 30))}”的支部（{len(rows)} 个）**")
    if rows.empty:
        st.success("参与计算的支部均已全部完成该考核要点。", icon=":material/task_alt:")
        return
    table = pd.DataFrame({"完成率": scoring.shown_percent(rows["completion"]),  # the figure before the long names
                          "支部": rows["branch_name"], "二级党组织": rows["college"],
                          "类型": rows["branch_type"].map(type_name), "支部编码": rows["branch_code"]})
    st.caption("勾选某一行可打开该支部画像，并显示该考核要点的台账明细。")
    event = st.dataframe(table, hide_index=True, width="stretch", height=table_height(len(table), 360), key=key,
                         on_select="rerun", selection_mode="single-row",
                         column_config={"完成率": st.column_config.ProgressColumn(
                             "完成率", min_value=0, max_value=100, format="%.1f%%", width="small")})
    if event is not None and event.selection.rows:
        picked = rows.iloc[event.selection.rows[0]]
        open_branch(period, picked["college"], picked["branch_code"], dim=str(guide().dimension_of(item).id),
                    item=item)


def page_link(container: Any, page: str, label: str, icon: str, query_params: dict[str, str]) -> None:
    """st.page_link to another page of app.py's navigation. A page file run on its own (AppTest) has no
    navigation to link into: there a button switches to the page instead, with the same parameters."""
    from streamlit.errors import StreamlitPageNotFoundError

    try:
        container.page_link(page, label=label, icon=icon, query_params=query_params)
    except StreamlitPageNotFoundError:
        if container.button(label, icon=icon, key=f"link_{page}"):
            st.switch_page(page, query_params=query_params)


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
    # compute, and a reload, a copied link or a sidebar switch meanwhile lost the choice. flush_url then
    # finds it written (no second history entry unless it has more to mirror).
    if key in st.session_state.get(_URL_PENDING, {}) and st.query_params.get(key) != value:
        params = _url_now()
        for other in st.session_state.get(_URL_KEYS + _page_id(), ()):  # the page's other choices, as flush_url
            kept = st.session_state.get(_KEEP + other)                   # will mirror them
            if other != key and kept not in (None, []):
                params[other] = [str(v) for v in kept] if isinstance(kept, list) else [str(kept)]
        st.query_params.from_dict({**params, key: [value]})
        # noted as this session's own at once: a run cut short by the next click never reaches flush_url, and
        # the next run must not take this value for a link that overrides the newer choice
        st.session_state[_URL_SEEN] = (_page_id(), _url_now())
    return value


# ---- page frame -----------------------------------------------------------------------------------
def require_entrypoint() -> None:
    """Make sure the page runs inside app.py's st.navigation (banner, wide layout, viewer gate).

    Streamlit starts in its legacy `pages/` directory mode whenever a `pages/` folder exists, until some
    script calls st.navigation. If the first visitor opens a page URL directly (/branch?…), Streamlit would
    run the page file on its own. Switching the legacy mode off and rerunning makes app.py run first, and its
    st.navigation then opens the requested page with the same URL.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
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
    finally:
        flush_url()
        _page_rendered()


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


# ---- downloads ------------------------------------------------------------------------------------
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download(container: Any, label: str, build: Callable[[], bytes], *, file_name: str, mime: str, key: str,
             **kwargs: Any) -> None:
    """A download button whose file is built now (pipelines.report.export writes it), so a failure shows here as a
    Chinese message: a file built on click fails out of sight, leaving a button that does nothing."""
    try:
        data = build()
    except Exception as e:  # noqa: BLE001 - the page must show why there is nothing to download
        _cannot_build(container, file_name, e)
        return
    container.download_button(label, data=data, file_name=file_name, mime=mime, key=key, on_click="ignore",
                              **kwargs)


def _cannot_build(container: Any, file_name: str, e: Exception) -> None:
    """Why a file cannot be downloaded, in Chinese: a busy database, a refusal whose message says why
    (prefilled.TemplateError: an empty registry, an unknown college) or a failure."""
    if isinstance(e, dbmod.DatabaseBusy):
        container.warning(f"数据库正忙，“{file_name}”暂时无法生成，请稍后刷新页面重试。", icon=":material/hourglass_top:")
    elif isinstance(e, TemplateError):
        container.warning(f"“{file_name}”暂时无法生成：{e}", icon=":material/info:")
    else:
        log.exception("export failed: %s", file_name, exc_info=e)
        container.error(f"“{file_name}”生成失败（{type(e).__name__}），暂时无法下载。请刷新页面重试；"
                        "若问题持续，请联系组织部管理员。", icon=":material/error:")


def download_later(container: Any, label: str, build: Callable[[], bytes], *, file_name: str, mime: str,
                   key: str, check: Callable[[], Any] | None = None, **kwargs: Any) -> None:
    """A download button whose file is built only when clicked (st.download_button with a callable), for
    files too costly to build on every run (a college's zip of workbooks). `check()` runs now and holds what
    can go wrong (an empty registry, an unknown college): its failure shows here in Chinese, as download()'s
    does, and no button is shown. A failure while building on click is logged."""
    try:
        if check is not None:
            check()
    except Exception as e:  # noqa: BLE001 - the page must show why there is nothing to download
        _cannot_build(container, file_name, e)
        return

    def deferred() -> bytes:
        try:
            return build()
        except Exception:
            log.exception("deferred export failed: %s", file_name)
            raise

    container.download_button(label, data=deferred, file_name=file_name, mime=mime, key=key, on_click="ignore",
                              **kwargs)


@st.cache_data(show_spinner=False, max_entries=64)
def _table_file(df: pd.DataFrame, name: str, kind: str) -> bytes:
    return export.csv_bytes(df) if kind == "csv" else export.xlsx_bytes({name: df})


def download_buttons(df: pd.DataFrame, name: str, key: str, container: Any = None) -> None:
    """CSV (UTF-8 with BOM, opens in Excel) and Excel buttons for a table (files cached on the table)."""
    row = (container or st).container(horizontal=True, gap="small")
    download(row, "下载 CSV", lambda: _table_file(df, name, "csv"), file_name=f"{name}.csv", mime="text/csv",
             key=f"{key}_csv", icon=":material/download:")
    download(row, "下载 Excel", lambda: _table_file(df, name, "xlsx"), file_name=f"{name}.xlsx", mime=XLSX_MIME,
             key=f"{key}_xlsx", icon=":material/table_view:")


@st.cache_data(show_spinner=False, max_entries=16)
def _report_call(period: str, db: str, version: int, guide_version: str) -> bytes:
    return quarterly.quarter_report(period, db, data=bundle(period))


def report_bytes(period: str) -> bytes:
    """The quarterly report workbook of `period` (pipelines.report.quarterly), cached on (db, data version, guide)."""
    return _report_call(period, str(db_file()), data_version(), guide_key())


@st.cache_data(show_spinner="正在生成 PDF 简报（含图表）…", max_entries=8)
def _report_pdf_call(period: str, db: str, version: int, guide_version: str) -> bytes:
    from pipelines.report import pdf  # fpdf2 and kaleido load only when a PDF is asked for

    return pdf.quarter_pdf(period, db, data=bundle(period))


def report_pdf_bytes(period: str) -> bytes:
    """The quarterly briefing as PDF (pipelines.report.pdf), cached like report_bytes."""
    return _report_pdf_call(period, str(db_file()), data_version(), guide_key())


# ---- charts ----------------------------------------------------------------------------------------
MISSING = "—"  # what a table cell shows for a missing value (st.dataframe's placeholder; Streamlit's own is 'None')


def table_height(rows: int, cap: int = 460) -> int:
    """Pixel height of a st.dataframe showing `rows` rows without a blank row, capped."""
    return min(35 * (rows + 1) + 3, cap)


def one_decimal(df: pd.DataFrame, signed: Sequence[str] = ()) -> dict[str, Any]:
    """column_config showing every float column of `df` with one decimal (83.0, not 83 beside 80.6);
    the `signed` columns are differences and get a sign (+1.4 / -1.4)."""
    return {col: st.column_config.NumberColumn(col, format="%+.1f" if col in signed else "%.1f")
            for col in df.columns if pd.api.types.is_float_dtype(df[col])}


def show(fig: go.Figure, key: str | None = None, selectable: bool = False) -> list[int]:
    """Render a plotly figure with the dashboard template, full width; with `selectable`, a click on a point
    or bar reruns the page and the indices of the selected points are returned (else [])."""
    fig.update_layout(template="dangjian")
    if not selectable:
        st.plotly_chart(fig, width="stretch", theme=None, config=PLOTLY_CONFIG, key=key)
        return []
    event = st.plotly_chart(fig, width="stretch", theme=None, config=PLOTLY_CONFIG, key=key, on_select="rerun",
                            selection_mode="points")
    return list(event.selection.point_indices) if event is not None else []


def radar(series: Sequence[dict], height: int = 420, labelled: int | None = 0) -> go.Figure:
    """A 7-axis radar. Each series: {name, values (7), color, dash?, fill?, hover? (7 extra hover lines)}.

    The `labelled` series (index, None for none) has its values written under the axis names, so the
    chart reads without hovering and no number sits on top of a line.
    """
    axes = dim_names()
    if labelled is not None and 0 <= labelled < len(series):
        vals = series[labelled]["values"]
        color = series[labelled]["color"]
        axes = [f"{a}<br><span style='color:{color}'><b>{fmt_score(v)}</b></span>" for a, v in zip(axes, vals)]
    fig = go.Figure()
    for i, s in enumerate(series):
        values = [None if pd.isna(v) else round(float(v), 1) for v in s["values"]]
        main = i == labelled
        fig.add_trace(go.Scatterpolar(
            r=values + values[:1], theta=axes + axes[:1], name=plot_text(s["name"]), mode="lines+markers",
            line=dict(color=s["color"], width=3 if main else 2.2, dash=s.get("dash", "solid")),
            marker=dict(size=6 if main else 4),
            fill="toself" if s.get("fill") else None,
            fillcolor=_rgba(s["color"], 0.12) if s.get("fill") else None,
            customdata=(list(s["hover"]) + list(s["hover"])[:1]) if s.get("hover") else None,
            hovertemplate=plot_text(s["name"]) + "：%{r:.1f}" + ("<br>%{customdata}" if s.get("hover") else "")
            + "<extra></extra>",
        ))
    fig.update_layout(
        height=height + 50, showlegend=True, margin=dict(l=60, r=60, t=40, b=100),
        legend=dict(orientation="h", y=-0.17, yanchor="top", x=0.5, xanchor="center"),  # below the axis labels
        polar=dict(
            bgcolor="white",
            radialaxis=dict(range=[0, 110], tickvals=[20, 40, 60, 80, 100], angle=90, tickangle=90,
                            gridcolor=GRID, linecolor=LIGHT_GREY, tickfont=dict(size=10, color=LIGHT_GREY_LINE)),
            angularaxis=dict(rotation=90, direction="clockwise", gridcolor=GRID, linecolor=LIGHT_GREY,
                             tickfont=dict(size=14, color=INK)),
        ),
    )
    return fig


def unique_labels(names: pd.Series, codes: pd.Series) -> list[str]:
    """Branch names as chart labels; a name two branches share gets its code, so their rows stay apart."""
    names, codes = pd.Series(list(names)), pd.Series(list(codes))
    return list(names.where(~names.duplicated(keep=False), names + "（" + codes + "）"))


def hbar(labels: Sequence[str], values: Sequence[float], text: Sequence[str] | None = None,
         color: str | Sequence[str] = RED, hover: Sequence[str] | None = None, height: int | None = None,
         xmax: float | None = 100, xtitle: str = "", inside: bool = False,
         track: float | None = None, labels_above: bool = False) -> go.Figure:
    """Horizontal bars, first label on top, each bar labelled with its value (readable without hover).

    inside=True writes the label inside the bar end (for long labels on bars that are near full length).
    track: a light bar behind each one running to this value (100 for a completion), so a row can be clicked
    anywhere on it, even when its bar has no length (0 %); its point indices are the bars'.
    labels_above=True writes each row's label above its bar instead of beside it, so bars and their value
    labels get the chart's whole width (long item texts on a 390 px phone); the value label then goes inside
    the bar where it fits, else after it.
    """
    labels, values = list(labels), list(values)
    text = list(text) if text is not None else [fmt_score(v) for v in values]
    hover = list(hover) if hover is not None else labels
    fig = go.Figure()
    if track is not None:
        fig.add_trace(go.Bar(y=labels, x=[track] * len(labels), orientation="h", marker_color=GRID,
                             customdata=[f"{h}<br>{fmt_score(v)}" for h, v in zip(hover, values)],
                             hovertemplate="%{customdata}<extra></extra>", unselected=dict(marker_opacity=1)))
        fig.update_layout(barmode="overlay")
    fig.add_trace(go.Bar(
        y=labels, x=values, orientation="h", text=text, textposition="inside" if inside else "outside",
        insidetextanchor="end", insidetextfont=dict(color="white", size=13), cliponaxis=False,
        marker_color=color, customdata=hover, hovertemplate="%{customdata}<br>%{x:.1f}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", automargin=True)
    top = xmax or max(values or [1]) * 1.15
    fig.update_xaxes(range=[0, top * 1.02], title_text=xtitle,
                     tickvals=[0, 20, 40, 60, 80, 100] if top >= 100 else None)
    fig.update_layout(height=height or max(260, 34 * len(labels) + 60), showlegend=False, bargap=0.3,
                      margin=dict(l=10, r=40, t=20, b=30),
                      uniformtext=dict(minsize=12, mode="show"))  # labels inside short bars stay readable
    if labels_above:
        row = 52  # px per row: a 13 px label line above a 26 px bar (bargap 0.5)
        fig.data[-1].textposition = "auto"  # the value bar (the track, if any, is drawn first)
        fig.update_yaxes(showticklabels=False)
        fig.update_layout(height=height or row * len(labels) + 70, bargap=0.5, margin=dict(l=10, r=10, t=30, b=30))
        for label in labels:
            fig.add_annotation(x=0, xref="x", xanchor="left", y=label, yref="y", yanchor="bottom",
                               yshift=row * 0.25 + 1, text=label, showarrow=False, align="left",
                               font=dict(size=13, color=INK))
    return fig


def short_text(text: str, chars: int) -> str:
    """`text` cut to `chars` characters with an ellipsis when longer (an axis label; the whole in the hover)."""
    text = str(text)
    return text if len(text) <= chars else text[:chars - 1] + "…"


def heatmap(z: pd.DataFrame, height: int | None = None, zmin: float = 0, zmax: float = 100,
            hover_name: str = "支部", label_chars: int = 14) -> go.Figure:
    """Rows × columns heat map with the value written in every cell.

    Row labels are cut to `label_chars` characters (whole in the hover) and the colour bar lies under the
    map, so on a 390 px phone the labels stay inside the chart and the cells keep room for their values.
    Rows sit at positions 0..n-1, so two labels that read alike after the cut stay two rows."""
    text = z.map(lambda v: "" if pd.isna(v) else fmt_score(v)).values  # as in every table: one decimal, half up
    rows = [str(r) for r in z.index]
    fig = go.Figure(go.Heatmap(
        z=z.values, x=list(z.columns), y=list(range(len(rows))), text=text, texttemplate="%{text}",
        textfont=dict(size=12), colorscale=SCORE_SCALE, zmin=zmin, zmax=zmax, xgap=2, ygap=2,
        colorbar=dict(title=dict(text="得分", side="right"), thickness=10, orientation="h", y=0, yanchor="top",
                      ypad=6, len=1, lenmode="fraction"),
        customdata=[[r] * len(z.columns) for r in rows],
        hovertemplate=hover_name + "：%{customdata}<br>%{x}：%{z:.1f}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", automargin=True, showgrid=False, tickmode="array",
                     tickvals=list(range(len(rows))), ticktext=[short_text(r, label_chars) for r in rows])
    fig.update_xaxes(side="top", showgrid=False)
    fig.update_layout(height=height or max(300, 26 * len(z.index) + 120), margin=dict(l=10, r=10, t=40, b=50))
    return fig


def period_short(period: str) -> str:
    """'2026Q3' -> '2026年Q3' (Period.short_label, for chart axes); anything else as it is."""
    try:
        return Period.parse(period).short_label
    except ValueError:
        return str(period)


def _value_range(values: pd.Series, min_span: float = 10.0) -> list[float] | None:
    """A y range spanning at least `min_span` points (87.0–87.8 must not look like a collapse), with room
    above the points for their labels; never below 0 for scores."""
    vals = pd.to_numeric(values, errors="coerce").dropna()
    if vals.empty:
        return None
    lo, hi = float(vals.min()), float(vals.max())
    span = max(hi - lo, min_span)
    mid = (lo + hi) / 2
    bottom, top = mid - span / 2 - span * 0.08, mid + span / 2 + span * 0.15
    return [max(bottom, 0.0) if lo >= 0 else bottom, top]


LABEL_PX = (5, 21)  # a point label's band above (or below) its marker, in px from the point: 11 px text


def label_slots(columns: dict[str, Sequence[float]], y_range: Sequence[float] | None,
                plot_px: float) -> dict[str, list[str | None]]:
    """Where each line's point labels go so that none overlaps another at the same quarter: above the point
    ('top center') if free, else below ('bottom center'), else no label (None) — the value is still in the
    hover. `columns` maps a line to its values (NaN for a gap); the highest point of a quarter is placed first, of equal ones the first line."""
    out = {name: [None] * len(vals) for name, vals in columns.items()}
    if not columns or y_range is None:
        return out
    per_unit = plot_px / max(y_range[1] - y_range[0], 1e-9)
    lo, hi = LABEL_PX
    for i in range(len(next(iter(columns.values())))):
        points = sorted(((float(v) * per_unit, name) for name, vals in columns.items()
                         if not pd.isna(v := vals[i])), key=lambda p: -p[0])  # ties: the first line first
        taken: list[tuple[float, float]] = []
        for py, name in points:
            for slot, band in (("top center", (py + lo, py + hi)), ("bottom center", (py - hi, py - lo))):
                if all(band[1] <= a or band[0] >= b for a, b in taken):
                    out[name][i] = slot
                    taken.append(band)
                    break
    return out


def lines(df: pd.DataFrame, x: str, y: str, group: str, colors: dict[str, str] | None = None,
          height: int = 380, ytitle: str = "得分", label_last: bool = True, dashes: dict[str, str] | None = None,
          order: Sequence[str] | None = None) -> go.Figure:
    """One line per group over periods, points labelled when few lines (readable without hover); the group
    values (branch or college names) are data and are shown as text.

    `order` fixes the legend order; with more than four lines the legend moves below the plot.
    """
    fig = go.Figure()
    xs = sorted(df[x].unique(), key=Period.parse)
    groups = list(order) if order else list(dict.fromkeys(df[group]))
    series = {name: df[df[group] == name].set_index(x).reindex(xs)[y] for name in groups
              if (df[group] == name).any()}
    y_range = _value_range(df[y])
    legend_px = 24 * ((len(groups) + 2) // 3) if len(groups) > 4 else 0  # many lines: legend below
    height += legend_px
    # the plot area, a little under: the figure less the legend (and its gap), the top margin, the quarters
    plot_px = height - 90 - (legend_px + 40 if legend_px else 0)
    slots = label_slots({n: list(scoring.shown(v)) for n, v in series.items()}, y_range, plot_px)
    for name, values in series.items():
        color = (colors or {}).get(name)
        fig.add_trace(go.Scatter(
            x=[period_short(p) for p in xs], y=scoring.shown(values), name=plot_text(name),
            mode="lines+markers+text" if label_last else "lines+markers",
            text=[fmt_score(v) if slot else "" for v, slot in zip(values, slots[name])] if label_last else None,
            textposition=[slot or "top center" for slot in slots[name]],
            textfont=dict(size=11, color=color or INK),
            line=dict(width=2.5, color=color, dash=(dashes or {}).get(name, "solid")), marker=dict(size=7),
            connectgaps=False, hovertemplate="%{x}<br>" + plot_text(name) + "：%{y:.1f}<extra></extra>",
        ))
    fig.update_yaxes(title_text=ytitle, range=y_range)
    fig.update_xaxes(type="category")
    if len(groups) > 4:
        fig.update_layout(legend=dict(orientation="h", x=0, xanchor="left", y=-0.2, yanchor="top"))
    fig.update_layout(height=height, hovermode="x unified")
    return fig


def type_mean_lines(h: pd.DataFrame, metric: str, *, suffix: str, school_first: bool, ytitle: str,
                    height: int) -> go.Figure:
    """The school mean (dashed) and each branch type's mean of `metric` over the quarters (trends, compare).

    Lines are named by the type's name plus `suffix`; the school line leads the legend when `school_first`.
    """
    by_type = h.groupby(["period", "branch_type"], as_index=False)[metric].mean()
    by_type["group"] = by_type["branch_type"].map(lambda t: f"{type_name(t)}{suffix}")
    school = h.groupby("period", as_index=False)[metric].mean().assign(group="全校平均")
    types = [f"{type_name(t)}{suffix}" for t in type_ids()]
    colors = {f"{type_name(t)}{suffix}": TYPE_COLORS[t] for t in type_ids()} | {"全校平均": SCHOOL_COLOR}
    order = ["全校平均", *types] if school_first else [*types, "全校平均"]
    return lines(pd.concat([school, by_type]), "period", metric, "group", colors=colors,
                 dashes={"全校平均": "dash"}, ytitle=ytitle, height=height, order=order)


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"
