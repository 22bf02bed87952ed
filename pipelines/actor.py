"""Who writes: every write of the store checks its caller here first.

Today an actor is a signed-in name, school-wide. Issue 11 adds college scopes: `Actor.scope` then names the
college an account may write for, and `authorize` refuses branches outside it — the writes already call it.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

NO_ACTOR_MESSAGE = "写入数据须由已登录的管理员操作（未提供操作人），本次未写入任何数据。"


@dataclass(frozen=True)
class Actor:
    """The person or tool behind a write: `name` goes into the audit log and the manifest."""

    name: str
    scope: str | None = None  # None = school-wide; a college name once scopes exist


def authorize(actor: Actor | str | None, branch_codes: Iterable[str] = ()) -> Actor:
    """The caller as an Actor, if it may write these branches; PermissionError with a Chinese message if not.

    Today the only rule is a non-empty name; `branch_codes` is where a college scope will be checked.
    """
    if isinstance(actor, Actor):
        name, scope = actor.name, actor.scope
    else:
        name, scope = actor, None
    name = str(name or "").strip()
    if not name:
        raise PermissionError(NO_ACTOR_MESSAGE)
    list(branch_codes)  # the scope check slots in here
    return Actor(name, scope)
