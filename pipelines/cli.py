"""Command line: python -m pipelines <command> … (the contract other tools depend on).

The parser and one explicit command table; each command's function lives beside the code it drives and is
imported only when that command runs, so one command's dependencies do not slow another.
"""
from __future__ import annotations

import argparse
import importlib

from pipelines.config import settings
from pipelines.guide import guide


def build_parser() -> argparse.ArgumentParser:
    """The commands; defaults come from settings() (DJ_… variables) and choices from the guide."""
    s = settings()
    p = argparse.ArgumentParser(prog="python -m pipelines", description="党建“双创”数据管道")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("template", help="生成空白填报模板，或按支部名册生成预填模板")
    t.add_argument("--type", choices=[bt.id for bt in guide().branch_types], help="空白模板的支部类型")
    t.add_argument("--registry", default=None, help="支部名册工作簿（.xlsx），按名册为每个支部生成预填模板")
    t.add_argument("--db", default=None, help="从数据库读取支部名册，按名册生成预填模板")
    t.add_argument("--period", default=None, help="预填模板的季度，如 2026Q4")
    t.add_argument("--college", default=None, help="只生成该二级党组织的支部")
    t.add_argument("--out", required=True, help="空白模板：文件；预填模板：文件夹或 .zip 文件")

    d = sub.add_parser("demo", help="生成演示学校的填报文件和支部名册")
    d.add_argument("--out", required=True)
    d.add_argument("--seed", type=int, default=s.demo_seed, help="随机种子（默认 %(default)s，DJ_DEMO_SEED）")
    d.add_argument("--branches", type=int, default=s.demo_branches, help="支部数（默认 %(default)s，DJ_DEMO_BRANCHES）")
    d.add_argument("--quarters", type=int, default=s.demo_quarters, help="季度数（默认 %(default)s，DJ_DEMO_QUARTERS）")

    r = sub.add_parser("registry", help="从工作簿导入支部名册")
    r.add_argument("file")
    r.add_argument("--db", default=None)

    i = sub.add_parser("ingest", help="校验并导入填报文件（文件或文件夹）")
    i.add_argument("paths", nargs="+")
    i.add_argument("--db", default=None)
    i.add_argument("--json", action="store_true")
    i.add_argument("--dry-run", action="store_true", help="只校验并显示导入后的结果，不写入任何数据")
    i.add_argument("--on-conflict", choices=["last_wins", "refuse"], default="last_wins",
                   help="同一批中同一支部同一季度有多份不同文件时：last_wins 以后一份为准（默认），refuse 均不导入")

    b = sub.add_parser("rebuild", help="从归档的原始文件重建数据库")
    b.add_argument("--db", default=None)

    s = sub.add_parser("scores", help="输出某季度各支部得分，或某支部各指标完成情况")
    s.add_argument("--db", default=None)
    s.add_argument("--period", required=True)
    s.add_argument("--branch", default=None)
    s.add_argument("--items", action="store_true")
    s.add_argument("--format", choices=["table", "csv", "json"], default="table")

    q = sub.add_parser("report", help="生成某季度的季度简报（Excel 工作簿或 PDF）")
    q.add_argument("--db", default=None)
    q.add_argument("--period", required=True)
    q.add_argument("--format", choices=["xlsx", "pdf"], default="xlsx")
    q.add_argument("--out", default=None, help="输出文件（默认：党建双创季度报告_季度.xlsx 或 .pdf）")

    m = sub.add_parser("summary", help="输出某季度的本季度要点（规则生成的中文摘要）")
    m.add_argument("--db", default=None)
    m.add_argument("--period", required=True)
    return p


COMMANDS: dict[str, tuple[str, str]] = {  # command -> (module, function)
    "template": ("pipelines.workbook.prefilled", "cli_template"),
    "demo": ("pipelines.demo.build", "cli_demo"),
    "registry": ("pipelines.store.cli", "cli_registry"),
    "ingest": ("pipelines.store.cli", "cli_ingest"),
    "rebuild": ("pipelines.store.cli", "cli_rebuild"),
    "scores": ("pipelines.scoring.cli", "cli_scores"),
    "report": ("pipelines.report.quarterly", "cli_report"),
    "summary": ("pipelines.report.summary", "cli_summary"),
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module, function = COMMANDS[args.command]
    return getattr(importlib.import_module(module), function)(args)
