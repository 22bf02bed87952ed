"""Pre-filled templates (预填模板) from the registry, and the CLI command `template`.

One workbook per registered branch and quarter: branch code, name, college, type, year and quarter are filled
from the registry and locked (so a pre-filled workbook is never refused for its identity cells), 党员数 is
filled but may be changed, and the file is named `2026Q4_JX-T01_支部名称.xlsx` (the period and the code the
reader compares with 支部信息). A college's workbooks, or the school's (one folder per college), come as one zip.
"""
from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path
from typing import Iterable, Iterator
from zipfile import ZIP_STORED, ZipFile

from pipelines.workbook import normalise as nz
from pipelines.guide import guide
from pipelines.workbook.model import BranchInfo, RegistryEntry
from pipelines.guide.period import Period
from pipelines.workbook.template import write_workbook

_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')  # not allowed (or awkward) in Windows file names


class TemplateError(ValueError):
    """A request that cannot be met (bad period, unknown college, empty registry); the message is Chinese."""


def check_period(period: str) -> str:
    """'2026q4' -> '2026Q4'; TemplateError when it is no quarter."""
    try:
        parsed = Period.parse(str(period))
    except ValueError:
        parsed = None
    if parsed is None or not 2000 <= parsed.year <= 2100:
        raise TemplateError(f"季度“{period}”有误，请写成 2026Q4 这样的格式（年份 + Q + 季度 1–4）。")
    return str(parsed)


def prefilled_name(entry: RegistryEntry, period: str) -> str:
    """The file name of a branch's pre-filled workbook: '2026Q4_JX-T01_机械工程学院教工第一党支部.xlsx'."""
    return f"{period}_{entry.branch_code}_{_UNSAFE.sub('', entry.branch_name)}.xlsx"


def zip_name(period: str, college: str | None = None) -> str:
    """The file name of a college's (or the school's) zip: '2026Q4_机械工程学院党委_预填模板.zip'."""
    return f"{period}_{_UNSAFE.sub('', college) if college else '全校'}_预填模板.zip"


def write_prefilled(target, entry: RegistryEntry, period: str):
    """Write one branch's pre-filled workbook for `period` to a path or a binary file object; returns it."""
    p = Period.parse(check_period(period))
    info = BranchInfo(entry.branch_code, entry.branch_name, entry.college, entry.branch_type, p.year, p.quarter,
                      entry.members)
    return write_workbook(target, entry.branch_type, info=info, prefilled=True)


def select(entries: Iterable[RegistryEntry], college: str | None = None) -> list[RegistryEntry]:
    """The entries of one college (matched after nz.key), or all, by college and code; TemplateError if none."""
    entries = sorted(entries, key=lambda e: (e.college, e.branch_code))
    if not entries:
        raise TemplateError("支部名册为空，请先导入支部名册（python -m pipelines registry 名册.xlsx）。")
    if college is None:
        return entries
    chosen = [e for e in entries if nz.key(e.college) == nz.key(college)]
    if not chosen:
        known = "、".join(dict.fromkeys(e.college for e in entries))
        raise TemplateError(f"支部名册中没有二级党组织“{college}”。名册中的二级党组织有：{known}。")
    return chosen


def _members(entries: Iterable[RegistryEntry], period: str, college: str | None
             ) -> Iterator[tuple[str, RegistryEntry]]:
    """(relative path, entry) of each workbook: flat for one college, one folder per college for the school."""
    for e in select(entries, college):
        folder = "" if college else _UNSAFE.sub("", e.college) + "/"
        yield folder + prefilled_name(e, period), e


def prefilled_zip(entries: Iterable[RegistryEntry], period: str, college: str | None = None) -> bytes:
    """The pre-filled workbooks of a college (or, without `college`, of the whole registry) as one zip.

    Raises TemplateError (a Chinese message) for a bad period, an unknown college or an empty registry."""
    period = check_period(period)
    buf = BytesIO()
    with ZipFile(buf, "w", ZIP_STORED) as zf:  # xlsx files are zips already: storing them is as small and faster
        for name, entry in _members(entries, period, college):
            zf.writestr(name, write_prefilled(BytesIO(), entry, period).getvalue())
    return buf.getvalue()


def write_prefilled_folder(entries: Iterable[RegistryEntry], period: str, out: Path,
                           college: str | None = None) -> list[Path]:
    """The same workbooks as `prefilled_zip`, written into the folder `out`; returns the paths."""
    period = check_period(period)
    return [write_prefilled(Path(out) / name, entry, period) for name, entry in _members(entries, period, college)]


# ---- CLI -----------------------------------------------------------------------------------------
def _registry_of(args) -> list[RegistryEntry] | None:
    """The registry the command names (--registry workbook or --db); None after printing its problems."""
    from pipelines.store import plan
    from pipelines.workbook import reader
    from pipelines.workbook.problems import flatten

    if args.registry:
        entries, problems = reader.read_registry(Path(args.registry))
        errors = [p for p in flatten(problems) if p["severity"] == "error"]
        for p in errors:
            print(f"{p['file']} {p['sheet']} {p['cell']}：{p['message']}")
        return None if errors else entries
    return plan.registry_entries(args.db)


def cli_template(args) -> int:
    """`python -m pipelines template --type teacher|student --out FILE`: a blank template;
    `… template (--registry FILE | --db DB) --period 2026Q4 [--college NAME] --out DIR|FILE.zip`: pre-filled
    workbooks of every branch (or one college's). 0 written, 1 bad input (message printed), 2 wrong options."""
    g = guide()
    if not (args.registry or args.db):
        if not args.type:
            print("请指定 --type teacher|student（空白模板），或 --registry 名册.xlsx / --db 数据库 与 --period（预填模板）。")
            return 2
        out = write_workbook(args.out, args.type)
        print(f"已生成{g.branch_type_name(args.type)}季度填报模板：{out}")
        return 0
    if not args.period:
        print("生成预填模板须指定 --period，如 --period 2026Q4。")
        return 2
    entries = _registry_of(args)
    if entries is None:
        return 1
    out = Path(args.out)
    try:
        if out.suffix.lower() == ".zip":
            out.parent.mkdir(parents=True, exist_ok=True)
            data = prefilled_zip(entries, args.period, args.college)
            out.write_bytes(data)
            n = len(ZipFile(out).namelist())
        else:
            n = len(write_prefilled_folder(entries, args.period, out, args.college))
    except TemplateError as e:
        print(e)
        return 1
    scope = args.college or "全校"
    print(f"已生成{scope} {n} 个支部的 {Period.parse(check_period(args.period)).label}预填模板：{out}")
    return 0
