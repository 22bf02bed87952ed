"""Where a batch comes from: paths (files, folders) or (file name, bytes) pairs, each read and parsed once.

Parsing runs in the reader's worker process (`pipelines/workbook/safe_read.py`); a reader failure rejects one file with
a Chinese message instead of aborting a batch.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pipelines.workbook import problems
from pipelines.workbook.model import ParsedWorkbook, RegistryEntry

Source = Path | str | tuple[str, bytes]
Progress = Callable[[int, int, str], None]

FOLDER_SUFFIXES = (".xlsx", ".xls")
"""Files picked up when a folder is ingested (case-insensitive); .xls is read only to be refused clearly."""


@dataclass
class Item:
    """One file of a batch, before reading."""

    file_name: str
    path: Path | None = None
    data: bytes | None = None
    missing: bool = False


def sha(data: bytes) -> str:
    """The SHA-256 of a file's bytes: its identity in the archive, the manifest and the database."""
    return hashlib.sha256(data).hexdigest()


def collect(files: Iterable[Source] | Source) -> list[Item]:
    """Expand paths (folders recurse for *.xlsx) and (name, bytes) pairs into one ordered list."""
    if isinstance(files, (str, Path)) or (isinstance(files, tuple) and len(files) == 2
                                          and isinstance(files[1], (bytes, bytearray))):
        files = [files]
    items: list[Item] = []
    for f in files:
        if isinstance(f, tuple):
            items.append(Item(file_name=str(f[0]), data=bytes(f[1])))
            continue
        p = Path(f)
        if p.is_dir():
            # Excel leaves "~$name.xlsx" owner files beside a workbook that is open; they are not workbooks.
            # Old .xls files are picked up too, so the secretary hears why they were refused instead of
            # the file silently missing from the batch.
            found = sorted(x for x in p.rglob("*") if x.suffix.lower() in FOLDER_SUFFIXES and x.is_file()
                           and not x.name.startswith(("~$", ".")))
            items.extend(Item(file_name=x.name, path=x) for x in found)
        else:
            items.append(Item(file_name=p.name, path=p, missing=not p.exists()))
    return items


def unreadable(file_name: str, detail: str) -> ParsedWorkbook:
    """A rejected stand-in for a file that could not be read at all."""
    return ParsedWorkbook(file_name=file_name, sha256="", problems=[problems.make("file_unreadable", file=file_name,
                                                                                 detail=detail)])


def _load(item: Item) -> tuple[Path | bytes | None, bytes | None, str | None]:
    """(what the reader gets, the bytes read, why it could not be read)."""
    from pipelines.guide import guide

    if item.missing:
        return None, None, "文件不存在"
    if item.data is not None:
        return item.data, item.data, None
    try:
        # Oversized files go to the reader by path so it can reject them without us loading them.
        if item.path.stat().st_size > guide().limits.max_file_mb * 1024 * 1024:
            return item.path, None, None
        data = item.path.read_bytes()
        return data, data, None
    except OSError as e:
        return None, None, e.strerror or str(e)


def read(item: Item, registry: dict[str, RegistryEntry] | None, slot: int = 0) -> tuple[ParsedWorkbook, bytes | None]:
    """Read and validate one file (in the reader's worker `slot`); returns the parsed workbook and the exact
    bytes that were parsed.

    A valid workbook always comes with its bytes (they are what gets archived); otherwise it is rejected.
    """
    from pipelines.workbook import safe_read

    source, data, failure = _load(item)
    if failure is not None:
        return unreadable(item.file_name, failure), None
    try:
        parsed = safe_read.read_workbook(source, item.file_name, registry=registry, slot=slot)
    except Exception as e:  # a reader bug must reject one file, not abort a batch of 300
        parsed = unreadable(item.file_name, f"{type(e).__name__}: {e}")
    if data is None and parsed.valid and item.path is not None:
        data = item.path.read_bytes()  # only when the reader accepted a file we chose not to preload
    if data is not None and not parsed.sha256:
        parsed.sha256 = sha(data)
    if parsed.valid and data is not None and sha(data) != parsed.sha256:
        parsed.problems.append(problems.make("file_changed", file=parsed.file_name))
    return parsed, data


def read_all(items: list[Item], registry: dict[str, RegistryEntry] | None):
    """(parsed, bytes) of each item in order, read by the reader's worker processes side by side."""
    from pipelines.workbook import safe_read

    return safe_read.read_many(items, lambda item, slot: read(item, registry, slot))
