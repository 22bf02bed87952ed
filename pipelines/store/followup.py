"""督办 (follow-up): tasks an admin opens from an alert or a weak item, for a branch or a whole college, with a
note and a due date; checked against every later quarter's data until an admin closes them with a comment.

Writes (open, close) are data the admin creates: each is one journaled write through pipelines.store.ingest's
`_write` / `_entry`, so `rebuild` replays them (`replay`, called from ingest's `_replay`). Every write refuses
an empty actor and, for a college admin (`Actor.scope`), a task outside its college (`actor.authorize`).

Status of a task opened in quarter P, checked in a later quarter Q (`followups(period=Q)`):
- on an alert rule: 已整改 when the rule no longer fires for the branch (for a college: for none of its
  branches) and it submitted in Q; 未整改 when it still fires; 待核实 when Q has no submission from it;
- on an item: 已整改 when the item's completion in Q (a college: its branches' mean) reaches the guide's
  `followups.item_resolved`; 未整改 below it; 待核实 when not submitted or the item is not yet due.
A task checked in its own quarter (or with no later data) is 待核实 too. Exports: `followup_workbook`.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from pipelines.scoring import alerts as al
from pipelines.store import db as dbm
from pipelines import scoring
from pipelines.report import export
from pipelines.store import journal, writes
from pipelines.store.actor import Actor, authorize, colleges_of
from pipelines.report import layout
from pipelines.guide import guide
from pipelines.guide.period import Period
from pipelines.guide.vocab import AuditAction

ACTIONS = ("followup_open", "followup_close")
RESOLVED, UNRESOLVED, UNCHECKED = "已整改", "未整改", "待核实"
OPEN, CLOSED = "督办中", "已办结"
LIST_TITLE = "督办清单"
# column widths (character units) of the printed list: 120 in all, so landscape A4 prints it at ≥ 9 pt
LIST_WIDTHS = {"序号": 5, "二级党组织": 10, "督办对象": 14, "开立季度": 8, "督办事项": 14, "督办要求": 16,
               "整改期限": 11, "整改情况": 7, "说明": 17, "办理状态": 7, "办结说明": 11}
COLUMNS = ["id", "branch_code", "branch_name", "college", "period", "subject", "rule_id", "item_id", "note",
           "due_date", "opened_by", "opened_at", "closed_by", "closed_at", "close_comment", "checked_period",
           "status", "status_detail", "state"]


# ---- writes --------------------------------------------------------------------------------------------
def _due(due_date) -> dt.date | None:
    if due_date is None or due_date == "":
        return None
    if isinstance(due_date, dt.datetime):
        return due_date.date()
    if isinstance(due_date, dt.date):
        return due_date
    try:
        return dt.date.fromisoformat(str(due_date).strip())
    except ValueError:
        raise ValueError(f"整改期限格式不正确：{due_date}（应为如 2026-07-15）") from None


def _subject_ok(rule_id: str | None, item_id: str | None) -> None:
    if bool(rule_id) == bool(item_id):
        raise ValueError("督办事项须且只须指定一项：一条预警规则，或一个考核要点。")
    try:
        guide().alert_rule(rule_id) if rule_id else guide().item(item_id)
    except KeyError:
        raise ValueError(f"未知的{'预警规则' if rule_id else '考核要点'}：{rule_id or item_id}") from None


def _college_of(con, branch_code: str) -> str:
    college = colleges_of(con, [branch_code]).get(branch_code)
    if college is None:
        raise ValueError(f"找不到支部 {branch_code}：请先导入支部名册或该支部的报送表。")
    return college


def open_followup(period: str, *, branch_code: str | None = None, college: str | None = None,
                  rule_id: str | None = None, item_id: str | None = None, note: str,
                  due_date: dt.date | str | None = None, db=None, actor: Actor | str) -> int:
    """Open a follow-up task in quarter `period` for one branch or (branch_code None) one college, on an
    alert rule or an item, with the admin's note and due date; returns its id. ValueError (Chinese) for an
    empty actor or note, a task naming both or neither branch and college, rule and item, or an unknown one;
    PermissionError for an empty actor or a task outside a college admin's scope."""
    who = authorize(actor)
    actor = who.name
    period = str(Period.parse(period))
    note, due = str(note or "").strip(), _due(due_date)
    if not note:
        raise ValueError("请填写督办要求（说明需要整改什么）。")
    if bool(branch_code) == bool(college):
        raise ValueError("督办对象须且只须指定一项：一个支部，或一个二级党组织。")
    _subject_ok(rule_id, item_id)
    at = journal.now()

    def body(con):
        where = _college_of(con, branch_code) if branch_code else college
        authorize(who, [branch_code] if branch_code else [], colleges=[where], con=con)
        task_id = con.execute("SELECT coalesce(max(id), 0) + 1 FROM followups").fetchone()[0]
        task = {"id": task_id, "branch_code": branch_code or None, "college": where, "period": period,
                "rule_id": rule_id or None, "item_id": item_id or None, "note": note, "due_date": due,
                "opened_by": actor, "opened_at": at}
        writes.save_followup(con, task)
        detail = f"督办 {task_id}：{branch_code or where} {period} {rule_id or item_id}"
        writes.audit(con, actor, AuditAction.FOLLOWUP_OPEN, detail, at=at)
        saved = {**task, "due_date": due.isoformat() if due else None, "opened_at": at.isoformat()}
        return task_id, journal.entry("followup_open", actor=actor, at=at, detail=detail, branch=branch_code,
                                      period=period, followup=saved)

    return journal.write(dbm.db_path(db), body)


def close_followup(task_id: int, comment: str, db=None, *, actor: Actor | str) -> None:
    """Close a follow-up task with the admin's comment. ValueError (Chinese) for an empty comment or an
    unknown or already closed task; PermissionError for an empty actor or a task outside the actor's scope."""
    who = authorize(actor)
    actor = who.name
    comment = str(comment or "").strip()
    if not comment:
        raise ValueError("请填写办结说明。")
    at = journal.now()

    def body(con):
        row = con.execute("SELECT college, closed_at FROM followups WHERE id = ?", [int(task_id)]).fetchone()
        if row is None:
            raise ValueError(f"找不到编号为 {task_id} 的督办任务。")
        authorize(who, colleges=[row[0]])
        if row[1] is not None:
            raise ValueError(f"督办任务 {task_id} 已办结，无需再次办结。")
        writes.close_followup(con, int(task_id), actor=actor, at=at, comment=comment)
        detail = f"督办 {task_id} 办结：{comment}"
        writes.audit(con, actor, AuditAction.FOLLOWUP_CLOSE, detail, at=at)
        return None, journal.entry("followup_close", actor=actor, at=at, detail=detail,
                                   followup={"id": int(task_id), "comment": comment})

    journal.write(dbm.db_path(db), body)


def replay(con, entry: dict) -> None:
    """Apply one journaled follow-up write of the manifest (ingest's `rebuild`)."""
    task = dict(entry["followup"])
    if entry["action"] == "followup_open":
        task["due_date"] = task["due_date"] and dt.date.fromisoformat(task["due_date"])
        task["opened_at"] = dt.datetime.fromisoformat(task["opened_at"])
        writes.save_followup(con, task)
    else:
        writes.close_followup(con, task["id"], actor=entry.get("actor") or "cli",
                             at=dt.datetime.fromisoformat(entry["at"]), comment=task["comment"])


# ---- reads ---------------------------------------------------------------------------------------------
_TASKS = """
SELECT f.*, coalesce(r.branch_name, (SELECT i.branch_name FROM raw_info i WHERE i.branch_code = f.branch_code
                                     ORDER BY i.submission_id DESC LIMIT 1)) AS branch_name
FROM followups f LEFT JOIN registry r ON r.branch_code = f.branch_code
WHERE $college IS NULL OR f.college = $college
ORDER BY f.college, f.id
"""


def tasks(db=None, *, college: str | None = None) -> pd.DataFrame:
    """The stored tasks (optionally of one college), without status; empty before the table exists."""
    with dbm.connect(db) as con:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'followups'").fetchone()[0]:
            return pd.DataFrame(columns=[c for c in COLUMNS if c not in
                                         ("subject", "checked_period", "status", "status_detail", "state")])
        return con.execute(_TASKS, {"college": college}).df()


def subject(rule_id, item_id) -> str:
    """What a task is about, in Chinese: the alert rule's name or the item's label."""
    if isinstance(rule_id, str) and rule_id:
        try:
            return f"预警：{guide().alert_rule(rule_id).name}"
        except KeyError:
            return f"预警：{rule_id}"
    return f"考核要点：{guide().item_label(item_id, width=40)}"


class _Quarter:
    """The facts of the checked quarter, fetched once: who submitted, which alerts fired, item completions."""

    def __init__(self, period: str, db):
        self.period, self.label = period, Period.parse(period).label
        scores = scoring.branch_scores(period, db)
        self.submitted = dict(zip(scores["branch_code"], scores["college"]))
        self.alerts = al.alerts(period, db)
        self.items = scoring.item_scores(period, db)

    def _codes(self, branch_code, college) -> list[str]:
        if isinstance(branch_code, str) and branch_code:
            return [branch_code] if branch_code in self.submitted else []
        return [c for c, col in self.submitted.items() if col == college]

    def rule_status(self, branch_code, college, rule_id) -> tuple[str, str]:
        codes = self._codes(branch_code, college)
        if not codes:
            return UNCHECKED, f"{self.label}未报送，待报送后核实"
        a = self.alerts
        hits = a[(a["rule_id"] == rule_id) & a["branch_code"].isin(codes)]
        if hits.empty:
            return RESOLVED, f"{self.label}该预警未再出现"
        if len(codes) == 1:
            return UNRESOLVED, f"{self.label}仍有预警：{hits.iloc[0]['evidence']}"
        return UNRESOLVED, f"{self.label}仍有 {len(hits)} 个支部出现该预警"

    def item_status(self, branch_code, college, item_id) -> tuple[str, str]:
        codes = self._codes(branch_code, college)
        if not codes:
            return UNCHECKED, f"{self.label}未报送，待报送后核实"
        i = self.items
        done = i.loc[(i["item_id"] == item_id) & i["branch_code"].isin(codes), "completion"].dropna()
        if done.empty:
            return UNCHECKED, f"{self.label}该考核要点未到期，待到期后核实"
        share = float(done.mean())
        text = f"{self.label}完成率 {scoring.shown(share * 100):.{scoring.SHOWN_DECIMALS}f}%"
        ok = share >= guide().followups.item_resolved - 1e-9
        return (RESOLVED if ok else UNRESOLVED), text


def followups(db=None, *, period: str | None = None, college: str | None = None,
              scope: str | None = None) -> pd.DataFrame:
    """Every task (of `college`, or of the account's `scope`) with its 整改 status checked in `period`
    (default: the latest quarter with data). Columns: COLUMNS; status 已整改 | 未整改 | 待核实 with
    status_detail (Chinese), state 督办中 | 已办结, subject (Chinese). Open tasks first, then by college."""
    if scope is not None:
        if college is not None and college != scope:
            return pd.DataFrame(columns=COLUMNS)
        college = scope
    df = tasks(db, college=college)
    period = str(Period.parse(period)) if period else scoring.latest_period(db)
    df["subject"] = [subject(r, i) for r, i in zip(df["rule_id"], df["item_id"])]
    df["checked_period"] = period
    quarter = _Quarter(period, db) if period and (df["period"] < period).any() else None
    checks = []
    for r in df.itertuples(index=False):
        if quarter is None or r.period >= period:
            checks.append((UNCHECKED, "尚无后续季度数据，待下一季度报送后核实"))
        elif isinstance(r.rule_id, str) and r.rule_id:
            checks.append(quarter.rule_status(r.branch_code, r.college, r.rule_id))
        else:
            checks.append(quarter.item_status(r.branch_code, r.college, r.item_id))
    df["status"] = [s for s, _ in checks]
    df["status_detail"] = [d for _, d in checks]
    df["state"] = [OPEN if pd.isna(c) else CLOSED for c in df["closed_at"]]
    df = df.sort_values(["state", "college", "id"], key=lambda s: s.map({OPEN: 0, CLOSED: 1}) if s.name == "state"
                        else s, kind="stable")
    return df[COLUMNS].reset_index(drop=True)


# ---- the 督办清单 workbook ------------------------------------------------------------------------------
def list_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The printed list: one row per task, Chinese headers."""
    def target(r):
        return f"{r.branch_name or r.branch_code}（{r.branch_code}）" if isinstance(r.branch_code, str) else "全院"

    return pd.DataFrame({
        "序号": range(1, len(df) + 1),
        "二级党组织": df["college"].tolist(),
        "督办对象": [target(r) for r in df.itertuples(index=False)],
        "开立季度": [Period.parse(p).short_label for p in df["period"]],
        "督办事项": df["subject"].tolist(),
        "督办要求": df["note"].tolist(),
        "整改期限": [d.date() if hasattr(d, "date") else d for d in df["due_date"]],
        "整改情况": df["status"].tolist(),
        "说明": df["status_detail"].tolist(),
        "办理状态": df["state"].tolist(),
        "办结说明": df["close_comment"].tolist(),
    })


def file_name(period: str | None, college: str | None = None) -> str:
    return f"{LIST_TITLE}_{college or '全校'}_{period or '无数据'}.xlsx"


def followup_workbook(db=None, *, period: str | None = None, college: str | None = None,
                      scope: str | None = None, sent_back: bool = False) -> bytes:
    """The 督办清单 of one college (or the whole school) as .xlsx bytes through pipelines.report.export: titled,
    A4 with the list's title and quarter in the header and 第 X 页 / 共 Y 页 in the footer. With `sent_back`, a
    second sheet lists the quarter's answers sent back in review (退回补充, scoring.sent_back) with the
    reviewers' comments, so one list carries everything a college has to chase."""
    df = followups(db, period=period, college=college, scope=scope)
    period = df["checked_period"].iloc[0] if len(df) else (period or scoring.latest_period(db))
    wb = Workbook()
    ws = wb.active
    ws.title = LIST_TITLE
    name = f"{LIST_TITLE} · {college or scope or '全校'}"
    period = period or str(Period.of(dt.date.today()))
    layout.sheet_title(ws, name, period)
    _list_sheet(ws, list_frame(df), LIST_WIDTHS, "暂无督办任务。", period, header=name)
    if sent_back:
        _sent_back_sheet(wb, db, period, college, scope, name)
    return export.workbook_bytes(wb)


SENT_BACK_TITLE = "退回补充事项"
SENT_BACK_WIDTHS = {"序号": 5, "二级党组织": 12, "支部": 18, "考核要点": 26, "自评": 7, "原佐证材料": 16,
                    "审核意见": 24, "审核人": 9, "整改情况": 14}
SENT_BACK_STATE = "待补充（重新报送后重新审核）"


def sent_back_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """scoring.sent_back rows as the 督办清单 prints them, Chinese headers."""
    return pd.DataFrame({
        "序号": range(1, len(rows) + 1),
        "二级党组织": rows["college"].tolist(),
        "支部": [f"{n}（{c}）" for n, c in zip(rows["branch_name"], rows["branch_code"])],
        "考核要点": [guide().item_label(i, width=40) for i in rows["item_id"]],
        "自评": [s if isinstance(s, str) else "未填写" for s in rows["status_name"]],
        "原佐证材料": [e or "（未填写）" for e in rows["evidence"]],
        "审核意见": rows["comment"].tolist(),
        "审核人": rows["reviewer"].tolist(),
        "整改情况": [SENT_BACK_STATE] * len(rows),
    }, columns=list(SENT_BACK_WIDTHS))


def _sent_back_sheet(wb, db, period: str, college: str | None, scope: str | None, name: str) -> None:
    """The 退回补充事项 sheet of the 督办清单 (scoring.sent_back of the quarter, the college or the scope)."""
    ws = wb.create_sheet(SENT_BACK_TITLE)
    layout.sheet_title(ws, f"{name} · {SENT_BACK_TITLE}", period)
    _list_sheet(ws, sent_back_frame(scoring.sent_back(period, db, college=college, scope=scope)), SENT_BACK_WIDTHS,
                "本季度没有退回补充的自评事项。", period, header=f"{name} · {SENT_BACK_TITLE}")


def _list_sheet(ws, table: pd.DataFrame, widths: dict[str, float], empty: str, period: str, *, header: str) -> None:
    """A 督办清单 sheet below its title row: `table` with the report's table writer at the given column widths
    (narrower than _table fits them; rows grow to match), or `empty` when there is nothing to list; A4 set up
    with `header` and the quarter in the page header."""
    from pipelines.report.quarterly import _table  # the report's one table writer: header fill, borders, wrapping

    if table.empty:
        ws["A2"] = empty
    else:
        _table(ws, table, top=2)
        for j, col in enumerate(table.columns, 1):
            ws.column_dimensions[get_column_letter(j)].width = widths[col]
        for row in range(2, ws.max_row + 1):
            layout.fit_row(ws, row)
        ws.freeze_panes = "A3"
    layout.page_setup(ws, period, title_rows="2:2" if len(table) else None, orientation=layout.orientation(ws),
                      header=f"{header} · {Period.parse(period).label}")
