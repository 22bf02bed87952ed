"""Tables of the dashboard pages: how a figure is written in a cell, table sizes, the drill-down table of the
branches short of an item, and the download buttons (every file written by pipelines.report.export)."""
from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # pages run directly (AppTest) have only pages/ on the path
    sys.path.insert(0, str(ROOT))

from pages.common import guide, item_label, scores, type_name  # noqa: E402
from pages.state import open_branch  # noqa: E402
from pipelines.store import db as dbmod  # noqa: E402
from pipelines import scoring  # noqa: E402
from pipelines.report import export
from pipelines.workbook.prefilled import TemplateError  # noqa: E402

log = logging.getLogger("dangjian.pages")

# ---- cells and tables ------------------------------------------------------------------------------
DIM_COLUMN_PX = 80  # px: a dimension's column in a table ('教育党员' and '100.0' fit; a fixed width a click can find)
MISSING = "—"  # what a table cell shows for a missing value (st.dataframe's placeholder; Streamlit's own is 'None')


def table_height(rows: int, cap: int = 460) -> int:
    """Pixel height of a st.dataframe showing `rows` rows without a blank row, capped."""
    return min(35 * (rows + 1) + 3, cap)


def one_decimal(df: pd.DataFrame, signed: Sequence[str] = ()) -> dict[str, Any]:
    """column_config showing every float column of `df` with one decimal (83.0, not 83 beside 80.6);
    the `signed` columns are differences and get a sign (+1.4 / -1.4)."""
    return {col: st.column_config.NumberColumn(col, format="%+.1f" if col in signed else "%.1f")
            for col in df.columns if pd.api.types.is_float_dtype(df[col])}


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


# ---- drill-down tables -----------------------------------------------------------------------------
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


def _table_file(df: pd.DataFrame, name: str, kind: str) -> bytes:
    """A table as CSV (UTF-8 with BOM) or as a one-sheet Excel workbook (pipelines.report.export)."""
    return export.csv_bytes(df) if kind == "csv" else export.xlsx_bytes({name: df})


def download_buttons(df: pd.DataFrame, name: str, key: str, container: Any = None) -> None:
    """CSV (UTF-8 with BOM, opens in Excel) and Excel buttons for a table shown on the page.

    The files are written when a button is clicked (download_later), not on every run: building both files
    and keying them on the table (st.cache_data hashing the frame, then Streamlit's hash of the bytes) cost
    about a tenth of the server's CPU per page view with 30 viewers (py-spy, docs/design.md § Scale). The
    table is already in memory and the writers take any frame (tests/test_hostile_exports.py), so nothing
    can go wrong now that a message here could explain; a failure on click is logged."""
    row = (container or st).container(horizontal=True, gap="small")
    download_later(row, "下载 CSV", lambda: _table_file(df, name, "csv"), file_name=f"{name}.csv", mime="text/csv",
                   key=f"{key}_csv", icon=":material/download:")
    download_later(row, "下载 Excel", lambda: _table_file(df, name, "xlsx"), file_name=f"{name}.xlsx",
                   mime=XLSX_MIME, key=f"{key}_xlsx", icon=":material/table_view:")
