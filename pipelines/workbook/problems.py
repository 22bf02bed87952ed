"""The catalogue of validation problems (校验问题): each code declared once, with a title and a Chinese message.

Frictionless-style: a problem type has a stable `code`, a default severity, a short `title` and a message
`template`. Templates are `str.format` strings; `{where}` is filled in from the sheet and cell
(「活动台账」工作表 B7 单元格), `{value}` is the raw value as the secretary typed it, other fields are
passed by the check. `make()` is the one way to create a `Problem`; `flatten()` feeds the UI table and tests.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipelines.guide.vocab import Severity
from pipelines.workbook.model import Problem


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem: stable code, default severity, title (for filters) and message template."""

    code: str
    severity: Severity
    title: str
    template: str


CATALOGUE: dict[str, ProblemType] = {}


def _declare(code: str, severity: Severity, title: str, template: str) -> None:
    if code in CATALOGUE:  # a code is declared once; a second declaration is a programming error
        raise ValueError(f"problem code declared twice: {code}")
    CATALOGUE[code] = ProblemType(code, severity, title, template)


# ---- the file itself -----------------------------------------------------------------------------
_declare("file_unreadable", "error", "文件无法读取", "无法读取文件：{detail}。请确认文件存在且未被其他程序占用，然后重新上传。")
_declare("file_empty", "error", "空文件", "文件是空的（0 字节）。请用填报模板填写后重新上传。")
_declare("file_too_large", "error", "文件过大",
         "文件大小为 {size_mb} MB，超过上限 {limit_mb} MB。请删除工作簿中多余的图片和工作表（佐证材料请另行提交），"
         "或用填报模板重新填写后上传。")
_declare("file_not_xlsx", "error", "不是 xlsx 文件",
         "文件不是 Excel 工作簿（.xlsx）{kind}。请用下发的填报模板填写，并在 Excel 或 WPS 中选择"
         "“另存为 → Excel 工作簿（*.xlsx）”后重新上传，不要只修改文件扩展名。")
_declare("file_old_xls", "error", "不是 .xlsx 格式",
         "文件是{kind}。请在 Excel 或 WPS 中打开后选择“另存为 → Excel 工作簿（*.xlsx）”，再上传新保存的文件。")
_declare("file_encrypted", "error", "文件设置了密码",
         "文件设置了打开密码（已加密），系统无法读取。请在 Excel 或 WPS 中打开文件，取消密码保护"
         "（Excel：文件 → 信息 → 保护工作簿 → 用密码进行加密，清空密码；WPS：文件 → 文档加密 → 密码加密，清空密码）"
         "并保存，然后重新上传。请取消密码保护后重新上传。")
_declare("file_corrupt", "error", "文件已损坏",
         "文件已损坏或不完整，无法打开（{detail}）。请在 Excel 或 WPS 中确认文件能正常打开，重新保存为 .xlsx 后再上传；"
         "如果是从微信或邮件下载的，请重新下载。")
_declare("zip_bomb", "error", "文件内容异常",
         "文件解压后的内容异常庞大{part}（声明解压后约 {size_mb} MB，上限 {limit_mb} MB{ratio}），为保护系统已拒绝读取。"
         "请用下发的填报模板重新填写后上传。")
_declare("out_of_scope", "error", "超出管理范围",
         "支部 {branch}（{college}）超出管理范围：当前账号只管理“{scope}”的支部，本文件不会写入。"
         "请只上传本单位支部的报送表；其他二级党组织的报送表请交由组织部或该单位的管理员上传。")
_declare("file_parse_failed", "error", "文件无法读取",
         "文件无法读取：读取「{file_name}」时{reason}，为保护系统已停止读取这个文件（同批的其他文件不受影响）。"
         "请在 Excel 或 WPS 中打开它，按 Ctrl+End 查看最后一个有内容的单元格，删除模板范围以外多余的行、列和工作表，"
         "另存为 .xlsx 后重新上传；如仍无法读取，请用下发的填报模板重新填写。")

# ---- structure -----------------------------------------------------------------------------------
_declare("sheet_missing", "error", "缺少工作表",
         "工作簿中缺少「{sheet}」工作表。请使用下发的填报模板，不要删除或重命名工作表；"
         "现有工作表：{present}。")
_declare("registry_not_submission", "error", "这是支部名册",
         "这是支部名册工作簿（含「{sheet}」工作表），不是支部季度填报表。请在“数据上传”页面的“支部名册”中上传，"
         "或运行 python -m pipelines registry 导入名册。")
_declare("submission_not_registry", "error", "这是支部填报表",
         "这是支部季度填报表（含「{sheet}」工作表），不是支部名册。请在“上传报送”中上传填报表；"
         "支部名册请用“下载空白模板 → 支部名册模板”填写全部支部后上传。")
_declare("cell_out_of_range", "error", "内容超出模板范围",
         "{where}有内容，远在填写范围之外（本工作表只读取前 {max_rows} 行、前 {max_cols} 列，即 A1:{last}）{more}。"
         "为保护系统，这个工作表没有读取。请在 Excel 或 WPS 中按 Ctrl+End 跳到最后一个有内容的单元格，"
         "清除范围以外的内容（多余的整行整列可选中后右键“删除”），保存后重新上传。")
_declare("column_missing", "error", "缺少列",
         "{where}缺少“{column}”列（第 1 行应为表头：{expected}）。请不要删除、移动或修改表头，"
         "可从填报模板复制正确的表头行。")
_declare("info_field_missing", "error", "缺少支部信息项",
         "{where}的 A 列中找不到“{field}”这一项。请不要删除或修改「{sheet}」工作表 A 列的项目名称，"
         "可从填报模板复制。")
_declare("info_value_missing", "error", "支部信息未填写",
         "{where}的“{field}”未填写。请在该单元格填写{field}{hint}。")
_declare("branch_type_unknown", "error", "支部类型无法识别",
         "{where}的支部类型“{value}”无法识别。请从下拉列表中选择：{options}。")
_declare("branch_code_unknown", "error", "支部编码不在名册中",
         "{where}的支部编码“{value}”不在组织部的支部名册中。请核对支部编码（由组织部统一编制），"
         "如为新成立支部请先联系组织部登记。")
_declare("branch_code_unknown_name_known", "error", "支部编码不在名册中",
         "{where}的支部编码“{value}”不在组织部的支部名册中；名册中“{name}”的支部编码是 {expected}。"
         "请把支部编码改为 {expected} 后重新上传（最好使用组织部下发的预填模板，支部信息已填好）。")
_declare("registry_name_differs", "warning", "支部名称与名册不一致，已按名册",
         "{where}的支部名称“{value}”与支部名册中编码 {branch_code} 的名称“{expected}”不一致，已按名册记为“{expected}”。"
         "如支部已更名，请联系组织部更新支部名册。")
_declare("branch_name_of_other_branch", "error", "支部名称是另一个支部的",
         "{where}的支部名称“{value}”是名册中另一个支部（编码 {other_code}）的名称，而支部编码填写的是 {branch_code}"
         "（名册中为“{expected}”）。为免把一个支部的数据记到另一个支部名下，本文件未导入。请核对本表是哪个支部的："
         "复制其他支部的文件修改时最容易漏改支部编码，请改正支部编码或支部名称后重新上传。")
_declare("registry_college_differs", "warning", "所属二级党组织与名册不一致，已按名册",
         "{where}的所属二级党组织“{value}”与支部名册中编码 {branch_code} 的“{expected}”不一致，已按名册记为“{expected}”。"
         "如名册有误，请联系组织部更正。")
_declare("registry_members_differ", "warning", "党员数与名册相差较大",
         "{where}的党员数 {value} 与支部名册中编码 {branch_code} 的党员数 {expected} 相差超过 {tolerance}。"
         "学时人均和谈心谈话、汇报覆盖率按本表填写的党员数 {value} 计算；请核对本表或请组织部更新名册。")
_declare("registry_type_differs", "error", "支部类型与名册不一致",
         "{where}的支部类型是“{value}”，而该支部在名册中为{expected}，请使用{expected}模板（两类支部的自评考核要点不同）"
         "重新填写后上传；如名册有误，请联系组织部更正。")
_declare("file_name_period_mismatch", "error", "文件名与季度不一致",
         "文件名中的季度是 {name_year} 年第 {name_quarter} 季度，而{where}填写的是 {year} 年第 {quarter} 季度。"
         "如果本表是复制上一季度的文件修改而来，请把年度和季度改为本季度；如果是文件名写错了，请改正文件名后重新上传。")
_declare("file_name_branch_mismatch", "error", "文件名与支部编码不一致",
         "文件名中的支部编码是 {name_code}，而{where}填写的是 {value}。请核对本表是哪个支部的：如果是复制其他支部的"
         "文件修改而来，请改正支部编码和支部名称；如果是文件名写错了，请改正文件名后重新上传。")
_declare("year_invalid", "error", "年度有误",
         "{where}的年度“{value}”有误。请填写四位数年份，如 {example}。")
_declare("quarter_invalid", "error", "季度有误",
         "{where}的季度“{value}”有误。请从下拉列表中选择 1、2、3 或 4。")
_declare("members_absurd", "error", "党员数不合理",
         "{where}的党员数“{value}”不合理（应在 1 到 {max} 之间）。请填写本支部正式党员与预备党员的合计人数。")

# ---- cell values ---------------------------------------------------------------------------------
_declare("date_missing", "error", "日期未填写",
         "{where}的日期未填写。请填写活动日期，格式如 {example}。")
_declare("date_invalid", "error", "日期无法识别",
         "{where}的日期“{value}”无法识别。请按 {example} 的格式填写（年-月-日）。")
_declare("date_impossible", "error", "日期不存在",
         "{where}的日期“{value}”不存在（例如 2 月没有 30 日）。请核对后填写正确日期，格式如 {example}。")
_declare("date_outside_period", "error", "日期不在本季度",
         "{where}的日期“{value}”不在所填报的 {year} 年第 {quarter} 季度（{start} 至 {end}）内。"
         "请核对日期；如果是其他季度的活动，请填在对应季度的报送文件中。")
_declare("date_in_future", "error", "日期晚于报送当天",
         "{where}的日期“{value}”晚于报送当天（{today}），还没有到。台账只登记已经开展的活动；"
         "请核对日期，尚未开展的活动请在活动开展后再登记报送。")
_declare("period_contradicts_dates", "error", "年度或季度可能填错",
         "「{ledger}」中有 {n} 条记录的日期都在 {year} 年第 {quarter} 季度，而{where}填写的是 {info_year} 年第 "
         "{info_quarter} 季度。请先核对「支部信息」中的年度和季度（常见于复制上一季度的文件后忘记修改）；"
         "如年度、季度无误，再逐条核对台账日期。")
_declare("merged_cells", "error", "合并单元格",
         "{where}是合并单元格，合并后只有第一行有内容，其余各行会被当作未填写。请选中这些单元格，点击“合并后居中”"
         "取消合并，再在每一行分别填写。")
_declare("ledger_note_row", "warning", "不是活动记录，已忽略",
         "{where}的“{value}”不是活动日期，这一行也没有活动类型，按备注处理，不计入活动。"
         "如是活动记录，请填写日期（如 2026-03-05）和活动类型；备注请写在这次活动的“主题”列中。")
_declare("ledger_example_row", "warning", "示例行，已忽略",
         "{where}的主题“{value}”以“{prefix}”开头，按模板的示例行处理，不计入活动。如是真实活动，请删去主题开头的"
         "“{prefix}”，写明本次活动的主题后重新上传。")
_declare("training_incomplete", "warning", "学时或实到人数未填",
         "{where}是“{activity}”，但{missing}未填写，这次活动不计入全年人均学时（考核要点 {items}）。"
         "请填写每人学时和实际参加人数。")
_declare("ledger_empty", "warning", "活动台账为空",
         "「活动台账」中没有任何活动记录，本季度按台账计分的要求（支委会、党员大会、主题党日等）都将按未开展计分。"
         "如确有活动，请逐条填写后重新上传。")
_declare("date_invalid_optional", "warning", "日期无法识别",
         "{where}的日期“{value}”无法识别，已忽略。请按 {example} 的格式填写（年-月-日）。")
_declare("activity_missing", "error", "活动类型未填写",
         "{where}的活动类型未填写。请从下拉列表中选择，如“{example}”。")
_declare("activity_unknown", "error", "活动类型不在指南中",
         "{where}的活动类型“{value}”不在指南列表中，请从下拉列表中选择，如“{example}”。")
_declare("number_invalid", "error", "不是数字",
         "{where}的{field}“{value}”不是数字。请只填写阿拉伯数字，如 {example}。")
_declare("number_not_integer", "error", "人数不是整数",
         "{where}的{field}“{value}”不是整数。人数请填写整数，如 {example}。")
_declare("negative_number", "error", "负数",
         "{where}的{field}“{value}”是负数。请填写 0 或正数。")
_declare("headcount_absurd", "error", "人数过大",
         "{where}的{field}“{value}”超过了上限 {max}。请核对是否多输入了数字，只填写本支部相关的人数。")
_declare("attended_exceeds_expected", "error", "实到人数大于应到人数",
         "{where}的实到人数 {value} 大于应到人数 {expected}。请核对两列人数（实到人数不能多于应到人数）。")
_declare("hours_too_many", "error", "学时过多",
         "{where}的学时“{value}”超过了一天的上限 {max}。请填写本次活动每人的学时；"
         "多天的培训请按天分行填写。")
_declare("duplicate_row", "warning", "重复的活动记录",
         "{where}与第 {first} 行的日期、活动类型和主题完全相同，可能重复填写。如确为两次活动，请在主题中加以区分；"
         "否则请清空重复那一行的内容。")
_declare("duplicate_row_exact", "warning", "完全相同的活动记录，只计一次",
         "{where}与第 {first} 行的日期、活动类型、主题、学时和人数完全相同，按重复填写处理：只计第 {first} 行一次，"
         "第 {row} 行不计入台账（学时、次数均不重复计算）。如确为两次活动，请在主题中加以区分后重新报送。")
_declare("too_many_rows", "error", "台账行数过多",
         "「{sheet}」工作表有 {rows} 行活动记录，超过上限 {max} 行。请只填写本季度的活动，不要粘贴其他季度或其他表格的内容。")

_declare("control_chars_removed", "warning", "含有不可见的控制字符",
         "{where}含有 {n} 个不可见的控制字符（{removed}），已删除后读取。这类字符通常是从网页、聊天软件或其他系统"
         "复制内容时带入的，会使打印和导出出错；请核对该单元格的内容，必要时清空后重新输入。")

# ---- counts --------------------------------------------------------------------------------------
_declare("count_row_missing", "error", "缺少统计项",
         "「{sheet}」工作表的 A 列中找不到“{field}”这一项。请不要删除或修改 A 列的统计项名称，可从填报模板复制。")
_declare("count_blank", "warning", "统计数据未填写",
         "{where}的“{field}”为空（或显示为 #REF!、#VALUE! 等错误值），考核要点 {items} 将按未完成计分。"
         "请填写数字；本季度确实为 0 的请填写 0。")
_declare("count_unknown_field", "warning", "无法识别的统计项",
         "{where}的统计项“{value}”不在模板中，已忽略。请不要修改 A 列的统计项名称。")
_declare("count_exceeds_members", "error", "人数超过党员数",
         "{where}的{field} {value} 超过了支部党员数 {members}。请核对：该人数不能多于党员数。")
_declare("count_ratio_exceeds", "error", "人数关系不合理",
         "{where}的{field} {value} 大于{other} {expected}。请核对这两个统计项。")

# ---- self-assessment -----------------------------------------------------------------------------
_declare("sa_item_unknown", "error", "指标编号无法识别",
         "{where}的指标编号“{value}”不在指南中。请不要修改「{sheet}」工作表 A 列的指标编号，可从填报模板复制。")
_declare("sa_item_not_applicable", "warning", "指标不适用于本支部类型",
         "{where}的指标 {value} 不适用于{branch_type}，已忽略。请使用{branch_type}的填报模板。")
_declare("sa_item_missing", "error", "缺少自评指标",
         "「{sheet}」工作表缺少指标 {item} 的自评行。请不要删除自评行，可从{branch_type}填报模板中复制该行。")
_declare("sa_item_duplicate", "error", "自评指标重复",
         "{where}的指标 {value} 与第 {first} 行重复。每个指标只填写一行，请清空重复那一行的内容。")
_declare("sa_status_unknown", "error", "完成情况无法识别",
         "{where}的完成情况“{value}”无法识别。请从下拉列表中选择：{options}。")
_declare("sa_status_missing", "warning", "完成情况未填写",
         "{where}的完成情况未填写。请从下拉列表中选择：{options}；确未开展的请选择最后一项。")
_declare("sa_no_evidence", "warning", "完成但无佐证",
         "{where}自评为“{value}”，但未填写佐证材料及主要举措，将按“{fallback}”计分。"
         "请在 {evidence_cell} 单元格简要填写佐证材料（如会议记录、活动照片、文件名称）和主要举措。")

# ---- registry workbook ---------------------------------------------------------------------------
_declare("registry_duplicate_code", "error", "支部编码重复",
         "{where}的支部编码“{value}”与第 {first} 行重复。每个支部只列一行，请删除或更正重复的编码。")
_declare("registry_value_missing", "error", "名册信息未填写",
         "{where}的{field}未填写。请补全该支部的{field}。")
_declare("registry_phone_format", "warning", "联系电话格式可疑",
         "{where}的联系电话“{value}”含有数字、空格和 + - 以外的字符。名册照常导入，请核对后改为如 "
         "0571-88888888 或 13800000000 的写法。")
_declare("registry_empty", "error", "名册为空", "「{sheet}」工作表中没有任何支部。请从第 2 行起每行填写一个支部。")

# ---- the batch and the write path (file-level: no sheet or cell) --------------------------------------
_declare("batch_duplicate", "warning", "批次内重复文件",
         "与本批次中的文件「{other}」内容完全相同，已跳过（不会重复导入）。请勿重复选择同一份文件。")
_declare("batch_replaces", "warning", "批次内替换",
         "本批次中「{earlier}」也是 {branch} {period} 的报送；本文件在后{twin}，将作为新版本替换它。"
         "如不是有意为之，请检查两份文件的支部编码和季度。")
_declare("batch_replaced_later", "warning", "批次内被替换",
         "本批次中后面的「{later}」也是 {branch} {period} 的报送，将替换本文件成为当前版本。"
         "如不是有意为之，请检查两份文件的支部编码和季度。")
_declare("batch_conflict", "error", "批次内报送冲突",
         "本批次中有 {count} 份内容不同的 {branch} {period} 报送：{names}，无法确定以哪份为准，均未写入。"
         "请只保留正确的一份后重新上传（如是其他支部的表，请核对其支部编码）。")
_declare("file_changed", "error", "读取时文件被修改",
         "文件在读取过程中被修改，未导入。请关闭正在编辑它的程序后重新上传。")
_declare("write_failed", "error", "写入失败",
         "写入数据库失败（{detail}），本文件未导入，请重试或联系管理员。")
_declare("archive_missing", "error", "归档文件缺失",
         "归档中找不到该原始文件，无法重放。请从备份恢复该数据库的归档文件夹后再重建。")
_declare("archive_corrupt", "error", "归档文件损坏",
         "归档文件内容与登记的哈希不符（文件已损坏），无法重放。请从备份恢复该数据库的归档文件夹后再重建。")


def where(sheet: str, cell: str) -> str:
    """Chinese location phrase for a message: 「活动台账」工作表 B7 单元格."""
    if sheet and cell:
        return f"「{sheet}」工作表 {cell} 单元格"
    if sheet:
        return f"「{sheet}」工作表"
    return "文件"


def show(value: object) -> str:
    """A raw cell value as text for a message: dates as 2026-03-05, whole floats without .0."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def make(code: str, *, file: str, sheet: str = "", cell: str = "", value: object = None,
         severity: Severity | None = None, **fields: object) -> Problem:
    """Create the `Problem` for `code`, rendering its Chinese message; unknown codes are a programming error."""
    kind = CATALOGUE[code]
    text = show(value)
    message = kind.template.format(where=where(sheet, cell), sheet=sheet, cell=cell, value=text, **fields)
    return Problem(file=file, sheet=sheet, cell=cell, value=text, severity=severity or kind.severity,
                   code=code, message=message)


COLUMN_NAMES = {"file": "文件", "severity": "级别", "sheet": "工作表", "cell": "单元格", "value": "填写内容",
                "title": "问题", "message": "说明及修改方法", "code": "代码"}


def flatten(problems: list[Problem], *, chinese: bool = False) -> list[dict[str, str]]:
    """Problems as flat rows (errors first) for a UI table or a test; `chinese=True` gives Chinese keys/labels."""
    order = sorted(problems, key=lambda p: (p.severity != "error", p.file, p.sheet, _cell_key(p.cell)))
    rows = []
    for p in order:
        row = {"file": p.file, "severity": p.severity, "sheet": p.sheet, "cell": p.cell, "value": p.value,
               "title": CATALOGUE[p.code].title if p.code in CATALOGUE else p.code, "message": p.message,
               "code": p.code}
        if chinese:
            row = {COLUMN_NAMES[k]: (Severity.label_of(v) if k == "severity" else v) for k, v in row.items()}
        rows.append(row)
    return rows


def _cell_key(cell: str) -> tuple[int, str]:
    # Sort B10 after B9: by row number, then column letters.
    letters = "".join(c for c in cell if c.isalpha())
    digits = "".join(c for c in cell if c.isdigit())
    return (int(digits) if digits else 0, letters)
