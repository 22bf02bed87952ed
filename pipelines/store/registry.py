"""The branch registry write: a registry workbook replaces the stored registry in one journaled write.

Reading the registry is `pipelines.store.plan.registry_entries`; comparing an upload with it is
`pipelines.store.changes.registry_diff`.
"""
from __future__ import annotations

from pathlib import Path

from pipelines.store import archive as arc
from pipelines.store import db as dbm, journal, sources, writes
from pipelines.store.actor import Actor, authorize
from pipelines.guide.vocab import AuditAction
from pipelines.workbook.model import Problem
from pipelines.store.sources import Source


def _source_bytes(source: Source | bytes) -> tuple[str, bytes]:
    if isinstance(source, tuple):
        return str(source[0]), bytes(source[1])
    if isinstance(source, (bytes, bytearray)):
        return "支部名册.xlsx", bytes(source)
    p = Path(source)
    return p.name, p.read_bytes()


def load_registry(source: Source | bytes, db: str | Path | None = None, *,
                  actor: Actor | str = "cli") -> tuple[int, list[Problem]]:
    """Replace the branch registry with the branches of a registry workbook.

    Returns (branches written, problems). With any error nothing is written and the count is 0. The
    workbook lists all branches, so branches missing from it leave the registry. Archived for rebuild.
    PermissionError (Chinese) without an actor or for a college admin (the registry is school-wide).
    """
    from pipelines.workbook import safe_read

    name_of_actor = authorize(actor, school_wide="更新支部名册").name
    path = dbm.db_path(db)
    try:
        name, data = _source_bytes(source)
    except OSError as e:
        return 0, sources.unreadable(Path(str(source)).name, e.strerror or str(e)).problems
    entries, problems = safe_read.read_registry(data, name)
    if any(p.severity == "error" for p in problems) or not entries:
        return 0, problems
    sha = sources.sha(data)
    archive = journal.archive_dir(path)
    arc.store_original(archive, data, sha)
    at = journal.now()
    detail = f"{name}：{len(entries)} 个支部"

    def body(con):
        writes.clear_registry(con)
        n = writes.save_registry(con, entries, at=at)
        writes.audit(con, name_of_actor, AuditAction.REGISTRY, detail, at=at)
        return n, journal.entry("registry", actor=name_of_actor, at=at, detail=detail, sha256=sha, file_name=name)

    return journal.write(path, body), problems
