"""The workbook as a file, before any sheet is read: size, magic bytes, the zip's directory and members
(zip bombs), opening with calamine, and each wanted sheet scanned (`sheet_scan`) for content beyond what is
read. The order of these checks and why is in `pipelines.workbook.reader`'s docstring (steps 1–5)."""
from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

from openpyxl.utils import get_column_letter
from python_calamine import CalamineWorkbook, PasswordError

from pipelines.workbook import normalise as nz, sheet_scan
from pipelines.guide import Guide, guide
from pipelines.workbook.model import Problem
from pipelines.workbook.problems import make
from pipelines.workbook.template import REGISTRY_SHEET

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")  # directory entry of an encrypted OOXML package
MAX_ZIP_ENTRIES = 2000  # a template has ~15 members; thousands only come from crafted files
MAX_RATIO = 200  # deflate tops out near 1030:1; real xlsx XML stays well under 100:1
RATIO_MIN_BYTES = 5 * 2**20  # small members may compress extremely well without being a threat
CHUNK = 2**20
MAX_SHEET_ROWS = 1000  # info, counts and self-assessment sheets hold a few dozen rows
# a university has hundreds of branches, a province's universities about 10,000 (bench_scale): twice that and the header
MAX_REGISTRY_ROWS = 20001
MAX_SHEET_COLUMNS = 64  # the widest sheet has 9 columns; notes typed beside a table still fit
SHARED_STRINGS = "xl/sharedStrings.xml"


def ledger_cap(g: Guide) -> int:
    """Rows read from the ledger sheet: enough to count a little past the limit, with blank rows between."""
    return 2 * g.limits.max_ledger_rows + 2


TABLE_SHEETS = ("ledger", "counts", "self_assessment")  # one record per row: merged cells would hide values


def cell_ref(row: int, col: int) -> str:
    """A1 reference from a 1-based row and a 0-based column index."""
    return f"{get_column_letter(col + 1)}{row}"


def cell_at(rows: list[list], row: int, col: int | None) -> object:
    """Value at Excel row `row` (1-based) and 0-based column `col`; '' when outside the data."""
    if col is None or row - 1 >= len(rows) or col >= len(rows[row - 1]):
        return ""
    return rows[row - 1][col]


def _load(source: Path | bytes | str, name: str, g: Guide) -> tuple[bytes, str, list[Problem]]:
    """The file's bytes and SHA-256, or a size/readability problem (a too-large file is hashed, not kept)."""
    limit = g.limits.max_file_mb * 2**20
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        sha = hashlib.sha256(data).hexdigest()
        if len(data) > limit:
            return b"", sha, [_too_large(name, len(data), g)]
        return data, sha, []
    path = Path(source)
    try:
        size = path.stat().st_size
        if size > limit:  # hash in chunks: never hold an oversized file in memory
            h = hashlib.sha256()
            with path.open("rb") as f:
                for chunk in iter(lambda: f.read(CHUNK), b""):
                    h.update(chunk)
            return b"", h.hexdigest(), [_too_large(name, size, g)]
        data = path.read_bytes()
    except OSError as e:
        return b"", "", [make("file_unreadable", file=name, detail=e.strerror or type(e).__name__)]
    return data, hashlib.sha256(data).hexdigest(), []


def _too_large(name: str, size: int, g: Guide) -> Problem:
    return make("file_too_large", file=name, size_mb=f"{size / 2**20:.1f}", limit_mb=f"{g.limits.max_file_mb:g}")


def _sniff(data: bytes) -> str:
    """A Chinese hint of what a non-xlsx file probably is, for the message."""
    head = data[:2048].lstrip()
    if head.startswith(b"%PDF"):
        return "（看起来是 PDF 文件）"
    if head[:1] == b"<":
        return "（看起来是网页或 XML 文件，常见于从其他系统“导出为 Excel”的文件）"
    for enc in ("utf-8", "gb18030"):
        try:
            head.decode(enc)
            return "（看起来是 CSV 或文本文件）"
        except UnicodeDecodeError:
            continue
    return ""


def check_container(data: bytes, name: str, g: Guide | None = None) -> list[Problem]:
    """Problems with the file as a container (not xlsx, encrypted, corrupt, zip bomb); [] when safe to parse.

    The zip central directory is inspected before any member is inflated, so an honest bomb is rejected
    without decompressing a byte; members are then inflated in bounded chunks to catch lying headers.
    """
    return _inspect(data, name, g)[0]


KEPT_PARTS_MB = 16
"""Of the members `_inspect` inflates, the workbook, its relationships and the worksheets of up to
sheet_scan.FAST_MAX_BYTES each are kept (this much in all at most), so the sheet scan need not inflate them again."""


def _kept(member: str) -> bool:
    return member in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels") or member.startswith("xl/worksheets/")


def _inspect(data: bytes, name: str, g: Guide | None = None
             ) -> tuple[list[Problem], zipfile.ZipFile | None, dict[str, bytes]]:
    """check_container's problems; with none, also the open zip and the members kept (`_kept`) by name."""
    g = g or guide()
    if not data:
        return [make("file_empty", file=name)], None, {}
    if data.startswith(OLE_MAGIC):
        if ENCRYPTION_STREAM in data:
            return [make("file_encrypted", file=name)], None, {}
        kind = "WPS 表格专用格式（.et）" if name.lower().endswith(".et") else "旧版 Excel 97-2003 格式（.xls）"
        return [make("file_old_xls", file=name, kind=kind)], None, {}
    if not data.startswith(b"PK"):
        return [make("file_not_xlsx", file=name, kind=_sniff(data))], None, {}
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as e:
        return [make("file_corrupt", file=name, detail=f"压缩结构损坏：{e}")], None, {}
    limit = g.limits.max_uncompressed_mb * 2**20
    total = sum(i.file_size for i in infos)
    worst = max(infos, key=lambda i: i.file_size / max(i.compress_size, 1), default=None)
    ratio = worst.file_size / max(worst.compress_size, 1) if worst else 0
    if (len(infos) > MAX_ZIP_ENTRIES or total > limit
            or (worst and worst.file_size > RATIO_MIN_BYTES and ratio > MAX_RATIO)):
        culprit = None if len(infos) > MAX_ZIP_ENTRIES else (
            worst if total <= limit else max(infos, key=lambda i: i.file_size))
        return [_bomb(name, total, g, ratio, zf, culprit)], None, {}
    names = set(zf.namelist())
    if len(names) != len(infos):  # two members of one name: what we check need not be what calamine reads
        return [make("file_corrupt", file=name, detail="压缩结构中有重名的部件")], None, {}
    if "xl/workbook.xml" not in names:
        kind = ("（看起来是 Word 文档）" if "word/document.xml" in names else
                "（看起来是 PowerPoint 文件）" if any(n.startswith("ppt/") for n in names) else
                "（看起来是 WPS/LibreOffice 的 .ods 表格）" if "content.xml" in names else
                "（看起来是一个压缩包）")
        return [make("file_not_xlsx", file=name, kind=kind)], None, {}
    inflated, parts, room = 0, {}, KEPT_PARTS_MB * 2**20
    try:
        for info in infos:
            keep = _kept(info.filename) and info.file_size <= min(sheet_scan.FAST_MAX_BYTES, room)
            chunks = []
            with zf.open(info) as member:
                seen = 0
                while chunk := member.read(CHUNK):
                    seen += len(chunk)
                    inflated += len(chunk)
                    if inflated > limit or seen > info.file_size:
                        return [_bomb(name, inflated, g, ratio, zf, info)], None, {}
                    if keep:
                        chunks.append(chunk)
            if keep:
                parts[info.filename] = b"".join(chunks)
                room -= seen
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as e:
        # RuntimeError: zipfile's "encrypted member, password required"
        return [make("file_corrupt", file=name, detail=f"内容校验失败：{e}")], None, {}
    except Exception as e:  # zlib.error and friends: damaged compressed data
        return [make("file_corrupt", file=name, detail=f"压缩数据损坏：{type(e).__name__}")], None, {}
    return [], zf, parts


def _bomb(name: str, size: float, g: Guide, ratio: float, zf: zipfile.ZipFile | None = None,
          culprit: zipfile.ZipInfo | None = None) -> Problem:
    sheet = _sheet_of(zf, culprit.filename) if zf and culprit else ""
    part = (f"，主要来自「{sheet}」工作表" if sheet else
            "，主要来自各工作表中的文字" if culprit and culprit.filename == SHARED_STRINGS else "")
    return make("zip_bomb", file=name, sheet=sheet, part=part, size_mb=f"{size / 2**20:,.0f}",
                limit_mb=f"{g.limits.max_uncompressed_mb:g}",
                ratio=f"，压缩比约 {ratio:,.0f}:1" if ratio > MAX_RATIO else "")


def _sheet_of(zf: zipfile.ZipFile, member: str) -> str:
    """The name of the sheet stored in zip member `member`, or "" (not a sheet, or the workbook unreadable)."""
    if not member.startswith("xl/") or member in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
        return ""
    try:
        return next((s for s, m in sheet_scan.sheet_members(zf).items() if m == member), "")
    except Exception:  # zlib.error and friends: the verdict stands without the name
        return ""


class Opened:
    """A workbook that passed the container checks: calamine's handle and the zip to scan sheets in first."""

    def __init__(self, wb: CalamineWorkbook, zf: zipfile.ZipFile, parts: dict[str, bytes]):
        self.wb = wb
        self.zip = zf
        self.parts = parts  # members the container check inflated and kept, by name
        self.members = sheet_scan.sheet_members(self.zip, parts)

    def guard(self, sheet: str, max_rows: int, name: str, *, ledger_max: int | None = None) -> Problem | None:
        """Why `sheet` must not be handed to calamine (content beyond `max_rows` x MAX_SHEET_COLUMNS), or None.

        With `ledger_max`, a sheet past its bounds with more data rows than that is "too many rows", with
        their real count, rather than one stray cell.
        """
        member = self.members.get(sheet)
        if member is None or member not in self.zip.NameToInfo:
            return make("file_corrupt", file=name, sheet=sheet, detail=f"找不到「{sheet}」工作表的内容")
        try:
            ext = sheet_scan.scan(self.zip, member, max_rows, MAX_SHEET_COLUMNS, self.parts)
        except (sheet_scan.Unsafe, sheet_scan.expat.ExpatError) as e:
            return make("file_corrupt", file=name, sheet=sheet, detail=f"「{sheet}」工作表的内容格式异常：{e}")
        if not ext.far:
            return None
        if ledger_max is not None and ext.rows > ledger_max:
            return make("too_many_rows", file=name, sheet=sheet, rows=ext.rows, max=ledger_max)
        more = f"，另有 {ext.far_count - 1} 个单元格也在范围之外" if ext.far_count > 1 else ""
        return make("cell_out_of_range", file=name, sheet=sheet, cell=ext.far, max_rows=max_rows,
                    max_cols=MAX_SHEET_COLUMNS, last=cell_ref(max_rows, MAX_SHEET_COLUMNS - 1), more=more)


def open_workbook(source: Path | bytes | str, file_name: str | None, g: Guide
                  ) -> tuple[str, str, Opened | None, list[Problem]]:
    name = file_name or (Path(source).name if not isinstance(source, (bytes, bytearray, memoryview)) else "上传文件")
    data, sha, problems = _load(source, name, g)
    if problems:
        return name, sha, None, problems
    problems, zf, parts = _inspect(data, name, g)
    if problems:
        return name, sha, None, problems
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except PasswordError:
        return name, sha, None, [make("file_encrypted", file=name)]
    except Exception as e:  # calamine raises its own errors for XML it cannot parse
        return name, sha, None, [make("file_corrupt", file=name, detail=f"工作簿内容无法解析：{type(e).__name__}")]
    return name, sha, Opened(wb, zf, parts), []


def read_sheets(opened: Opened, keys: dict[str, str], name: str, g: Guide
                ) -> tuple[dict[str, tuple[str, list]], list[Problem]]:
    """Rows of each wanted sheet (key -> (actual name, rows)), matched after normalising names.

    At most `ledger_cap` (ledger) or MAX_SHEET_ROWS rows and MAX_SHEET_COLUMNS columns are read; a sheet with
    content beyond them is not read at all (see `Opened.guard`).
    """
    wb = opened.wb
    actual = {nz.key(n): n for n in wb.sheet_names}
    if nz.key(REGISTRY_SHEET) in actual and not any(nz.key(w) in actual for w in keys.values()):
        # A registry workbook handed in as a submission: one clear message instead of five missing sheets.
        return {}, [make("registry_not_submission", file=name, sheet=actual[nz.key(REGISTRY_SHEET)])]
    found, problems = {}, []
    for k, wanted in keys.items():
        real = actual.get(nz.key(wanted))
        if real is None:
            problems.append(make("sheet_missing", file=name, sheet=wanted,
                                 present="、".join(f"「{n}」" for n in wb.sheet_names) or "无"))
            continue
        cap = ledger_cap(g) if k == "ledger" else MAX_SHEET_ROWS
        refused = opened.guard(real, cap, name, ledger_max=g.limits.max_ledger_rows if k == "ledger" else None)
        if refused:
            problems.append(refused)
            continue
        sheet = wb.get_sheet_by_name(real)
        rows = sheet.to_python(skip_empty_area=False, nrows=cap)
        shown = nz.strip_controls(real)[0]  # the name as stored and shown: a control character never reaches them
        found[k] = (shown, rows)
        if k in TABLE_SHEETS:  # only the top-left cell of a merged range has a value: the rest read as blank
            for (r0, c0), (r1, c1) in getattr(sheet, "merged_cell_ranges", None) or []:
                if r1 >= 1:  # reaches the data rows (a merged header is harmless)
                    problems.append(make("merged_cells", file=name, sheet=shown,
                                         cell=f"{cell_ref(r0 + 1, c0)}:{cell_ref(r1 + 1, c1)}"))
    return found, problems


def header_columns(rows: list[list], wanted: list[tuple[str, str]], sheet: str, name: str
                   ) -> tuple[dict[str, int], list[Problem]]:
    """Map column ids to 0-based indexes by their header in row 1; a missing header is a problem."""
    header = {nz.key(v): i for i, v in enumerate(rows[0] if rows else []) if not nz.is_blank(v)}
    cols, problems = {}, []
    expected = " | ".join(n for _, n in wanted)
    for pos, (cid, cname) in enumerate(wanted):
        i = header.get(nz.key(cname))
        if i is None:
            problems.append(make("column_missing", file=name, sheet=sheet, cell=cell_ref(1, pos), column=cname,
                                 expected=expected, value=cell_at(rows, 1, pos)))
        else:
            cols[cid] = i
    return cols, problems
