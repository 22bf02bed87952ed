"""Accounts with a scope (issue 11 §4): a college admin writes, rolls back, withdraws and follows up only its
own college's branches, and no school-wide write; enforced in the pipelines (actor.authorize), shown on the
upload page. Real DuckDB files, real workbooks (pipelines.workbook.template), AppTest of the upload page."""
from __future__ import annotations

import pytest

from pipelines import auth
from pipelines.store import db, followup, ingest, plan, registry, versions
from pipelines.store.actor import Actor, authorize, branches_in_scope, unknown_scope
from pipelines.config import Settings
from pipelines.workbook.template import write_registry_workbook
from test_upload import PASSWORD, REGISTRY, app, frame, submissions, texts, upload, workbook
from test_upload import admin_hash, registry_db  # noqa: F401 - fixtures

JX, XX = "机械工程学院", "信息工程学院"
JX_ADMIN, ORG = Actor("jxadmin", JX), Actor("orgadmin")


@pytest.fixture
def school(registry_db, tmp_path):
    """The three-branch registry (JX01-T01, JX01-S01 of 机械工程学院; XX02-T01 of 信息工程学院), each branch
    with two versions of 2026Q3 written by the school-wide admin."""
    for meetings in (2, 3):
        files = [workbook(tmp_path, code, "2026Q3", meetings=meetings) for code in ("JX01-T01", "XX02-T01")]
        assert all(r.ok for r in ingest.ingest(files, registry_db, actor=ORG))
    return registry_db


# ---- configuration ---------------------------------------------------------------------------------

def test_scopes_from_env_and_secrets_secrets_win(monkeypatch):
    monkeypatch.setenv("DJ_ADMIN_SCOPES", f"jxadmin:{XX}, wy:外国语学院")
    monkeypatch.setenv("DJ_ADMIN_EMAIL_SCOPES", f"Jx@Example.edu.cn:{XX}")
    env = Settings()
    assert env.admin_scopes == {"jxadmin": XX, "wy": "外国语学院"}
    config = auth.load_access_config({"admin_scopes": {"jxadmin": JX},
                                      "access": {"admin_email_scopes": {"JX@example.edu.cn": JX}}}, env)
    assert config.actor("jxadmin") == JX_ADMIN and config.actor("wy") == Actor("wy", "外国语学院")
    assert config.actor("jx@example.edu.cn") == Actor("jx@example.edu.cn", JX)
    assert config.actor("orgadmin") == ORG  # no scope declared: school-wide, as before
    assert not config.problems


def test_empty_scope_disables_the_account_and_a_bad_section_is_reported(admin_hash):
    config = auth.load_access_config({"admins": {"jxadmin": admin_hash, "orgadmin": admin_hash},
                                      "admin_scopes": {"jxadmin": " "}, "access": {"admin_email_scopes": "x"}},
                                     Settings())
    assert list(config.admins) == ["orgadmin"]  # never school-wide by a typo
    assert any("管理范围为空" in p for p in config.problems)
    assert any("admin_email_scopes" in p for p in config.problems)


def test_unknown_college_is_a_warning(school):
    assert unknown_scope(JX_ADMIN, school) is None and unknown_scope(ORG, school) is None
    assert "不是支部名册" in unknown_scope(Actor("x", "机械学院"), school)


# ---- the rule -----------------------------------------------------------------------------------------

def test_authorize_rule(school):
    assert authorize(JX_ADMIN, ["JX01-T01", "JX01-S01"], db=school) == JX_ADMIN
    assert authorize(ORG, ["XX02-T01"], db=school, school_wide="更新支部名册") == ORG
    with pytest.raises(PermissionError, match="支部 XX02-T01（信息工程学院）超出当前账号的管理范围（机械工程学院）"):
        authorize(JX_ADMIN, ["JX01-T01", "XX02-T01"], db=school)
    with pytest.raises(PermissionError, match="所属二级党组织不明"):
        authorize(JX_ADMIN, ["NEW-01"], db=school)
    assert authorize(JX_ADMIN, ["NEW-01"], db=school, claimed={"NEW-01": JX}) == JX_ADMIN  # a new branch
    with pytest.raises(PermissionError, match="全校范围"):
        authorize(JX_ADMIN, school_wide="设置报送截止日期")
    with pytest.raises(PermissionError, match="信息工程学院"):
        authorize(JX_ADMIN, colleges=[XX])
    assert branches_in_scope(JX_ADMIN, ["JX01-T01", "XX02-T01"], school) == {"JX01-T01"}


def test_registry_wins_over_a_workbook_claim(school):
    """The registry says XX02-T01 is 信息工程学院's: a workbook claiming otherwise does not make it writable."""
    with pytest.raises(PermissionError, match="XX02-T01"):
        authorize(JX_ADMIN, ["XX02-T01"], db=school, claimed={"XX02-T01": JX})


# ---- every write refuses another college's branch --------------------------------------------------

def _state() -> list[tuple]:
    return submissions() + [tuple(r) for r in db.query_df("SELECT id FROM followups").itertuples(index=False)]


def test_writes_refuse_another_college(school, tmp_path):
    before = _state()
    # a plan made without the scope (e.g. by a caller that forgot it): apply refuses it, writing nothing
    foreign = plan.plan([workbook(tmp_path, "XX02-T01", "2026Q1")], school)
    writes = [
        lambda: ingest.apply(foreign, JX_ADMIN),
        lambda: versions.rollback("XX02-T01", "2026Q3", school, actor=JX_ADMIN),
        lambda: versions.withdraw("XX02-T01", "2026Q3", school, actor=JX_ADMIN),
        lambda: followup.open_followup("2026Q3", branch_code="XX02-T01", rule_id=None, item_id="1.1.1",
                                       note="按月召开", db=school, actor=JX_ADMIN),
        lambda: followup.open_followup("2026Q3", college=XX, item_id="1.1.1", note="按月召开", db=school,
                                       actor=JX_ADMIN),
    ]
    for write in writes:
        with pytest.raises(PermissionError, match="超出当前账号的管理范围"):
            write()
    for write in (lambda: versions.set_deadline("2026Q3", "2026-10-10", school, actor=JX_ADMIN),
                  lambda: registry.load_registry(write_registry_workbook(tmp_path / "r.xlsx", REGISTRY), school,
                                               actor=JX_ADMIN),
                  lambda: versions.start_fresh(school, actor=JX_ADMIN)):
        with pytest.raises(PermissionError, match="全校范围"):
            write()
    assert _state() == before and school.exists()
    assert db.query_df("SELECT count(*) AS n FROM deadlines").at[0, "n"] == 0


def test_own_college_writes_go_through(school, tmp_path):
    assert versions.rollback("JX01-T01", "2026Q3", school, actor=JX_ADMIN) is not None
    assert versions.withdraw("JX01-T01", "2026Q3", school, actor=JX_ADMIN) is not None
    task = followup.open_followup("2026Q3", branch_code="JX01-T01", item_id="1.1.1", note="按月召开", db=school,
                                  actor=JX_ADMIN)
    other = followup.open_followup("2026Q3", branch_code="XX02-T01", item_id="1.1.1", note="按月召开", db=school,
                                   actor=ORG)
    with pytest.raises(PermissionError, match="信息工程学院"):
        followup.close_followup(other, "已整改", school, actor=JX_ADMIN)
    followup.close_followup(task, "已整改", school, actor=JX_ADMIN)
    log = db.query_df("SELECT actor, action FROM audit_log WHERE actor = 'jxadmin' ORDER BY rowid")
    assert list(log["action"]) == ["rollback", "withdraw", "followup_open", "followup_close"]


def test_plan_marks_out_of_scope_files(school, tmp_path):
    files = [workbook(tmp_path, "JX01-S01", "2026Q1"), workbook(tmp_path, "XX02-T01", "2026Q1")]
    made = plan.plan(files, school, scope=JX)
    assert [r.status for r in made.results] == ["accepted", "rejected"]
    problem = made.results[1].problems[-1]
    assert problem.code == "out_of_scope" and problem.severity == "error"
    assert "超出管理范围" in problem.message and "信息工程学院" in problem.message
    done = ingest.apply(made, JX_ADMIN)
    assert [r.status for r in done] == ["accepted", "rejected"]
    assert ("XX02-T01", "2026Q1") not in {(s[0], s[1]) for s in submissions()}
    # the CLI path: ingest with a college admin plans with its scope
    assert [r.status for r in ingest.ingest([workbook(tmp_path, "XX02-T01", "2026Q2")], school,
                                            actor=JX_ADMIN)] == ["rejected"]


# ---- the upload page as a college admin -------------------------------------------------------------

def college_admin(admin_hash):
    at = app({"admins": {"jxadmin": admin_hash}, "admin_scopes": {"jxadmin": JX}}).run()
    at.text_input(key="dj_auth_name").input("jxadmin")
    at.text_input(key="dj_auth_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def test_upload_page_as_college_admin(school, admin_hash, tmp_path):
    at = college_admin(admin_hash)
    assert [t.label for t in at.tabs] == ["上传报送", "报送记录与撤回", "操作日志"]  # no registry tab
    assert "管理范围：机械工程学院" in texts(at)
    history = frame(at, "支部编码", "版本")
    assert set(history["支部编码"]) == {"JX01-T01"}  # XX02-T01's submissions are not shown

    upload(at, [workbook(tmp_path, "JX01-S01", "2026Q1"), workbook(tmp_path, "XX02-T01", "2026Q1")])
    results = frame(at, "结果")
    assert list(results["结果"]) == ["未通过", "将新增"]  # rejected files first (issue 15)
    assert "超出管理范围" in " ".join(frame(at, "说明")["说明"])
    at.button(key="dj_upload_confirm").click().run()
    assert not at.exception, at.exception
    q4 = [s for s in submissions() if s[1] == "2026Q1"]
    assert q4 == [("JX01-S01", "2026Q1", 1, "current", "jxadmin")]


def test_progress_page_offers_no_deadline_to_a_college_admin(demo_db, monkeypatch):
    """The 报送进度 page passes the signed-in Actor: a college admin sees no deadline form (and
    set_deadline would refuse it anyway, test_writes_refuse_another_college)."""
    from pages import access
    from pipelines import config
    from test_pages import ok, page

    monkeypatch.setenv(config.env_name("admins"), f"jxadmin:{auth.hash_password('pw-123456', rounds=4)}")
    monkeypatch.setenv(config.env_name("admin_scopes"), f"jxadmin:{JX}")
    config.settings.cache_clear()
    at = page("progress")
    at.secrets["dj_test"] = "isolated"
    at.session_state[access.ADMIN_KEY] = "jxadmin"
    ok(at.run())
    assert not at.date_input and any("全校" in c.value for c in at.caption)


def test_a_college_admin_cannot_review_another_colleges_answers(school):
    """Review decisions go through the same rule as every write (actor.authorize)."""
    from pipelines import scoring
    from pipelines.store import review

    answers = scoring.scored_answers("2026Q3", "XX02-T01", school)
    item = answers["item_id"].iloc[0]
    with pytest.raises(PermissionError, match="超出当前账号的管理范围|管理范围"):
        review.decide("XX02-T01", "2026Q3", item, "done", reviewer=JX_ADMIN, db=school)
    own = scoring.scored_answers("2026Q3", "JX01-T01", school)
    assert review.decide("JX01-T01", "2026Q3", own["item_id"].iloc[0], "done", reviewer=JX_ADMIN, db=school) > 0
