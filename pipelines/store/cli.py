"""The store layer's CLI commands (dispatched from pipelines/cli.py): `ingest` (with --dry-run and --on-conflict), `registry` and `rebuild`."""
from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path

from pipelines.store import db as dbm
from pipelines.store.ingest import ingest
from pipelines.guide.vocab import FileStatus, Severity
from pipelines.store.plan import FileResult, plan, report_order
from pipelines.store.rebuild import RebuildIncomplete, rebuild
from pipelines.store.registry import load_registry



def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


def _counts(results: list[FileResult]) -> dict[str, int]:
    return {s.value: sum(r.status == s for r in results) for s in FileStatus}


def _report(results: list[FileResult]) -> dict:
    return {"ok": all(r.ok for r in results) and bool(results), "counts": _counts(results),
            "files": [r.as_dict() for r in report_order(results)]}


def _problem_line(p) -> str:
    loc = "".join(x for x in (p.sheet and f"「{p.sheet}」", p.cell and f" {p.cell}") if x)
    val = f" 填写内容「{p.value}」" if p.value else ""
    return f"    {Severity.label_of(p.severity)}{(' ' + loc) if loc else ''}{val}：{p.message}"


def _print_human(results: list[FileResult], out=None, planned: bool = False) -> None:
    """Each file with its problems, then the counts; `planned` words the statuses as a dry run's (将新增 …)."""
    out = out or sys.stdout  # looked up now: tests capture sys.stdout after this module was imported

    def name(status: str) -> str:
        return FileStatus(status).planned if planned else FileStatus(status).label

    for r in report_order(results):
        head = f"[{name(r.status)}] {r.file_name}"
        if r.branch_code:
            head += f"  支部 {r.branch_code}  {r.period}"
        if r.version:
            head += f"  第 {r.version} 版"
        if r.status == FileStatus.REJECTED:
            head += f"  （{len(r.errors)} 个错误，未导入）"
        print(head, file=out)
        for p in sorted(r.problems, key=lambda p: p.severity != "error"):
            print(_problem_line(p), file=out)
    c = _counts(results)
    print(f"共 {len(results)} 个文件：" + "，".join(f"{name(s)} {c[s]}" for s in FileStatus) + "。", file=out)


def _stderr_progress(done: int, total: int, name: str) -> None:
    print(f"\r[{done}/{total}] {name}", end="\n" if done == total else "", file=sys.stderr, flush=True)


def _busy(e: dbm.DatabaseBusy, as_json: bool) -> int:
    done = getattr(e, "results", [])
    if as_json:
        print(json.dumps({**_report(done), "ok": False, "error": "database_busy", "message": str(e)},
                         ensure_ascii=False, indent=2, default=str))
    elif done:
        _print_human(done)
    print(str(e), file=sys.stderr)
    return 2


def cli_ingest(args) -> int:
    """`python -m pipelines ingest PATH... --db DB [--json] [--dry-run] [--on-conflict refuse|last_wins]`:
    0 all written/unchanged, 1 any rejected, 2 busy. --dry-run prints the same plan and writes nothing."""
    progress = _stderr_progress if (not args.json and sys.stderr.isatty()) else None
    dry_run = getattr(args, "dry_run", False)
    on_conflict = getattr(args, "on_conflict", "last_wins")
    try:
        if dry_run:
            results = plan(args.paths, args.db, on_conflict=on_conflict, progress=progress).results
        else:  # = apply(plan(...)), writing what has been read while the rest is read
            results = ingest(args.paths, args.db, actor=_cli_actor(), progress=progress, on_conflict=on_conflict)
    except dbm.DatabaseBusy as e:
        return _busy(e, args.json)
    if args.json:
        print(json.dumps({**_report(results), "dry_run": dry_run}, ensure_ascii=False, indent=2, default=str))
    elif not results:
        print("没有找到任何 .xlsx 文件。", file=sys.stderr)
    else:
        _print_human(results, planned=dry_run)
        if dry_run:
            print("试运行：以上为导入后的结果预览，未写入任何数据。")
    return 0 if results and all(r.ok for r in results) else 1


def cli_registry(args) -> int:
    """`python -m pipelines registry FILE --db DB`: 0 loaded, 1 errors (nothing written), 2 busy."""
    try:
        n, problems = load_registry(Path(args.file), args.db, actor=_cli_actor())
    except dbm.DatabaseBusy as e:
        print(str(e), file=sys.stderr)
        return 2
    for p in problems:
        loc = " ".join(x for x in (p.sheet and f"「{p.sheet}」", p.cell) if x)
        print(f"  {Severity.label_of(p.severity)} {loc}：{p.message}")
    if any(p.severity == Severity.ERROR for p in problems) or n == 0:
        print(f"支部名册有错误，未导入：{args.file}")
        return 1
    print(f"已导入支部名册：{n} 个支部。")
    return 0


def cli_rebuild(args) -> int:
    """`python -m pipelines rebuild --db DB`: 0 rebuilt, 1 some archived file failed, 2 busy."""
    try:
        results = rebuild(args.db, actor=_cli_actor())
    except dbm.DatabaseBusy as e:
        print(str(e), file=sys.stderr)
        return 2
    except RebuildIncomplete as e:
        _print_human([r for r in e.results if r.status == FileStatus.REJECTED])
        print(str(e), file=sys.stderr)
        return 1
    except FileNotFoundError as e:
        print(str(e), file=sys.stderr)
        return 1
    bad = [r for r in results if r.status == FileStatus.REJECTED]
    if bad:
        _print_human(bad)
    print(f"已从归档重建数据库 {dbm.db_path(args.db)}：重放 {len(results)} 个文件，失败 {len(bad)} 个。")
    return 1 if bad else 0
