"""审核: the review queue of one quarter, riskiest first (pipelines.scoring.review_board: unsupported 完成, then 需核实,
then the largest gain over last quarter's answer), with filters (in a collapsed expander whose label names what is
in force); the answer and its evidence text with the decision buttons, then the ledger rows that support it and last
quarter's answer side by side (on a phone the answer and its buttons are on the first screen); one decision per
click, after which the next answer shows (the answer, progress and queue are an st.fragment); 一键认定 of a branch's supported answers after a confirm; progress per college; the sent-back items with
each branch's 整改通知 and each college's 督办清单. Admins only; a college admin sees and decides its own
college's branches (the scope is passed to every read and enforced in pipelines.store.review's writes).
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from pages import access  # noqa: E402
from pages import common as c  # noqa: E402
from pages import state, tables  # noqa: E402
from pages.evidence_view import evidence_section  # noqa: E402
from pages.fragments import part  # noqa: E402
from pages.text import md_text  # noqa: E402
from pipelines.guide.vocab import ReviewState  # noqa: E402
from pipelines import scoring  # noqa: E402
from pipelines.report import review_notice  # noqa: E402
from pipelines.store import followup, review  # noqa: E402
from pipelines.store import db as dbmod  # noqa: E402
from pipelines.store.actor import Actor  # noqa: E402

log = logging.getLogger("dangjian.review")

PICK_KEY = "rv_pick"  # (branch_code, item_id) of the answer shown, when not the head of the queue
ROUND_KEY = "rv_round"  # bumped by every decision: a fresh comment box and list selection for the next answer
CONFIRM_KEY = "rv_confirm"  # the branch whose 一键认定 waits for its confirm
MESSAGE_KEY = "rv_message"  # (kind, text) of the last write, shown once on the next run
NOTICE_KEY = "rv_notice_branch"  # the branch whose 整改通知 the download builds
SHOWN_BRANCH_KEY = "rv_shown_branch"  # the branch of the answer shown (the 整改通知's first choice)
FULL_RERUN_KEY = "rv_full_rerun"  # set by a 退回补充: the next run of the review area reruns the whole page
ALL = "全部"
LIST_ROWS = 200  # queue rows listed below the answer (the queue itself is never cut)
CAPTION = "逐项审核各支部的自评，风险高的在前。"
COMMENT_LABEL = "审核意见（认定低于自评或退回补充时必填）"


def _key(row) -> tuple[str, str]:
    return str(row["branch_code"]), str(row["item_id"])


def _say(kind: str, text: str) -> None:
    st.session_state[MESSAGE_KEY] = (kind, text)


def _write(action, done: str, next_key: tuple[str, str] | None) -> None:
    """Run a review write from a button's callback: on success remember the next answer and a fresh round."""
    try:
        action()
    except dbmod.DatabaseBusy:
        _say("error", c.BUSY_MESSAGE)
        return
    except (ValueError, PermissionError) as e:  # a missing comment, a changed answer, outside the scope
        _say("error", str(e))
        return
    except Exception as e:  # noqa: BLE001 - the page must never show a raw traceback
        log.exception("review write failed")
        _say("error", f"保存审核结论失败（{type(e).__name__}）。请稍后重试；若问题持续，请联系系统维护人员。")
        return
    st.session_state[PICK_KEY] = next_key
    st.session_state[ROUND_KEY] = st.session_state.get(ROUND_KEY, 0) + 1
    st.session_state.pop(CONFIRM_KEY, None)
    _say("success", done)


def _decide(period: str, row: dict, decision: str, comment_key: str, next_key, actor: Actor) -> None:
    comment = st.session_state.get(comment_key, "")
    name = review.decision_names()[decision]
    _write(lambda: review.decide(row["branch_code"], period, row["item_id"], decision, reviewer=actor,
                                 comment=comment, db=str(c.db_file())),
           f"已保存：{row['branch_name']} 指标 {row['item_id']} {name}。", next_key)
    if decision == review.SENT_BACK and st.session_state.get(MESSAGE_KEY, ("",))[0] == "success":
        st.session_state[NOTICE_KEY] = row["branch_code"]  # its 整改通知 is the likely next download
        st.session_state[FULL_RERUN_KEY] = True


def _accept(period: str, code: str, name: str, actor: Actor) -> None:
    _write(lambda: review.accept_supported(code, period, reviewer=actor, db=str(c.db_file())),
           f"已按自评认定“{name}”的其余自评。", st.session_state.get(PICK_KEY))


def message() -> None:
    kind, text = st.session_state.pop(MESSAGE_KEY, (None, None))
    if kind == "error":
        st.error(md_text(text), icon=":material/error:")
    elif kind == "success":
        st.success(md_text(text), icon=":material/task_alt:")


def progress_section(progress: pd.DataFrame) -> None:
    """The quarter's review progress: the whole (or the account's college) as metrics, each college's in a table."""
    school = progress[progress["scope"] == "school"].iloc[0]
    cols = st.columns(4)
    cols[0].metric("待审核", int(school["pending"]), border=True)
    cols[1].metric("退回补充", int(school["sent_back"]), border=True)
    cols[2].metric("已认定", int(school["reviewed"]), border=True)
    cols[3].metric("审核进度", tables.fmt_pct(school["share"]), border=True)
    colleges = progress[progress["scope"] == "college"]
    with st.expander(f"各二级党组织审核进度（{len(colleges)} 个，进度最低的在前）"):
        table = pd.DataFrame({"二级党组织": colleges["college"], "已认定": colleges["reviewed"],
                              "退回补充": colleges["sent_back"], "待审核": colleges["pending"],
                              "自评总数": colleges["total"],
                              "审核进度": scoring.shown_percent(colleges["share"])})
        st.dataframe(table, hide_index=True, width="stretch", height=tables.table_height(len(table), 320), key="rv_progress",
                     column_config={"审核进度": st.column_config.ProgressColumn(
                         "审核进度", min_value=0, max_value=100, format="%.1f%%")})


def filters(actor: Actor, cols, colleges: list[str]) -> dict[str, str | None]:
    """The four filters (college, branch type, item, state) in `cols`, as scoring.review_board's keyword arguments;
    `colleges`: those with answers to review in the quarter (ReviewBoard.colleges)."""
    g = c.guide()
    if actor.scope is None:
        college = c.state_widget("select", "二级党组织", [ALL, *colleges], "rv_college", container=cols[0])
    else:
        college = cols[0].selectbox("二级党组织", [actor.scope], disabled=True, key="rv_college_scope")
    btype = c.state_widget("select", "支部类型", [ALL, *c.type_ids()], "rv_type", container=cols[1],
                           format_func=lambda t: t if t == ALL else c.type_name(t))
    items = [it.id for it in g.items if it.self_assessed]
    item = c.state_widget("select", "考核要点", [ALL, *items], "rv_item", container=cols[2],
                          format_func=lambda i: i if i == ALL else c.item_label(i, 16))
    state = c.state_widget("select", "审核状态", [*ReviewState.labels(), ALL], "rv_state", default="pending",
                           container=cols[3], format_func=ReviewState.label_of)
    return _chosen({"college": college, "branch_type": btype, "item_id": item, "state": state}, actor)


def _chosen(values: dict, actor: Actor) -> dict[str, str | None]:
    return {k: None if v in (ALL, None) or (k == "college" and actor.scope) else v for k, v in values.items()}


def coming_filters(periods: list[str], actor: Actor) -> tuple[str, dict[str, str | None]]:
    """The quarter and filters the widgets are about to show (state.coming_value: this session's choice, a link,
    the defaults), known before they are drawn: the board is read first, so its colleges fill the college filter
    and the expander's label names what is in force. render checks them against the widgets' own values."""
    options = c.period_options(periods)
    period = state.coming_value("rv_period")
    if period not in options:
        period = c.default_period(periods) or options[-1]
    keys = {"college": "rv_college", "branch_type": "rv_type", "item_id": "rv_item", "state": "rv_state"}
    values = {k: state.coming_value(key, ReviewState.PENDING.value if k == "state" else ALL) for k, key in keys.items()}
    return period, _chosen(values, actor)


def current(shown: pd.DataFrame, list_key: str) -> int | None:
    """The position in `shown` (the listed head of the queue) of the answer to show: a row ticked in the list,
    else the one remembered (the next after a decision), else the first; None when nothing matches."""
    if shown.empty:
        return None
    rows = ((st.session_state.get(list_key) or {}).get("selection") or {}).get("rows") or []
    if rows and 0 <= rows[0] < min(len(shown), LIST_ROWS):
        st.session_state[PICK_KEY] = _key(shown.iloc[rows[0]])
    wanted = st.session_state.get(PICK_KEY)
    if wanted:
        hit = shown.index[(shown["branch_code"] == wanted[0]) & (shown["item_id"] == wanted[1])]
        if len(hit):
            return int(hit[0])
    return 0


def answer_section(period: str, board: scoring.ReviewBoard, at: int, actor: Actor) -> None:
    """The answer at `at` and the decision buttons, then its ledger support and last quarter's answer side by
    side, and the branch's 一键认定. The buttons come right after the answer, so on a phone (where columns stack)
    they are on the first screen; on a wide screen the whole card is."""
    shown = board.queue
    row = shown.iloc[at]
    nxt = _key(shown.iloc[at + 1]) if at + 1 < len(shown) else None
    code, item = _key(row)
    with st.container(border=True):
        st.markdown(f"**{md_text(row['branch_name'])}**（{md_text(code)}）· {md_text(row['college'])}")
        st.caption(f"第 {at + 1} / {board.matching} 项 · {row['risk_name']} · {md_text(row['state_name'])}"
                   + (f"（{md_text(row['reviewer'])}：{md_text(row['comment'])}）"
                      if isinstance(row["comment"], str) and row["comment"] else ""))
        st.markdown(f"##### {md_text(c.item_label(item, 28))}", help=md_text(c.guide().item(item).text))
        status = row["status_name"] if isinstance(row["status_name"], str) else "未填写"
        st.markdown(f"**本季度自评：{md_text(status)}**　佐证材料：{md_text(row['evidence'] or '（未填写）')}")
        comment_key = f"rv_comment_{st.session_state.get(ROUND_KEY, 0)}"
        st.text_input(COMMENT_LABEL, key=comment_key, placeholder=COMMENT_LABEL, label_visibility="collapsed")
        buttons = st.container(horizontal=True, gap="small")
        for decision, name in review.decision_names().items():
            buttons.button(name, key=f"rv_do_{decision}", type="primary" if decision == row["status"] else "secondary",
                           on_click=_decide, args=(period, row.to_dict(), decision, comment_key, nxt, actor))
        support, before = st.columns([3, 2])
        support.markdown(f"**台账佐证**：{md_text(scoring.support_label(row['linked'], row['evidence_rows']))}")
        rows = board.evidence[board.evidence["branch_code"] == code].drop(columns=["branch_code"])
        evidence_section(code, period, item, key="rv_evidence", container=support, rows=rows)
        before.markdown("**上季度自评**：" + (md_text(row["prev_status_name"]) if isinstance(row["prev_status_name"], str)
                                           else "未报送或未填写该项"))
        if isinstance(row["prev_status_name"], str):
            before.caption("佐证材料：" + md_text(row["prev_evidence"] or "（未填写）"))
        accept_all(period, board.acceptable, row, actor)


def accept_all(period: str, acceptable: pd.DataFrame, row: pd.Series, actor: Actor) -> None:
    """一键认定: the branch's pending supported answers confirmed as answered, after a confirm."""
    code, name = str(row["branch_code"]), str(row["branch_name"])
    hit = acceptable.loc[acceptable["branch_code"] == code, "answers"]
    n = int(hit.iloc[0]) if len(hit) else 0
    if not n:
        return
    if st.session_state.get(CONFIRM_KEY) != code:
        st.button(f"一键按自评认定本支部 {n} 项…", key="rv_accept_all",
                  on_click=lambda: st.session_state.__setitem__(CONFIRM_KEY, code))
        return
    st.warning(f"将按支部自评认定“{md_text(name)}”的 {n} 项自评（有台账佐证的“完成”，以及“基本完成”“未完成”）；"
               "“完成”但无佐证、需核实的事项不在其中，仍须逐项审核。确认吗？", icon=":material/help:")
    row_ = st.container(horizontal=True, gap="small")
    row_.button("确认认定", key="rv_accept_confirm", type="primary", on_click=_accept, args=(period, code, name, actor))
    row_.button("取消", key="rv_accept_cancel", on_click=lambda: st.session_state.pop(CONFIRM_KEY, None))


def list_section(board: scoring.ReviewBoard, list_key: str) -> None:
    """The filtered queue (its first LIST_ROWS rows); ticking a row shows that answer above."""
    st.subheader(f"审核队列（{board.matching} 项）", anchor=False)
    if board.queue.empty:
        return
    head = board.queue
    table = pd.DataFrame({"风险": head["risk_name"], "二级党组织": head["college"], "支部": head["branch_name"],
                          "考核要点": head["item_id"], "本季度自评": head["status_name"],
                          "上季度自评": head["prev_status_name"], "审核状态": head["state_name"]})
    st.caption("排序：先是自评“完成”但台账中没有佐证的，再是需核实的，再是较上季度提高最多的。勾选一行可审核该项。" + (f"仅列出前 {LIST_ROWS} 项，可用上方筛选缩小范围。"
                                       if board.matching > LIST_ROWS else ""))
    st.dataframe(table, hide_index=True, width="stretch", height=tables.table_height(len(table), 420), key=list_key,
                 on_select="rerun", selection_mode="single-row", placeholder=tables.MISSING)


def sent_back_section(period: str, back: pd.DataFrame, at_code: str | None, actor: Actor) -> None:
    """The sent-back answers, a branch's 整改通知 and a college's 督办清单 (built on click)."""
    st.subheader("退回补充与整改通知", anchor=False)
    st.caption("退回的事项在支部重新报送该项之前保持“退回补充”；重新报送后回到“待审核”。")
    if back.empty:
        st.caption("本季度暂无退回补充的自评事项。")
        return
    st.dataframe(pd.DataFrame({"二级党组织": back["college"], "支部": back["branch_name"], "考核要点": back["item_id"],
                               "审核意见": back["comment"], "审核人": back["reviewer"]}),
                 hide_index=True, width="stretch", height=tables.table_height(len(back), 300), key="rv_sent_back")
    db = str(c.db_file())
    names = dict(zip(back["branch_code"], back["branch_name"]))
    codes = sorted(names)
    cols = st.columns(2)
    if st.session_state.get(NOTICE_KEY) not in codes:  # first view, or its branch re-submitted the items
        st.session_state[NOTICE_KEY] = at_code if at_code in codes else codes[0]
    code = cols[0].selectbox("支部", codes, format_func=lambda x: f"{names[x]}（{x}）", key=NOTICE_KEY)
    tables.download_later(cols[0], "下载整改通知（Excel，A4 一页）",
                     lambda: review_notice.notice_bytes(period, code, db, scope=actor.scope),
                     file_name=review_notice.file_name(period, code, names[code]), mime=tables.XLSX_MIME,
                     key="rv_notice", icon=":material/download:")
    colleges = sorted(set(back["college"]))
    college = cols[1].selectbox("二级党组织", colleges, key="rv_list_college")
    tables.download_later(cols[1], "下载督办清单（含退回补充事项）",
                     lambda: followup.followup_workbook(db, period=period, college=college, scope=actor.scope,
                                                        sent_back=True),
                     file_name=followup.file_name(period, college), mime=tables.XLSX_MIME, key="rv_supervision",
                     icon=":material/download:")


def filter_label(period: str, chosen: dict[str, str | None], actor: Actor) -> str:
    """The filter expander's label: the quarter and every filter in force."""
    college, btype, item = actor.scope or chosen["college"], chosen["branch_type"], chosen["item_id"]
    parts = [c.period_label(period), ReviewState.label_of(chosen["state"]) if chosen["state"] else "全部状态",
             college or "全部二级党组织"] + ([c.type_name(btype)] if btype else []) + ([f"考核要点 {item}"] if item else [])
    return "筛选：" + " · ".join(md_text(str(p)) for p in parts)


@part
def review_area(period: str, actor: Actor, chosen: dict[str, str | None]) -> None:
    """The answer, its decision buttons, the progress and the queue: a decision (or a row ticked in the queue)
    reruns only this part; the quarter, the filters and the sent-back section above and below stay as they are,
    except after 退回补充, which reruns the whole page so the sent-back list and its 整改通知 show the new item."""
    if st.session_state.pop(FULL_RERUN_KEY, False):
        st.rerun()  # scope "app": the sent-back section below needs the new item too
    board = c.scores("review_board", period, scope=actor.scope, limit=LIST_ROWS, **chosen)
    message()
    if board.progress.empty:
        st.info("本季度没有需要审核的自评（尚无报送，或不在当前账号的管理范围内）。", icon=":material/inbox:")
        return
    list_key = f"rv_list_{st.session_state.get(ROUND_KEY, 0)}"
    at = current(board.queue, list_key)
    if at is None:
        st.success("筛选条件下没有需要审核的自评。", icon=":material/task_alt:")
        st.session_state.pop(SHOWN_BRANCH_KEY, None)
    else:
        st.session_state[SHOWN_BRANCH_KEY] = str(board.queue.iloc[at]["branch_code"])
        answer_section(period, board, at, actor)
    progress_section(board.progress)
    list_section(board, list_key)


def render() -> None:
    c.header("审核", CAPTION)
    actor = access.signed_in_actor()
    if actor is None:
        return
    periods = c.scores("periods")
    if not periods:
        c.no_data()
        return
    period, chosen = coming_filters(periods, actor)
    board = c.scores("review_board", period, scope=actor.scope, limit=LIST_ROWS, **chosen)
    # Collapsed, with what is in force in its label: on a phone the five selects stacked would push the answer
    # below the first screen; on a wide screen they open in one row.
    with st.expander(filter_label(period, chosen, actor), key="rv_filters", icon=":material/filter_list:"):
        cols = st.columns([1.2, 1, 1, 1, 1])
        shown_period = c.period_select(periods, container=cols[0], key="rv_period")
        colleges = board.colleges if shown_period == period else c.scores("review_colleges", shown_period)
        shown = filters(actor, cols[1:], colleges)
    if (shown_period, shown) != (period, chosen):  # a value the widgets did not take (rare): read what they show
        period, chosen = shown_period, shown
        board = c.scores("review_board", period, scope=actor.scope, limit=LIST_ROWS, **chosen)
    review_area(period, actor, chosen)
    if not board.progress.empty:
        sent_back_section(period, board.sent_back, st.session_state.get(SHOWN_BRANCH_KEY), actor)


c.require_entrypoint()
c.run_page(render)
