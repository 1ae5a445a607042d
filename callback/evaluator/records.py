"""One evaluator record → a validated press, or a rejection with a reason. Shared by the file import and the API.

The headers evaluator and 好差评 exports use (README "Electronic evaluator / 电子评价器") are a vocabulary of the
ledger's header machinery (callback.ledger.headers.Vocabulary): Simplified or Traditional, decorated
("评价时间(北京时间)"), below a title row. Times are read by the ledger's cell parser as Asia/Shanghai wall time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import NamedTuple

from callback.evaluator.levels import Levels, Rejected
from callback.ledger.headers import Field, Vocabulary
from callback.ledger.records import to_utc
from callback.ledger.values import cell_text, parse_datetime
from survey._text import fold
from survey.scale import Rating

FIELDS: tuple[Field, ...] = (
    Field("pressed_at", "评价时间", True, (
        "评价时间", "时间", "评价日期时间", "评价日期", "评价时刻", "按键时间", "日期时间",
        "pressed_at", "evaluated_at", "time", "datetime",
    )),
    Field("window", "窗口", True, (
        "窗口", "窗口名称", "受理窗口", "办理窗口", "所属窗口", "服务窗口", "评价窗口", "窗口号",
        "window", "window name", "counter",
    )),
    Field("level", "评价结果", True, (
        "评价结果", "满意度", "评价等级", "评价", "评价级别", "满意程度", "满意度评价", "评价星级", "星级", "评价值",
        "level", "rating", "result",
    )),
    Field("staff", "工作人员", False, (
        "工作人员", "受理人", "工作人员姓名", "受理人员", "经办人", "办理人", "被评价人", "被评价人员", "服务人员",
        "窗口人员", "staff", "staff name", "handler", "clerk",
    )),
    Field("staff_no", "工号", False, (
        "工号", "工作人员工号", "受理人工号", "员工工号", "员工编号", "人员编号",
        "staff_no", "staff number", "employee no", "employee id",
    )),
    Field("case_no", "办件编号", False, (
        "办件编号", "受理编号", "申请编号", "业务编号", "办件号", "受理号", "办件流水号",
        "case_no", "case number", "case id",
    )),
    Field("record_id", "评价编号", False, (
        "评价编号", "评价记录编号", "评价流水号", "评价id", "评价记录id", "记录编号", "记录id",
        "record_id", "evaluation id",
    )),
)
EVALUATOR = Vocabulary(FIELDS)
LABELS = EVALUATOR.labels

FIELD_LIMITS: dict[str, int] = {
    "pressed_at": 64, "window": 200, "level": 32, "staff": 200, "staff_no": 64, "case_no": 64, "record_id": 64,
}
"""The most characters a field may hold, for files and the API alike (the columns' sizes); longer rejects the row."""
_MAX_NUMBER = 10**20  # a numeric cell beyond this is no 工号, case number or date serial


class PressRow(NamedTuple):
    """A validated evaluator record. `pressed_at` is aware UTC; blank optional fields are None."""

    pressed_at: datetime
    window: str
    rating: Rating
    level: str
    staff: str | None
    staff_no: str | None
    case_no: str | None
    record_id: str | None

    def identity(self) -> tuple[str, ...]:
        """What tells this press from another when the device gave it no id of its own: its time, window,
        staff member, level as written and case number. Two presses with the same identity in one file (or one
        API request) are two presses: `press_key` adds their occurrence."""
        return (self.pressed_at.isoformat(), self.window, self.staff or "", self.staff_no or "",
                fold(self.level).strip(), self.case_no or "")


def press_key(row: PressRow, occurrence: int) -> str:
    """The press's unique key within its hall (models.EvaluatorPress.press_key), 32 hex characters.

    With a device record id: the id with the press's time and window (two devices, or a device reset, may
    number from 1 again; the same id at another time or window is another press). Without: the identity and
    the occurrence (1, 2, …) of that identity in the file or request, so a second genuine press in the same
    second at the same window is kept and a re-import of the same file matches both."""
    parts = (("id", row.record_id, row.pressed_at.isoformat(), row.window) if row.record_id
             else ("row", *row.identity(), str(occurrence)))
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def _scalar(value: object, name: str) -> object:
    """A cell that is not text must be a number, a date/time (XLSX) or empty: never an object, an array or a
    boolean (from the API), which would otherwise be stored as their Python text."""
    if value is None or isinstance(value, float | datetime | date | time):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and -_MAX_NUMBER < value < _MAX_NUMBER:
        return value
    raise Rejected(f"{LABELS[name]}须为文字或数字 / {name} must be a string or a number")


def _text(record: Mapping[str, object], name: str) -> str:
    value = record.get(name)
    text = value.strip() if isinstance(value, str) else cell_text(_scalar(value, name))
    if len(text) > FIELD_LIMITS[name]:
        raise Rejected(f"{LABELS[name]}超过 {FIELD_LIMITS[name]} 个字符 / {name} is longer than "
                       f"{FIELD_LIMITS[name]} characters")
    if "\x00" in text or "\n" in text or "\r" in text:
        raise Rejected(f"{LABELS[name]}含换行或空字符 / {name} holds a line break or a NUL character")
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate: no database column can store it
        raise Rejected(f"{LABELS[name]}含无法存储的字符 / {name} holds a lone surrogate") from None
    return text


def _required(record: Mapping[str, object], name: str) -> str:
    text = _text(record, name)
    if not text:
        raise Rejected(f"缺少{LABELS[name]} / missing {name}")
    return text


def _pressed_at(record: Mapping[str, object]) -> datetime:
    value = record.get("pressed_at")
    value = _text(record, "pressed_at") if isinstance(value, str) else _scalar(value, "pressed_at")
    try:
        local = parse_datetime(value)
    except ValueError as exc:
        raise Rejected(f"{LABELS['pressed_at']}无法识别: {exc}") from None
    if local is None:
        raise Rejected(f"缺少{LABELS['pressed_at']} / missing pressed_at")
    return to_utc(local)  # type: ignore[return-value]  # not None for a time


def build_press(record: Mapping[str, object], levels: Levels) -> PressRow:
    """Validate one record ({field: raw value}); raises Rejected with a reason the user can act on."""
    pressed_at = _pressed_at(record)
    window = _required(record, "window")
    raw_level = record.get("level")
    level = _required(record, "level") if isinstance(raw_level, str) else cell_text(_scalar(raw_level, "level"))
    rating = levels.rating(raw_level.strip() if isinstance(raw_level, str) else raw_level)
    optional = {name: _text(record, name) or None for name in ("staff", "staff_no", "case_no", "record_id")}
    return PressRow(pressed_at, window, rating, level, **optional)
