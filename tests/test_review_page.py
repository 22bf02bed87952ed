"""The 审核 page under AppTest (issue 11 §3) on the hand-built school of test_review_queue: the queue in risk
order, filters, one decision per click with the next answer shown, the comment rule, sending back with the
整改通知 download, 一键认定 after a confirm, a college admin's scope; and the branch page showing 退回补充 until the
branch re-submits the item. Expected values come from pipelines.store.review on the same database."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from pages import access
from pipelines import auth, config, scoring
from pipelines.store import review
from pipelines.store import db as dbmod
from pipelines.store.actor import Actor
from test_pages import ok, page
from test_review_queue import JX, Q2, XX, a_q2, build_school, keys
from test_scoring_fixtures import save

ADMIN, COLLEGE_ADMIN = "组织部审核", "信息学院审核"


@pytest.fixture
def db():
    return build_school()


@pytest.fixture
def accounts(monkeypatch):
    hashed = auth.hash_password("pw-123456", rounds=4)
    monkeypatch.setenv(config.env_name("admins"), f"{ADMIN}:{hashed},{COLLEGE_ADMIN}:{hashed}")
    monkeypatch.setenv(config.env_name("admin_scopes"), f"{COLLEGE_ADMIN}:{XX}")
    config.settings.cache_clear()


def signed_in(account: str = ADMIN, **params):
    at = page("review", **params)
    at.session_state[access.ADMIN_KEY] = account
    return ok(at.run())


def shown(at) -> tuple[str, str]:
    """(branch code, item id) of the answer on screen, from its heading lines."""
    head = next(m.value for m in at.markdown if "）· " in m.value)
    item = next(m.value for m in at.markdown if m.value.startswith("##### "))
    return head.split("（", 1)[1].split("）", 1)[0], item[6:].split(" ", 1)[0].replace("\\", "")


def listed(at) -> list[tuple[str, str]]:
    df = next(d.value for d in at.dataframe if "考核要点" in d.value.columns and "风险" in d.value.columns)
    names = {"A支部": "A", "B支部": "B"}
    return [(names[b], i) for b, i in zip(df["支部"], df["考核要点"])]


def reviews() -> list[tuple]:
    return [tuple(r) for r in dbmod.query_df("SELECT branch_code, item_id, decision, comment, reviewer FROM reviews "
                                              "ORDER BY review_id").itertuples(index=False)]


def test_sign_in_is_required(db, accounts):
    at = ok(page("review").run())
    assert [t.value for t in at.title] == ["审核"] and at.text_input(key="dj_auth_name")
    assert not any(b.key == "rv_do_done" for b in at.button) and not at.dataframe


def test_queue_in_risk_order_and_filters(db, accounts):
    at = signed_in()
    assert listed(at) == keys(scoring.review_queue(Q2, db, state="pending"))  # the whole queue: 48 < the list's 200
    assert shown(at) == ("A", "5.2.2")  # unsupported 完成 with the largest gain comes first
    assert {m.label: m.value for m in at.metric} == {"待审核": "48", "退回补充": "0", "已认定": "0", "审核进度": "0.0%"}
    label = at.expander[0].label
    assert label.startswith("筛选：") and "待审核" in label and "全部二级党组织" in label  # collapsed, what is in force
    at.selectbox(key="rv_college").select(XX).run()
    assert listed(ok(at)) == keys(scoring.review_queue(Q2, db, state="pending", college=XX)) and shown(at) == ("B", "5.2.2")
    assert XX in at.expander[0].label and "全部二级党组织" not in at.expander[0].label
    at.selectbox(key="rv_college").select("全部").run()
    at.selectbox(key="rv_type").select("student").run()
    assert {b for b, _ in listed(ok(at))} == {"B"}
    at.selectbox(key="rv_type").select("全部").run()
    at.selectbox(key="rv_item").select("5.2.2").run()
    assert listed(ok(at)) == [("A", "5.2.2"), ("B", "5.2.2")]
    at.selectbox(key="rv_state").select("reviewed").run()
    assert "筛选条件下没有需要审核的自评" in " ".join(s.value for s in ok(at).success)


def test_decide_shows_the_next_answer_and_needs_a_comment_when_lower(db, accounts):
    at = signed_in()
    at.button(key="rv_do_done").click().run()
    assert reviews() == [("A", "5.2.2", "done", "", ADMIN)]
    assert shown(ok(at)) == ("A", "5.1.1") and "已保存" in at.success[0].value  # the next answer at once
    assert listed(at)[0] == ("A", "5.1.1") and at.metric[2].value == "1"
    at.button(key="rv_do_mostly").click().run()  # lower than the answer (完成), no comment: refused
    assert "须填写审核意见" in at.error[0].value and len(reviews()) == 1 and shown(at) == ("A", "5.1.1")
    comment = next(t for t in at.text_input if t.key.startswith("rv_comment"))
    comment.input("佐证只有计划").run()
    at.button(key="rv_do_mostly").click().run()
    assert reviews()[-1] == ("A", "5.1.1", "mostly", "佐证只有计划", ADMIN)
    assert shown(ok(at)) == ("B", "5.2.2")
    assert not any(t.value for t in at.text_input if t.key.startswith("rv_comment"))  # a fresh comment box


def test_send_back_lists_the_item_and_its_notice_holds_the_comment(db, accounts, files):
    at = signed_in()
    next(t for t in at.text_input if t.key.startswith("rv_comment")).input("请补充宣传材料照片").run()
    at.button(key="rv_do_sent_back").click().run()
    assert reviews() == [("A", "5.2.2", review.SENT_BACK, "请补充宣传材料照片", ADMIN)]
    ok(at)
    back = next(d.value for d in at.dataframe if "审核意见" in d.value.columns)
    assert back.values.tolist() == [[JX, "A支部", "5.2.2", "请补充宣传材料照片", ADMIN]]
    assert at.metric[1].value == "1" and at.selectbox(key="rv_notice_branch").value == "A"  # its notice, ready
    data = files["整改通知_A支部_2026年Q2.xlsx"]()
    cells = [c.value for row in load_workbook(io.BytesIO(data))["整改通知"].iter_rows() for c in row]
    assert "请补充宣传材料照片" in cells and any(str(c).startswith("5.2.2") for c in cells)
    supervision = load_workbook(io.BytesIO(files[f"督办清单_{JX}_{Q2}.xlsx"]()))
    assert "请补充宣传材料照片" in [c.value for row in supervision["退回补充事项"].iter_rows() for c in row]


def test_accept_all_only_after_a_confirm(db, accounts):
    at = signed_in(rv_college=XX)  # a link to one college's queue
    assert shown(at) == ("B", "5.2.2")
    at.button(key="rv_accept_all").click().run()
    assert reviews() == [] and "确认吗" in ok(at).warning[0].value
    at.button(key="rv_accept_cancel").click().run()
    assert not ok(at).warning and reviews() == []
    at.button(key="rv_accept_all").click().run()
    at.button(key="rv_accept_confirm").click().run()
    ok(at)
    assert len(reviews()) == 23 and {r[0] for r in reviews()} == {"B"}
    assert listed(at) == [("B", "5.2.2")]  # only its unsupported 完成 waits for a decision


def test_a_college_admin_sees_and_decides_only_its_college(db, accounts):
    at = signed_in(COLLEGE_ADMIN)
    assert {b for b, _ in listed(at)} == {"B"} and shown(at) == ("B", "5.2.2")
    assert at.selectbox(key="rv_college_scope").disabled and at.selectbox(key="rv_college_scope").value == XX
    assert at.metric[0].value == "24"
    at.button(key="rv_do_done").click().run()
    assert reviews() == [("B", "5.2.2", "done", "", COLLEGE_ADMIN)]
    with pytest.raises(PermissionError, match="超出当前账号的管理范围"):  # nor by calling the function
        review.decide("A", Q2, "5.2.2", "done", reviewer=Actor(COLLEGE_ADMIN, XX), db=db)
    assert len(reviews()) == 1


def test_branch_page_shows_sent_back_until_the_branch_resubmits(db):
    review.decide("A", Q2, "5.1.1", review.SENT_BACK, reviewer="审核员", comment="请补充会议记录", db=db)

    def state(item: str) -> str:
        at = page("branch", period=Q2, college=JX, branch="A")
        table = [d.value for d in ok(at.run()).dataframe if "测评情况" in d.value.columns][0].set_index("考核要点")
        return table.loc[item, "审核"]

    assert state("5.1.1") == "退回补充"
    save(db, a_q2())  # re-submitted without changing the item: still sent back
    assert state("5.1.1") == "退回补充"
    save(db, a_q2(**{"5.1.1": ("done", "会议记录三份")}))
    assert state("5.1.1") == "待审核"
