"""The archive of one database: its folder, the originals, the manifest of writes, and crash recovery.

* Each database has its own archive, `<db>.archive/` beside the file (`DJ_ARCHIVE_DIR` overrides it), so two
  databases in one folder never replay or move each other's writes.
* The legacy layout, one `archive/` per folder shared by every database in it, is adopted on first use: a
  manifest entry belongs to a database when that database's audit_log holds its row (the same time, actor,
  action and detail are written to both). Those entries and their originals are copied (hard links) into
  `<db>.archive/`; the legacy folder is left as it was, for the other databases and as a backup. A database
  that does not exist or cannot be opened adopts nothing (`legacy_folder` lets rebuild say so).
* Each write appends an intent line (the entry, `"phase": "intent"`) before its COMMIT and a commit line
  (`{"action": "commit", "ref": txn}`) after it; the txn id is also written to the database's `journal` table
  inside the transaction. An intent left without its commit line by a crash is settled against the database
  (commit line when the journal has it, void line when not) by the next writer or rebuild, under the lock.
  Lines without a phase (older manifests) count as committed unless a void line cancels them.
* A rebuild works in `.<db name>.rebuild-<id>` and holds `<that>.lock` while it runs; leftovers whose lock is
  free belong to a killed rebuild and are removed whenever the archive is opened.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
from filelock import FileLock, Timeout

from pipelines.store import db as dbm
from pipelines.config import settings

MANIFEST_NAME = "manifest.jsonl"
LEGACY_NAME = "archive"
"""The folder every database of one folder used to share (`<db folder>/archive/`)."""
REBUILD_MARK = ".rebuild-"
_TAIL_BYTES = 64 * 1024
"""How much of the manifest's end a writer reads first to find an unsettled intent (one writer at a time, and each
settles what it finds before writing, so an unsettled intent is always among the last write's lines); more when
the last write was a batch whose intents reach further back (`_tail`)."""


# ---- the folder -----------------------------------------------------------------------------------

def folder(db: Path) -> Path:
    """The archive folder of this database; removes a killed rebuild's leftovers and adopts a legacy archive.

    Call it before taking the database lock (adoption reads the database's audit log).
    """
    db = Path(db)
    sweep_rebuilds(db)
    target = Path(settings().archive_for(db))
    if settings().archive_dir is None and not target.exists():
        _adopt_legacy(db, target)
    return target


def legacy_folder(db: Path) -> Path | None:
    """The shared legacy archive beside this database, when it has a manifest and is not this database's own."""
    legacy = Path(db).parent / LEGACY_NAME
    own = Path(settings().archive_for(db))
    return legacy if (legacy / MANIFEST_NAME).exists() and legacy.resolve() != own.resolve() else None


def _adopt_legacy(db: Path, target: Path) -> None:
    legacy = legacy_folder(db)
    if legacy is None:
        return
    lines = read_manifest_file(legacy)
    owned = _owned(db, lines)
    if not owned:
        return
    keep = [e for e in lines if e.get("txn") in owned or (e.get("action") in ("void", "commit")
                                                           and any(r in owned for r in _refs(e)))]
    staging = target.with_name(f"{target.name}.adopting-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    try:
        for sha in {e.get("sha256") for e in keep if e.get("sha256")}:
            src = original_path(legacy, sha)
            if src.exists():
                dst = original_path(staging, sha)
                dst.parent.mkdir(exist_ok=True)
                try:
                    os.link(src, dst)
                except OSError:  # another file system, or links not allowed: a copy
                    shutil.copy2(src, dst)
        text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in keep)
        (staging / MANIFEST_NAME).write_text(text, encoding="utf-8")
        os.rename(staging, target)  # atomic; fails when a concurrent first open got there first
    except OSError:
        if not target.exists():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _owned(db: Path, lines: list[dict]) -> set[str] | None:
    """The txn ids of manifest entries whose audit row this database holds; None when it cannot be read."""
    if not db.exists():
        return None
    try:
        with dbm.connect(db) as con:
            audit = set(con.execute("SELECT logged_at, actor, action, coalesce(detail, '') FROM audit_log").fetchall())
    except (duckdb.Error, dbm.DatabaseBusy):
        return None
    owned = set()
    for e in lines:
        try:
            key = (dt.datetime.fromisoformat(e["at"]), e.get("actor") or "cli", e.get("action"), e.get("detail") or "")
        except (KeyError, TypeError, ValueError):
            continue
        if e.get("txn") and key in audit:
            owned.add(e["txn"])
    return owned


def sweep_rebuilds(db: Path) -> None:
    """Remove the temporary files of rebuilds that were killed (their lock is free); running ones keep theirs."""
    db = Path(db)
    prefix = f".{db.name}{REBUILD_MARK}"
    try:
        names = {p.name for p in db.parent.iterdir() if p.name.startswith(prefix)}
    except FileNotFoundError:
        return
    for base in {n.removesuffix(".wal").removesuffix(".lock") for n in names}:
        tmp = db.parent / base
        guard = FileLock(str(tmp) + ".lock")
        try:
            guard.acquire(timeout=0)
        except Timeout:
            continue  # a rebuild is running in it
        try:
            for f in (tmp, Path(str(tmp) + ".wal")):
                f.unlink(missing_ok=True)
        finally:
            guard.release()
            Path(str(tmp) + ".lock").unlink(missing_ok=True)


# ---- originals ------------------------------------------------------------------------------------

def original_path(archive: Path, sha256: str) -> Path:
    return archive / sha256[:2] / f"{sha256}.xlsx"


def store_original(archive: Path, data: bytes, sha256: str) -> Path:
    """Store the original under its hash, atomically (temp file + rename); a no-op when already there."""
    store_originals(archive, [(data, sha256)])
    return original_path(archive, sha256)


_SYNC_THREADS = 16
"""fsyncs issued at once by `store_originals`: the file system commits its journal once for all of them (on ext4,
200 files: ~4 ms each one after another, ~0.2 ms each side by side)."""


def store_originals(archive: Path, items: list[tuple[bytes, str]]) -> None:
    """Store originals (bytes, SHA-256) under their hashes, durably, before the database commit that names them:
    each written to a temp file, all fsynced, renamed into place, and their folders fsynced (so the renames
    survive a power cut too). The fsyncs run side by side. Those already stored (same hash) are left alone."""
    todo: dict[Path, bytes] = {}
    for data, sha in items:
        target = original_path(archive, sha)
        if target not in todo and not (target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == sha):
            todo[target] = data
    if not todo:
        return
    tmps = []
    for target, data in todo.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
        tmps.append(tmp)
    _sync_all(tmps, fsync_file)
    for tmp, target in zip(tmps, todo):
        os.replace(tmp, target)
    _sync_all(sorted({t.parent for t in todo}), fsync_dir)


def _sync_all(paths: list[Path], sync: Callable[[Path], None]) -> None:
    if len(paths) == 1:
        sync(paths[0])
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(_SYNC_THREADS, len(paths)), thread_name_prefix="archive-sync") as pool:
        list(pool.map(sync, paths))  # list(): an error raises here


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR)  # Windows fsyncs only what is open for writing
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders; its rename is durable enough for us
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---- the manifest ---------------------------------------------------------------------------------

def manifest_path(archive: Path) -> Path:
    return archive / MANIFEST_NAME


def append(archive: Path, record: dict | list[dict]) -> None:
    """Append one line, or several in one write and one fsync (a batch's intents); callers hold the database
    lock, so lines from different writers never interleave."""
    archive.mkdir(parents=True, exist_ok=True)
    records = [record] if isinstance(record, dict) else record
    line = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    with open(manifest_path(archive), "a+b") as fh:
        if fh.tell() > 0:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                line = b"\n" + line  # a line torn by a crash must not swallow this one
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def _parse(lines: list[bytes]) -> list[dict]:
    out = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except (json.JSONDecodeError, UnicodeDecodeError):  # torn by a crash mid-write: it never committed
            continue
    return out


def read_manifest_file(archive: Path) -> list[dict]:
    """Every line of the manifest (intents, commit and void lines included), in order."""
    try:
        data = manifest_path(archive).read_bytes()
    except FileNotFoundError:
        return []
    return _parse(data.split(b"\n"))


def _tail(archive: Path) -> list[dict]:
    """The manifest's last lines, enough of them to hold the last transaction's intents (`_holds_last_write`)."""
    window = _TAIL_BYTES
    try:
        with open(manifest_path(archive), "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            while True:
                fh.seek(max(0, size - window))
                lines = fh.read().split(b"\n")
                if size <= window:
                    return _parse(lines)
                parsed = _parse(lines[1:])  # the first piece may be the end of a longer line
                if _holds_last_write(parsed):
                    return parsed
                window *= 4
    except FileNotFoundError:
        return []


def _holds_last_write(lines: list[dict]) -> bool:
    """Whether these last lines of a manifest hold every intent of its last write: they hold an intent, and
    when that is the k-th of a batch's (its "group" [k, n]), the k lines before it too (a batch appends its
    intents in one go, so they stand together)."""
    last = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].get("phase") == "intent"), None)
    if last is None:
        return False
    k = (lines[last].get("group") or [0])[0]
    return isinstance(k, int) and last - k >= 0


def _refs(line: dict) -> list:
    """The txn ids an end line settles: "ref" (one write), or "refs" (a batch's)."""
    return [line["ref"]] if "ref" in line else list(line.get("refs") or [])


def effective(lines: list[dict]) -> list[dict]:
    """The committed writes, in order: intents with a commit line and older single lines, minus voided ones."""
    done = {r for e in lines if e.get("action") == "commit" for r in _refs(e)}
    void = {r for e in lines if e.get("action") == "void" for r in _refs(e)}
    return [e for e in lines if e.get("action") not in ("commit", "void") and e.get("txn") not in void
            and (e.get("phase") != "intent" or e.get("txn") in done)]


def unsettled(lines: list[dict]) -> list[str]:
    """Txn ids of intents that have neither a commit nor a void line."""
    ends = {r for e in lines if e.get("action") in ("commit", "void") for r in _refs(e)}
    return [e["txn"] for e in lines if e.get("phase") == "intent" and e.get("txn") not in ends]


def intent(entry: dict) -> dict:
    return {**entry, "phase": "intent"}


def intents(entries: list[dict]) -> list[dict]:
    """The intent lines of one transaction's writes (appended together): with more than one, each carries
    "group": [k, n], its place among them, so that a reader of the manifest's end can tell it holds them all."""
    if len(entries) == 1:
        return [intent(entries[0])]
    return [{**e, "phase": "intent", "group": [k, len(entries)]} for k, e in enumerate(entries)]


def end_record(txn: str | list[str], action: str) -> dict:
    """The line that settles intents: "commit" (their transaction committed) or "void" (it did not); one
    txn id as "ref", the several of a batch as "refs" (one line, so that it is there whole or not at all)."""
    refs = [txn] if isinstance(txn, str) else list(txn)
    line = {"txn": uuid.uuid4().hex, "action": action}
    line.update({"ref": refs[0]} if len(refs) == 1 else {"refs": refs})
    return {**line, "at": dt.datetime.now().replace(microsecond=0).isoformat()}


def settle(archive: Path, committed, lines: list[dict] | None = None) -> None:
    """Give each unsettled intent its commit or void line; `committed(txn)` asks the database (None: unknown,
    the intent is left as it is). Without `lines`, only the manifest's end is read (the write path)."""
    ends: dict[bool, list[str]] = {True: [], False: []}
    for txn in unsettled(_tail(archive) if lines is None else lines):
        known = committed(txn)
        if known is not None:
            ends[known].append(txn)
    for known, txns in ends.items():
        if txns:
            append(archive, end_record(txns, "commit" if known else "void"))


def in_journal(con: duckdb.DuckDBPyConnection, txn: str) -> bool:
    return con.execute("SELECT count(*) FROM journal WHERE txn = ?", [txn]).fetchone()[0] > 0


@contextlib.contextmanager
def journal_of(db: Path) -> Iterator[Callable[[str], bool | None]]:
    """A `committed(txn)` for `settle` reading the database file directly (the caller holds the lock); it
    answers None (unknown) when the file is missing or cannot be opened."""
    con = None
    if Path(db).exists():
        try:
            con = duckdb.connect(str(db), read_only=True)
            con.execute("SELECT count(*) FROM journal").fetchone()
        except duckdb.Error:
            if con is not None:
                con.close()
            con = None
    try:
        yield lambda txn: None if con is None else in_journal(con, txn)
    finally:
        if con is not None:
            con.close()
