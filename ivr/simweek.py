"""The simulated week (`callback run-week --simulate`, `callback demo`): the demo mix of citizens, the clock of a
past week, and the loop that does the beat tick's work — dial what is due, text what is due — with the clock
jumping to the next thing due instead of waiting for it. The clock (`ivr.localserver.SimClock`) is shared with the
web app, so attempts, answers, transcripts, SMS and rectification cases all carry simulated time."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.models import Callback, Case, Contact, Hall
from callback.responses.states import LIVE_CALL, WAITING, CallbackState
from callback.telephony import Provider
from ivr.dialer import STALE_AFTER, dial_callback, due_callback_ids, reconcile_stale_calls
from ivr.provider import wait_until_idle
from ivr.ratelimit import RateLimiter
from ivr.sms_survey import SmsResult, run_sms_due

BEAT_INTERVAL = timedelta(minutes=1)
WEEKLY_DRAW_TIME = time(9, 0)  # the beat's weekly draw: Monday 09:00 local (worker/celery_app.py)


def demo_mix() -> list[Any]:
    """Twenty citizens who between them do everything the survey must cope with (cycled over the sample)."""
    from ivr.simulator import citizens as c

    return [
        c.answers_all("1111111"), c.answers_all("1121111"), c.hangs_up_after(4, keys="1112"), c.no_answer(times=1),
        c.wrong_keys_then_valid("1111111"), c.answers_all("1111121"),
        c.busy(sms_replies=["1121", "11 排队时间有点长"]), c.voicemail(sms_replies=["满意"]), c.opt_out(),
        c.speaks("窗口人员态度不好，让我来回跑了三趟", keys="1332111"), c.silent(), c.no_answer(),
        c.answers_all("1112111"), c.hangs_up_after(2), c.busy(times=1), c.answers_all("1111131"),
        c.provider_error(times=1), c.answers_all("1211111"), c.answers_all("1111111"), c.replies_by_sms("111111"),
    ]


def script_demo_mix(session: Session, provider: Any, ids: list[int]) -> None:
    """Script the demo mix for sampled numbers that SIMULATOR_CITIZENS does not already script."""
    contacts = [session.get(Contact, session.get(Callback, cid).contact_id) for cid in ids]
    contacts = [c for c in contacts if provider.registry.scripted(c.phone) is None]
    pool = demo_mix() * (len(contacts) // len(demo_mix()) + 1)
    # a landline cannot answer by SMS: it takes the first behaviour that needs no SMS, a mobile the next in line
    for contact in sorted(contacts, key=lambda c: c.kind == "mobile"):
        pick = 0 if contact.kind == "mobile" else next(i for i, c in enumerate(pool) if not c.sms_replies)
        provider.script(contact.phone, pool.pop(pick))


def replay_past_week(session: Session, settings: Settings, hall: Hall, week: str, ids: list[int],
                     now: datetime) -> datetime | None:
    """A past week drawn late is replayed as if drawn on time: returns the moment its simulated clock starts (the
    first calling moment at or after the week's Monday draw), and makes each callback nobody has dialed yet due at
    the first calling moment after both that start and its case's acceptance — so no call precedes the case, and
    nothing lands in the future. None for the current week, whose clock runs on from now."""
    from callback.calendar.policy import CallingPolicy
    from callback.calendar.services import load_calendar
    from survey.weeks import week_bounds

    zone = ZoneInfo(hall.timezone or settings.timezone)
    week_start, week_end = week_bounds(week, zone)
    if now < week_end:
        return None
    policy = CallingPolicy.from_settings(settings, load_calendar(session), timezone=hall.timezone or None)
    monday = week_start.astimezone(zone)
    start = policy.next_call_moment(monday.replace(hour=WEEKLY_DRAW_TIME.hour, minute=WEEKLY_DRAW_TIME.minute))
    untouched = (Callback.id.in_(ids), Callback.state == CallbackState.DRAWN, Callback.attempts_used == 0)
    for callback in session.scalars(select(Callback).where(*untouched)):
        accepted = session.get(Case, callback.case_id).accepted_at
        callback.next_action_at = policy.next_call_moment(max(start, accepted))
    session.commit()
    return start


def waiting_revisits(session: Session, hall_id: int) -> list[int]:
    """The hall's 二次回访 (`callback revisit`) still waiting for a call or an SMS. They belong to no draw, so a
    simulated week that only looked at its draw never dialed them."""
    query = select(Callback.id).where(Callback.hall_id == hall_id, Callback.revisit_of_id.is_not(None),
                                      Callback.state.in_(WAITING)).order_by(Callback.id)
    return list(session.scalars(query))


def settle(session: Session, provider: Any, settings: Settings, clock: Any, ids: list[int], limiter: RateLimiter,
           echo: Callable[[str], None] | None = None) -> int:
    """Calls until nothing is left to dial, then the SMS surveys of those the calls did not reach until none is
    open (the citizens reply as scripted). Returns the rounds used."""

    rounds = call_until_settled(session, provider, settings, clock, ids, limiter, echo=echo)
    return rounds + sms_until_settled(session, provider, settings, clock, ids, echo=echo)


def call_until_settled(session: Session, provider: Any, settings: Settings, clock: Any, ids: list[int],
                       limiter: RateLimiter, echo: Callable[[str], None] | None = None, max_rounds: int = 60) -> int:
    """Dial what is due, let the calls finish, jump the clock to the next retry; until nothing is left to dial."""
    from callback.responses.overview import week_callbacks

    for round_no in range(1, max_rounds + 1):
        due = sorted(set(due_callback_ids(session, clock.now())) & set(ids))
        results = [dial_callback(session, cid, provider, settings, clock.now(), limiter=limiter) for cid in due]
        provider.wait_idle(600)
        if echo and results:
            echo(f"第 {round_no} 轮 {clock.now().astimezone(ZoneInfo(settings.timezone)):%m-%d %H:%M}："
                 f"拨出 {sum(r.result == 'placed' for r in results)} 通")
        session.expire_all()
        rows = week_callbacks(session, None, ids=ids)
        if any(c.state in LIVE_CALL for c in rows):  # a final status that never came
            clock.advance_to(clock.now() + STALE_AFTER + timedelta(minutes=1))
            reconcile_stale_calls(session, provider, settings, clock.now())
        waiting = [c.next_action_at for c in rows
                   if c.state == CallbackState.DRAWN and c.next_action_at is not None]
        if not waiting:
            return round_no
        clock.advance_to(min(waiting) + BEAT_INTERVAL)  # as the next beat tick would find them
    return max_rounds


def sms_until_settled(
    session: Session, provider: Provider, settings: Settings, clock: Any, ids: Iterable[int] | None = None,
    echo: Callable[[str], None] | None = None, max_rounds: int = 8,
) -> int:
    """Simulated days: run what is due, let the simulated network deliver (statuses, replies), jump the clock to
    the next SMS action (a send moved into SMS hours, the reminder, the expiry) — until no SMS survey is open.
    Returns the rounds used. ``clock`` is an `ivr.localserver.SimClock` shared with the web app."""
    wanted = set(ids) if ids is not None else None
    for round_no in range(1, max_rounds + 1):
        results = [r for r in run_sms_due(session, provider, settings, clock.now())
                   if wanted is None or r.callback_id in wanted]
        wait_until_idle(provider, timeout=120)
        if echo and results:
            echo(_round_line(round_no, clock.now(), settings, results))
        session.expire_all()
        waiting = [c.next_action_at for c in open_sms_callbacks(session)
                   if c.next_action_at is not None and (wanted is None or c.id in wanted)]
        if not waiting:
            return round_no
        clock.advance_to(min(waiting))
    return max_rounds


def open_sms_callbacks(session: Session) -> list[Callback]:
    """The SMS surveys still open (state ``sms``), oldest first."""
    query = select(Callback).where(Callback.state == CallbackState.SMS).order_by(Callback.id)
    return list(session.scalars(query))


def _round_line(round_no: int, now: datetime, settings: Settings, results: list[SmsResult]) -> str:
    local = now.astimezone(ZoneInfo(settings.timezone)).strftime("%m-%d %H:%M")
    sent = sum(r.result == "sent" for r in results)
    ended = sum(r.result in ("unreachable", "partial", "opted_out") for r in results)
    return f"短信第 {round_no} 轮 {local}：发出 {sent} 条，结束 {ended} 条"
