"""The 数据上传 page driven through AppTest with real workbooks (pipelines.workbook.template) and a real DuckDB file.

Files go in through the real st.file_uploader widget (AppTest 1.67 can set uploaded files), so the page's
own uploaded-files → preview → confirm path runs unchanged.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import io
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from pages import access
from pages import archive_links
from pipelines import auth
from pipelines.store import db, ingest, journal, plan, registry
from pipelines.guide import guide
from pipelines.workbook.model import BranchInfo, LedgerRow, RegistryEntry
from pipelines.guide.period import Period
from pipelines.workbook.template import write_registry_workbook, write_workbook

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "upload.py")
PASSWORD = "测试口令-upload-2026"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

REGISTRY = [
    RegistryEntry("JX01-T01", "机械学院教工第一党支部", "机械工程学院", "teacher", 20),
    RegistryEntry("JX01-S01", "机械学院学生第一党支部", "机械工程学院", "student", 30),
    RegistryEntry("XX02-T01", "信息学院教工第一党支部", "信息工程学院", "teacher", 16),
]
BY_CODE = {e.branch_code: e for e in REGISTRY}


@pytest.fixture(scope="module")
def admin_hash() -> str:
    return auth.hash_password(PASSWORD, rounds=4)


@pytest.fixture
def registry_db(tmp_path) -> Path:
    """The test database with a three-branch registry loaded through ingest (the real path)."""
    path = write_registry_workbook(tmp_path / "名册.xlsx", REGISTRY)
    n, problems = registry.load_registry(path, actor="setup")
    assert n == 3 and not [p for p in problems if p.severity == "error"]
    return db.db_path()


def workbook(tmp_path: Path, code: str, period: str, *, meetings: int = 3, bad: bool = False,
             name: str | None = None) -> tuple[str, bytes]:
    """A real filled workbook for a registry branch; `meetings` per month changes its score; `bad` adds errors."""
    e = BY_CODE[code]
    p = Period.parse(period)
    year, q, months = p.year, p.quarter, p.months
    info = BranchInfo(e.branch_code, e.branch_name, e.college, e.branch_type, year, q, e.members,
                      "张书记", "李委员", dt.date(year, months[-1], 25))
    acts = ["committee_meeting", "group_meeting", "theme_day"][:meetings]
    ledger, row = [], 2
    for m in months:
        for act in acts:
            ledger.append(LedgerRow(row, dt.date(year, m, 10), act, "", f"{m}月学习", e.members, e.members - 1,
                                    None, "会议记录"))
            row += 1
    ledger.append(LedgerRow(row, dt.date(year, months[0], 15), "training", "", "专题学习", e.members, e.members,
                            8.0, "签到表"))
    counts = {f.id: 0 for f in guide().count_fields} | {"fee_due": e.members, "fee_paid": e.members}
    sa = {it.id: ("done", "有记录") for it in guide().items_for(e.branch_type)}
    raw = {("ledger", "A3"): "2026年13月45日"} if bad else None
    fname = name or f"{code}_{period}{'_bad' if bad else ''}_{meetings}.xlsx"
    path = write_workbook(tmp_path / "wb" / fname, e.branch_type, info=info, ledger=ledger, counts=counts,
                          self_assessment=sa, raw_cells=raw)
    return fname, path.read_bytes()


def load_page():
    """The page's functions, imported without rendering (the page renders only when run as __main__)."""
    spec = importlib.util.spec_from_file_location("upload_page", PAGE)
    page = importlib.util.module_from_spec(spec)
    sys.modules["upload_page"] = page
    spec.loader.exec_module(page)
    return page


# ---- AppTest helpers --------------------------------------------------------------------------------

def app(secrets: dict | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(PAGE, default_timeout=120)
    at.secrets["dj_test"] = "isolated"  # never read a developer's real .streamlit/secrets.toml
    for k, v in (secrets or {}).items():
        at.secrets[k] = v
    return at


def signed_in(admin_hash):
    at = app({"admins": {"orgadmin": admin_hash}}).run()
    assert not at.exception
    at.text_input(key="dj_auth_name").input("orgadmin")
    at.text_input(key="dj_auth_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert at.session_state["dj_admin"] == "orgadmin"
    return at


def uploader(at):
    return next(u for u in at.file_uploader if u.key and u.key.startswith("dj_uploader_"))


def upload(at, files: list[tuple[str, bytes]]):
    uploader(at).set_value([(n, b, XLSX) for n, b in files])
    at.run()
    assert not at.exception, at.exception
    return at


def frame(at, *columns: str):
    """The first st.dataframe on the page that has all of `columns`."""
    for d in at.dataframe:
        if set(columns) <= set(d.value.columns):
            return d.value
    raise AssertionError(f"no dataframe with columns {columns!r}")


def texts(at) -> str:
    parts = [e.value for kind in ("success", "error", "warning", "info", "markdown", "caption")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def submissions() -> list[tuple]:
    return [tuple(r) for r in db.query_df(
        "SELECT branch_code, period, version, status, uploaded_by FROM submissions ORDER BY submission_id"
    ).itertuples(index=False)]


def confirm(at):
    at.button(key="dj_upload_confirm").click().run()
    assert not at.exception, at.exception
    return at


# ---- signed out -------------------------------------------------------------------------------------

def test_signed_out_page_is_locked_without_secrets(registry_db):
    at = app().run()
    assert not at.exception
    assert "管理功能已锁定" in at.error[0].value and "docs/admin.md" in at.error[0].value
    assert not at.file_uploader and not at.tabs


def test_signed_out_with_admins_configured_shows_sign_in_only(registry_db, admin_hash):
    at = app({"admins": {"orgadmin": admin_hash}}).run()
    assert not at.exception
    assert at.text_input(key="dj_auth_name") is not None
    assert not at.file_uploader and not at.tabs
    at.text_input(key="dj_auth_name").input("orgadmin")
    at.text_input(key="dj_auth_password").input("wrong")
    at.button[0].click().run()
    assert "账号或密码不正确" in texts(at)
    assert not at.file_uploader


# ---- batches ----------------------------------------------------------------------------------------

def test_clean_batch_previews_then_writes_on_confirm(registry_db, admin_hash, tmp_path):
    at = signed_in(admin_hash)
    assert [t.label for t in at.tabs] == ["上传报送", "报送记录与撤回", "支部名册", "操作日志"]
    files = [workbook(tmp_path, "JX01-T01", "2026Q3"), workbook(tmp_path, "JX01-S01", "2026Q3")]
    upload(at, files)

    results = frame(at, "结果")
    assert list(results["结果"]) == ["将新增", "将新增"]
    assert metric(at, "将新增") == "2" and metric(at, "未通过") == "0"
    assert metric(at, "新增支部季度") == "2"
    missing = frame(at, "季度", "所属二级党组织")
    assert list(missing["支部编码"]) == ["XX02-T01"]  # the registry branch still missing for 2026Q3
    assert submissions() == []  # nothing written before confirm

    for _ in range(3):  # reruns (any widget interaction) never ingest
        at.run()
    assert submissions() == []

    confirm(at)
    assert submissions() == [("JX01-T01", "2026Q3", 1, "current", "orgadmin"),
                             ("JX01-S01", "2026Q3", 1, "current", "orgadmin")]
    assert "写入完成" in at.success[0].value and "新增 2 份" in at.success[0].value
    assert not uploader(at).value  # the uploader starts empty again
    audit = db.query_df("SELECT actor, action FROM audit_log WHERE action = 'ingest'")
    assert list(audit["actor"]) == ["orgadmin", "orgadmin"]  # logged once per file, by ingest

    at.run()
    assert len(submissions()) == 2
    history = frame(at, "上传人")
    assert set(history["上传人"]) == {"orgadmin"} and set(history["状态"]) == {"当前版本"}
    assert set(history.columns) >= {"支部编码", "支部名称", "季度", "版本", "文件名", "SHA-256", "上传时间", "状态"}


def test_mixed_batch_writes_only_good_files_and_reports_cells(registry_db, admin_hash, tmp_path):
    at = signed_in(admin_hash)
    good = workbook(tmp_path, "JX01-T01", "2026Q3")
    bad = workbook(tmp_path, "JX01-S01", "2026Q3", bad=True)
    upload(at, [good, bad])

    results = frame(at, "结果").set_index("文件")
    assert results.loc[good[0], "结果"] == "将新增"
    assert results.loc[bad[0], "结果"] == "未通过" and results.loc[bad[0], "错误数"] >= 1
    problems = frame(at, "单元格")
    row = problems[(problems["文件"] == bad[0]) & (problems["单元格"] == "A3")].iloc[0]
    assert row["工作表"] == "活动台账" and row["级别"] == "错误" and row["填写内容"] == "2026年13月45日"
    assert "A3" in row["说明"]
    assert at.button(key="dj_upload_confirm").label == "确认写入 1 个文件"

    confirm(at)
    assert submissions() == [("JX01-T01", "2026Q3", 1, "current", "orgadmin")]
    assert "1 份文件未通过校验" in at.success[0].value


def test_problems_download_is_a_spreadsheet_with_both_tables(registry_db, tmp_path):
    page = load_page()
    results = plan.preview([workbook(tmp_path, "JX01-S01", "2026Q3", bad=True),
                              workbook(tmp_path, "JX01-T01", "2026Q3")])
    wb = load_workbook(io.BytesIO(page.problems_workbook(results)))
    assert wb.sheetnames == ["校验问题", "文件结果"]
    rows = list(wb["校验问题"].values)
    assert rows[0] == ("文件", "工作表", "单元格", "说明", "级别", "填写内容", "问题代码")
    assert rows[1][4] == "错误"  # the rejected file first, its errors first
    assert any(r[2] == "A3" and r[1] == "活动台账" for r in rows[1:])
    assert {r[4] for r in rows[1:]} == {"错误", "警告"} or {r[4] for r in rows[1:]} == {"错误"}
    results_sheet = list(wb["文件结果"].values)
    assert results_sheet[0][-1] == "SHA-256" and len(results_sheet[1][-1]) == 64
    assert [r[3] for r in results_sheet[1:]] == ["未通过", "将新增"]


def test_resubmission_replaces_with_scores_then_rolls_back(registry_db, admin_hash, tmp_path):
    at = signed_in(admin_hash)
    upload(at, [workbook(tmp_path, "JX01-T01", "2026Q3", meetings=1)])
    confirm(at)
    assert submissions() == [("JX01-T01", "2026Q3", 1, "current", "orgadmin")]

    upload(at, [workbook(tmp_path, "JX01-T01", "2026Q3", meetings=3)])
    assert list(frame(at, "结果")["结果"]) == ["将替换"]
    replaced = frame(at, "新总分")
    assert list(replaced["支部编码"]) == ["JX01-T01"]
    before, after = replaced.loc[0, "原总分"], replaced.loc[0, "新总分"]
    assert before == before and after == after and after > before  # both computed (not NaN); more meetings score higher
    assert len(submissions()) == 1  # the trial scoring left the real database alone
    assert not any(e.get("actor") == "preview" for e in journal.read_manifest())

    confirm(at)
    assert submissions() == [("JX01-T01", "2026Q3", 1, "superseded", "orgadmin"),
                             ("JX01-T01", "2026Q3", 2, "current", "orgadmin")]

    at.selectbox(key="dj_undo_target").set_value("JX01-T01|2026Q3").run()
    assert at.button(key="dj_rollback").disabled  # needs the confirmation tick
    at.checkbox(key="dj_undo_sure").check().run()
    at.button(key="dj_rollback").click().run()
    assert not at.exception
    assert [s[2:4] for s in submissions()] == [(1, "current"), (2, "rolled_back")]
    assert "回退到第 1 版" in texts(at)
    actions = db.query_df("SELECT actor, action FROM audit_log WHERE action = 'rollback'")
    assert actions.values.tolist() == [["orgadmin", "rollback"]]  # logged once, by versions.rollback

    assert at.button(key="dj_withdraw").disabled  # the tick was for the rollback only
    assert "无法在本页恢复" in texts(at)
    at.checkbox(key="dj_undo_sure").check().run()
    at.button(key="dj_withdraw").click().run()
    assert not at.exception
    assert [s[3] for s in submissions()] == ["withdrawn", "rolled_back"]
    assert "已撤回" in texts(at)

    # the same session uploads the withdrawn file again: it is written again, as a new version
    upload(at, [workbook(tmp_path, "JX01-T01", "2026Q3", meetings=1)])
    assert list(frame(at, "结果")["结果"]) == ["将新增"]
    confirm(at)
    assert [s[2:4] for s in submissions()][-1] == (3, "current")


def test_same_file_twice_is_unchanged_and_writes_nothing(registry_db, admin_hash, tmp_path):
    at = signed_in(admin_hash)
    f = workbook(tmp_path, "JX01-T01", "2026Q3")
    upload(at, [f, ("副本.xlsx", f[1])])  # the same bytes twice in one batch
    assert list(frame(at, "结果")["结果"]) == ["将新增", "无变化"]
    confirm(at)
    assert len(submissions()) == 1
    version = db.data_version()

    upload(at, [f])  # the same file again, after it was written
    assert list(frame(at, "结果")["结果"]) == ["无变化"]
    assert "没有需要写入的文件" in texts(at)
    assert not [b for b in at.button if b.key == "dj_upload_confirm"]
    assert len(submissions()) == 1 and db.data_version() == version


def test_two_versions_of_one_branch_quarter_in_one_upload_write_neither(registry_db, admin_hash, tmp_path):
    """Which file was picked last is an accident: both are refused, with a message naming both."""
    at = signed_in(admin_hash)
    a = workbook(tmp_path, "JX01-T01", "2026Q3", meetings=3, name="一支部_第一版.xlsx")
    b = workbook(tmp_path, "JX01-T01", "2026Q3", meetings=2, name="一支部_第二版.xlsx")
    other = workbook(tmp_path, "JX01-S01", "2026Q3")
    upload(at, [a, b, other])
    assert list(frame(at, "结果")["结果"]) == ["未通过", "未通过", "将新增"]
    problems = frame(at, "说明")
    conflict = problems[frame(at, "问题代码")["问题代码"] == "batch_conflict"]
    assert len(conflict) == 2 and all("一支部_第一版.xlsx" in m and "一支部_第二版.xlsx" in m for m in conflict["说明"])
    confirm(at)
    assert [(code, version) for code, _period, version, *_ in submissions()] == [("JX01-S01", 1)]


def test_a_file_in_another_format_gets_the_chinese_how_to(registry_db, admin_hash, tmp_path):
    """The picker offers .xls/.et/.csv too, so the validator (not the browser, in English) explains."""
    at = signed_in(admin_hash)
    assert {".xlsx", ".xls", ".et", ".csv"} <= set(uploader(at).proto.type)
    upload(at, [("一支部.csv", "日期,活动类型\n2026-07-05,支委会\n".encode("gb18030"))])
    assert list(frame(at, "结果")["结果"]) == ["未通过"]
    assert any("CSV" in m and "另存为" in m for m in frame(at, "说明")["说明"])


def test_applying_a_plan_twice_writes_once(registry_db, tmp_path):

    the_plan = plan.plan([workbook(tmp_path, "JX01-T01", "2026Q3")], on_conflict="refuse")
    assert [r.status for r in ingest.apply(the_plan, "orgadmin")] == ["accepted"]
    assert [r.status for r in ingest.apply(the_plan, "orgadmin")] == ["unchanged"]  # decided again at write time
    assert len(submissions()) == 1


def test_busy_database_is_a_clear_message(registry_db, admin_hash, tmp_path, monkeypatch):
    at = signed_in(admin_hash)
    upload(at, [workbook(tmp_path, "JX01-T01", "2026Q3")])
    monkeypatch.setenv("DJ_LOCK_TIMEOUT_S", "0.3")
    from pipelines import config

    config.settings.cache_clear()
    with db.locked(registry_db, timeout=1):  # another writer (a second admin, the CLI) holds the database
        at.button(key="dj_upload_confirm").click().run()
    assert not at.exception
    assert "数据库正忙" in texts(at)
    assert submissions() == []


def test_history_download_registry_and_audit_tabs(registry_db, admin_hash, tmp_path):
    archive_links.route()  # mounted as serve.py does: originals are downloaded through it
    at = signed_in(admin_hash)
    f = workbook(tmp_path, "XX02-T01", "2026Q2")
    upload(at, [f])
    confirm(at)
    at.run()
    # any archived original can be downloaded
    assert journal.archived_file(db.query_df("SELECT sha256 FROM submissions").iloc[0, 0]) == f[1]
    assert [b for b in at.get("link_button") if "原始文件" in b.proto.label and "/dj-archive/" in b.proto.url]

    # registry: validate then confirm, replacing the registry
    renamed = dataclasses.replace(REGISTRY[1], branch_name=REGISTRY[1].branch_name + "（更名）")
    new_registry = [REGISTRY[0], renamed, RegistryEntry("WY03-S01", "外语学院学生第一党支部", "外国语学院", "student", 25)]
    reg_file = write_registry_workbook(tmp_path / "新名册.xlsx", new_registry)
    reg_up = next(u for u in at.file_uploader if u.key.startswith("dj_registry_uploader_"))
    reg_up.set_value(("新名册.xlsx", reg_file.read_bytes(), XLSX))
    at.run()
    assert not at.exception
    diff = frame(at, "变化内容").set_index("支部编码")
    assert diff.loc["WY03-S01", "变化"] == "新增" and diff.loc["XX02-T01", "变化"] == "移除"
    assert diff.loc["JX01-T01", "变化"] == "不变" and diff.loc[renamed.branch_code, "变化"] == "修改"
    assert "1 个支部的名称有变更" in texts(at)  # their next workbooks must use the new name
    assert len(db.query_df("SELECT * FROM registry")) == 3
    assert sorted(db.query_df("SELECT branch_code FROM registry")["branch_code"]) == ["JX01-S01", "JX01-T01", "XX02-T01"]
    at.button(key="dj_registry_confirm").click().run()
    assert not at.exception
    assert sorted(db.query_df("SELECT branch_code FROM registry")["branch_code"]) == ["JX01-S01", "JX01-T01", "WY03-S01"]
    assert "支部名册已更新" in texts(at)

    # the audit log shows who did what
    audit = frame(at, "操作人", "详情")
    assert {"登录", "导入报送", "更新支部名册"} <= set(audit["操作"])
    assert set(audit["操作人"]) >= {"orgadmin"}


def test_sign_out(registry_db, admin_hash):
    at = signed_in(admin_hash)
    at.button(key="dj_sign_out").click().run()
    assert not at.exception
    assert "dj_admin" not in at.session_state
    assert not at.file_uploader
    assert db.query_df("SELECT action FROM audit_log WHERE actor = 'orgadmin' ORDER BY logged_at")[
        "action"].tolist()[-1] == "sign_out"


def test_blank_templates_are_offered_as_real_workbooks(registry_db, admin_hash):
    at = signed_in(admin_hash)
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"教师党支部填报模板", "学生党支部填报模板", "支部名册模板"} <= set(labels)
    page = load_page()
    sheets = guide().workbook.sheets
    for kind in ("teacher", "student"):
        wb = load_workbook(io.BytesIO(page._template_bytes(kind, guide().version)))
        assert wb.sheetnames == [sheets.guide, sheets.info, sheets.ledger, sheets.counts, sheets.self_assessment]
    assert load_workbook(io.BytesIO(page._template_bytes("registry", guide().version))).sheetnames == ["支部名册"]


def test_registry_with_errors_changes_nothing(registry_db, admin_hash, tmp_path):
    at = signed_in(admin_hash)
    bad = write_registry_workbook(tmp_path / "坏名册.xlsx", REGISTRY + [REGISTRY[0]])  # a duplicate code
    reg_up = next(u for u in at.file_uploader if u.key.startswith("dj_registry_uploader_"))
    reg_up.set_value(("坏名册.xlsx", bad.read_bytes(), XLSX))
    at.run()
    assert not at.exception
    assert "本次不会写入任何数据" in texts(at)
    assert not [b for b in at.button if b.key == "dj_registry_confirm"]
    assert len(db.query_df("SELECT * FROM registry")) == 3


def test_page_runs_inside_the_app_navigation(demo_db, admin_hash):
    """Through app.py (st.navigation, the viewer gate, the sidebar), signed in, on the demo school."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.secrets["dj_test"] = "isolated"
    at.secrets["admins"] = {"orgadmin": admin_hash}
    at.run()
    at.switch_page("pages/upload.py").run()
    assert not at.exception
    assert at.text_input(key="dj_auth_name"), "signed out, the page asks for the admin sign-in"
    # AppTest turns Streamlit's legacy pages/ mode back on before every run, so the page makes app.py run
    # first each time (require_entrypoint) and a button click would be lost in that rerun; the sign-in
    # form itself is tested on the page alone above. Sign in the way the form does.
    at.session_state[access.ADMIN_KEY] = "orgadmin"
    at.run()
    assert not at.exception
    assert any("演示数据" in w.value for w in at.warning), "app.py's demo banner frames the page"
    history = frame(at, "上传人")
    assert len(history) == len(db.query_df("SELECT * FROM submissions"))
    assert not at.error


def test_repeated_failed_sign_ins_are_slowed_down(registry_db, admin_hash):
    at = app({"admins": {"orgadmin": admin_hash}}).run()
    for _ in range(4):
        at.text_input(key="dj_auth_name").input("orgadmin")
        at.text_input(key="dj_auth_password").input("wrong")
        at.button[0].click().run()
    assert "登录失败次数过多" in texts(at)
    # the right password is refused while the account waits, from a fresh session too
    fresh = app({"admins": {"orgadmin": admin_hash}}).run()
    fresh.text_input(key="dj_auth_name").input("orgadmin")
    fresh.text_input(key="dj_auth_password").input(PASSWORD)
    fresh.button[0].click().run()
    assert "登录失败次数过多" in texts(fresh)
    assert "dj_admin" not in fresh.session_state
    assert not fresh.file_uploader


@pytest.mark.slow
def test_a_whole_school_in_one_batch(demo_files, admin_hash):
    """Every demo workbook (24 branches × 6 quarters) through the page in one batch, into an empty database."""
    from pipelines.demo.build import REGISTRY_FILE, demo_files as demo_paths

    n, _ = registry.load_registry(demo_files / REGISTRY_FILE, actor="setup")
    files = [(p.name, p.read_bytes()) for p in demo_paths(demo_files)]
    assert n == 24 and len(files) > 100
    at = signed_in(admin_hash)
    upload(at, files)
    assert metric(at, "将新增") == str(len(files)) and metric(at, "未通过") == "0"
    confirm(at)
    assert len(submissions()) == len(files)
    assert f"新增 {len(files)} 份" in at.success[0].value


def test_demo_data_is_set_aside_to_start_with_real_data(demo_db, admin_hash, tmp_path):
    """Signed in on the demo school: one confirmed click leaves an empty database, the old one kept as a backup,
    and real data then goes in as usual."""
    before = len(db.query_df("SELECT * FROM submissions"))
    at = signed_in(admin_hash)
    assert "当前数据库含演示数据" in texts(at)
    button = at.button(key="dj_fresh")
    assert button.disabled  # nothing happens without the acknowledgement
    at.checkbox(key="dj_fresh_sure").check().run()
    at.button(key="dj_fresh").click().run()
    assert not at.exception
    assert "已清空演示数据" in texts(at) and "当前数据库含演示数据" not in texts(at)
    assert db.query_df("SELECT count(*) AS n FROM submissions").at[0, "n"] == 0
    assert db.query_df("SELECT count(*) AS n FROM registry").at[0, "n"] == 0
    actions = db.query_df("SELECT actor, action FROM audit_log")
    assert actions.values.tolist() == [["orgadmin", "start_fresh"]]
    backups = list(demo_db.parent.glob("backup-*"))
    assert len(backups) == 1
    kept = backups[0] / demo_db.name
    assert len(db.query_df("SELECT * FROM submissions", path=kept)) == before
    assert (backups[0] / f"{demo_db.name}.archive" / "manifest.jsonl").exists()
    # real data goes in afterwards through the usual path
    path = write_registry_workbook(tmp_path / "名册.xlsx", REGISTRY)
    assert registry.load_registry(path, actor="orgadmin")[0] == 3
    name, data = workbook(tmp_path, "JX01-T01", "2026Q1")
    assert [r.status for r in ingest.ingest([(name, data)], actor="orgadmin")] == ["accepted"]


def test_clearing_demo_data_warns_about_real_uploads_and_leaves_nothing_stale(demo_db, admin_hash, tmp_path):
    """Real uploads made on top of the demo are counted and need their own tick; after the clear, the last
    upload's summary is gone and the log reads 清空演示数据, newest first."""
    at = signed_in(admin_hash)
    demo_branch = db.query_df("SELECT branch_code, branch_name, college, branch_type FROM registry LIMIT 1").iloc[0]
    g = guide()
    now = Period.of(dt.date.today())  # the quarter in progress: the demo has none of it, and no date after today
    info = BranchInfo(demo_branch["branch_code"], demo_branch["branch_name"], demo_branch["college"],
                      demo_branch["branch_type"], now.year, now.quarter, 8)
    sa = {it.id: ("done", "有记录") for it in g.items_for(demo_branch["branch_type"])}
    path = write_workbook(tmp_path / "real.xlsx", demo_branch["branch_type"], info=info, self_assessment=sa,
                          ledger=[LedgerRow(2, now.start, "committee_meeting", "", "支委会", 8, 8, None, "记录")])
    upload(at, [("real.xlsx", path.read_bytes())])
    confirm(at)
    assert "写入完成" in texts(at) and "另有 0 份" not in texts(at)

    assert "1 份管理员上传的报送" in texts(at)
    at.checkbox(key="dj_fresh_sure").check().run()
    assert at.button(key="dj_fresh").disabled  # the real upload needs its own acknowledgement
    at.checkbox(key="dj_fresh_sure_real").check().run()
    at.button(key="dj_fresh").click().run()
    assert not at.exception
    assert "已清空演示数据" in texts(at) and "写入完成" not in texts(at)
    log = frame(at, "操作")
    assert log.iloc[0]["操作"] == "清空演示数据"
