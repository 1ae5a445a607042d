"""Rectification cases (整改): opening, the 3-working-day loop, deadlines and the second callback
(docs/architecture.md §Rectification cases).

篇2 五: problems found by the callback are rectified, and where the citizen needs an answer it is given within
3 working days. docs/architecture.md §Rectification triggers names the triggers, §Working days the deadline
(end of the 3rd working day after the opening day, the opening day not counted, 调休 workdays counting).

Every service takes the session, ``now`` (an aware datetime) and the actor; none commits (the caller owns the
transaction). Every transition writes a `RectificationEvent` (who, when, what).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.models import Answer, Callback, Case, Contact, Hall, Message, TranscriptEvent
from callback.models.rectification import (
    AWAITING_FEEDBACK,
    CLOSED,
    DUE_TOMORROW,
    FEEDBACK_GIVEN,
    INTEGRITY_ALERT,
    OPEN,
    OVERDUE,
    RECTIFIED,
    Alert,
    Rectification,
    RectificationEvent,
)
from callback.rectification import alerts
from callback.telephony import Provider, ProviderError, SmsRequest
from survey.complaints import ComplaintFlags, complaint_signals
from survey.privacy import mask_text
from survey.questionnaire import (
    COMPLAINT,
    INTEGRITY,
    ITEMS_BY_CODE,
    interpret_key,
    is_alert,
    needs_rectification,
    overall_rating,
)
from survey.questionnaire import (
    Answer as ItemAnswer,
)
from survey.scale import Rating
from survey.weeks import month_of, week_of

if TYPE_CHECKING:
    from callback.calendar.policy import CallingPolicy
    from callback.calendar.services import WorkingCalendar

log = logging.getLogger(__name__)

DUE_WORKING_DAYS = 3  # 篇2 五: 需要反馈的在3个工作日内完成
SYSTEM = "system"
FEEDBACK_VIA = ("sms", "phone")
REASON_LABELS = {code: item.label for code, item in ITEMS_BY_CODE.items()} | {COMPLAINT: "意见投诉"}
TRANSCRIPT_KINDS = ("speech", "sms_in")
TRANSCRIPT_LINES = 10

TWICE_UNSATISFIED = "twice_unsatisfied"  # 篇3 (五)2: 二次回访仍未达到满意
THEN_SATISFIED = "then_satisfied"  # 篇3 (五)2: 二次回访改为满意


class RectificationError(Exception):
    """A transition that is not allowed now; the message is for people (Simplified Chinese)."""


class FeedbackNotSent(RectificationError):
    """The feedback SMS could not be sent; the failed outbox row and an event are flushed, the state unchanged."""


# --- notifications -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """Something staff must hear about. No citizen's name or number is ever part of it."""

    kind: str  # integrity_alert | reminder | escalation
    audience: str  # window | supervisors
    hall_id: int
    window_id: int
    window: str
    rectification_id: int
    due_at: datetime
    text: str


class Notifier(Protocol):
    """Delivery of notices to staff (e-mail, SMS, a console inbox…). Pluggable; the default only logs."""

    def notify(self, notice: Notice) -> None: ...


class LogNotifier:
    """Writes each notice to the log (the development default)."""

    def notify(self, notice: Notice) -> None:
        level = logging.WARNING if notice.audience == "supervisors" else logging.INFO
        log.log(level, "[%s → %s] 整改#%s %s", notice.kind, notice.audience, notice.rectification_id, notice.text)


class NullNotifier:
    """Drops every notice (for scripts that only want the recorded events)."""

    def notify(self, notice: Notice) -> None:
        return None


# --- time helpers ------------------------------------------------------------------------------------------


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def _hall_tz(session: Session, hall_id: int) -> ZoneInfo:
    hall = session.get(Hall, hall_id)
    return ZoneInfo(hall.timezone if hall and hall.timezone else "Asia/Shanghai")


def _calendar(session: Session, calendar: WorkingCalendar | None) -> WorkingCalendar:
    if calendar is not None:
        return calendar
    from callback.calendar.services import load_calendar

    return load_calendar(session)


def _local_day(session: Session, case: Rectification, now: datetime) -> date:
    return _aware(now).astimezone(_hall_tz(session, case.hall_id)).date()


def _previous_workday(calendar: WorkingCalendar, day: date) -> date:
    day -= timedelta(days=1)
    while not calendar.is_workday(day):
        day -= timedelta(days=1)
    return day


@dataclass(frozen=True)
class Deadline:
    """When a case opened at some moment is due, and when its reminder is due (both UTC)."""

    due_at: datetime
    remind_at: datetime
    estimated: bool


def deadline(calendar: WorkingCalendar, opened_at: datetime, tz: ZoneInfo) -> Deadline:
    """Due at the end (23:59:59 local) of the 3rd working day after the local opening day
    (docs/architecture.md §Working days); the reminder at the start of the working day before the due day."""
    due = calendar.due_after_working_days(_aware(opened_at).astimezone(tz).date(), DUE_WORKING_DAYS)
    remind_day = _previous_workday(calendar, due.day)
    return Deadline(
        due_at=datetime.combine(due.day, time(23, 59, 59), tz).astimezone(UTC),
        remind_at=datetime.combine(remind_day, time(0, 0), tz).astimezone(UTC),
        estimated=due.estimated,
    )


# --- what a callback says ----------------------------------------------------------------------------------


def item_answers(answers: Iterable[Answer]) -> list[ItemAnswer]:
    """Stored answers (S/B/U, Y/N) as questionnaire answers; unknown items or values are ignored."""
    out: list[ItemAnswer] = []
    for stored in answers:
        item = ITEMS_BY_CODE.get(stored.item)
        choice = next((c for c in item.choices if c.value == stored.value), None) if item else None
        if item is not None and choice is not None:
            answer = interpret_key(item, choice.key)
            if answer is not None:
                out.append(answer)
    return out


def suggestion_flags(callback: Callback) -> ComplaintFlags:
    """Complaint/integrity signals from the suggestion text, plus any a person or the IVR set in ``flags``."""
    found = complaint_signals(callback.suggestion)
    flags = callback.flags or {}
    return ComplaintFlags(
        complaint=found.complaint or bool(flags.get(COMPLAINT)),
        integrity=found.integrity or bool(flags.get(INTEGRITY)),
        matched=found.matched,
    )


def stored_answers(session: Session, callback: Callback) -> list[ItemAnswer]:
    """The callback's answers as saved so far (queried, so rows added without the relationship count too)."""
    rows = session.scalars(select(Answer).where(Answer.callback_id == callback.id).order_by(Answer.id))
    return item_answers(rows)


def callback_reasons(session: Session, callback: Callback) -> list[str]:
    """Why this callback needs a case (empty: it does not). Rules: `survey.questionnaire.needs_rectification`."""
    return needs_rectification(stored_answers(session, callback), suggestion_flags(callback))


def callback_rating(session: Session, callback: Callback) -> Rating | None:
    """The callback's overall rating (docs/architecture.md §Ratings and points): the overall item, else the
    worst rated item answered."""
    return overall_rating(stored_answers(session, callback))


def _applicant_names(session: Session, callback: Callback) -> list[str]:
    case = session.get(Case, callback.case_id) if callback.case_id is not None else None  # None: an on-site form
    return [case.applicant] if case is not None and case.applicant else []


def build_excerpt(session: Session, callback: Callback) -> dict[str, Any]:
    """The answers, the suggestion and the citizen's own words from the transcript, with every phone, ID card and
    bank card number and the applicant's name masked (`survey.privacy.mask_text`). The raw suggestion stays on
    ``callbacks.suggestion`` only, behind `reveal_suggestion`."""
    names = _applicant_names(session, callback)
    given = stored_answers(session, callback)
    answers = [
        {"item": a.item, "label": ITEMS_BY_CODE[a.item].label, "value": (a.rating or a.yes_no).value,
         "answer": a.label}
        for a in given
    ]
    overall = overall_rating(given)
    events = session.scalars(
        select(TranscriptEvent)
        .where(TranscriptEvent.callback_id == callback.id, TranscriptEvent.kind.in_(TRANSCRIPT_KINDS))
        .order_by(TranscriptEvent.id)
        .limit(TRANSCRIPT_LINES)
    )
    transcript = [{"at": e.at.isoformat(), "kind": e.kind, "text": mask_text(e.text, names)} for e in events]
    return {
        "channel": callback.channel,
        "week": callback.week,
        "answers": answers,
        "overall": overall.value if overall else None,
        "suggestion": mask_text(callback.suggestion, names),
        "matched": list(suggestion_flags(callback).matched),
        "transcript": transcript,
    }


# --- events ------------------------------------------------------------------------------------------------


def record(
    session: Session,
    case: Rectification,
    now: datetime,
    actor: str,
    what: str,
    audience: str | None = None,
    **detail: Any,
) -> RectificationEvent:
    """Append an audit event. Integrity cases' events are for supervisors only."""
    audience = audience or ("supervisors" if case.integrity else "window")
    event = RectificationEvent(
        hall_id=case.hall_id, rectification_id=case.id, at=_aware(now), actor=actor, action=what,
        audience=audience, detail=detail,
    )
    session.add(event)
    return event


def _notice(case: Rectification, kind: str, audience: str, text: str) -> Notice:
    return Notice(
        kind=kind, audience=audience, hall_id=case.hall_id, window_id=case.window_id,
        window=case.window.name if case.window else "", rectification_id=case.id, due_at=case.due_at, text=text,
    )


# --- opening -----------------------------------------------------------------------------------------------


def get_for_callback(session: Session, callback_id: int) -> Rectification | None:
    return session.scalar(select(Rectification).where(Rectification.callback_id == callback_id))


def open_for_callback(
    session: Session,
    callback: Callback,
    now: datetime,
    *,
    actor: str = SYSTEM,
    calendar: WorkingCalendar | None = None,
    notifier: Notifier | None = None,
) -> Rectification | None:
    """Open the rectification case a finished callback needs (篇2 五), or return None if it needs none.

    Idempotent: at most one case per callback; calling again returns the existing case. A revisit (二次回访,
    ``revisit_of_id`` set) is first linked to the case it follows up (篇3 (五)2). An integrity report also
    alerts supervisors at once; such a case is never shown in the window's own view.
    """
    now = _aware(now)
    if callback.revisit_of_id is not None:
        link_revisit(session, callback, now, actor=actor)
    existing = get_for_callback(session, callback.id)
    if existing is not None:
        return existing
    reasons = callback_reasons(session, callback)
    if not reasons:
        return None
    return _open(session, callback, reasons, now, actor, calendar, notifier or LogNotifier())


def _open(
    session: Session,
    callback: Callback,
    reasons: list[str],
    now: datetime,
    actor: str,
    calendar: WorkingCalendar | None,
    notifier: Notifier,
) -> Rectification:
    limits = deadline(_calendar(session, calendar), now, _hall_tz(session, callback.hall_id))
    excerpt = build_excerpt(session, callback)
    case = Rectification(
        hall_id=callback.hall_id, callback_id=callback.id, window_id=callback.window_id, reasons=reasons,
        integrity=is_alert(reasons), excerpt=excerpt, state=OPEN, opened_at=now,
        due_at=limits.due_at, remind_at=limits.remind_at, due_estimated=limits.estimated,
        revisit_required=needs_revisit(callback, excerpt["overall"]),
    )
    session.add(case)
    session.flush()
    record(session, case, now, actor, "opened", reasons=reasons, due_at=limits.due_at.isoformat(),
           estimated=limits.estimated, revisit_required=case.revisit_required)
    if case.integrity:
        _integrity_alert(session, case, now, actor, notifier)
    return case


def _integrity_alert(session: Session, case: Rectification, now: datetime, actor: str, notifier: Notifier) -> None:
    """篇2 二五: an integrity report alerts supervisors at once — an `Alert` outbox row the beat's
    ``rectification-alerts`` task sends within a minute (SMS inside SMS hours, e-mail at once), and the notifier."""
    record(session, case, now, actor, "integrity_alert", audience="supervisors")
    session.flush()
    queue_alert(session, case, INTEGRITY_ALERT, _local_day(session, case, now))
    notifier.notify(_notice(case, "integrity_alert", "supervisors", f"廉洁自律问题反映（{case.window.name}），请立即核查"))


# --- lifecycle ---------------------------------------------------------------------------------------------


def _require(case: Rectification, states: Sequence[str], message: str) -> None:
    if case.state not in states:
        raise RectificationError(f"整改#{case.id} 当前状态为「{STATE_LABELS[case.state]}」：{message}")


def _text(value: str | None, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise RectificationError(f"{what}不能为空")
    return value


def rectify(session: Session, case: Rectification, action: str, now: datetime, *, actor: str) -> Rectification:
    """Record what the window fixed: open → rectified (a second call amends the text, audited)."""
    _require(case, AWAITING_FEEDBACK, "已反馈或已办结，不能再登记整改措施")
    action = _text(action, "整改措施")
    previous = case.action
    case.action, case.rectified_at, case.rectified_by, case.state = action, _aware(now), actor, RECTIFIED
    record(session, case, now, actor, "rectified" if previous is None else "action_amended", action=action,
           previous=previous)
    session.flush()
    return case


def give_feedback(
    session: Session,
    case: Rectification,
    text: str,
    now: datetime,
    *,
    actor: str,
    via: str = "phone",
    settings: Settings | None = None,
    provider: Provider | None = None,
) -> Rectification:
    """Record what the citizen was told: rectified → feedback_given.

    ``via="sms"`` sends it through the telephony provider (an outbox `Message` row first; a failed send raises
    `FeedbackNotSent` and leaves the state unchanged); ``via="phone"`` logs a call staff made themselves.
    """
    _require(case, (RECTIFIED,), "请先登记整改措施（callback rectify），再反馈")
    if via not in FEEDBACK_VIA:
        raise RectificationError(f"反馈方式只能是 sms 或 phone，收到 {via!r}")
    text = _text(text, "反馈内容")
    message = _send_feedback_sms(session, case, text, now, actor, settings, provider) if via == "sms" else None
    case.feedback, case.feedback_via, case.feedback_at, case.feedback_by = text, via, _aware(now), actor
    case.feedback_message_id = message.id if message else None
    case.state = FEEDBACK_GIVEN
    late = case.feedback_at > case.due_at
    record(session, case, now, actor, "feedback_given", via=via, text=text, late=late)
    session.flush()
    place_revisit_if_due(session, case, now, actor=SYSTEM, settings=settings)
    return case


def _policy(session: Session, settings: Settings, hall_id: int) -> CallingPolicy:
    """Calling and SMS hours (docs/architecture.md §Calling hours: never outside them) on the hall's calendar
    and time zone."""
    from callback.calendar.policy import CallingPolicy
    from callback.calendar.services import load_calendar

    return CallingPolicy.from_settings(settings, load_calendar(session), str(_hall_tz(session, hall_id)))


def _contact_for(session: Session, case: Rectification) -> Contact:
    if case.callback.contact_id is None:
        raise RectificationError(ONSITE_NO_NUMBER)
    contact = session.get(Contact, case.callback.contact_id)
    if contact is None:
        raise RectificationError("找不到回访对象的联系方式")
    return contact


ONSITE_NO_NUMBER = ("这是现场征求意见表的整改，没有申请人号码：不能短信反馈，也不能二次回访；"
                    "如已当面或电话反馈，请用 --via phone 登记 (an on-site form has no number)")


def _sms_contact(session: Session, case: Rectification, now: datetime, settings: Settings) -> Contact:
    """The number to text, if a feedback SMS may go to it now (a mobile, not opted out, inside SMS hours)."""
    contact = _contact_for(session, case)
    if contact.opted_out_at is not None:
        raise RectificationError("该号码已退订短信，不能短信反馈；请电话反馈并登记（--via phone）")
    if contact.kind != "mobile":
        raise RectificationError("该号码不是手机号，不能短信反馈；请电话反馈并登记（--via phone）")
    policy = _policy(session, settings, case.hall_id)
    if not policy.may_sms(now):
        at = policy.next_sms_moment(now).astimezone(_hall_tz(session, case.hall_id)).strftime("%m-%d %H:%M")
        raise RectificationError(f"现在不在短信发送时段（{settings.sms_hours}），请于 {at} 之后发送，或电话反馈")
    return contact


def _send_feedback_sms(
    session: Session,
    case: Rectification,
    text: str,
    now: datetime,
    actor: str,
    settings: Settings | None,
    provider: Provider | None,
) -> Message:
    settings = settings or Settings.from_env()
    if provider is None:
        raise RectificationError("短信反馈需要短信通道（no SMS provider given）；或电话反馈并登记（--via phone）")
    contact = _sms_contact(session, case, now, settings)
    hall = session.get(Hall, case.hall_id)
    body = f"【{hall.name if hall else '政务服务中心'}】{text}"
    message = Message(hall_id=case.hall_id, callback_id=case.callback_id, direction="out",
                      purpose="rectify_feedback", body=body, status="queued")
    session.add(message)
    session.flush()
    request = SmsRequest(to=contact.phone, from_=settings.twilio_from, body=body,
                         status_callback=f"{settings.public_base_url.rstrip('/')}/sms/status")
    try:
        sent = provider.send_sms(request)
    except ProviderError as exc:
        message.status = "failed"
        record(session, case, now, actor, "feedback_sms_failed", message_id=message.id, error=str(exc))
        session.flush()
        raise FeedbackNotSent(f"反馈短信发送失败：{exc}") from exc
    message.provider_sid, message.status = sent.sid, sent.status
    return message


def close(
    session: Session,
    case: Rectification,
    now: datetime,
    *,
    actor: str,
    note: str | None = None,
    without_feedback: bool = False,
    reason: str | None = None,
    settings: Settings | None = None,
) -> Rectification:
    """feedback_given → closed; or, ``without_feedback``, open/rectified → closed when the citizen's point needs
    no feedback (篇2 五: "需要反馈的在3个工作日内完成" — only what needs feedback gets it). A close without
    feedback needs a ``reason``; it is audited, counted as settled when it happened (`deadline_status`), marked
    ``closed_without_feedback`` for the report, and still places the 二次回访 the first callback is owed."""
    if not without_feedback:
        _require(case, (FEEDBACK_GIVEN,), "只有已反馈的整改才能办结；如申请人的意见无需反馈，请用 --no-feedback --reason 说明原因")
        case.state, case.closed_at, case.closed_by = CLOSED, _aware(now), actor
        record(session, case, now, actor, "closed", note=note)
        session.flush()
        return case
    _require(case, AWAITING_FEEDBACK, "已反馈或已办结，不能再按「无需反馈」办结")
    reason = _text(reason, "无需反馈的原因")
    case.state, case.closed_at, case.closed_by = CLOSED, _aware(now), actor
    case.closed_without_feedback, case.close_reason = True, reason
    record(session, case, now, actor, "closed_without_feedback", reason=reason, note=note,
           rectified=case.action is not None, late=case.closed_at > case.due_at)
    session.flush()
    place_revisit_if_due(session, case, now, actor=SYSTEM, settings=settings)
    return case


# --- the supervisor's review: accept (close) or return ------------------------------------------------------

RETURNED = "returned"  # the event of a return; the case is open again
RETURNED_LABEL = "已退回"
RETURNABLE = (RECTIFIED, FEEDBACK_GIVEN)


def return_to_window(session: Session, case: Rectification, reason: str, now: datetime, *, actor: str) -> Rectification:
    """The supervisor does not accept the window's answer and sends it back (issue 14 §5 "accepts or returns it";
    accepting is `close`): rectified or feedback_given → open, with the reason, in a ``returned`` event the window
    reads. The measures the window wrote stay on the case, to amend; a feedback is taken off the case (the event
    keeps it, and the outbox keeps a text that went out), so the case waits for the window again and its deadline
    counts again — 篇2 五's feedback is the one the supervisor accepts. A 二次回访 already placed stays."""
    _require(case, RETURNABLE, "只有已整改或已反馈、尚未办结的整改才能退回")
    reason = _text(reason, "退回原因")
    record(session, case, now, actor, RETURNED, reason=reason, previous_state=case.state, action=case.action,
           feedback=case.feedback, feedback_via=case.feedback_via,
           feedback_at=case.feedback_at.isoformat() if case.feedback_at else None)
    case.state = OPEN
    case.feedback = case.feedback_via = case.feedback_at = case.feedback_by = None
    case.feedback_message_id = None
    session.flush()
    return case


def last_return(case: Rectification) -> RectificationEvent | None:
    """The return that put an open case back to the window (its reason is in ``detail``), or None."""
    if case.state != OPEN:
        return None
    return next((event for event in reversed(case.events) if event.action == RETURNED), None)


def state_label(case: Rectification) -> str:
    """The case's state in words: 待整改 / 已退回 / 已整改 / 已反馈 / 已办结 / 已办结（无需反馈）."""
    if case.closed_without_feedback:
        return NO_FEEDBACK_LABEL
    return RETURNED_LABEL if last_return(case) is not None else STATE_LABELS[case.state]


# --- deadlines ---------------------------------------------------------------------------------------------


def settled_at(case: Rectification) -> datetime | None:
    """When the case stopped waiting for the window: its feedback, or its close without feedback."""
    if case.feedback_at is not None:
        return case.feedback_at
    return case.closed_at if case.closed_without_feedback else None


def deadline_status(case: Rectification, now: datetime) -> str:
    """on_time (settled — fed back, or closed without feedback — by due_at) | late (settled after it) | overdue
    (due passed, not settled) | pending."""
    settled = settled_at(case)
    if settled is not None:
        return "on_time" if settled <= case.due_at else "late"
    return "overdue" if _aware(now) > case.due_at else "pending"


def is_overdue(case: Rectification, now: datetime) -> bool:
    """The due time passed before feedback was given (篇2 五: within 3 working days)."""
    return deadline_status(case, now) in ("overdue", "late")


@dataclass(frozen=True)
class DeadlineRun:
    """What one `run_deadlines` did (case ids, and the ids of the alerts it queued)."""

    reminded: list[int]
    escalated: list[int]
    recomputed: list[int] = field(default_factory=list)
    revisits: list[int] = field(default_factory=list)
    alerts: list[int] = field(default_factory=list)


def run_deadlines(
    session: Session,
    now: datetime,
    *,
    notifier: Notifier | None = None,
    actor: str = SYSTEM,
    settings: Settings | None = None,
    calendar: WorkingCalendar | None = None,
) -> DeadlineRun:
    """The beat's ``rectification-deadlines`` (every 15 minutes), in order:

    1. deadlines of open cases follow the calendar as it is now (`recompute_deadlines`: a schedule loaded or a
       newer package since they opened);
    2. reminders one working day before the due day, escalation once overdue (each at most once per case);
    3. the 二次回访 of every case that owes one and is settled or overdue (`place_due_revisits`);
    4. the daily alerts to supervisors (`queue_daily_alerts`), sent by `alerts.deliver_alerts`.

    Idempotent, recorded as events; rows are claimed with FOR UPDATE SKIP LOCKED so two runners never act on the
    same case. Does not commit.
    """
    now, notifier = _aware(now), notifier or LogNotifier()
    settings, calendar = settings or Settings.from_env(), _calendar(session, calendar)
    recomputed = recompute_deadlines(session, now, actor=actor, calendar=calendar)
    due = session.scalars(
        select(Rectification)
        .where(Rectification.state.in_(AWAITING_FEEDBACK))
        .where(
            or_(
                (Rectification.reminded_at.is_(None)) & (Rectification.remind_at <= now),
                (Rectification.escalated_at.is_(None)) & (Rectification.due_at < now),
            )
        )
        .order_by(Rectification.id)
        .with_for_update(skip_locked=True)
    ).all()
    reminded = [c.id for c in due if _remind(session, c, now, actor, notifier)]
    escalated = [c.id for c in due if _escalate(session, c, now, actor, notifier)]
    revisits = place_due_revisits(session, now, settings=settings, calendar=calendar)
    queued = queue_daily_alerts(session, now, settings=settings, calendar=calendar)
    session.flush()
    return DeadlineRun(reminded, escalated, recomputed, revisits, queued)


def _remind(session: Session, case: Rectification, now: datetime, actor: str, notifier: Notifier) -> bool:
    if case.reminded_at is not None or case.remind_at > now or now > case.due_at:
        return False  # already reminded, not yet time, or already overdue (escalation covers it)
    case.reminded_at = now
    audience = "supervisors" if case.integrity else "window"
    record(session, case, now, actor, "reminder", audience=audience, due_at=case.due_at.isoformat())
    notifier.notify(_notice(case, "reminder", audience, f"{case.window.name}：整改将于下一个工作日结束时到期，请及时整改并反馈"))
    return True


def _escalate(session: Session, case: Rectification, now: datetime, actor: str, notifier: Notifier) -> bool:
    if case.escalated_at is not None or now <= case.due_at:
        return False
    case.escalated_at = now
    record(session, case, now, actor, "escalated", audience="supervisors", due_at=case.due_at.isoformat())
    window = case.window.name if case.window else ""
    notifier.notify(_notice(case, "escalation", "supervisors", f"{window}：整改已超期未反馈"))
    return True


# --- deadlines that follow the calendar ---------------------------------------------------------------------


def recompute_deadlines(
    session: Session, now: datetime, *, actor: str = SYSTEM, calendar: WorkingCalendar | None = None
) -> list[int]:
    """Work out again the deadline of every case still waiting for feedback, from its ``opened_at``, on the
    calendar as it is now (docs/architecture.md §Working days). A case opened while its year was only estimated
    gets the official deadline once the schedule is loaded (`callback calendar load`) or the package covers the
    year. Each change is a ``deadline_recomputed`` event with the old and new due time; a reminder sent before the
    new reminder time is sent again, and an escalation is undone when the case is no longer overdue. Returns the
    ids of the cases whose deadline changed. Does not commit."""
    now, calendar = _aware(now), _calendar(session, calendar)
    cases = session.scalars(
        select(Rectification).where(Rectification.state.in_(AWAITING_FEEDBACK))
        .order_by(Rectification.id).with_for_update(skip_locked=True)
    ).all()
    zones: dict[int, ZoneInfo] = {}
    changed = [c.id for c in cases if _recompute(session, c, now, actor, calendar, zones)]
    session.flush()
    return changed


def _recompute(
    session: Session, case: Rectification, now: datetime, actor: str, calendar: WorkingCalendar,
    zones: dict[int, ZoneInfo],
) -> bool:
    if case.hall_id not in zones:
        zones[case.hall_id] = _hall_tz(session, case.hall_id)
    tz = zones[case.hall_id]
    limits = deadline(calendar, case.opened_at, tz)
    if (limits.due_at, limits.remind_at, limits.estimated) == (case.due_at, case.remind_at, case.due_estimated):
        return False
    previous, was_estimated = case.due_at, case.due_estimated
    case.due_at, case.remind_at, case.due_estimated = limits.due_at, limits.remind_at, limits.estimated
    if case.reminded_at is not None and case.reminded_at < limits.remind_at:
        case.reminded_at = None  # reminded for the old date, too early for the new one
    if case.escalated_at is not None and now <= limits.due_at:
        case.escalated_at = None  # not overdue any more
    record(session, case, now, actor, "deadline_recomputed", previous_due_at=previous.isoformat(),
           due_at=limits.due_at.isoformat(), previous_estimated=was_estimated, estimated=limits.estimated)
    return True


# --- daily alerts to supervisors ----------------------------------------------------------------------------


def queue_daily_alerts(
    session: Session, now: datetime, *, settings: Settings | None = None, calendar: WorkingCalendar | None = None
) -> list[int]:
    """Once a working day, once SMS hours have begun in the hall (so the SMS and the e-mail go out together): an
    alert to the hall's supervisors for every case due at the end of the next working day (``due_tomorrow``) and
    for every overdue case still without feedback (``overdue``). Each is an `Alert` outbox row unique per
    (case, kind, local day); a second run the same day queues nothing. Returns the new alerts' ids."""
    now, settings, calendar = _aware(now), settings or Settings.from_env(), _calendar(session, calendar)
    cases = session.scalars(
        select(Rectification).where(Rectification.state.in_(AWAITING_FEEDBACK)).order_by(Rectification.id)
    ).all()
    policies: dict[int, tuple[ZoneInfo, CallingPolicy]] = {}
    due: list[tuple[Rectification, str, date]] = []
    for case in cases:
        if case.hall_id not in policies:
            policies[case.hall_id] = _hall_policy(session, settings, calendar, case.hall_id)
        tz, policy = policies[case.hall_id]
        today = now.astimezone(tz).date()
        kind = _daily_kind(case, now, today, calendar, tz)
        if kind is not None and calendar.is_workday(today) and policy.may_sms(now):
            due.append((case, kind, today))
    queued = _queued_today(session, {day for _, _, day in due})
    fresh = (queue_alert(session, case, kind, day) for case, kind, day in due if (case.id, kind, day) not in queued)
    return [alert.id for alert in fresh if alert is not None]


def _queued_today(session: Session, days: set[date]) -> set[tuple[int, str, date]]:
    """The daily alerts already queued for these local days (one query instead of one per case)."""
    if not days:
        return set()
    rows = session.execute(select(Alert.rectification_id, Alert.kind, Alert.day)
                           .where(Alert.day.in_(days), Alert.kind.in_((DUE_TOMORROW, OVERDUE))))
    return {(case_id, kind, day) for case_id, kind, day in rows}


def queue_alert(session: Session, case: Rectification, kind: str, day: date) -> Alert | None:
    """Queue the ``kind`` alert about ``case`` for the hall's local ``day`` (once: `alerts.queue_alert`)."""
    subject, body = alert_text(session, case, kind)
    return alerts.queue_alert(session, case, kind, day, subject, body)


ALERT_REASONS_SHOWN = 4


def alert_text(session: Session, case: Rectification, kind: str) -> tuple[str, str]:
    """An alert's subject and body (the SMS text): hall, window, case number, reasons and deadline — never a
    citizen's name or number, nor what they said (the supervisor opens the case for that)."""
    hall = session.get(Hall, case.hall_id)
    window = case.window.name if case.window else ""
    due = case.due_at.astimezone(_hall_tz(session, case.hall_id)).strftime("%m-%d %H:%M")
    reasons = "、".join(REASON_LABELS.get(r, r) for r in list(case.reasons)[:ALERT_REASONS_SHOWN])
    lead = {
        INTEGRITY_ALERT: f"{window}整改#{case.id}：回访中反映廉洁自律问题，请立即核查",
        DUE_TOMORROW: f"{window}整改#{case.id}将于 {due} 到期，尚未反馈申请人，请督促办理",
        OVERDUE: f"{window}整改#{case.id}已超过期限（{due}）未反馈申请人，请督办",
    }[kind]
    subject = f"【{alerts.KIND_LABELS[kind]}】{window} 整改#{case.id}"
    return subject, f"【{hall.name if hall else '政务服务中心'}】{lead}（原因：{reasons}）。详见 callback rectifications"


def _daily_kind(case: Rectification, now: datetime, today: date, calendar: WorkingCalendar, tz: ZoneInfo) -> str | None:
    if now > case.due_at:
        return OVERDUE
    if case.due_at.astimezone(tz).date() == calendar.next_workday(today):
        return DUE_TOMORROW
    return None


def _hall_policy(
    session: Session, settings: Settings, calendar: WorkingCalendar, hall_id: int
) -> tuple[ZoneInfo, CallingPolicy]:
    from callback.calendar.policy import CallingPolicy

    tz = _hall_tz(session, hall_id)
    return tz, CallingPolicy.from_settings(settings, calendar, str(tz))


# --- second callback (二次回访) ------------------------------------------------------------------------------

REVISIT_SKIPPED_LABELS = {"opted_out": "该号码已退订", "no_contact": "没有可拨打的号码"}


def needs_revisit(callback: Callback, overall: str | None) -> bool:
    """篇3 (五)2 "首次回访未达到满意": a first callback (not itself a 二次回访) whose rating — its overall item, else
    the worst item answered (`callback_rating`, docs/architecture.md §Ratings and points) — was not 满意 is owed a
    二次回访."""
    return callback.revisit_of_id is None and overall not in (None, Rating.S.value)


def revisit_due(case: Rectification, now: datetime) -> bool:
    """The 二次回访 a case owes is due once the window settled it (feedback given, or closed without feedback) or,
    at the latest, once it is overdue — whether or not the window gave feedback (篇2 五; 篇3 (五)2)."""
    waiting = case.revisit_required and case.revisit_callback_id is None and case.revisit_skipped is None
    return waiting and (settled_at(case) is not None or _aware(now) > case.due_at)


def place_revisit_if_due(
    session: Session, case: Rectification, now: datetime, *, actor: str = SYSTEM, settings: Settings | None = None
) -> Callback | None:
    """Place the case's 二次回访 now if it is due (`revisit_due`); None if not due or not possible."""
    if not revisit_due(case, now):
        return None
    return _place_revisit(session, case, now, actor, settings or Settings.from_env())


def place_due_revisits(
    session: Session,
    now: datetime,
    *,
    settings: Settings | None = None,
    calendar: WorkingCalendar | None = None,
    actor: str = SYSTEM,
) -> list[int]:
    """Every 二次回访 that is due and not yet placed (the beat's safety net: an overdue case nobody fed back, or a
    feedback whose placement failed). Returns the ids of the cases that got one."""
    now, settings = _aware(now), settings or Settings.from_env()
    cases = session.scalars(
        select(Rectification)
        .where(Rectification.revisit_required.is_(True), Rectification.revisit_callback_id.is_(None),
               Rectification.revisit_skipped.is_(None))
        .where(or_(Rectification.feedback_at.is_not(None), Rectification.closed_without_feedback.is_(True),
                   Rectification.due_at < now))
        .order_by(Rectification.id).with_for_update(skip_locked=True)
    ).all()
    return [c.id for c in cases if _place_revisit(session, c, now, actor, settings, calendar) is not None]


def schedule_revisit(
    session: Session, case: Rectification, now: datetime, *, actor: str, settings: Settings | None = None
) -> Callback:
    """`callback revisit`: place the case's 二次回访 by hand, once it is settled or overdue — also for a case whose
    first callback was satisfied overall (opened for 体外循环, say). Idempotent: a case has one revisit at most,
    and asking again returns it."""
    if case.revisit_callback_id is not None:
        return session.get(Callback, case.revisit_callback_id)
    if settled_at(case) is None and _aware(now) <= case.due_at:
        raise RectificationError(f"整改#{case.id} 尚未反馈也未超期：反馈（或无需反馈办结）之后、或超期之后才能安排二次回访")
    if case.revisit_skipped is None:
        _place_revisit(session, case, now, actor, settings or Settings.from_env())
    if case.revisit_callback_id is None:  # not possible (an opted-out number, an on-site form)
        raise RectificationError(f"不能二次回访：{REVISIT_SKIPPED_LABELS[case.revisit_skipped or 'no_contact']}")
    return session.get(Callback, case.revisit_callback_id)


class _Taken(Exception):
    """Another transaction placed this case's revisit first."""


def _place_revisit(
    session: Session,
    case: Rectification,
    now: datetime,
    actor: str,
    settings: Settings,
    calendar: WorkingCalendar | None = None,
) -> Callback | None:
    """A new callback (state drawn, due at the next calling moment — never outside calling hours) linked to the
    first by ``revisit_of_id``; the dialer calls it like any drawn callback. The case is claimed by a conditional
    UPDATE (revisit_callback_id still empty) inside a savepoint, so two runners never place two revisits."""
    now, first = _aware(now), case.callback
    contact = session.get(Contact, first.contact_id) if first.contact_id is not None else None
    if contact is None or contact.opted_out_at is not None:
        return _skip_revisit(session, case, now, actor, "no_contact" if contact is None else "opted_out")
    tz, policy = _hall_policy(session, settings, _calendar(session, calendar), first.hall_id)
    try:
        with session.begin_nested():
            revisit = _new_revisit(session, first, now, tz, policy.next_call_moment(now))
            claimed = session.execute(
                update(Rectification)
                .where(Rectification.id == case.id, Rectification.revisit_callback_id.is_(None))
                .values(revisit_callback_id=revisit.id).execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                raise _Taken
    except _Taken:
        session.refresh(case)
        return None
    case.revisit_callback_id = revisit.id
    record(session, case, now, actor, "revisit_scheduled", callback_id=revisit.id,
           due_at=revisit.next_action_at.isoformat())
    session.flush()
    return revisit


def _new_revisit(session: Session, first: Callback, now: datetime, tz: ZoneInfo, due: datetime) -> Callback:
    revisit = Callback(
        hall_id=first.hall_id, draw_id=None, case_id=first.case_id, contact_id=first.contact_id,
        window_id=first.window_id, week=week_of(now, tz), state="drawn", channel="voice", next_action_at=due,
        token=secrets.token_hex(16), revisit_of_id=first.id, flags={"revisit": True},
    )
    session.add(revisit)
    session.flush()
    return revisit


def _skip_revisit(session: Session, case: Rectification, now: datetime, actor: str, why: str) -> None:
    case.revisit_skipped = why
    record(session, case, now, actor, "revisit_not_possible", audience="supervisors", reason=why,
           label=REVISIT_SKIPPED_LABELS[why])
    session.flush()
    return None


# --- the revisit's outcome for 篇3 (五)2 --------------------------------------------------------------------


def _case_for_revisit(session: Session, revisit: Callback) -> Rectification | None:
    return session.scalar(
        select(Rectification).where(
            or_(Rectification.revisit_callback_id == revisit.id, Rectification.callback_id == revisit.revisit_of_id)
        ).order_by(Rectification.id)
    )


def link_revisit(session: Session, revisit: Callback, now: datetime, *, actor: str = SYSTEM) -> Rectification | None:
    """Store the revisit's overall rating on the case it follows up (idempotent; re-linking updates the rating,
    never the moment it was first known — `revisit_counted_at`)."""
    case = _case_for_revisit(session, revisit)
    rating = callback_rating(session, revisit)
    if case is None or rating is None:
        return case
    if case.revisit_rating == rating.value and case.revisit_callback_id == revisit.id:
        return case
    case.revisit_callback_id, case.revisit_rating = revisit.id, rating.value
    case.revisit_linked_at = case.revisit_linked_at or _aware(now)
    record(session, case, now, actor, "revisit_linked", callback_id=revisit.id, rating=rating.value,
           outcome=revisit_outcome(case))
    session.flush()
    return case


def revisit_outcome(case: Rectification) -> str | None:
    """篇3 (五)2 for a case whose first callback was not satisfied: twice_unsatisfied or then_satisfied.

    None when the first overall rating was satisfied (the case opened for another reason, e.g. 体外循环) or
    when no revisit result is linked yet.
    """
    first = case.excerpt.get("overall")
    if first in (None, Rating.S.value) or case.revisit_rating is None:
        return None
    return THEN_SATISFIED if case.revisit_rating == Rating.S.value else TWICE_UNSATISFIED


def revisit_counted_at(case: Rectification) -> datetime | None:
    """The moment a 二次回访 counts for 篇3 (五)2: when its outcome first became known (``revisit_linked_at``).

    The one rule every month figure follows (`revisit_month`, `revisit_links`, the month's assessment): a revisit
    belongs to the hall's local month in which its result came in — not the month the first callback's case
    opened. A month's figures then never change after the month because a revisit was answered later, and the
    year's "累计三次" runs in the order the results came in.
    """
    return case.revisit_linked_at


def revisit_month(counted_at: datetime, tz: ZoneInfo) -> str:
    """The month ("2026-11", the hall's local month) a revisit counted at ``counted_at`` belongs to."""
    return month_of(counted_at, tz)


@dataclass(frozen=True)
class RevisitLink:
    rectification_id: int
    window_id: int
    staff_id: int | None
    first_rating: str
    second_rating: str
    outcome: str
    linked_at: datetime  # revisit_counted_at: its month is the month it counts in


def revisit_links(
    session: Session, hall_id: int, since: datetime | None = None, until: datetime | None = None
) -> list[RevisitLink]:
    """Every first callback with a known 二次回访 outcome (篇3 (五)2) counted in ``[since, until)``
    (`revisit_counted_at`), with the staff member of the ledger case it was about."""
    query = (
        select(Rectification, Case.staff_id)
        .join(Callback, Callback.id == Rectification.callback_id)
        .outerjoin(Case, Case.id == Callback.case_id)
        .where(Rectification.hall_id == hall_id, Rectification.revisit_linked_at.is_not(None),
               Callback.revisit_of_id.is_(None))
    )
    if since is not None:
        query = query.where(Rectification.revisit_linked_at >= since)
    if until is not None:
        query = query.where(Rectification.revisit_linked_at < until)
    links = []
    for case, staff_id in session.execute(query.order_by(Rectification.id)):
        outcome = revisit_outcome(case)
        if outcome is not None:
            links.append(RevisitLink(case.id, case.window_id, staff_id, case.excerpt["overall"],
                                     case.revisit_rating, outcome, revisit_counted_at(case)))
    return links


# --- queries -----------------------------------------------------------------------------------------------

STATE_LABELS = {OPEN: "待整改", RECTIFIED: "已整改", FEEDBACK_GIVEN: "已反馈", CLOSED: "已办结"}
NO_FEEDBACK_LABEL = "已办结（无需反馈）"


def list_cases(
    session: Session,
    hall_id: int,
    now: datetime,
    *,
    only_open: bool = False,
    only_overdue: bool = False,
    window_id: int | None = None,
) -> list[Rectification]:
    """Cases of a hall, oldest first. ``window_id`` gives the window's own view, which never contains an
    integrity case (docs/architecture.md §Privacy and security: a window never learns more than the case
    needs)."""
    query = select(Rectification).where(Rectification.hall_id == hall_id)
    if window_id is not None:
        query = query.where(Rectification.window_id == window_id, Rectification.integrity.is_(False))
    if only_open or only_overdue:
        query = query.where(Rectification.state.in_(AWAITING_FEEDBACK))
    if only_overdue:
        query = query.where(Rectification.due_at < _aware(now))
    return list(session.scalars(query.order_by(Rectification.opened_at, Rectification.id)))


def find_case(session: Session, hall_id: int, ref: str) -> Rectification | None:
    """A case by its id, or by the ledger case number (办件编号) of the callback it came from."""
    if ref.isdigit():
        case = session.get(Rectification, int(ref))
        if case is not None and case.hall_id == hall_id:
            return case
    return session.scalar(
        select(Rectification)
        .join(Callback, Callback.id == Rectification.callback_id)
        .join(Case, Case.id == Callback.case_id)
        .where(Rectification.hall_id == hall_id, Case.case_no == ref)
        .order_by(Rectification.id.desc())
    )


def case_summary(case: Rectification, now: datetime, tz: ZoneInfo | None = None) -> dict[str, Any]:
    """The CLI/JSON view of a case (no personal data)."""
    tz = tz or ZoneInfo("Asia/Shanghai")
    return {
        "id": case.id,
        "window": case.window.name,
        "reasons": list(case.reasons),
        "reason_labels": [REASON_LABELS.get(r, r) for r in case.reasons],
        "state": case.state,
        "state_label": NO_FEEDBACK_LABEL if case.closed_without_feedback else STATE_LABELS[case.state],
        "integrity": case.integrity,
        "opened_at": case.opened_at.astimezone(tz).isoformat(),
        "due_at": case.due_at.astimezone(tz).isoformat(),
        "estimated": case.due_estimated,
        "deadline": deadline_status(case, now),
        "overdue": is_overdue(case, now),
        "closed_without_feedback": case.closed_without_feedback,
        "close_reason": case.close_reason,
        "revisit_required": case.revisit_required,
        "revisit_callback_id": case.revisit_callback_id,
        "revisit_skipped": case.revisit_skipped,
        "revisit_outcome": revisit_outcome(case),
    }
