"""What a branch workbook holds once read, and the problems found in it (errors as data)."""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

from pipelines.guide.period import Period
from pipelines.guide.vocab import Severity


@dataclass(frozen=True)
class Problem:
    """One validation finding (校验问题). `cell` is A1 notation or "" when the whole sheet/file is meant."""

    file: str
    sheet: str
    cell: str
    value: str
    severity: Severity
    code: str
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


class HasProblems:
    """Mixin for anything carrying a `problems` list: its errors and warnings."""

    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == Severity.WARNING]


@dataclass
class BranchInfo:
    branch_code: str
    branch_name: str
    college: str
    branch_type: str  # guide branch type id: teacher | student
    year: int
    quarter: int
    members: int
    secretary: str = ""
    filled_by: str = ""
    filled_on: dt.date | None = None

    @property
    def period(self) -> str:
        return str(Period(self.year, self.quarter))


@dataclass
class LedgerRow:
    row: int  # row number in the sheet (1-based, as Excel shows it)
    date: dt.date
    activity_type: str  # guide activity type id
    activity_raw: str  # what the secretary typed
    topic: str = ""
    expected: int | None = None
    attended: int | None = None
    hours: float | None = None
    evidence: str = ""


@dataclass
class CountValue:
    row: int
    field: str  # guide count field id
    value: float | None


@dataclass
class SelfAssessmentRow:
    row: int
    item_id: str
    status: str | None  # guide self-assessment id (done | mostly | not_done) or None when blank
    evidence: str = ""


@dataclass
class ParsedWorkbook(HasProblems):
    """A workbook after reading and validation. `valid` is False when any problem is an error."""

    file_name: str
    sha256: str
    info: BranchInfo | None = None
    ledger: list[LedgerRow] = field(default_factory=list)
    counts: list[CountValue] = field(default_factory=list)
    self_assessment: list[SelfAssessmentRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


@dataclass
class RegistryEntry:
    """One row of the branch registry (支部名册)."""

    branch_code: str
    branch_name: str
    college: str
    branch_type: str
    members: int
    secretary_name: str | None = None  # optional registry columns (书记姓名, 联系电话), for 催报
    phone: str | None = None
