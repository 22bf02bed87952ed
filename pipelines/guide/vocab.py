"""The one vocabulary: every code the product stores or passes as text, with its Chinese label.

Each vocabulary is a StrEnum, so a member equals its code (`FileStatus.REJECTED == "rejected"`), goes into SQL
and JSON as that code, and carries its Chinese `.label`. Pages and reports show `.label` (or `labels()` for a
column of codes); no module keeps its own code→Chinese dict. Names the guide defines (branch types, activity
types, grades, items) are not repeated here: they stay in indicator_guide.yaml.
"""
from __future__ import annotations

from enum import StrEnum


class Vocab(StrEnum):
    """A code with its Chinese label: members are declared as `NAME = "code", "标签"[, more labels]`."""

    label: str
    extra: tuple[str, ...]

    def __new__(cls, code: str, label: str, *extra: str) -> "Vocab":
        member = str.__new__(cls, code)
        member._value_ = code
        member.label = label
        member.extra = extra
        return member

    @classmethod
    def labels(cls) -> dict[str, str]:
        """{code: label} in declaration order, e.g. for `Series.map` or a widget's `format_func`."""
        return {m.value: m.label for m in cls}

    @classmethod
    def label_of(cls, code: object) -> str:
        """The label of `code`; an unknown code (an old row, a code from elsewhere) is shown as it is."""
        try:
            return cls(code).label
        except ValueError:
            return "" if code is None else str(code)


class FileStatus(Vocab):
    """What ingest did (or, from a plan, would do) with one file: FileResult.status."""

    # code, label (after writing: CLI, audit detail), planned (CLI dry run), preview (upload page), done (upload page)
    ACCEPTED = "accepted", "新增", "将新增", "将新增", "已新增"
    REPLACED = "replaced", "替换", "将替换", "将替换", "已替换"
    UNCHANGED = "unchanged", "未变化", "无变化", "无变化", "无变化（已存在）"
    REJECTED = "rejected", "退回", "将退回", "未通过", "未通过"

    @property
    def planned(self) -> str:
        """The label of a plan's status printed by `ingest --dry-run`."""
        return self.extra[0]

    @property
    def preview(self) -> str:
        """The label of a plan's status on the upload page, before writing."""
        return self.extra[1]

    @property
    def done(self) -> str:
        """The label of a written file's status on the upload page."""
        return self.extra[2]


class SubmissionStatus(Vocab):
    """submissions.status: which version of a branch-quarter counts."""

    CURRENT = "current", "当前版本"
    SUPERSEDED = "superseded", "已被替换"
    ROLLED_BACK = "rolled_back", "已回退"
    WITHDRAWN = "withdrawn", "已撤回"


class ReportingStatus(Vocab):
    """submission_status.status: whether a branch of the roster has reported the quarter."""

    SUBMITTED = "submitted", "已报送"
    RESUBMITTED = "resubmitted", "已重新报送"
    MISSING = "missing", "未报送"


class MeasureStatus(Vocab):
    """measure_detail.status: how far a measure is met so far."""

    MET = "met", "达标"
    PARTIAL = "partial", "部分完成"
    MISSED = "missed", "未完成"
    PENDING = "pending", "未到期"


class MeasureKind(Vocab):
    """How a measure is computed (the guide's `kind`); the label describes the kind on the guide page."""

    # code, label, unit of the actual / required numbers scoring reports for it
    MONTHLY = "monthly", "每月开展", "个月"
    QUARTERLY = "quarterly", "每季度开展", "次"
    SEMESTER = "semester", "每学期开展", "次"
    ANNUAL_COUNT = "annual_count", "每年次数", "次（全年）"
    ANNUAL_COVERAGE = "annual_coverage", "党员覆盖率", "人"
    HOURS = "hours", "人均学时", "学时（人均，本年累计）"
    RATIO = "ratio", "比例", "人"
    SELF_ASSESSED = "self_assessed", "支部自评", ""

    @property
    def unit(self) -> str:
        """The unit of the measure's actual and required numbers ('' for a self-assessment)."""
        return self.extra[0]


class Severity(Vocab):
    """A problem's severity: an error rejects the file, a warning (提醒) is shown and the file is written."""

    ERROR = "error", "错误"
    WARNING = "warning", "提醒"


class AlertColor(Vocab):
    """An alert's (预警) level: red or yellow."""

    RED = "red", "红"
    YELLOW = "yellow", "黄"


class AuditAction(Vocab):
    """audit_log.action: what an admin (or the CLI) did."""

    SIGN_IN = "sign_in", "登录"
    SIGN_OUT = "sign_out", "退出登录"
    INGEST = "ingest", "导入报送"
    UPLOAD = "upload", "上传报送"
    REPLACE = "replace", "替换报送"
    ROLLBACK = "rollback", "版本回退"
    WITHDRAW = "withdraw", "撤回报送"
    REGISTRY = "registry", "更新支部名册"
    LOAD_REGISTRY = "load_registry", "更新支部名册"
    REBUILD = "rebuild", "重建数据库"
    START_FRESH = "start_fresh", "清空演示数据"
    DEADLINE = "deadline", "设置截止日期"
    REVIEW = "review", "审核"
    FOLLOWUP_OPEN = "followup_open", "开立督办"
    FOLLOWUP_CLOSE = "followup_close", "办结督办"


class TraceSource(Vocab):
    """Where a figure under an item comes from (佐证来源, the trace of 支部画像)."""

    LEDGER = "ledger", "活动台账"
    COUNTS = "counts", "统计数据"
    SELF_ASSESSMENT = "self_assessment", "自评"



class AttentionKind(Vocab):
    """Why a branch is on the 需关注 list (pipelines.scoring.attention)."""

    LOWEST = "lowest", "总分最低"
    FALLS = "falls", "降幅最大"
    REPEAT_MISSING = "repeat_missing", "连续未报送"


class ReviewState(Vocab):
    """Where a self-assessed answer stands in review (审核): the queue's `state` (review_queue.sql)."""

    PENDING = "pending", "待审核"
    SENT_BACK = "sent_back", "退回补充"
    REVIEWED = "reviewed", "已认定"


class ReviewRisk(Vocab):
    """Why an answer sits where it does in the review queue (review_queue.sql's `risk`, 1 first)."""

    UNSUPPORTED = "1", "完成但无佐证"
    TO_CHECK = "2", "需核实"
    ORDINARY = "3", "一般"  # the answer stands on its own (supported)
