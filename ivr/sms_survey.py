"""The SMS survey: the fallback for citizens the calls did not reach (docs/architecture.md §Callback states,
§SMS replies).

Life of an SMS survey (the callback stays in state ``sms`` while the conversation is open):

- **Send** (`send_sms_survey`). ivr/status.py moves a mobile callback to ``sms`` once its last call has ended.
  The survey text goes out only inside SMS hours (``SMS_HOURS``, every day; otherwise ``next_action_at`` is moved
  to the next SMS moment), never while a call to the number is live, never to an opted-out number. The outbox
  ``Message`` row is committed *before* the provider is asked (Twilio sends are not idempotent) and the claim is
  an atomic receipt insert, so a redelivered task never texts twice. The text comes from the prompt catalog
  (``sms.survey``): who asks (the centre), which item (事项名称, shortened if needed), how to answer
  (``112111``) and 回复TD退订 — at most two 70-character segments.
- **Replies** (`handle_inbound`). Matched to the most recent open SMS survey of the sending number, parsed with
  `survey.replies.parse_sms_reply`, answers saved at once (a partial reply is kept; the next message answers the
  items still missing, in order; six digits always answer the whole questionnaire again). A trailing comment is the
  suggestion (篇2 二六); complaint words flag it, an integrity word or 有 on 廉洁自律 raises the same integrity
  alert as the IVR (篇2 二五). Ambiguous replies are never scored and get at most ``MAX_CLARIFICATIONS``
  clarifying question. Six items answered → ``complete`` and the rectification check (篇2 五). After completion
  the conversation accepts a written suggestion until it expires.
- **Opt-out** (TD, 退订, STOP, 取消, 不要再发 …): the number is opted out for good in every hall — existing contact
  rows are marked and halls that do not know the number get an opted-out contact row, so a later ledger import
  reuses it and the draw excludes it. Open callbacks of the number end ``opted_out``; answers already given are
  kept (the survey ends ``partial``/``complete``). One confirmation; a repeated TD gets no reply.
- **Unknown number** (no SMS survey was ever sent to it): a polite reply and nothing stored but the webhook receipt
  (the MessageSid, for de-duplication) — no Message, no Answer, no link to any callback. A number whose survey has
  closed gets "回访已结束" once; its late text is kept on that callback's transcript, unscored.
- **Reminder and expiry** (`remind_sms_survey`, `expire_sms_surveys`): with no reply by half of
  ``SMS_SURVEY_HOURS`` (default 48) one reminder goes out (inside SMS hours); at ``SMS_SURVEY_HOURS`` the survey
  ends ``partial`` if anything was answered, else ``unreachable``. A survey SMS the carrier reports undelivered or
  failed ends the callback ``unreachable`` at once.

Services take their collaborators (session, provider, settings, clock). The ones that send (`send_sms_survey`,
`remind_sms_survey`, `advance_sms`) commit, as the dialer does; the others never commit.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.models import Answer, Callback, Case, Contact, Hall, Message
from callback.rectification.services import open_for_callback
from callback.responses.answers import answered_items, finish_survey, raise_integrity_alert, save_answer
from callback.responses.optout import contacts_of, is_opted_out, normalise_sender, opt_out_number
from callback.responses.receipts import first_delivery
from callback.responses.states import LIVE_CALL, CallbackFlags, CallbackState, end, flags_of, set_flags
from callback.responses.transcript import add_event
from callback.telephony import Provider, ProviderError, SmsRequest
from ivr.prompts import Catalog, load_catalog
from survey._text import fold  # the reply parser's folding (NFKC, Traditional→Simplified, lowercase)
from survey.complaints import complaint_signals
from survey.privacy import mask_text
from survey.questionnaire import ITEMS, Item
from survey.replies import TOO_MANY_KEYS, SmsReply, parse_sms_reply, reply_answers

# Message.purpose values of this module
SURVEY, REMINDER, REPLY, LATE = "survey", "reminder", "reply", "late"
NOT_SENT = "not_sent"  # our own status for an outbox row the provider refused (Twilio's "failed" is a delivery)
PENDING = "pending"  # our own status of an outbox row before the provider has answered

MAX_CLARIFICATIONS = 1  # docs/architecture.md §SMS replies: an ambiguous reply is asked about once more
MAX_SEND_ERRORS = 3  # transient provider errors before the callback ends unreachable
SEND_BACKOFF = timedelta(minutes=10)
LIVE_CALL_WAIT = timedelta(minutes=10)
STALE_SEND = timedelta(minutes=10)  # an outbox row with no provider answer by then: the sender died
MAX_SEGMENTS = 2
MIN_ITEM_CHARS = 4  # shorter than this, the item name is left out rather than cut to nothing
DEFAULT_CENTRE = "政务服务中心"

STATUS_RANK = {
    PENDING: 0, "accepted": 1, "scheduled": 1, "queued": 2, "sending": 3, "sent": 4,
    "delivered": 5, "undelivered": 5, "failed": 5, "canceled": 5, "read": 6,
}
FINAL_STATUSES = frozenset({"delivered", "undelivered", "failed", "canceled", "read"})
UNDELIVERED = frozenset({"undelivered", "failed", "canceled"})
STATUS_LABELS = {"delivered": "短信已送达", "undelivered": "短信未送达", "failed": "短信发送失败",
                 "canceled": "短信已取消", "read": "短信已读"}
PLEASANTRIES = frozenset({
    "谢谢", "谢谢你", "谢谢你们", "谢了", "多谢", "感谢", "好", "好的", "好滴", "收到", "嗯", "嗯嗯", "哦", "ok", "okay",
    "不客气", "没有", "没有了", "无", "没了", "行", "可以", "知道了", "谢谢!", "thanks", "thank you",
})


@dataclass(frozen=True)
class SmsResult:
    """What one send, reminder or expiry did: sent | skipped | deferred | opted_out | error | unreachable |
    expired | partial."""

    callback_id: int
    result: str
    message_id: int | None = None
    sid: str | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"callback_id": self.callback_id, "result": self.result, "message_id": self.message_id,
                "sid": self.sid, "detail": self.detail}


@dataclass(frozen=True)
class InboundResult:
    """The handling of one inbound SMS. ``reply``: the text to answer with (None: no reply). ``reply_message_id``:
    the outbox row of that reply (for its status callback), None when nothing may be stored (unknown number)."""

    reply: str | None
    kind: str
    callback_id: int | None = None
    reply_message_id: int | None = None


# --- text ----------------------------------------------------------------------------------------------------


def segments(body: str) -> int:
    """SMS segments as carriers count them: GSM-7 160/153 characters, UCS-2 (any Chinese) 70/67."""
    gsm = all(ord(c) < 128 for c in body)
    single, multi = (160, 153) if gsm else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // multi)


def fits(body: str) -> bool:
    return segments(body) <= MAX_SEGMENTS


def survey_text(catalog: Catalog, centre: str, item: str, key: str = "sms.survey") -> str:
    """The survey (or reminder) text in at most two segments: the item name is shortened with "…" if the
    whole does not fit, and left out (the ``_no_item`` variant) if even four characters of it do not fit."""
    if item:
        body = catalog.prompt(key, centre=centre, item=item).text
        if fits(body):
            return body
        for size in range(len(item) - 1, MIN_ITEM_CHARS - 1, -1):
            body = catalog.prompt(key, centre=centre, item=item[:size] + "…").text
            if fits(body):
                return body
    return catalog.prompt(f"{key}_no_item", centre=centre).text


def more_text(catalog: Catalog, centre: str, remaining: Sequence[Item], after_word: bool = False) -> str:
    """Asks for the items still missing, in order, with their keys."""
    head = catalog.prompt("sms.more_after_word" if after_word else "sms.more", centre=centre).text
    separator = catalog.prompt("sms.separator").text
    labels = separator.join(catalog.prompt(f"sms.item.{item.code}").text for item in remaining)
    scale = catalog.prompt("sms.more_scale").text if any(i.kind == "rating" for i in remaining) else ""
    return head + labels + scale


# --- lookups -------------------------------------------------------------------------------------------------


def _locked(session: Session, callback_id: int) -> Callback | None:
    query = select(Callback).where(Callback.id == callback_id).with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).first()


def _names(session: Session, callback: Callback) -> tuple[str, str]:
    hall = session.get(Hall, callback.hall_id)
    case = session.get(Case, callback.case_id) if callback.case_id is not None else None
    return (hall.name if hall else DEFAULT_CENTRE), ((case.item_name or "") if case else "")


def _phone(session: Session, callback: Callback) -> str:
    contact = session.get(Contact, callback.contact_id)
    return contact.phone if contact else ""


def _survey_message(session: Session, callback_id: int) -> Message | None:
    """The survey SMS of a callback that was (or is being) sent; a row the provider refused does not count."""
    query = (
        select(Message)
        .where(Message.callback_id == callback_id, Message.direction == "out", Message.purpose == SURVEY,
               Message.status != NOT_SENT)
        .order_by(Message.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def _has_reply(session: Session, callback_id: int) -> bool:
    query = select(func.count()).select_from(Message).where(
        Message.callback_id == callback_id, Message.direction == "in", Message.purpose == SURVEY)
    return bool(session.scalar(query))


def _live_call(session: Session, contact_ids: Sequence[int]) -> bool:
    """Is a call to this number being placed or in progress (any callback, any hall)? One channel at a time.

    Read from the callback state machine (``calling``/``in_survey`` until the call's final status), which the
    reconciler repairs if a final status never comes, rather than from attempt rows."""
    query = select(func.count()).select_from(Callback).where(
        Callback.contact_id.in_(contact_ids), Callback.state.in_(LIVE_CALL))
    return bool(contact_ids) and bool(session.scalar(query))


def _log(session: Session, callback: Callback, kind: str, text: str, now: datetime, **data: Any) -> None:
    add_event(session, hall_id=callback.hall_id, callback_id=callback.id, kind=kind, text=text, at=now,
              data={k: v for k, v in data.items() if v is not None})


def _policy(session: Session, settings: Settings, callback: Callback) -> Any:
    from callback.calendar.policy import CallingPolicy
    from callback.calendar.services import load_calendar

    hall = session.get(Hall, callback.hall_id)
    return CallingPolicy.from_settings(settings, load_calendar(session), hall.timezone if hall else None)


def status_url(settings: Settings, message_id: int | None = None) -> str:
    """Our messaging status webhook; ``m`` is the outbox row (never personal data), so a status that arrives
    before the provider's answer was written still finds its message."""
    base = settings.public_base_url.rstrip("/") + "/sms/status"
    return f"{base}?m={message_id}" if message_id is not None else base


# --- sending -------------------------------------------------------------------------------------------------


def due_sms_ids(session: Session, now: datetime, limit: int | None = None) -> list[int]:
    """SMS callbacks with something due now: the survey to send, a reminder, or the expiry (never an on-site
    form: it has no number)."""
    query = (
        select(Callback.id)
        .where(Callback.state == CallbackState.SMS, Callback.contact_id.is_not(None),
               or_(Callback.next_action_at.is_(None), Callback.next_action_at <= now))
        .order_by(Callback.next_action_at, Callback.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def sms_phase(session: Session, callback: Callback, now: datetime) -> str:
    """send | remind | expire | repair | wait — what an SMS callback needs next."""
    if callback.state != CallbackState.SMS:
        return "wait"
    message = _survey_message(session, callback.id)
    if message is None:
        return "send"
    flags = flags_of(callback)
    expires, remind_at = flags.sms_expires_at, flags.sms_remind_at
    if expires is None or remind_at is None:
        # Being sent right now, or the sender died between the outbox row and the provider's answer.
        return "repair" if message.created_at <= now - STALE_SEND else "wait"
    if now >= expires:
        return "expire"
    return "remind" if now >= remind_at and not flags.sms_reminded else "wait"


def advance_sms(
    session: Session, callback_id: int, provider: Provider, settings: Settings, now: datetime,
    catalog: Catalog | None = None,
) -> SmsResult:
    """Do whatever is due for one SMS callback (what the worker tick runs per id). Commits."""
    callback = session.get(Callback, callback_id, populate_existing=True)
    phase = sms_phase(session, callback, now) if callback is not None else "wait"
    if phase == "send":
        return send_sms_survey(session, callback_id, provider, settings, now, catalog=catalog)
    if phase == "remind":
        return remind_sms_survey(session, callback_id, provider, settings, now, catalog=catalog)
    if phase == "repair":
        return _repair(session, callback_id, settings, now)
    if phase == "expire":
        done = expire_sms_surveys(session, now, ids=[callback_id])
        session.commit()
        return done[0] if done else SmsResult(callback_id, "skipped")
    session.rollback()
    return SmsResult(callback_id, "skipped", detail="nothing due")


def _repair(session: Session, callback_id: int, settings: Settings, now: datetime) -> SmsResult:
    """The survey SMS was handed to the provider but its answer was never recorded (the sender died): it may
    have gone out, and a send cannot be repeated safely, so the conversation is timed from the outbox row."""
    callback = _locked(session, callback_id)
    message = _survey_message(session, callback_id) if callback is not None else None
    if message is None or sms_phase(session, callback, now) != "repair":
        session.rollback()
        return SmsResult(callback_id, "skipped")
    _schedule(callback, settings, message.created_at)
    _log(session, callback, "status", "短信发送结果未知（发送中断），按已发送计时", now, message_id=message.id)
    session.commit()
    return SmsResult(callback_id, "repaired", message_id=message.id)


def run_sms_due(
    session: Session, provider: Provider, settings: Settings, now: datetime, catalog: Catalog | None = None
) -> list[SmsResult]:
    """Everything due for every SMS callback (what `callback sms` and the beat tick do)."""
    return [advance_sms(session, cid, provider, settings, now, catalog) for cid in due_sms_ids(session, now)]


def send_sms_survey(
    session: Session, callback_id: int, provider: Provider, settings: Settings, now: datetime,
    *, catalog: Catalog | None = None,
) -> SmsResult:
    """Text the survey to a callback in state ``sms``; safe to run any number of times. Commits."""
    callback = _locked(session, callback_id)
    if callback is None or callback.state != CallbackState.SMS or _survey_message(session, callback_id) is not None:
        session.rollback()
        return SmsResult(callback_id, "skipped", detail="not waiting for its survey SMS")
    if callback.next_action_at is not None and callback.next_action_at > now:
        session.rollback()
        return SmsResult(callback_id, "skipped", detail="not due")
    held = _hold_back(session, callback, settings, now)
    if held is not None:
        session.commit()
        return held
    centre, item = _names(session, callback)
    body = survey_text(catalog or load_catalog(), centre, item)
    callback.channel = "sms"
    return _send(session, callback, SURVEY, body, provider, settings, now)


def _hold_back(session: Session, callback: Callback, settings: Settings, now: datetime) -> SmsResult | None:
    """Opted out → ended; not a mobile → unreachable; a call is live or it is outside SMS hours → later."""
    contact = session.get(Contact, callback.contact_id)
    phone = contact.phone if contact else ""
    if is_opted_out(session, phone):
        _end(session, callback, CallbackState.OPTED_OUT, now, "号码已退订，不发送短信回访")
        return SmsResult(callback.id, "opted_out")
    if contact is None or contact.kind != "mobile":
        _end(session, callback, CallbackState.UNREACHABLE, now, "不是手机号，无法短信回访", sms_end="not_mobile")
        return SmsResult(callback.id, "unreachable", detail="not a mobile number")
    if _live_call(session, [c.id for c in contacts_of(session, phone)]):
        callback.next_action_at = now + LIVE_CALL_WAIT
        return SmsResult(callback.id, "deferred", detail="a call to this number is live")
    moment = _policy(session, settings, callback).next_sms_moment(now)
    if moment > now:
        callback.next_action_at = moment
        return SmsResult(callback.id, "deferred", detail=moment.isoformat())
    return None


def _end(
    session: Session, callback: Callback, state: CallbackState, now: datetime, text: str, **flags: Any
) -> None:
    end(callback, state, now)
    if flags:
        set_flags(callback, **flags)
    _log(session, callback, "status", text, now, outcome=state)


def _send(
    session: Session, callback: Callback, purpose: str, body: str, provider: Provider, settings: Settings,
    now: datetime,
) -> SmsResult:
    """Claim (atomic receipt), write the outbox row, commit, then ask the provider once."""
    errors = flags_of(callback).sms_send_errors
    if not first_delivery(session, f"sms-out:{purpose}:{callback.id}:{errors}"):
        session.rollback()
        return SmsResult(callback.id, "skipped", detail="claimed elsewhere")
    message = Message(hall_id=callback.hall_id, callback_id=callback.id, direction="out", purpose=purpose,
                      body=body, status=PENDING, created_at=now)
    session.add(message)
    session.flush()
    request = SmsRequest(to=_phone(session, callback), from_=settings.twilio_from, body=body,
                         status_callback=status_url(settings, message.id))
    callback_id, message_id = callback.id, message.id
    session.commit()  # the outbox row is durable before a send that cannot be taken back
    try:
        sent = provider.send_sms(request)
    except ProviderError as exc:
        return _not_sent(session, callback_id, message_id, exc, now)
    return _sent(session, callback_id, message_id, sent.sid, sent.status, settings, now)


def _sent(
    session: Session, callback_id: int, message_id: int, sid: str, status: str, settings: Settings, now: datetime
) -> SmsResult:
    callback = _locked(session, callback_id)  # fresh: a reply may already have been handled
    # A status callback may already have moved the row on: conditional writes, never read-then-write.
    _advance_message(session, message_id, status or "queued", sid)
    message = session.get(Message, message_id, populate_existing=True)
    contact = session.get(Contact, callback.contact_id)
    if contact is not None:
        contact.last_contacted_at = now
    set_flags(callback, sms_send_errors=0)
    if message.purpose == SURVEY:
        _schedule(callback, settings, now)
    elif callback.state == CallbackState.SMS:
        set_flags(callback, sms_reminded=now.isoformat())
        callback.next_action_at = flags_of(callback).sms_expires_at
    label = "短信回访" if message.purpose == SURVEY else "短信提醒"
    _log(session, callback, "sms_out", message.body, now, purpose=message.purpose, message_id=message.id, what=label)
    session.commit()
    return SmsResult(callback_id, "sent", message_id=message_id, sid=sid)


def _schedule(callback: Callback, settings: Settings, now: datetime) -> None:
    """The conversation's clock: one reminder at half time, expiry after SMS_SURVEY_HOURS."""
    hours = timedelta(hours=settings.sms_survey_hours)
    remind_at, expires_at = now + hours / 2, now + hours
    if flags_of(callback).sms_sent_at is None:
        set_flags(callback, sms_sent_at=now, sms_remind_at=remind_at, sms_expires_at=expires_at)
    if callback.state == CallbackState.SMS:
        callback.next_action_at = flags_of(callback).sms_remind_at


def _not_sent(session: Session, callback_id: int, message_id: int, exc: ProviderError, now: datetime) -> SmsResult:
    callback = _locked(session, callback_id)
    message = session.get(Message, message_id, populate_existing=True)
    message.status = NOT_SENT
    errors = flags_of(callback).sms_send_errors + 1
    set_flags(callback, sms_send_errors=errors)
    detail = f"{exc.code or ''} {exc}".strip()[:300]
    if message.purpose == SURVEY and callback.state == CallbackState.SMS:
        if exc.transient and errors < MAX_SEND_ERRORS:
            callback.next_action_at = now + SEND_BACKOFF * 2 ** (errors - 1)
            _log(session, callback, "status", f"短信未能发出（{detail}），稍后重试", now)
        else:
            _end(session, callback, CallbackState.UNREACHABLE, now, f"短信未能发出（{detail}），无法联系", sms_end="not_sent")
    elif callback.state == CallbackState.SMS:
        set_flags(callback, sms_reminded="failed")
        callback.next_action_at = flags_of(callback).sms_expires_at
    session.commit()
    return SmsResult(callback_id, "error", message_id=message_id, detail=detail)


# --- reminder and expiry --------------------------------------------------------------------------------------


def remind_sms_survey(
    session: Session, callback_id: int, provider: Provider, settings: Settings, now: datetime,
    *, catalog: Catalog | None = None,
) -> SmsResult:
    """The one reminder, sent when nothing has come back by half time and only inside SMS hours. Commits."""
    callback = _locked(session, callback_id)
    if callback is None or sms_phase(session, callback, now) != "remind":
        session.rollback()
        return SmsResult(callback_id, "skipped", detail="no reminder due")
    expires = flags_of(callback).sms_expires_at
    if _has_reply(session, callback.id) or is_opted_out(session, _phone(session, callback)):
        return _no_reminder(session, callback, expires, "citizen already replied")
    moment = _policy(session, settings, callback).next_sms_moment(now)
    if expires is not None and moment >= expires:
        return _no_reminder(session, callback, expires, "no SMS hours left before expiry")
    if moment > now:
        callback.next_action_at = moment
        session.commit()
        return SmsResult(callback_id, "deferred", detail=moment.isoformat())
    centre, item = _names(session, callback)
    body = survey_text(catalog or load_catalog(), centre, item, key="sms.reminder")
    return _send(session, callback, REMINDER, body, provider, settings, now)


def _no_reminder(session: Session, callback: Callback, expires: datetime | None, why: str) -> SmsResult:
    set_flags(callback, sms_reminded="skipped")
    callback.next_action_at = expires
    session.commit()
    return SmsResult(callback.id, "skipped", detail=why)


def expire_sms_surveys(session: Session, now: datetime, ids: Sequence[int] | None = None) -> list[SmsResult]:
    """End every SMS survey past its expiry: ``partial`` (answers kept, rectification check) if anything was
    answered, else ``unreachable``. Does not commit."""
    query = select(Callback.id).where(Callback.state == CallbackState.SMS, Callback.next_action_at <= now)
    if ids is not None:
        query = query.where(Callback.id.in_(list(ids)))
    done = [_expire_one(session, cid, now) for cid in list(session.scalars(query.order_by(Callback.id)))]
    return [d for d in done if d is not None]


def _expire_one(session: Session, callback_id: int, now: datetime) -> SmsResult | None:
    query = select(Callback).where(Callback.id == callback_id).with_for_update(skip_locked=True)
    callback = session.scalars(query.execution_options(populate_existing=True)).first()
    expires = flags_of(callback).sms_expires_at if callback is not None else None
    if callback is None or callback.state != CallbackState.SMS or expires is None or now < expires:
        return None
    if answered_items(session, callback):
        _log(session, callback, "status", "短信回访到期：保留已回复的部分", now)
        outcome = finish_survey(session, callback, now)
        return SmsResult(callback_id, outcome)
    _end(session, callback, CallbackState.UNREACHABLE, now, "短信回访到期，未收到回复", sms_end="no_reply")
    return SmsResult(callback_id, "unreachable", detail="no reply")


# --- delivery status ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmsStatusUpdate:
    """One messaging status callback (Twilio's parameter names)."""

    message_sid: str
    status: str
    message_id: int | None = None
    error_code: str = ""

    @property
    def delivery_key(self) -> str:
        return f"sms-status:{self.message_sid}:{self.status}"


def parse_sms_status(args: Mapping[str, str], form: Mapping[str, str]) -> SmsStatusUpdate:
    raw_id = args.get("m", "")
    return SmsStatusUpdate(
        message_sid=form.get("MessageSid") or form.get("SmsSid") or "",
        status=(form.get("MessageStatus") or form.get("SmsStatus") or "").lower(),
        message_id=int(raw_id) if raw_id.isdigit() else None,
        error_code=form.get("ErrorCode", ""),
    )


def record_sms_status(session: Session, report: SmsStatusUpdate, now: datetime) -> str:
    """Apply one status report. Returns unknown | duplicate | stale | updated | unreachable. Does not commit.

    Statuses never move backwards (a late ``sent`` after ``delivered`` is ignored); a survey SMS that is
    undelivered or failed ends its callback ``unreachable`` (docs/architecture.md §Callback states), unless a
    reply already came.
    """
    found = _message_for(session, report)
    if found is None or report.status not in STATUS_RANK:
        return "unknown"
    # Lock order everywhere: the callback, then its message (the sender holds the callback while it writes the sid).
    callback = _locked(session, found.callback_id) if found.callback_id else None
    if not first_delivery(session, report.delivery_key):
        return "duplicate"
    if not _advance_message(session, found.id, report.status, report.message_sid):
        return "stale"
    message = session.get(Message, found.id, populate_existing=True)
    if callback is None or report.status not in FINAL_STATUSES or message.purpose not in (SURVEY, REMINDER):
        return "updated"
    label = STATUS_LABELS[report.status] + (f"（{report.error_code}）" if report.error_code else "")
    _log(session, callback, "status", label, now, status=report.status, message_id=message.id)
    if report.status in UNDELIVERED and message.purpose == SURVEY and _may_give_up(session, callback):
        _end(session, callback, CallbackState.UNREACHABLE, now, "短信无法送达，无法联系", sms_end="undelivered",
             sms_error=report.error_code or None)
        return "unreachable"
    return "updated"


def _advance_message(session: Session, message_id: int, status: str, sid: str) -> bool:
    """Move a message's status forward only (one conditional UPDATE: no lost update between concurrent writers,
    SQLite included) and record the provider's sid if it is not known yet. True if the status moved."""
    session.execute(update(Message).where(Message.id == message_id, Message.provider_sid.is_(None))
                    .values(provider_sid=sid).execution_options(synchronize_session=False))
    lower = [name for name, rank in STATUS_RANK.items() if rank < STATUS_RANK.get(status, 0)]
    moved = session.execute(update(Message).where(Message.id == message_id, Message.status.in_(lower))
                            .values(status=status).execution_options(synchronize_session=False))
    return moved.rowcount == 1


def _message_for(session: Session, report: SmsStatusUpdate) -> Message | None:
    message = session.get(Message, report.message_id) if report.message_id else None
    if message is not None and message.provider_sid not in (None, report.message_sid):
        message = None
    if message is None and report.message_sid:
        message = session.scalar(select(Message).where(Message.provider_sid == report.message_sid))
    return message if message is not None and message.direction == "out" else None


def _may_give_up(session: Session, callback: Callback) -> bool:
    return callback.state == CallbackState.SMS and not _has_reply(session, callback.id)


# --- inbound --------------------------------------------------------------------------------------------------


def handle_inbound(
    session: Session, from_: str, to: str, body: str, sid: str, now: datetime, *, catalog: Catalog | None = None
) -> str | None:
    """Handle one citizen's SMS; returns the reply text, or None for no reply. Does not commit."""
    return receive_sms(session, from_, to, body, sid, now, catalog=catalog).reply


def receive_sms(
    session: Session, from_: str, to: str, body: str, sid: str, now: datetime, *, catalog: Catalog | None = None
) -> InboundResult:
    """`handle_inbound` with the details the webhook needs (the reply's outbox row). Does not commit."""
    if not sid:
        raise ValueError("an inbound SMS needs its MessageSid (for de-duplication)")
    if not first_delivery(session, f"sms-in:{sid}"):
        return InboundResult(None, "duplicate")
    ctx = _Inbound(session, normalise_sender(from_), body or "", sid, now, catalog or load_catalog())
    ctx.callback = open_survey(session, ctx.phone, now)
    reading = parse_sms_reply(ctx.body, items=ctx.remaining())
    if reading.kind == "opt_out":
        return _on_opt_out(ctx, reading)
    if ctx.callback is None:
        return _no_open_survey(ctx)
    ctx.store_inbound(SURVEY)
    if ctx.callback.state != CallbackState.SMS:
        return _after_completion(ctx, reading)
    return _on_reply(ctx, reading)


@dataclass
class _Inbound:
    session: Session
    phone: str
    body: str
    sid: str
    now: datetime
    catalog: Catalog
    callback: Callback | None = None

    def text(self, key: str) -> str:
        centre = _names(self.session, self.callback)[0] if self.callback else DEFAULT_CENTRE
        return self.catalog.prompt(key, centre=centre).text

    def remaining(self) -> list[Item]:
        if self.callback is None:
            return list(ITEMS)
        answered = set(self.session.scalars(select(Answer.item).where(Answer.callback_id == self.callback.id)))
        return [item for item in ITEMS if item.code not in answered] or list(ITEMS)

    def store_inbound(self, purpose: str, **data: Any) -> None:
        cb = self.callback
        self.session.add(Message(hall_id=cb.hall_id, callback_id=cb.id, direction="in", purpose=purpose,
                                 provider_sid=self.sid, body=mask_text(self.body), status="received",
                                 created_at=self.now))  # raw words are kept on callbacks.suggestion only
        _log(self.session, cb, "sms_in", self.body, self.now, **data)
        if purpose == SURVEY:
            set_flags(cb, consent=True)  # a reply is the SMS form of pressing 1 at the consent step

    def reply(self, kind: str, text: str | None, purpose: str = REPLY) -> InboundResult:
        """The answer to send back; stored as an outbox row (and in the transcript) when a callback is known."""
        cb = self.callback
        if text is None or cb is None:
            return InboundResult(text, kind, cb.id if cb else None)
        message = Message(hall_id=cb.hall_id, callback_id=cb.id, direction="out", purpose=purpose, body=text,
                          status=PENDING, created_at=self.now)
        self.session.add(message)
        self.session.flush()
        _log(self.session, cb, "sms_out", text, self.now, purpose=purpose, message_id=message.id)
        return InboundResult(text, kind, cb.id, message.id)


def open_survey(session: Session, phone: str, now: datetime) -> Callback | None:
    """The SMS survey a reply from ``phone`` belongs to: the most recently texted one still in state ``sms``;
    else the most recently completed one whose conversation has not expired (it takes a suggestion). Locked."""
    contact_ids = [c.id for c in contacts_of(session, phone)]
    if not contact_ids:
        return None
    query = (
        select(Callback.id, Callback.state, Callback.flags)
        .join(Message, Message.callback_id == Callback.id)
        .where(Callback.contact_id.in_(contact_ids), Message.direction == "out", Message.purpose == SURVEY,
               Message.status != NOT_SENT)
        .order_by(Message.id.desc())
    )
    rows = session.execute(query).all()
    chosen = next((r.id for r in rows if r.state == CallbackState.SMS), None)
    if chosen is None:
        completed = (r for r in rows if r.state == CallbackState.COMPLETE and _still_open(r.flags, now))
        chosen = next((r.id for r in completed), None)
    return _locked(session, chosen) if chosen is not None else None


def _still_open(flags: dict[str, Any] | None, now: datetime) -> bool:
    expires = CallbackFlags.from_json(flags).sms_expires_at
    return expires is not None and now < expires


def latest_sms_callback(session: Session, phone: str) -> Callback | None:
    """The most recent callback that texted its survey to ``phone``, whatever its state."""
    contact_ids = [c.id for c in contacts_of(session, phone)]
    if not contact_ids:
        return None
    query = (
        select(Callback).join(Message, Message.callback_id == Callback.id)
        .where(Callback.contact_id.in_(contact_ids), Message.direction == "out", Message.purpose == SURVEY)
        .order_by(Message.id.desc()).limit(1)
    )
    return session.scalar(query)


def _on_reply(ctx: _Inbound, reading: SmsReply) -> InboundResult:
    remaining = ctx.remaining()
    reading, items = _restart_if_whole(ctx.body, reading, remaining)
    if not reading.scored:
        return _on_unreadable(ctx, reading)
    _save(ctx, reading, items)
    if answered_items(ctx.session, ctx.callback) >= len(ITEMS):
        finish_survey(ctx.session, ctx.callback, ctx.now)
        return ctx.reply("complete", ctx.text("sms.thanks_comment" if reading.comment else "sms.thanks"))
    centre = _names(ctx.session, ctx.callback)[0]
    missing = ctx.remaining()
    return ctx.reply("partial", more_text(ctx.catalog, centre, missing, after_word=reading.kind == "overall"))


def _restart_if_whole(body: str, reading: SmsReply, remaining: list[Item]) -> tuple[SmsReply, list[Item]]:
    """Six keys after a partial reply answer the whole questionnaire again (``112111`` re-sent in full)."""
    if reading.kind == "ambiguous" and reading.reason == TOO_MANY_KEYS and len(remaining) < len(ITEMS):
        whole = parse_sms_reply(body, items=ITEMS)
        if whole.kind == "answers" and len(whole.keys) == len(ITEMS):
            return whole, list(ITEMS)
    return reading, remaining


def _save(ctx: _Inbound, reading: SmsReply, items: Sequence[Item]) -> None:
    """Every answer at once (篇2 二), the comment as the suggestion, an integrity 有 alerts at once (篇2 二五)."""
    cb = ctx.callback
    answers = reply_answers(reading, items)
    for answer in answers.values():
        save_answer(ctx.session, cb, answer, channel="sms", now=ctx.now)
    summary = "；".join(f"{_label(code)}：{a.label}" for code, a in answers.items())
    _log(ctx.session, cb, "note", f"短信答复 {summary}", ctx.now, keys="".join(reading.keys) or None,
         overall=reading.overall.value if reading.overall else None)
    if any(a.alert for a in answers.values()):
        _alert(ctx, "短信答复：廉洁自律选“有”")
    if reading.comment:
        _add_suggestion(ctx, reading.comment)


def _label(code: str) -> str:
    return next(item.label for item in ITEMS if item.code == code)


def _alert(ctx: _Inbound, why: str) -> None:
    """The same integrity alert as the IVR item (ivr.flow.raise_integrity_alert), once per callback."""
    if flags_of(ctx.callback).integrity_alert:
        return
    raise_integrity_alert(ctx.session, ctx.callback, ctx.now, source="sms")
    _log(ctx.session, ctx.callback, "note", f"{why}：已即时提醒督查科", ctx.now)


def _add_suggestion(ctx: _Inbound, text: str) -> None:
    """The citizen's written suggestion (篇2 二六); complaint words flag it for supervision review."""
    cb = ctx.callback
    cb.suggestion = f"{cb.suggestion}\n{text}" if cb.suggestion else text
    signals = complaint_signals(cb.suggestion)
    set_flags(cb, complaint=signals.complaint, integrity_in_suggestion=signals.integrity)
    if signals.any:
        _log(ctx.session, cb, "note", "意见建议含投诉/廉洁信号：" + "、".join(signals.matched), ctx.now,
             matched=list(signals.matched))
    if signals.integrity:
        _alert(ctx, "意见建议反映廉洁问题")


def _on_unreadable(ctx: _Inbound, reading: SmsReply) -> InboundResult:
    """Never scored. A complaint in it is still kept as the suggestion; one clarifying question at most."""
    if complaint_signals(ctx.body).any:
        _add_suggestion(ctx, ctx.body.strip())
    asked = flags_of(ctx.callback).sms_clarified
    if asked >= MAX_CLARIFICATIONS:
        return ctx.reply(reading.kind, None)
    set_flags(ctx.callback, sms_clarified=asked + 1)
    return ctx.reply(reading.kind, ctx.text("sms.clarify"))


def _after_completion(ctx: _Inbound, reading: SmsReply) -> InboundResult:
    """The survey is complete; until it expires written words are taken as (more) suggestion, digits change
    nothing (the answers are final), 谢谢 and the like get no reply."""
    text = ctx.body.strip()
    words = reading.comment if reading.scored else (text if any(ch.isalpha() for ch in text) else "")
    if words and not _pleasantry(words):
        _add_suggestion(ctx, words)
        open_for_callback(ctx.session, ctx.callback, ctx.now)  # a complaint after "111111" still opens a case
        return ctx.reply("suggestion", ctx.text("sms.suggestion_thanks"))
    if reading.scored or any("0" <= ch <= "9" for ch in fold(text)):
        return ctx.reply("already_done", ctx.text("sms.already_done"))
    return ctx.reply("pleasantry", None)


def _pleasantry(text: str) -> bool:
    """谢谢 / 好的 / 收到 after a completed survey: nothing to keep as a suggestion, nothing to answer."""
    folded = "".join(ch for ch in fold(text) if unicodedata.category(ch)[0] not in "PZSC")
    return folded in PLEASANTRIES and not complaint_signals(text).any


def _no_open_survey(ctx: _Inbound) -> InboundResult:
    """Unknown number: polite reply, nothing stored. A closed survey: its transcript keeps the late text."""
    ctx.callback = latest_sms_callback(ctx.session, ctx.phone)
    if ctx.callback is None:
        return InboundResult(ctx.text("sms.unknown"), "unknown")
    ctx.store_inbound(LATE, late=True)
    if complaint_signals(ctx.body).any:
        _log(ctx.session, ctx.callback, "note", "回访结束后收到的短信含投诉/廉洁信号，请人工查看", ctx.now)
    if flags_of(ctx.callback).sms_closed_replied:
        return ctx.reply("closed", None)
    set_flags(ctx.callback, sms_closed_replied=True)
    return ctx.reply("closed", ctx.text("sms.closed"))


# --- opt-out --------------------------------------------------------------------------------------------------


def _on_opt_out(ctx: _Inbound, reading: SmsReply) -> InboundResult:
    """Answers given with the opt-out are kept; then the number is opted out everywhere; one confirmation."""
    cb = ctx.callback
    if cb is not None:
        ctx.store_inbound(SURVEY if cb.state == CallbackState.SMS else LATE, opt_out=True)
        if cb.state == CallbackState.SMS and reading.scored:
            _save(ctx, *_restart_if_whole(ctx.body, reading, ctx.remaining()))
        if cb.state == CallbackState.SMS and answered_items(ctx.session, cb):
            finish_survey(ctx.session, cb, ctx.now)
    else:
        ctx.callback = latest_sms_callback(ctx.session, ctx.phone)
        if ctx.callback is not None:
            ctx.store_inbound(LATE, opt_out=True)
    newly = opt_out_number(ctx.session, ctx.phone, ctx.now, source="sms")
    return ctx.reply("opt_out", ctx.text("sms.opted_out") if newly else None)


__all__ = [
    "InboundResult", "SmsResult", "SmsStatusUpdate", "advance_sms", "due_sms_ids", "expire_sms_surveys",
    "handle_inbound", "is_opted_out", "latest_sms_callback", "more_text", "normalise_sender",
    "open_survey", "opt_out_number", "parse_sms_status", "receive_sms", "record_sms_status", "remind_sms_survey",
    "run_sms_due", "send_sms_survey", "sms_phase", "status_url", "survey_text",
]
