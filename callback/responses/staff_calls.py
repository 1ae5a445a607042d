"""Staff calls without exposing the number (篇2 四: 中心管理办公室安排专人回访; issue 14 §4).

A supervisor clicks 「拨打」 on a callback: the system calls the supervisor's own desk phone (``User.desk_phone``)
through the provider, and when it is answered the provider asks our bridge webhook what to do; the webhook finds
the call by its opaque token, looks the citizen's number up here, on the server, and answers
``<Dial><Number>…</Number></Dial>`` (ivr.voice), so the provider connects the two. The number is never on a page,
in a URL, in a log or in this table — only in the TwiML answer that dials it, once: the bridge answers a token
once, within `BRIDGE_WITHIN` of placing the call, so a replayed request learns nothing. While they talk the
supervisor types the answers into the console, recorded as a staff call (callback.responses.manual, channel
``manual``).

    call = start_staff_call(session, callback_id, user, now, actor=…)   # checks, the row; the caller commits
    place_staff_call(session, call, user, provider, settings, now)      # rings the desk phone; the caller commits
    bridge(session, token, now)                 # the bridge webhook: the number to dial, once
    record_dial_result(session, token, …)       # <Dial action>: how the citizen's leg ended
    record_desk_status(session, token, …)       # the desk leg's status callbacks

Which callbacks (`states.MANUAL_RESULT`): one waiting for its call or its SMS reply, or one the calls did not reach;
never an on-site form (no number), never a number that opted out, never while the survey is on the phone. A staff
call holds a drawn callback's automatic call back for `LIVE_FOR`, so the dialer does not ring the citizen at the
same time. Every service takes the session and ``now`` and does not commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.models import Callback, Contact, User
from callback.models.staff_calls import StaffCall
from callback.responses.manual import staff_contact
from callback.responses.states import STATE_LABELS, CallbackState
from callback.responses.transcript import add_event
from callback.telephony import CallRequest, Provider, ProviderError

WEBHOOK_PREFIX = "/ivr/staff"  # served by ivr.voice: /ivr/staff/<token>/bridge | dialed | status
RING_SECONDS = 30  # how long each phone rings
BRIDGE_WITHIN = timedelta(minutes=5)  # the desk phone must be answered this soon after 「拨打」
LIVE_FOR = timedelta(hours=1)  # a call with no final status by then is taken as ended (a lost status callback)
HEADING = "专人回访"


class StaffCallState(StrEnum):
    PLACING = "placing"  # the row is written; the provider is asked to ring the desk phone
    RINGING = "ringing"  # the provider accepted the call: the desk phone rings
    BRIDGING = "bridging"  # the desk phone answered: the citizen's phone rings, then they talk
    COMPLETED = "completed"  # the citizen answered and they talked
    CITIZEN_UNANSWERED = "citizen_unanswered"  # the citizen's leg: busy, no answer, failed
    DESK_UNANSWERED = "desk_unanswered"  # the desk phone was not answered (busy, no answer, failed)
    FAILED = "failed"  # the provider refused the call, or the bridge could not dial


S = StaffCallState
FINAL = frozenset({S.COMPLETED, S.CITIZEN_UNANSWERED, S.DESK_UNANSWERED, S.FAILED})
UNANSWERED = ("busy", "no-answer", "failed", "canceled")  # final call statuses without a conversation


class StaffCallError(ValueError):
    """A staff call that cannot be placed now; the message is the one line the supervisor reads."""


# --- placing ----------------------------------------------------------------------------------------------------------


def start_staff_call(session: Session, callback_id: int, user: User, now: datetime, *, actor: str) -> StaffCall:
    """Check that ``user`` may call the citizen of ``callback_id`` now and write the call (state placing, an
    opaque token). `StaffCallError` otherwise. The caller commits before `place_staff_call`: the provider's first
    webhook may come before the provider's answer does."""
    if not user.desk_phone:
        raise StaffCallError("您的账号没有登记座机号码，请联系管理员在「账号管理」中填写 (no desk phone)")
    callback = session.scalars(select(Callback).where(Callback.id == callback_id).with_for_update()
                               .execution_options(populate_existing=True)).first()
    if callback is None or callback.hall_id != user.hall_id:
        raise StaffCallError(f"找不到回访#{callback_id} (no such callback)")
    _check_callable(session, callback)
    if active_call(session, callback.id, now) is not None:
        raise StaffCallError(f"回访#{callback.id} 正在专人回访通话中，请等通话结束 (a staff call is on)")
    call = StaffCall(hall_id=callback.hall_id, callback_id=callback.id, user_id=user.id, actor=actor[:100],
                     token=secrets.token_hex(16), state=S.PLACING, placed_at=now)
    session.add(call)
    if callback.state == CallbackState.DRAWN:  # hold the automatic call back while the supervisor calls
        callback.next_action_at = max(filter(None, (callback.next_action_at, now + LIVE_FOR)))
    session.flush()
    return call


_REFUSED = {
    "onsite": "回访#{id} 是现场征求意见表，没有电话号码 (an on-site form)",
    "live": "回访#{id} 正在自动回访通话中（{label}），请稍后再拨 (a call is in progress)",
    "ended": "回访#{id} 已结束（{label}），不能再专人回访 (the callback has ended)",
    "opted_out": "回访#{id} 的号码已退订，不得再回访 (the number has opted out)",
}


def _check_callable(session: Session, callback: Callback) -> Contact:
    """The callback's contact, if a staff call may reach it (`callback.responses.manual.staff_contact`, the rule
    a staff call's record follows too); else `StaffCallError`."""
    reason, contact = staff_contact(session, callback)
    if contact is None:
        label = STATE_LABELS.get(callback.state, callback.state)
        raise StaffCallError(_REFUSED[reason or "opted_out"].format(id=callback.id, label=label))
    return contact


def refusal(session: Session, callback: Callback) -> str | None:
    """Why the citizen of ``callback`` may not be called by a staff call now (the one line a page shows), or None."""
    try:
        _check_callable(session, callback)
    except StaffCallError as exc:
        return str(exc)
    return None


def webhook_url(settings: Settings, token: str, step: str) -> str:
    """``https://hall.example/ivr/staff/<token>/<step>``: the token only, never a number or a name."""
    return f"{settings.public_base_url.rstrip('/')}{WEBHOOK_PREFIX}/{token}/{step}"


def place_staff_call(
    session: Session, call: StaffCall, user: User, provider: Provider, settings: Settings, now: datetime
) -> StaffCall:
    """Ask the provider to ring ``user``'s desk phone; when it is answered the provider fetches the bridge URL.
    A refusal ends the call ``failed`` with the provider's message. The state moves on only if no webhook moved it
    first (a conditional UPDATE). Does not commit."""
    request = CallRequest(to=user.desk_phone or "", from_=settings.twilio_from, url=webhook_url(settings, call.token, "bridge"),
                          status_callback=webhook_url(settings, call.token, "status"), timeout_seconds=RING_SECONDS,
                          machine_detection=False)
    try:
        placed = provider.place_call(request)
    except ProviderError as exc:
        call.state, call.error, call.ended_at = S.FAILED, str(exc)[:500], now
        _note(session, call, now, f"{HEADING}（{call.actor}）：未能呼叫座机（{exc}）")
        session.flush()
        return call
    session.execute(update(StaffCall).where(StaffCall.id == call.id).values(desk_call_sid=placed.sid)
                    .execution_options(synchronize_session=False))
    session.execute(update(StaffCall).where(StaffCall.id == call.id, StaffCall.state == S.PLACING)
                    .values(state=S.RINGING).execution_options(synchronize_session=False))
    _note(session, call, now, f"{HEADING}（{call.actor}）：正在呼叫督查人员座机，接听后接通申请人")
    session.flush()
    session.refresh(call)
    return call


# --- the webhooks' side -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bridge:
    """What the bridge webhook answers: the number to dial, or why there is none (spoken to the supervisor)."""

    number: str | None
    refusal: str | None = None


def bridge(session: Session, token: str, now: datetime) -> Bridge:
    """The desk phone answered: the citizen's number to dial, once. Nothing for an unknown token, one already
    bridged or ended (a replay), or one answered too late; the call fails when the callback may no longer be called
    (the dialer reached it meanwhile, the number opted out)."""
    call = _by_token(session, token)
    if call is None or call.state not in (S.PLACING, S.RINGING):
        return Bridge(None, "本次专人回访已结束")
    if now - call.placed_at > BRIDGE_WITHIN:
        _end(session, call, S.FAILED, now, "座机接听超时，未接通申请人")
        return Bridge(None, "接听超时，请回到工作台重新拨打")
    try:
        contact = _check_callable(session, session.get(Callback, call.callback_id))
    except StaffCallError as exc:
        _end(session, call, S.FAILED, now, str(exc))
        return Bridge(None, "该回访现在不能拨打，请回到工作台查看")
    call.state, call.answered_at, call.desk_status = S.BRIDGING, now, "in-progress"
    _note(session, call, now, f"{HEADING}（{call.actor}）：座机已接听，正在接通申请人")
    session.flush()
    return Bridge(contact.phone)


def record_dial_result(session: Session, token: str, status: str, sid: str | None, duration: int | None,
                       now: datetime) -> StaffCall | None:
    """How the citizen's leg ended (``<Dial action>``: ``DialCallStatus``, ``DialCallSid``, ``DialCallDuration``).
    A repeat changes nothing."""
    call = _by_token(session, token)
    if call is None or call.state in FINAL:
        return call
    call.dial_status, call.dial_call_sid = status[:20], (sid or None)
    if status == "completed":
        call.talk_seconds = duration or 0
        _end(session, call, S.COMPLETED, now, f"已接通申请人，通话 {_duration(call.talk_seconds)}")
    else:
        _end(session, call, S.CITIZEN_UNANSWERED, now, f"申请人未接听（{DIAL_LABELS.get(status, status)}）")
    return call


def record_desk_status(session: Session, token: str, status: str, now: datetime) -> StaffCall | None:
    """The desk leg's status callbacks. An unanswered desk phone ends the call; ``completed`` ends one that never
    got its dial result (the supervisor hung up first). Statuses out of order or repeated change nothing."""
    call = _by_token(session, token)
    if call is None:
        return None
    if call.state not in FINAL or status in UNANSWERED + ("completed",):
        call.desk_status = status[:20]  # a ringing that comes after the end does not overwrite it
    if call.state in FINAL:
        session.flush()
        return call
    if status in UNANSWERED and call.state in (S.PLACING, S.RINGING):
        _end(session, call, S.DESK_UNANSWERED, now, f"座机未接听（{DIAL_LABELS.get(status, status)}）")
    elif status == "completed":
        _end(session, call, S.CITIZEN_UNANSWERED if call.state == S.BRIDGING else S.FAILED, now, "通话已结束，未接通申请人")
    session.flush()
    return call


DIAL_LABELS = {"busy": "忙线", "no-answer": "无人接听", "failed": "呼叫失败", "canceled": "已取消"}


def _by_token(session: Session, token: str) -> StaffCall | None:
    if not token or len(token) > 32:
        return None
    query = select(StaffCall).where(StaffCall.token == token).with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).first()


def _end(session: Session, call: StaffCall, state: StaffCallState, now: datetime, what: str) -> None:
    call.state, call.ended_at = state, now
    if state in (S.FAILED,):
        call.error = what[:500]
    _note(session, call, now, f"{HEADING}（{call.actor}）：{what}")
    session.flush()


def _note(session: Session, call: StaffCall, now: datetime, text: str) -> None:
    add_event(session, hall_id=call.hall_id, callback_id=call.callback_id, kind="note", at=now, text=text,
              data={"staff_call": call.id, "state": str(call.state)})


def _duration(seconds: int) -> str:
    minutes, rest = divmod(max(0, seconds), 60)
    return f"{minutes} 分 {rest} 秒" if minutes else f"{rest} 秒"


# --- reading ----------------------------------------------------------------------------------------------------------


def is_live(call: StaffCall, now: datetime) -> bool:
    """Still ringing or talking: not ended, and not older than `LIVE_FOR` (a lost final status)."""
    return call.state not in FINAL and call.ended_at is None and now - call.placed_at < LIVE_FOR


def calls_of(session: Session, callback_id: int) -> list[StaffCall]:
    """The callback's staff calls, newest first."""
    query = select(StaffCall).where(StaffCall.callback_id == callback_id).order_by(StaffCall.id.desc())
    return list(session.scalars(query))


def active_call(session: Session, callback_id: int, now: datetime) -> StaffCall | None:
    """The callback's staff call still ringing or talking, if any."""
    return next((c for c in calls_of(session, callback_id) if is_live(c, now)), None)
