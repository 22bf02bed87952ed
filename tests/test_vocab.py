"""The one vocabulary (pipelines/guide/vocab.py): each code once, with one Chinese label, used by every caller."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipelines.guide import vocab
from pipelines.guide.vocab import FileStatus, MeasureKind, Severity, Vocab
from pipelines.workbook.problems import CATALOGUE, flatten, make

ROOT = Path(__file__).resolve().parent.parent
VOCABULARIES = [v for v in vars(vocab).values() if isinstance(v, type) and issubclass(v, Vocab) and v is not Vocab]


@pytest.mark.parametrize("vocabulary", VOCABULARIES, ids=lambda v: v.__name__)
def test_each_code_has_a_chinese_label_and_equals_its_code(vocabulary):
    for member in vocabulary:
        assert member == member.value and str(member) == member.value and f"{member}" == member.value
        assert member.label and all("\u4e00" <= ch <= "\u9fff" or ch in "（）" for ch in member.label), member
    assert vocabulary.labels() == {m.value: m.label for m in vocabulary}
    assert vocabulary.label_of("no_such_code") == "no_such_code" and vocabulary.label_of(None) == ""


def test_file_status_words_for_a_plan_a_preview_and_a_write():
    assert [s.label for s in FileStatus] == ["新增", "替换", "未变化", "退回"]
    assert [s.planned for s in FileStatus] == ["将新增", "将替换", "无变化", "将退回"]
    assert [s.preview for s in FileStatus] == ["将新增", "将替换", "无变化", "未通过"]
    assert [s.done for s in FileStatus] == ["已新增", "已替换", "无变化（已存在）", "未通过"]


def test_the_guide_reads_its_measure_kinds_from_the_vocabulary():
    from pipelines.guide import guide

    kinds = {m.kind for it in guide().items for m in it.measures}
    assert kinds and all(isinstance(k, MeasureKind) for k in kinds)
    assert MeasureKind.HOURS.unit.startswith("学时") and MeasureKind.SELF_ASSESSED.unit == ""


def test_a_warning_is_called_the_same_everywhere():
    warning = make("duplicate_row", file="a.xlsx", sheet="活动台账", cell="A3", value="x",
                   **{k: "?" for k in ("row", "first")})
    assert warning.severity == Severity.WARNING and CATALOGUE["duplicate_row"].severity == "warning"
    assert flatten([warning], chinese=True)[0]["级别"] == Severity.WARNING.label == "提醒"


def test_no_code_to_chinese_label_dict_outside_the_vocabulary():
    """The label dicts the vocabulary replaced stay gone (a new one would be a second path for a label)."""
    names = ["STATUS_NAMES", "SUBMISSION_STATUS_NAMES", "KIND_NAMES", "SEVERITY_NAMES", "SEVERITY_LABELS",
             "LEVEL_LABELS", "SOURCE_NAMES", "ACTION_LABELS", "PREVIEW_LABELS", "DONE_LABELS", "DRY_RUN_NAMES",
             "UNIT_NAMES"]
    found = subprocess.run(["grep", "-rnwE", "|".join(names), "pipelines", "pages", "app.py"], cwd=ROOT,
                           capture_output=True, text=True, check=False).stdout
    assert found == "", found
