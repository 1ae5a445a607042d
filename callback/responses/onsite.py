"""On-site forms (篇2 三(二): 每周在中心办事大厅向前来办事的申请人发放5份征求意见表，现场填写、回访，做好汇总).

A paper 征求意见表 is a questionnaire response of one window, stored as a callback with channel ``onsite``: no draw,
no ledger case and no number (so nothing can ever call or text it, and opting out does not apply). It is born in
`states.ONSITE_START`, its answers go through the same services as a call's (callback.responses.entry: saved, an
integrity "yes" alerts at once, complaint words flag it) and `finish_survey` ends it ``complete`` or ``partial``,
opening a rectification case when one is needed (篇2 五). Its ``week`` is the ISO week of the form's date and its
``finished_at`` that day (noon, the hall's time; the moment of entry if that is earlier): a week's and a month's
results count it there. A rectification case it opens runs from the moment it was entered.

`import_forms` reads a week's forms from CSV or XLSX (callback.ledger.reader): columns 窗口 · 日期 · 答案 (or one
column per item, 服务态度 … 总体评价) · 意见建议. Bad rows are rejected with their row number; good rows land; a file
imported again adds nothing (each row remembers the file's fingerprint and its row number).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.ledger.headers import normalise_header
from callback.ledger.reader import HeaderRowNotFound, UnreadableFile, named_records
from callback.ledger.values import cell_text, parse_datetime
from callback.models import Answer, AuditEvent, Callback, Hall, Window
from callback.rectification.services import get_for_callback
from callback.responses.entry import EntryError, HandEntry, read_answers, read_item_cells, record_entry
from callback.responses.states import ONSITE_START, flags_of, set_flags
from survey.questionnaire import ITEMS
from survey.weeks import week_bounds, week_of

CHANNEL = "onsite"
ONSITE_TARGET = 5
"""Forms a week (篇2 三(二): 每周…发放5份征求意见表)."""
HEADING = "现场征求意见表录入"
DEFAULT_TZ = "Asia/Shanghai"


@dataclass(frozen=True)
class OnsiteForm:
    """One paper form as entered: the window's name, the day it was filled in (None: today) and its answers.
    ``ref`` says where it came from (a file's fingerprint and row), so an import run twice adds nothing."""

    window: str
    day: date | None
    entry: HandEntry
    ref: str | None = None


@dataclass(frozen=True)
class FormResult:
    callback_id: int
    window: str
    day: date
    week: str
    outcome: str
    keys: str
    rectification_id: int | None
    integrity_alert: bool

    def as_dict(self) -> dict[str, Any]:
        return {"callback_id": self.callback_id, "window": self.window, "date": self.day.isoformat(),
                "week": self.week, "outcome": self.outcome, "keys": self.keys,
                "rectification_id": self.rectification_id, "integrity_alert": self.integrity_alert}


def add_form(session: Session, hall: Hall, form: OnsiteForm, now: datetime, *, actor: str) -> FormResult:
    """Record one on-site form of ``hall``; `EntryError` (nothing stored) for an unknown window or a date in the
    future. Does not commit."""
    window = _window(session, hall, form.window)
    tz = _tz(hall)
    day = form.day or now.astimezone(tz).date()
    answered_at = _answered_at(day, tz, now)
    callback = Callback(hall_id=hall.id, draw_id=None, case_id=None, contact_id=None, window_id=window.id,
                        week=week_of(answered_at, tz), state=ONSITE_START, channel=CHANNEL,
                        token=secrets.token_hex(16), flags={})
    session.add(callback)
    session.flush()
    if form.ref:
        set_flags(callback, form_ref=form.ref)
    outcome = record_entry(session, callback, form.entry, channel=CHANNEL, now=now, actor=actor, heading=HEADING)
    callback.finished_at = answered_at  # the response dates from the form; its rectification case from now
    session.add(AuditEvent(hall_id=hall.id, at=now, actor=actor, entity="callback", entity_id=callback.id,
                           action="onsite_form", detail={"keys": form.entry.keys, "date": day.isoformat(),
                                                         "window": window.name, "ref": form.ref}))
    case = get_for_callback(session, callback.id)
    return FormResult(callback.id, window.name, day, callback.week, outcome, form.entry.keys,
                      case.id if case else None, flags_of(callback).integrity_alert)


def _tz(hall: Hall) -> ZoneInfo:
    return ZoneInfo(hall.timezone or DEFAULT_TZ)


def _window(session: Session, hall: Hall, name: str) -> Window:
    name = (name or "").strip()
    window = session.scalar(select(Window).where(Window.hall_id == hall.id, Window.name == name)) if name else None
    if window is None:
        known = "、".join(session.scalars(select(Window.name).where(Window.hall_id == hall.id).order_by(Window.name)))
        raise EntryError(f"未知窗口“{name}”（本中心的窗口：{known or '无'}）(unknown window)")
    return window


def _answered_at(day: date, tz: ZoneInfo, now: datetime) -> datetime:
    """Noon of the form's day in the hall's zone, or now if that is earlier; a day after today is refused."""
    if day > now.astimezone(tz).date():
        raise EntryError(f"日期 {day.isoformat()} 晚于今天 (the date is in the future)")
    return min(datetime.combine(day, time(12), tz), now)


# --- the week's forms ------------------------------------------------------------------------------------------


def week_forms(session: Session, hall: Hall, week: str) -> dict[str, Any]:
    """The on-site forms of ``hall`` in ISO ``week`` against the target of 5 (篇2 三(二)): each form with its
    window, date, answers (``112-11``), outcome and rectification case; the count per window; what is missing."""
    week_bounds(week, _tz(hall))  # PeriodError for a malformed week
    query = (select(Callback, Window.name).join(Window, Window.id == Callback.window_id)
             .where(Callback.hall_id == hall.id, Callback.channel == CHANNEL, Callback.week == week)
             .order_by(Callback.finished_at, Callback.id))
    rows = session.execute(query).all()
    keys = _keys(session, [c.id for c, _ in rows])
    forms = [_form_row(session, c, name, keys.get(c.id, {}), _tz(hall)) for c, name in rows]
    per_window: dict[str, int] = {}
    for form in forms:
        per_window[form["window"]] = per_window.get(form["window"], 0) + 1
    return {"hall": hall.code, "week": week, "target": ONSITE_TARGET, "count": len(forms),
            "missing": max(ONSITE_TARGET - len(forms), 0), "per_window": per_window, "forms": forms}


def _keys(session: Session, ids: list[int]) -> dict[int, dict[str, str | None]]:
    out: dict[int, dict[str, str | None]] = {}
    if ids:
        for answer in session.scalars(select(Answer).where(Answer.callback_id.in_(ids))):
            out.setdefault(answer.callback_id, {})[answer.item] = answer.key
    return out


def _form_row(session: Session, callback: Callback, window: str, keys: dict[str, str | None],
              tz: ZoneInfo) -> dict[str, Any]:
    case = get_for_callback(session, callback.id)
    day = callback.finished_at.astimezone(tz).date() if callback.finished_at else None
    return {"callback_id": callback.id, "window": window, "date": day.isoformat() if day else None,
            "keys": "".join(keys.get(item.code) or "-" for item in ITEMS), "state": callback.state,
            "rectification_id": case.id if case else None, "integrity_alert": flags_of(callback).integrity_alert,
            "has_suggestion": bool(callback.suggestion)}


# --- a file of forms -------------------------------------------------------------------------------------------

WINDOW, DAY, ANSWERS, SUGGESTION = "window", "date", "answers", "suggestion"
HEADERS: dict[str, tuple[str, ...]] = {
    WINDOW: ("窗口", "窗口名称", "办理窗口", "受理窗口", "window"),
    DAY: ("日期", "填表日期", "填写日期", "回访日期", "时间", "date"),
    ANSWERS: ("答案", "答复", "回答", "选项", "answers"),
    SUGGESTION: ("意见建议", "意见和建议", "意见与建议", "意见", "建议", "评估与建议", "suggestion"),
    **{item.code: (item.label, item.code) for item in ITEMS},
    "overall": ("总体评价", "总体满意度", "总体", "overall"),
}
_LOOKUP = {normalise_header(text): name for name, texts in HEADERS.items() for text in texts}


class FormFileError(EntryError):
    """A file that cannot be imported at all (no header row with 窗口 and the answers, unreadable): nothing lands."""


@dataclass
class ImportReport:
    added: list[FormResult] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # rows of a file imported before
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"added": [f.as_dict() for f in self.added], "skipped_rows": self.skipped,
                "rejected": [{"row": row, "reason": reason} for row, reason in self.rejected]}


def import_forms(session: Session, hall: Hall, path: str | Path, now: datetime, *, actor: str) -> ImportReport:
    """Record every good row of a file of on-site forms; bad rows are listed with their row number (as Excel
    shows it) and the reason. `FormFileError` for a file that cannot be imported at all. Does not commit."""
    fingerprint = _fingerprint(Path(path))
    seen = _imported_refs(session, hall)
    report = ImportReport()
    for number, record in _records(path):
        ref = f"{fingerprint}:{number}"
        if ref in seen:
            report.skipped.append(number)
            continue
        try:
            form = _form(record, ref)
            with session.begin_nested():
                report.added.append(add_form(session, hall, form, now, actor=actor))
        except EntryError as exc:
            report.rejected.append((number, str(exc)))
    return report


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 16), b""):
                digest.update(chunk)
    except OSError as exc:
        raise FormFileError(f"无法读取文件 {path}：{exc.strerror or exc} (cannot read the file)") from None
    return digest.hexdigest()[:16]


def _imported_refs(session: Session, hall: Hall) -> set[str]:
    query = select(Callback.flags).where(Callback.hall_id == hall.id, Callback.channel == CHANNEL)
    return {ref for flags in session.scalars(query) if (ref := (flags or {}).get("form_ref"))}


def _records(path: str | Path) -> Iterator[tuple[int, dict[str, str | Any]]]:
    """(row number, {column name: cell}) below the header row (窗口, 日期 and the answers), skipping blank rows."""
    try:
        yield from named_records(path, _LOOKUP, lambda c: WINDOW in c and DAY in c and _has_answers(c))
    except HeaderRowNotFound:
        raise FormFileError("未找到表头行：须有“窗口”“日期”两列，以及“答案”一列或各项答案列（服务态度…总体评价）"
                            " (no header row with 窗口, 日期 and the answers)") from None
    except UnreadableFile as exc:
        raise FormFileError(exc.zh + f" ({exc.en})") from None


def _has_answers(columns: dict[str, int]) -> bool:
    return ANSWERS in columns or any(item.code in columns for item in ITEMS)


def _form(record: dict[str, Any], ref: str) -> OnsiteForm:
    window = cell_text(record.get(WINDOW))
    if not window:
        raise EntryError("缺少窗口 (no window)")
    suggestion = cell_text(record.get(SUGGESTION))
    answers = cell_text(record.get(ANSWERS))
    if answers:
        entry = read_answers(answers, suggestion)
    else:
        entry = read_item_cells({item.code: cell_text(record.get(item.code)) for item in ITEMS}, suggestion)
    return OnsiteForm(window, read_day(record.get(DAY)), entry, ref)


def read_day(value: Any) -> date:
    """The date of a form as written (2026-11-20, 2026/11/20, 2026年11月20日, an Excel date); `EntryError`."""
    try:
        moment = parse_datetime(value if not isinstance(value, str) else value.strip())
    except ValueError:
        moment = None
    if moment is None:
        raise EntryError(f"日期“{cell_text(value)[:20]}”无法识别，请写成 2026-11-20 (bad or missing date)")
    return moment.date()

