"""Who writes: every write of the store checks its caller here first (`authorize`, the one rule).

An actor is a signed-in name with a scope: None for a school-wide account (组织部), or the name of one college
(二级党组织) for a college admin. A college admin may write only branches of its own college — a branch's
college is the registry's, else that of the branch's latest stored workbook, else (a branch new to the
database) the college its own workbook names — and no school-wide write (registry, deadline, start fresh).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

NO_ACTOR_MESSAGE = "写入数据须由已登录的管理员操作（未提供操作人），本次未写入任何数据。"

COLLEGES_SQL = """
WITH latest AS (
    SELECT branch_code, college,
           row_number() OVER (PARTITION BY branch_code ORDER BY submission_id DESC) AS n
    FROM raw_info WHERE branch_code IN (SELECT unnest($codes))
)
SELECT l.branch_code, coalesce(r.college, l.college) AS college FROM latest l
LEFT JOIN registry r USING (branch_code) WHERE l.n = 1
UNION ALL
SELECT branch_code, college FROM registry
WHERE branch_code IN (SELECT unnest($codes)) AND branch_code NOT IN (SELECT branch_code FROM raw_info)
"""


class OutOfScope(PermissionError):
    """A college admin's write touching a branch of another college (or of no known college)."""

    def __init__(self, branch: str, college: str | None, scope: str) -> None:
        self.branch, self.college, self.scope = branch, college, scope
        super().__init__(f"支部 {branch}（{college or '所属二级党组织不明'}）超出当前账号的管理范围（{scope}），"
                         "本次未写入任何数据。")


@dataclass(frozen=True)
class Actor:
    """The person or tool behind a write: `name` goes into the audit log and the manifest; `scope` is the
    college it may write for (None = school-wide)."""

    name: str
    scope: str | None = None


def colleges_of(con, branch_codes: Iterable[str]) -> dict[str, str]:
    """The college of each branch the database knows: the registry's, else its latest workbook's."""
    codes = sorted({str(c) for c in branch_codes if c})
    if not codes:
        return {}
    return dict(con.execute(COLLEGES_SQL, {"codes": codes}).fetchall())


def _lookup(codes: list[str], con, db: str | Path | None) -> dict[str, str]:
    if con is not None:
        return colleges_of(con, codes)
    from pipelines.store import db as dbm

    path = dbm.db_path(db)
    if not path.exists():
        return {}
    with dbm.connect(path) as read:
        return colleges_of(read, codes)


def authorize(actor: Actor | str | None, branch_codes: Iterable[str] = (), *, colleges: Iterable[str] = (),
              con=None, db: str | Path | None = None, claimed: Mapping[str, str] | None = None,
              school_wide: str | None = None) -> Actor:
    """The caller as an Actor, if it may do this write; PermissionError with a Chinese message if not.

    branch_codes: the branches written (their colleges looked up on `con`, else in database `db`; `claimed`
    gives the college a new branch's own workbook names); colleges: colleges written as a whole (a college
    follow-up); school_wide: the Chinese name of a write only a school-wide account may do.
    """
    if isinstance(actor, Actor):
        name, scope = actor.name, actor.scope
    else:
        name, scope = actor, None
    name, scope = str(name or "").strip(), (str(scope).strip() or None) if scope is not None else None
    if not name:
        raise PermissionError(NO_ACTOR_MESSAGE)
    who = Actor(name, scope)
    if scope is None:
        return who
    if school_wide:
        raise PermissionError(f"“{school_wide}”是全校范围的操作，只有全校管理员（组织部）可以执行；"
                              f"当前账号的管理范围是“{scope}”，本次未写入任何数据。")
    for college in colleges:
        if college != scope:
            raise PermissionError(f"“{college}”超出当前账号的管理范围（{scope}），本次未写入任何数据。")
    codes = sorted({str(c) for c in branch_codes if c})
    found = _lookup(codes, con, db) if codes else {}
    for code in codes:
        college = found.get(code) or (claimed or {}).get(code)
        if college != scope:
            raise OutOfScope(code, college, scope)
    return who


def branches_in_scope(actor: Actor, branch_codes: Iterable[str], db: str | Path | None = None) -> set[str]:
    """The branches of `branch_codes` this actor may write (its college's by the lookup `authorize` uses):
    what a college admin's lists show."""
    codes = {str(c) for c in branch_codes if c}
    if actor.scope is None:
        return codes
    found = _lookup(sorted(codes), None, db)
    return {code for code in codes if found.get(code) == actor.scope}


def unknown_scope(actor: Actor, db: str | Path | None = None) -> str | None:
    """A Chinese warning when a college admin's scope names no college the database knows (registry, else
    workbooks); None when it does, for a school-wide actor, or with no data yet."""
    if actor.scope is None:
        return None
    from pipelines.store import db as dbm

    path = dbm.db_path(db)
    if not path.exists():
        return None
    with dbm.connect(path) as con:
        known = {r[0] for r in con.execute("SELECT college FROM registry UNION SELECT college FROM raw_info")
                 .fetchall()}
    if not known or actor.scope in known:
        return None
    return (f"当前账号的管理范围“{actor.scope}”不是支部名册（或已导入的报送表）中的二级党组织名称，"
            "因此无法写入任何支部的数据。请组织部核对账号配置中的名称（须与支部名册“二级党组织”列完全一致），"
            "详见 docs/admin.md。")
