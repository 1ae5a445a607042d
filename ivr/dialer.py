"""Placing survey calls: idempotent, claim-first, rate-limited
(docs/architecture.md §Callback states, §Source of truth).

``dial_callback`` is what the beat tick runs for each due callback, and may run twice for the same id (a redelivered
task, two workers): only the transaction whose conditional UPDATE moves the row from ``drawn`` to ``calling`` goes
on to dial. The Attempt row is written and committed *before* the provider is asked — it is the outbox row for a
send that is not idempotent — and its id travels in the webhook URLs, so even a worker killed right after placing
the call loses nothing: the call's own status callbacks find their attempt.

Unlike most services this one commits (three short transactions): a phone call cannot be rolled back, so the claim
must be durable before it and the provider's answer durable right after it.

Counting: ``attempts_used`` is raised with the claim and given back if the provider did not accept the call, so an
attempt counts only once the provider accepted it. A transient provider error retries later without using an
attempt; a permanent one hands the callback on as if its calls were used up.

Pacing: the calls-per-second slot (ivr.ratelimit) is reserved after the claim, and the provider is asked the moment
the slot comes, so the provider sees the calls as far apart as the slots (taken before the claim, a slow claim
transaction let one call drift into the next call's second). A claimed row waits at most for the slots reserved
ahead of it — one per dialing worker; if its worker dies meanwhile, the reconciler gives the attempt back. The wait
is real time, so calling hours and opt-out are checked again during it, for the slot's moment (an opt-out is
seen as of the reservation, at most that short wait before the call); either one gives the claim back unplaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.models import Attempt, Callback, Contact
from callback.responses.states import CallbackState, Outcome, checked_move, flags_of, move_to, set_flags
from callback.responses.transcript import add_event
from callback.telephony import CallRequest, Provider, ProviderError
from ivr.ratelimit import RateLimiter, get_limiter
from ivr.status import CLOSED, TERMINAL, StatusUpdate, hand_off, next_call_moment, record_status
from ivr.urls import webhook_url

RING_TIMEOUT_SECONDS = 30
DIAL_ERROR_BACKOFF = timedelta(minutes=5)
MAX_DIAL_ERRORS = 5  # transient provider errors in a row before the callback is handed on
STALE_AFTER = timedelta(minutes=15)  # no final status by then: ask the provider
GIVE_UP_AFTER = timedelta(hours=2)  # still "in progress" at the provider by then: close as failed


@dataclass(frozen=True)
class DialResult:
    callback_id: int
    result: str  # placed | skipped | deferred | opted_out | error | handed_off
    attempt_id: int | None = None
    call_sid: str | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"callback_id": self.callback_id, "result": self.result, "attempt_id": self.attempt_id,
                "call_sid": self.call_sid, "detail": self.detail}


def due_callback_ids(session: Session, now: datetime, limit: int | None = None) -> list[int]:
    """Callbacks waiting to be dialed whose time has come, oldest first (never an on-site form: no number)."""
    query = (
        select(Callback.id)
        .where(Callback.state == CallbackState.DRAWN, Callback.contact_id.is_not(None),
               or_(Callback.next_action_at.is_(None), Callback.next_action_at <= now))
        .order_by(Callback.next_action_at, Callback.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def dial_due(
    session: Session, provider: Provider, settings: Settings, now: datetime, limiter: RateLimiter | None = None
) -> list[DialResult]:
    """Dial every callback due now (what `callback dial` and the beat tick do)."""
    return [dial_callback(session, cid, provider, settings, now, limiter=limiter)
            for cid in due_callback_ids(session, now)]


def dial_callback(
    session: Session,
    callback_id: int,
    provider: Provider,
    settings: Settings,
    now: datetime,
    *,
    limiter: RateLimiter | None = None,
) -> DialResult:
    """Place the next call for one callback if it is still due; safe to run any number of times."""
    callback = session.get(Callback, callback_id, populate_existing=True)
    if callback is None or not _due(callback, now):
        session.rollback()
        return DialResult(callback_id, "skipped", detail="not due")
    early = _before_dialing(session, callback, settings, now)
    if early is not None:
        return early
    attempt = _claim(session, callback_id, now)
    if attempt is None:
        return DialResult(callback_id, "skipped", detail="claimed elsewhere")
    return _place(session, attempt, provider, settings, now, limiter or get_limiter(settings))


def _due(callback: Callback, now: datetime) -> bool:
    due = callback.next_action_at is None or callback.next_action_at <= now
    return callback.state == CallbackState.DRAWN and callback.contact_id is not None and due


def _before_dialing(session: Session, callback: Callback, settings: Settings, now: datetime) -> DialResult | None:
    """Opted out since the draw → close; outside calling hours → move to the next calling moment."""
    contact = session.get(Contact, callback.contact_id)
    if contact is not None and contact.opted_out_at is not None:
        _close_opted_out(session, callback, now)
        return DialResult(callback.id, "opted_out")
    moment = next_call_moment(session, settings, now)
    if moment > now:
        session.execute(_conditional(callback.id, now).values(next_action_at=moment))
        session.commit()
        return DialResult(callback.id, "deferred", detail=moment.isoformat())
    session.rollback()  # end the read transaction before waiting on the limiter
    return None


def _conditional(callback_id: int, now: datetime):  # noqa: ANN202
    """UPDATE … WHERE the row is still drawn and due: the atomic claim (no check-then-write)."""
    return (
        update(Callback)
        .where(Callback.id == callback_id, Callback.state == CallbackState.DRAWN,
               or_(Callback.next_action_at.is_(None), Callback.next_action_at <= now))
        .execution_options(synchronize_session=False)
    )


def _close_opted_out(session: Session, callback: Callback, now: datetime) -> None:
    result = session.execute(_conditional(callback.id, now).values(
        state=checked_move(CallbackState.DRAWN, CallbackState.OPTED_OUT), outcome=Outcome.OPTED_OUT,
        finished_at=now, next_action_at=None))
    if result.rowcount == 1:
        _log(session, callback, None, now, "号码已退订，不再呼叫")
    session.commit()


def _claim(session: Session, callback_id: int, now: datetime) -> Attempt | None:
    result = session.execute(_conditional(callback_id, now).values(
        state=checked_move(CallbackState.DRAWN, CallbackState.CALLING), attempts_used=Callback.attempts_used + 1,
        updated_at=now))
    if result.rowcount != 1:
        session.rollback()
        return None
    callback = session.get(Callback, callback_id, populate_existing=True)
    attempt = Attempt(hall_id=callback.hall_id, callback_id=callback.id, number=callback.attempts_used,
                      status="dialing", created_at=now)
    session.add(attempt)
    session.flush()
    _log(session, callback, attempt, now, f"第 {attempt.number} 次呼叫：拨号中")
    session.commit()
    return attempt


def _place(session: Session, attempt: Attempt, provider: Provider, settings: Settings, now: datetime,
           limiter: RateLimiter) -> DialResult:
    callback = session.get(Callback, attempt.callback_id)
    contact = session.get(Contact, callback.contact_id)
    request = CallRequest(
        to=contact.phone, from_=settings.twilio_from,
        url=webhook_url(settings, callback.token, "answer", a=attempt.id),
        status_callback=webhook_url(settings, callback.token, "status", a=attempt.id),
        timeout_seconds=RING_TIMEOUT_SECONDS, machine_detection=True,
    )
    session.commit()  # no transaction stays open while waiting for the slot or while the provider is on the line
    slot = limiter.reserve()
    if slot.wait > 0:  # checked during the wait, for the slot's moment: nothing slow between the slot and the call
        now += timedelta(seconds=slot.wait)
        withdrawn = _withdraw_if_no_longer_callable(session, attempt.id, settings, now)
        if withdrawn is not None:
            return withdrawn
        limiter.sleep_until(slot)
    try:
        placed = provider.place_call(request)
    except ProviderError as exc:
        return _not_placed(session, attempt.id, exc, settings, now)
    return _placed(session, attempt.id, placed.sid, placed.status, now)


def _withdraw_if_no_longer_callable(session: Session, attempt_id: int, settings: Settings,
                                    now: datetime) -> DialResult | None:
    """For a call at ``now``, the slot's moment: opted out since the claim → closed; the calling hours over by
    then → deferred to the next calling moment — never a call after the window closed (the chaos run). Either way
    the claim is given back unplaced (the attempt does not count). None: still callable then."""
    attempt = session.get(Attempt, attempt_id, populate_existing=True)
    callback = session.get(Callback, attempt.callback_id, populate_existing=True)
    contact = session.get(Contact, callback.contact_id, populate_existing=True)
    opted_out = contact is not None and contact.opted_out_at is not None
    moment = next_call_moment(session, settings, now)
    if callback.state != CallbackState.CALLING:  # released meanwhile (the reconciler): not ours to place
        session.rollback()
        return DialResult(callback.id, "skipped", attempt_id=attempt.id, detail="no longer claimed")
    if not opted_out and moment <= now:
        session.rollback()
        return None
    attempt.status, attempt.error = "not_placed", "withdrawn before dialing"
    callback.attempts_used -= 1
    move_to(callback, CallbackState.DRAWN)
    if opted_out:
        callback.next_action_at = None
        session.flush()
        _close_opted_out(session, callback, now)
        return DialResult(callback.id, "opted_out", attempt_id=attempt.id)
    callback.next_action_at = moment
    _log(session, callback, attempt, now, "等待呼叫名额时已过呼叫时段，改到下一呼叫时段")
    session.commit()
    return DialResult(callback.id, "deferred", attempt_id=attempt.id, detail=moment.isoformat())


def _placed(session: Session, attempt_id: int, sid: str, status: str, now: datetime) -> DialResult:
    # Conditional UPDATEs, not read-then-write: a status webhook for this call may commit between our read and
    # our write, and its later status must not be overwritten with "queued".
    mine = Attempt.id == attempt_id
    session.execute(update(Attempt).where(mine, Attempt.provider_call_id.is_(None)).values(provider_call_id=sid))
    session.execute(update(Attempt).where(mine, Attempt.status == "dialing")
                    .values(status=status if status in ("queued", "initiated", "ringing") else "queued"))
    session.execute(update(Attempt).where(mine, Attempt.placed_at.is_(None)).values(placed_at=now))
    attempt = session.get(Attempt, attempt_id, populate_existing=True)
    contact = session.get(Contact, attempt.callback.contact_id)
    contact.last_contacted_at = now
    session.commit()
    return DialResult(attempt.callback_id, "placed", attempt_id=attempt.id, call_sid=sid)


def _not_placed(session: Session, attempt_id: int, exc: ProviderError, settings: Settings, now: datetime) -> DialResult:
    attempt = session.get(Attempt, attempt_id, populate_existing=True)
    callback = session.get(Callback, attempt.callback_id, populate_existing=True)
    attempt.status, attempt.error = "not_placed", f"{exc.code or ''} {exc}".strip()[:500]
    errors = flags_of(callback).dial_errors + 1
    result = release_unplaced(session, callback, attempt, settings, now, errors=errors, permanent=not exc.transient)
    session.commit()
    return DialResult(callback.id, result, attempt_id=attempt.id, detail=attempt.error or "")


def release_unplaced(
    session: Session, callback: Callback, attempt: Attempt, settings: Settings, now: datetime, *,
    errors: int, permanent: bool = False,
) -> str:
    """The provider never accepted this attempt: give it back; retry later, or hand on after repeated errors."""
    attempt.status = "not_placed"
    if callback.state != CallbackState.CALLING:
        return "error"
    callback.attempts_used -= 1
    set_flags(callback, dial_errors=errors)
    if permanent or errors >= MAX_DIAL_ERRORS:
        _log(session, callback, attempt, now, f"呼叫未能发起（{attempt.error or '未知原因'}），不再重试")
        hand_off(session, callback, Outcome.FAILED, now)
        return "handed_off"
    at = next_call_moment(session, settings, now + dial_error_backoff(errors, settings))
    move_to(callback, CallbackState.DRAWN)
    callback.next_action_at = at
    _log(session, callback, attempt, now, f"呼叫未能发起（{attempt.error or '未知原因'}），稍后重试，不计次数")
    return "error"


def dial_error_backoff(errors: int, settings: Settings) -> timedelta:
    """5, 10, 20, 40 minutes after 1, 2, 3, 4 errors in a row — never longer than a normal retry's wait."""
    return min(DIAL_ERROR_BACKOFF * 2 ** (errors - 1), timedelta(minutes=settings.call_retry_minutes))


# --- reconciler ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reconciled:
    attempt_id: int
    action: str  # released | closed | failed | pending | unreachable_provider
    status: str = ""


def reconcile_stale_calls(
    session: Session, provider: Provider, settings: Settings, now: datetime, *,
    stale_after: timedelta = STALE_AFTER, give_up_after: timedelta = GIVE_UP_AFTER,
) -> list[Reconciled]:
    """Close attempts whose final status never arrived (RapidPro's hard expiry). Commits per attempt.

    - never accepted (no call id after ``stale_after``; the worker died while dialing) → released, given back;
    - accepted → ask the provider; a final status is applied as if its webhook had come;
    - still not final after ``give_up_after`` → closed as failed, so nothing stays "in progress" forever.
    """
    ids = _stale_ids(session, now - stale_after)
    done = [_reconcile_one(session, attempt_id, provider, settings, now, give_up_after) for attempt_id in ids]
    return [r for r in done if r is not None]


def _stale_ids(session: Session, created_before: datetime) -> list[int]:
    query = (
        select(Attempt.id)
        .where(Attempt.status.not_in(CLOSED), Attempt.created_at <= created_before)
        .order_by(Attempt.id)
    )
    ids = list(session.scalars(query))
    session.rollback()
    return ids


def _reconcile_one(
    session: Session, attempt_id: int, provider: Provider, settings: Settings, now: datetime, give_up_after: timedelta
) -> Reconciled | None:
    attempt = session.scalar(select(Attempt).where(Attempt.id == attempt_id).with_for_update(skip_locked=True))
    if attempt is None or attempt.status in CLOSED:
        session.rollback()
        return None
    if attempt.provider_call_id is None:
        callback = session.get(Callback, attempt.callback_id, populate_existing=True)
        attempt.error = "no call id: the dialer stopped before the provider accepted the call"
        release_unplaced(session, callback, attempt, settings, now, errors=flags_of(callback).dial_errors)
        session.commit()
        return Reconciled(attempt_id, "released")
    return _ask_provider(session, attempt, provider, settings, now, give_up_after)


def _ask_provider(
    session: Session, attempt: Attempt, provider: Provider, settings: Settings, now: datetime, give_up_after: timedelta
) -> Reconciled:
    sid, token, created = attempt.provider_call_id or "", attempt.callback.token, attempt.created_at
    session.rollback()  # do not hold the lock while the provider answers
    try:
        status = provider.fetch_call(sid)
    except ProviderError as exc:
        return Reconciled(attempt.id, "unreachable_provider", str(exc))
    final = status.status if status.status in TERMINAL else ("failed" if now - created > give_up_after else "")
    if not final:
        return Reconciled(attempt.id, "pending", status.status)
    update_ = StatusUpdate(token=token, call_sid=sid, call_status=final, attempt_id=attempt.id,
                           duration=status.duration, answered_by=status.answered_by or "", source="reconciler")
    record_status(session, update_, settings, now)
    session.commit()
    return Reconciled(attempt.id, "closed" if final == status.status else "failed", final)


def _log(session: Session, callback: Callback, attempt: Attempt | None, now: datetime, text: str) -> None:
    add_event(session, hall_id=callback.hall_id, callback_id=callback.id, kind="status", text=text, at=now,
              attempt_id=attempt.id if attempt else None)
