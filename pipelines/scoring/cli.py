"""`python -m pipelines scores`: branch scores or one branch's items as a table, CSV or JSON."""
from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from pipelines.guide import guide
from pipelines.guide.period import Period
from pipelines.scoring.branch import branch_scores, item_scores, measure_scores
from pipelines.scoring.columns import DIMENSION_COLUMNS
from pipelines.scoring.rounding import SHOWN_DECIMALS, shown
from pipelines.scoring.session import periods

TABLE_HEADERS = {
    "branch_code": "支部编码", "branch_name": "支部名称", "branch_type_name": "类型", "college": "二级党组织",
    "overall": "总分", "grade": "等次", "rank": "全校排名", "rank_in_type": "类型内排名",
    "item_id": "指标", "completion": "完成率", "flagged": "需核实", "measures": "测评要求（实际/要求）",
}


def _fmt(value, digits: int = 2) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, bool):
        return "是" if value else ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _num(value) -> str:
    return "" if value is None or pd.isna(value) else f"{round(float(value), 2):g}"


def _branch_table(period: str, db) -> pd.DataFrame:
    g = guide()
    df = branch_scores(period, db)
    df["branch_type_name"] = df["branch_type"].map(lambda t: g.branch_type_name(t) if isinstance(t, str) else t)
    cols = ["branch_code", "branch_name", "branch_type", "branch_type_name", "college", *DIMENSION_COLUMNS,
            "overall", "grade", "rank", "rank_in_type", "guide_version"]
    return df[cols]


def _items_table(period: str, branch: str, db) -> tuple[pd.DataFrame, pd.DataFrame]:
    items = item_scores(period, db, branch_code=branch)
    ms = measure_scores(period, db, branch_code=branch)
    rows = []
    for it in items.itertuples():
        parts = []
        for m in ms[ms["item_id"] == it.item_id].itertuples():
            state = "未到期" if m.status == "pending" else f"{m.completion:.0%}"
            parts.append(f"{m.measure_name} {_num(m.actual)}/{_num(m.required)} {state}")
        rows.append({"item_id": it.item_id,
                     "completion": "未到期" if it.pending else float(it.completion),
                     "flagged": bool(it.flagged), "measures": "；".join(parts)})
    return pd.DataFrame(rows, columns=["item_id", "completion", "flagged", "measures"]), ms


def _write(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        pass


def _items_json(period: str, branch: str, df: pd.DataFrame, ms: pd.DataFrame, guide_version: str) -> str:
    """One branch's items as JSON, each with its measures' actual vs required."""
    out = []
    for row in df.to_dict("records"):
        sub = ms[ms["item_id"] == row["item_id"]]
        row["measures"] = json.loads(sub[["measure_id", "measure_name", "kind", "actual", "required",
                                          "completion", "status"]].to_json(orient="records", force_ascii=False))
        out.append(row)
    return json.dumps({"period": period, "branch_code": branch, "guide_version": guide_version,
                       "items": out}, ensure_ascii=False, indent=1) + "\n"


def _text_table(df: pd.DataFrame) -> str:
    """The table as printed: Chinese headers, scores as shown (graded and ranked at that precision)."""
    table = df.drop(columns=[c for c in ("branch_type", "guide_version") if c in df.columns])
    score_cols = {*DIMENSION_COLUMNS, "overall"}
    table = table.apply(lambda col: col.map(lambda v: _fmt(shown(v), SHOWN_DECIMALS) if col.name in score_cols
                                            else _fmt(v)))
    return table.rename(columns=TABLE_HEADERS).to_string(index=False)


def cli_scores(args: argparse.Namespace) -> int:
    """`python -m pipelines scores --db DB --period 2026Q3 [--branch CODE --items] [--format table|csv|json]`.

    Per branch: code, name, type, college, d1..d7, overall, grade, rank, rank within type (and the guide
    version). With --branch/--items: that branch's items, completion or 未到期, each measure's actual vs
    required. Returns 1 with a Chinese message for an unknown period or branch.
    """
    db = args.db or None
    fmt = getattr(args, "format", "table") or "table"
    try:
        period = str(Period.parse(args.period))
    except ValueError as e:
        print(e, file=sys.stderr)
        return 1
    known = periods(db)
    if period not in known:
        have = "、".join(known) if known else "无"
        print(f"没有 {period} 的报送数据。已有季度：{have}", file=sys.stderr)
        return 1
    g = guide()
    if args.branch or args.items:
        if not args.branch:
            print("使用 --items 时须同时指定 --branch 支部编码", file=sys.stderr)
            return 1
        df, ms = _items_table(period, args.branch, db)
        if df.empty:
            print(f"{period} 没有支部 {args.branch} 的报送数据", file=sys.stderr)
            return 1
        if fmt == "json":
            _write(_items_json(period, args.branch, df, ms, g.version))
            return 0
        title = f"{period} 支部 {args.branch} 各指标完成情况（指标指南版本 {g.version}）"
    else:
        df = _branch_table(period, db)
        if fmt == "json":
            _write(df.to_json(orient="records", force_ascii=False, indent=1) + "\n")
            return 0
        title = f"{period} 各支部得分（指标指南版本 {g.version}）"
    if fmt == "csv":
        from pipelines.report import export  # inert cells: branch names are typed by branches

        _write(export.csv_text(df))
        return 0
    legend = "" if args.items else "；".join(f"d{d.id}={d.short}" for d in g.dimensions) + "\n"
    _write(f"{title}\n{_text_table(df)}\n{legend}")
    return 0
