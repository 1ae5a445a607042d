"""Weekly callback results per window (篇2 六; docs/architecture.md §Window score and grades).

Figures, per window and for the hall (first callbacks of the ISO week; 二次回访 are not counted again):

* ``drawn`` — callbacks drawn that week; ``reached_phone`` / ``reached_sms`` / ``reached_manual`` — finished
  (complete or partial) by IVR call, by SMS reply, or entered by staff; ``unreachable``; ``opted_out``;
  ``break_off`` (hung up before item 1); ``pending`` (still in progress).
* ``n`` — reached callbacks with an overall rating (the overall item, else the worst rated item answered);
  ``satisfied`` / ``basic`` / ``unsatisfied`` — those ratings; ``score`` (S=100, B=60, U=0, mean), the 95% Wilson
  interval on the satisfied share and the grade (样本不足 below 5 responses) come from `survey.scoring`.
* ``items`` — per item, the answers of reached callbacks: ``{S, B, U}`` for rated items, ``{Y, N}`` for the
  yes/no items (体外循环 Y = all done in the hall; 廉洁自律 Y = someone asked for something).
* ``rectifications`` — cases opened from these callbacks: ``opened`` = ``on_time`` + ``overdue`` + ``pending``;
  ``overdue`` counts cases not fed back by their due time (``late`` of them were fed back afterwards).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.display import display_width
from callback.models import Answer, Callback, Hall, Window
from callback.models.rectification import Rectification
from callback.rectification.services import REASON_LABELS, STATE_LABELS, deadline_status, item_answers
from callback.responses.states import ANSWERED, CallbackState
from callback.results.spreadsheet import append_row
from survey.privacy import mask_text
from survey.questionnaire import ITEMS, overall_rating
from survey.scale import Rating
from survey.scoring import window_score

CHANNEL_FIELD = {"voice": "reached_phone", "sms": "reached_sms", "manual": "reached_manual"}
# A refused call (answered, never consented) ended like a break-off: reached, nothing answered — it is not pending.
STATE_FIELD = {
    CallbackState.UNREACHABLE: "unreachable", CallbackState.OPTED_OUT: "opted_out",
    CallbackState.BREAK_OFF: "break_off", CallbackState.REFUSED: "break_off",
}
COUNT_FIELDS = (
    "drawn", "reached_phone", "reached_sms", "reached_manual", "unreachable", "opted_out", "break_off", "pending",
)
TOTAL_LABEL = "合计"


@dataclass
class _Bucket:
    """What is collected for one window (or the whole hall) before the figures are computed."""

    counts: Counter[str]
    ratings: list[Rating]
    items: dict[str, Counter[str]]
    cases: list[Rectification]


def _bucket() -> _Bucket:
    return _Bucket(Counter(), [], {item.code: Counter() for item in ITEMS}, [])


def _item_values(code: str) -> tuple[str, ...]:
    item = next(i for i in ITEMS if i.code == code)
    return ("S", "B", "U") if item.kind == "rating" else ("Y", "N")


def _add_callback(bucket: _Bucket, callback: Callback, answers: Sequence[Answer]) -> None:
    bucket.counts["drawn"] += 1
    if callback.state in ANSWERED:  # reached: finished with at least one item answered
        bucket.counts[CHANNEL_FIELD.get(callback.channel, "reached_phone")] += 1
        given = item_answers(answers)
        for answer in given:
            bucket.items[answer.item][(answer.rating or answer.yes_no).value] += 1
        rating = overall_rating(given)
        if rating is not None:
            bucket.ratings.append(rating)
    else:
        bucket.counts[STATE_FIELD.get(callback.state, "pending")] += 1


def _rectification_figures(cases: Iterable[Rectification], now: datetime) -> dict[str, int]:
    statuses = Counter(deadline_status(c, now) for c in cases)
    return {
        "opened": sum(statuses.values()),
        "on_time": statuses["on_time"],
        "overdue": statuses["overdue"] + statuses["late"],
        "late": statuses["late"],
        "pending": statuses["pending"],
    }


def _figures(name: str, bucket: _Bucket, now: datetime) -> dict[str, Any]:
    score = window_score(bucket.ratings)
    row: dict[str, Any] = {"window": name}
    row |= {f: bucket.counts[f] for f in COUNT_FIELDS}
    row |= {
        "n": score.n, "satisfied": score.s, "basic": score.b, "unsatisfied": score.u, "score": score.score,
        "ci_low": score.ci_low, "ci_high": score.ci_high, "grade": score.grade,
    }
    row["items"] = {code: {v: counts[v] for v in _item_values(code)} for code, counts in bucket.items.items()}
    row["rectifications"] = _rectification_figures(bucket.cases, now)
    return row


def _week_callbacks(session: Session, hall: Hall, week: str) -> list[Callback]:
    return list(session.scalars(
        select(Callback)
        .where(Callback.hall_id == hall.id, Callback.week == week, Callback.revisit_of_id.is_(None))
        .order_by(Callback.id)
    ))


def _answers_by_callback(session: Session, ids: list[int]) -> dict[int, list[Answer]]:
    out: dict[int, list[Answer]] = defaultdict(list)
    if ids:
        for answer in session.scalars(select(Answer).where(Answer.callback_id.in_(ids)).order_by(Answer.id)):
            out[answer.callback_id].append(answer)
    return out


def _cases(session: Session, ids: list[int]) -> list[Rectification]:
    if not ids:
        return []
    query = select(Rectification).where(Rectification.callback_id.in_(ids)).order_by(Rectification.id)
    return list(session.scalars(query))


def weekly_report(session: Session, hall: Hall, week: str, now: datetime) -> dict[str, Any]:
    """The week's results per window and for the hall. ``now`` decides which open cases are overdue."""
    callbacks = _week_callbacks(session, hall, week)
    ids = [c.id for c in callbacks]
    answers = _answers_by_callback(session, ids)
    buckets: dict[int, _Bucket] = defaultdict(_bucket)
    total = _bucket()
    for callback in callbacks:
        _add_callback(buckets[callback.window_id], callback, answers[callback.id])
        _add_callback(total, callback, answers[callback.id])
    cases = _cases(session, ids)
    for case in cases:
        buckets[case.window_id].cases.append(case)
        total.cases.append(case)
    names = _window_names(session, list(buckets))
    windows = [_figures(names[wid], buckets[wid], now) for wid in sorted(buckets, key=lambda w: names[w])]
    tz = ZoneInfo(hall.timezone or "Asia/Shanghai")
    return {
        "week": week,
        "hall": hall.code,
        "hall_name": hall.name,
        "generated_at": now.astimezone(tz).isoformat(timespec="seconds"),
        "windows": windows,
        "totals": _figures(TOTAL_LABEL, total, now),
        "cases": [_case_row(c, names, now, tz) for c in cases],
    }


def _window_names(session: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Window.id, Window.name).where(Window.id.in_(ids)))
    return {window_id: name for window_id, name in rows}


def _case_row(case: Rectification, names: dict[int, str], now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    def local(value: datetime | None) -> str | None:
        return value.astimezone(tz).isoformat(timespec="minutes") if value else None

    return {
        "id": case.id, "window": names.get(case.window_id, ""), "reasons": list(case.reasons),
        "state": case.state, "opened_at": local(case.opened_at), "due_at": local(case.due_at),
        "estimated": case.due_estimated, "feedback_at": local(case.feedback_at), "feedback_via": case.feedback_via,
        "deadline": deadline_status(case, now),
        # what the citizen said, as the case's excerpt keeps it (masked when written), masked again for export
        "suggestion": mask_text((case.excerpt or {}).get("suggestion")) or None,
    }


# --- XLSX --------------------------------------------------------------------------------------------------

SUMMARY_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("window", "窗口", None),
    ("drawn", "抽取人数", None),
    ("reached_phone", "电话回访", None),
    ("reached_sms", "短信回访", None),
    ("reached_manual", "人工登记", None),
    ("unreachable", "未联系上", None),
    ("opted_out", "拒访退订", None),
    ("n", "有效评价数", None),
    ("satisfied", "满意", None),
    ("basic", "基本满意", None),
    ("unsatisfied", "不满意", None),
    ("score", "得分", "0.0"),
    ("ci_low", "满意率95%区间下限", "0.0%"),
    ("ci_high", "满意率95%区间上限", "0.0%"),
    ("grade", "等级", None),
)
ITEM_HEADERS = ("窗口", "项目", "满意", "基本满意", "不满意", "是", "否")
ITEM_TITLES = {"in_hall": "体外循环（是＝全程在大厅办理）", "integrity": "廉洁自律（是＝有索要财物等）"}
RECT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("opened", "开立整改"), ("on_time", "按时反馈"), ("overdue", "超期"), ("late", "其中逾期后反馈"),
    ("pending", "未到期"),
)
DEADLINE_LABELS = {"on_time": "按时", "late": "逾期反馈", "overdue": "超期未反馈", "pending": "未到期"}
CASE_HEADERS = ("整改编号", "窗口", "原因", "状态", "开立时间", "反馈期限", "期限为估算", "反馈时间", "反馈方式", "期限情况",
                "市民意见（已脱敏）")


def _fit_columns(sheet: Any, header_row: int) -> None:
    """Width from the widest cell below the title (CJK characters count double), within sensible bounds."""
    from openpyxl.utils import get_column_letter

    for index, column in enumerate(sheet.iter_cols(min_row=header_row), start=1):
        widest = max((display_width(cell.value) for cell in column), default=0)
        sheet.column_dimensions[get_column_letter(index)].width = min(max(widest + 2, 8), 48)


def _sheet(book: Any, title: str, caption: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Any:
    from openpyxl.styles import Alignment, Font, PatternFill

    sheet = book.create_sheet(title)
    append_row(sheet, [caption])
    sheet["A1"].font = Font(bold=True, size=13)
    append_row(sheet, headers)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in rows:
        append_row(sheet, row)  # a name from a ledger may start with "=": text, never a formula
    sheet.freeze_panes = "B3"
    _fit_columns(sheet, header_row=2)
    return sheet


def _bold_last_row(sheet: Any) -> None:
    from openpyxl.styles import Font

    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)


def _summary_sheet(book: Any, report: dict[str, Any], caption: str) -> None:
    rows = [[row[key] for key, _, _ in SUMMARY_COLUMNS] for row in [*report["windows"], report["totals"]]]
    sheet = _sheet(book, "窗口汇总", caption, [h for _, h, _ in SUMMARY_COLUMNS], rows)
    for index, (_, _, fmt) in enumerate(SUMMARY_COLUMNS, start=1):
        for cells in sheet.iter_rows(min_row=3, min_col=index, max_col=index):
            if fmt:
                cells[0].number_format = fmt
    _bold_last_row(sheet)


def _item_rows(row: dict[str, Any]) -> list[list[Any]]:
    out = []
    for item in ITEMS:
        counts = row["items"][item.code]
        title = ITEM_TITLES.get(item.code, item.label)
        out.append([row["window"], title, counts.get("S"), counts.get("B"), counts.get("U"), counts.get("Y"),
                    counts.get("N")])
    return out


def _items_sheet(book: Any, report: dict[str, Any], caption: str) -> None:
    rows = [r for row in [*report["windows"], report["totals"]] for r in _item_rows(row)]
    _sheet(book, "分项统计", caption, ITEM_HEADERS, rows)


def _rect_sheet(book: Any, report: dict[str, Any], caption: str) -> None:
    rows = [[row["window"], *(row["rectifications"][k] for k, _ in RECT_COLUMNS)]
            for row in [*report["windows"], report["totals"]]]
    sheet = _sheet(book, "整改情况", caption, ["窗口", *(h for _, h in RECT_COLUMNS)], rows)
    _bold_last_row(sheet)


def _case_sheet(book: Any, report: dict[str, Any], caption: str) -> None:
    rows = [
        [c["id"], c["window"], "、".join(REASON_LABELS.get(r, r) for r in c["reasons"]), STATE_LABELS[c["state"]],
         _short(c["opened_at"]), _short(c["due_at"]), "是" if c["estimated"] else "否", _short(c["feedback_at"]),
         {"sms": "短信", "phone": "电话"}.get(c["feedback_via"] or "", ""), DEADLINE_LABELS[c["deadline"]],
         c["suggestion"] or ""]
        for c in report["cases"]
    ]
    _sheet(book, "整改明细", caption, CASE_HEADERS, rows)


def _short(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else ""


def write_xlsx(report: dict[str, Any], path: str | Path) -> Path:
    """The report as a workbook a supervisor can hand to a leader: one sheet per view, Chinese headers."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    caption = f"{report['hall_name']} {report['week']} 电话回访结果（生成于 {report['generated_at'][:16].replace('T', ' ')}）"
    _summary_sheet(book, report, caption)
    _items_sheet(book, report, caption)
    _rect_sheet(book, report, caption)
    _case_sheet(book, report, caption)
    path = Path(path)
    book.save(path)
    return path

