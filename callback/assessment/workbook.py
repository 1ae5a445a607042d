"""`callback assess --month M --xlsx FILE` and `--year Y --xlsx FILE`: the assessment as workbooks for the
supervision office (every cell a value, never a formula: callback.results.spreadsheet.append_row)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from callback.results.spreadsheet import append_row
from survey.assessment_rules import SECTIONS

SECTION_IDS = [s.id for s in SECTIONS if s.points is not None]
SECTION_HEADERS = [f"（{s.id}）{s.title}" for s in SECTIONS if s.points is not None]


def _sheet(book: Any, title: str, caption: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Any:
    from openpyxl.styles import Font

    sheet = book.create_sheet(title)
    append_row(sheet, [caption])
    sheet["A1"].font = Font(bold=True, size=12)
    append_row(sheet, headers)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in rows:
        append_row(sheet, row)
    sheet.freeze_panes = "B3"
    return sheet


def _save(book: Any) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _score_rows(payload: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for row in payload["staff"]:
        if not row["assessed"]:
            rows.append([row["name"], "、".join(row["windows"]), *([None] * len(SECTION_IDS)), None, None, "本月无考核数据"])
            continue
        note = "产假，按基本分计" if row["maternity"] else "；".join(f"{bar} 取消当年评先树优资格" for bar in row["award_bars"])
        rows.append([row["name"], "、".join(row["windows"]), *(row["sections"][s] for s in SECTION_IDS),
                     row["bonus"], row["total"], note])
    return rows


def _rule_rows(payload: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for row in payload["staff"]:
        for rule in row["rules"]:
            sources = "；".join(f"{s['source']} {s['count']}" for s in rule["sources"])
            rows.append([row["name"], rule["clause"], rule["label"], rule["count"], rule["per_occurrence"],
                         rule["points"], sources])
        for item in row["bonus_items"]:
            if item["points"] < item["uncapped"]:
                rows.append([row["name"], item["clause"], "上限", None, None, item["points"],
                             f"未封顶 {item['uncapped']:g}"])
    return rows


def _entry_rows(payload: dict[str, Any]) -> list[list[Any]]:
    return [[e["id"], e["staff"], e["date"] or e["month"], e["clause"], e["grade"], e["count"], e["minutes"],
             e["points"], e["note"], e["entered_by"], e["entered_at"], e["corrects"], e["reason"]]
            for row in payload["staff"] for e in row["entries"]]


def month_xlsx(payload: dict[str, Any]) -> bytes:
    """月度得分 (sections, bonus, total), 计分明细 (every rule with its clause and sources), 录入记录."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    caption = f"{payload['hall_name']} {payload['month']} 前台工作人员月度考核（篇3）"
    _sheet(book, "月度得分", caption, ["工作人员", "窗口", *SECTION_HEADERS, "附加分", "月度得分", "备注"],
           _score_rows(payload))
    _sheet(book, "计分明细", caption, ["工作人员", "条款", "情形", "次数", "每次分值", "分值", "来源"],
           _rule_rows(payload))
    _sheet(book, "录入记录", caption, ["编号", "工作人员", "日期", "条款", "等次", "次数", "分钟", "分值", "说明",
                                    "录入人", "录入时间", "更正的录入", "更正原因"], _entry_rows(payload))
    return _save(book)


def year_xlsx(payload: dict[str, Any]) -> bytes:
    """年度成绩 (each month and the mean), 优秀服务标兵, 窗口综合考评."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    caption = f"{payload['hall_name']} {payload['year']} 年度考核（篇3 三）"
    months = payload["months"]
    awarded = set(payload["awards"]["awarded"])
    rows = [[row["name"], *(row["months"].get(m) for m in months), row["score"],
             "优秀服务标兵" if row["name"] in awarded else "",
             "；".join(f"{b['clause']} {b['reason']}" for b in row["award_bars"])] for row in payload["staff"]]
    _sheet(book, "年度成绩", caption, ["工作人员", *months, "年度成绩", "评选", "取消评先树优"], rows)
    awards = payload["awards"]
    _sheet(book, "优秀服务标兵", caption, ["项目", "内容"], [
        ["规则", awards["rule"]], ["名额", awards["quota"]], ["入选", "、".join(awards["awarded"])],
        ["名额边界同分", "、".join(awards["tied_at_cut"])], ["待择优名额", awards["open_places"]],
        ["取消资格", "、".join(awards["barred"])]])
    windows = payload["windows"]
    rows = [[w["window"], *((w["months"].get(m) or {}).get("score") for m in months), w["score"], w["grade"],
             len(w["red_flag_months"])] for w in windows["rows"]]
    sheet = _sheet(book, "窗口综合考评", caption, ["窗口", *months, "年度", "等级", "红旗窗口次数"], rows)
    append_row(sheet, [])
    append_row(sheet, [windows["rule"]])
    return _save(book)
