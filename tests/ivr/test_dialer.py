"""Dialing: the atomic claim, attempts that count only once accepted, transient errors, calling hours, the rate
limiter and the reconciler (docs/architecture.md §Callback states, §Source of truth)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.db import session_factory
from callback.models import Attempt, Callback, Contact
from callback.telephony import CallStatus, FetchCall, MockProvider, PlacedCall, ProviderError, ProviderRequest
from ivr.dialer import GIVE_UP_AFTER, STALE_AFTER, dial_callback, dial_due, reconcile_stale_calls
from ivr.ratelimit import LocalRateLimiter, NoLimit, RedisRateLimiter, Slot, acquire, get_limiter
from tests.ivr.ivr_support import NOW, make_callback, query, reload

SHANGHAI = ZoneInfo("Asia/Shanghai")


def switchboard(statuses: dict[str, CallStatus | ProviderError] | None = None) -> MockProvider:
    """The dialer's provider: every call is placed; a fetched call answers from ``statuses`` (a status, or the
    provider's error), and one not listed is still in progress."""
    statuses = statuses if statuses is not None else {}

    def fetched_call(request: ProviderRequest) -> CallStatus | None:
        if not isinstance(request, FetchCall):
            return None
        answer = statuses.get(request.sid, CallStatus(request.sid, "in-progress"))
        if isinstance(answer, ProviderError):
            raise answer
        return answer

    return MockProvider(fetched_call)


def drawn(db: Session, **kw) -> Callback:  # noqa: ANN003
    callback, _ = make_callback(db, state="drawn", attempt=False, next_action_at=kw.pop("due", NOW), **kw)
    return callback


def dial(db: Session, callback: Callback, provider: MockProvider, settings: Settings, now: datetime = NOW):  # noqa: ANN201
    return dial_callback(db, callback.id, provider, settings, now, limiter=NoLimit())


def test_places_a_call_and_counts_the_attempt(db: Session, settings: Settings) -> None:
    callback = drawn(db)
    provider = MockProvider(lambda request: PlacedCall(sid="CA" + "0" * 31 + "1", status="queued"))
    result = dial(db, callback, provider, settings)
    assert result.result == "placed" and result.call_sid == "CA" + "0" * 31 + "1"
    (request,) = provider.calls()
    contact = db.get(Contact, callback.contact_id)
    assert request.to == contact.phone and request.machine_detection and request.timeout_seconds == 30
    for url in (request.url, request.status_callback):
        parts = urlsplit(url)
        assert url.startswith(f"https://hall.example.cn/ivr/{callback.token}/")
        assert query(url) == {"a": str(result.attempt_id)} and contact.phone[-8:] not in parts.path
    callback = reload(db, callback)
    assert (callback.state, callback.attempts_used) == ("calling", 1)
    attempt = db.get(Attempt, result.attempt_id)
    assert (attempt.number, attempt.status, attempt.provider_call_id) == (1, "queued", result.call_sid)
    assert attempt.placed_at == NOW and db.get(Contact, callback.contact_id).last_contacted_at == NOW


def test_dialing_twice_places_one_call(db: Session, settings: Settings) -> None:
    callback, provider = drawn(db), switchboard()
    assert dial(db, callback, provider, settings).result == "placed"
    assert dial(db, callback, provider, settings).result == "skipped"
    assert len(provider.calls()) == 1 and reload(db, callback).attempts_used == 1


def test_concurrent_workers_place_exactly_one_call(database_url: str, db: Session, settings: Settings) -> None:
    callback, provider = drawn(db), switchboard()
    barrier = threading.Barrier(6)
    results: list[str] = []

    def worker() -> None:
        with session_factory(database_url)() as s:
            barrier.wait()
            results.append(dial_callback(s, callback.id, provider, settings, NOW, limiter=NoLimit()).result)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["placed"] + ["skipped"] * 5
    assert len(provider.calls()) == 1 and db.query(Attempt).count() == 1


def test_transient_error_retries_later_without_using_an_attempt(db: Session, settings: Settings) -> None:
    callback = drawn(db)
    provider = switchboard().fail_next(ProviderError("timeout talking to provider", transient=True))
    result = dial(db, callback, provider, settings)
    assert result.result == "error" and provider.calls() == []
    callback = reload(db, callback)
    assert (callback.state, callback.attempts_used, callback.flags["dial_errors"]) == ("drawn", 0, 1)
    assert callback.next_action_at == NOW + timedelta(minutes=5)
    assert db.get(Attempt, result.attempt_id).status == "not_placed"
    assert dial(db, callback, provider, settings, NOW + timedelta(minutes=5)).result == "placed"
    callback = reload(db, callback)
    assert callback.attempts_used == 1
    assert [a.number for a in callback.attempts if a.status != "not_placed"] == [1]


def test_repeated_transient_errors_back_off_then_hand_on(db: Session, settings: Settings) -> None:
    callback = drawn(db)
    provider = switchboard().fail_next(*(ProviderError("down") for _ in range(5)))
    now, waits = NOW, []
    for _ in range(5):
        result = dial(db, callback, provider, settings, now)
        callback = reload(db, callback)
        if callback.state == "drawn":
            waits.append(callback.next_action_at - now)
            now = callback.next_action_at
    assert waits == [timedelta(minutes=m) for m in (5, 10, 20, 40)]
    assert result.result == "handed_off" and callback.state == "sms" and callback.attempts_used == 0


def test_permanent_error_hands_on_at_once(db: Session, settings: Settings) -> None:
    callback = drawn(db, kind="landline", phone="+865368880000")
    provider = switchboard().fail_next(ProviderError("invalid To number", transient=False, code="21211"))
    assert dial(db, callback, provider, settings).result == "handed_off"
    callback = reload(db, callback)
    assert (callback.state, callback.outcome, callback.attempts_used) == ("unreachable", "failed", 0)


def test_outside_calling_hours_is_deferred_not_dialed(db: Session, settings: Settings) -> None:
    callback, provider = drawn(db), switchboard()
    evening = datetime(2026, 11, 4, 19, 0, tzinfo=SHANGHAI)
    callback.next_action_at = evening
    db.commit()
    assert dial(db, callback, provider, settings, evening).result == "deferred"
    callback = reload(db, callback)
    assert provider.calls() == [] and callback.state == "drawn"
    assert callback.next_action_at == datetime(2026, 11, 5, 9, 0, tzinfo=SHANGHAI)


def test_opted_out_since_the_draw_is_never_dialed(db: Session, settings: Settings) -> None:
    callback, provider = drawn(db), switchboard()
    db.get(Contact, callback.contact_id).opted_out_at = NOW - timedelta(days=1)
    db.commit()
    assert dial(db, callback, provider, settings).result == "opted_out"
    assert provider.calls() == [] and reload(db, callback).state == "opted_out"


def test_not_yet_due_is_skipped_and_dial_due_takes_only_due_ones(db: Session, settings: Settings) -> None:
    later, due = drawn(db, due=NOW + timedelta(hours=1)), drawn(db)
    provider = switchboard()
    assert dial(db, later, provider, settings).result == "skipped"
    results = dial_due(db, provider, settings, NOW, limiter=NoLimit())
    assert [r.callback_id for r in results] == [due.id] and len(provider.calls()) == 1


def test_dialer_waits_on_the_limiter_before_each_call(db: Session, settings: Settings) -> None:
    for _ in range(3):
        drawn(db)
    waited: list[float] = []
    limiter = LocalRateLimiter(2.0, sleep=waited.append, clock=lambda: 100.0)
    results = dial_due(db, switchboard(), settings, NOW, limiter=limiter)
    assert [r.result for r in results] == ["placed"] * 3 and waited == [0.5, 1.0]


class Backlog:
    """A limiter whose next free slot is ``seconds`` away (calls reserved ahead); its sleep only records."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.slept: list[Slot] = []

    def reserve(self) -> Slot:
        return Slot(self.seconds, 0.0)

    def sleep_until(self, slot: Slot) -> None:
        self.slept.append(slot)


def test_a_limiter_wait_past_the_end_of_calling_hours_defers_the_call(db: Session, settings: Settings) -> None:
    callback = drawn(db)
    provider = switchboard()
    before_close = datetime(2026, 11, 4, 11, 29, 50, tzinfo=SHANGHAI)  # the morning window ends at 11:30

    limiter = Backlog(30)
    result = dial_callback(db, callback.id, provider, settings, before_close, limiter=limiter)

    assert result.result == "deferred" and provider.calls() == [] and limiter.slept == []
    callback = reload(db, callback)
    assert (callback.state, callback.attempts_used) == ("drawn", 0)  # the claim given back: no attempt used
    assert callback.next_action_at == datetime(2026, 11, 4, 14, 0, tzinfo=SHANGHAI)
    assert db.get(Attempt, result.attempt_id).status == "not_placed"
    assert dial(db, callback, provider, settings, callback.next_action_at).result == "placed"
    assert reload(db, callback).attempts_used == 1


class OptOutWhileWaiting(Backlog):
    """A limiter with calls queued ahead, meanwhile the citizen opts out (another transaction commits it)."""

    def __init__(self, database_url: str, contact_id: int) -> None:
        super().__init__(0.2)
        self.database_url, self.contact_id = database_url, contact_id

    def reserve(self) -> Slot:
        with session_factory(self.database_url)() as other:
            other.get(Contact, self.contact_id).opted_out_at = NOW
            other.commit()
        return super().reserve()


def test_an_opt_out_during_the_limiter_wait_closes_the_callback_uncalled(database_url: str, db: Session,
                                                                        settings: Settings) -> None:
    callback, provider = drawn(db), switchboard()
    limiter = OptOutWhileWaiting(database_url, callback.contact_id)
    result = dial_callback(db, callback.id, provider, settings, NOW, limiter=limiter)
    assert result.result == "opted_out" and provider.calls() == []
    callback = reload(db, callback)
    assert (callback.state, callback.outcome, callback.attempts_used) == ("opted_out", "opted_out", 0)
    assert db.get(Attempt, result.attempt_id).status == "not_placed"


class Witness(Backlog):
    """A limiter with a call queued ahead that records, when its caller's slot comes, the callback's state as
    another session sees it and how many calls the provider has been asked for."""

    def __init__(self, database_url: str, callback_id: int, provider: MockProvider) -> None:
        super().__init__(0.1)
        self.database_url, self.callback_id, self.provider = database_url, callback_id, provider
        self.seen: list[tuple[str, int]] = []

    def sleep_until(self, slot: Slot) -> None:
        with session_factory(self.database_url)() as other:
            self.seen.append((other.get(Callback, self.callback_id).state, len(self.provider.calls())))


def test_the_slot_comes_after_the_claim_right_before_the_call(database_url: str, db: Session,
                                                              settings: Settings) -> None:
    """The provider sees the calls as far apart as the slots: nothing but the call follows the slot."""
    callback, provider = drawn(db), switchboard()
    limiter = Witness(database_url, callback.id, provider)
    assert dial_callback(db, callback.id, provider, settings, NOW, limiter=limiter).result == "placed"
    assert limiter.seen == [("calling", 0)] and len(provider.calls()) == 1


def test_the_configured_rate_is_a_cap_with_headroom() -> None:
    """CALLS_PER_SECOND=10 → slots 1 / 9.7 s apart, so a call a few ms late cannot make 11 in a second."""
    limiter = get_limiter(Settings(calls_per_second=10.0, redis_url=""))
    assert isinstance(limiter, LocalRateLimiter)
    assert limiter.interval == pytest.approx(1 / 9.7)


def test_local_limiter_spaces_slots_by_the_rate() -> None:
    clock = [0.0]
    waits: list[float] = []
    limiter = LocalRateLimiter(4.0, sleep=waits.append, clock=lambda: clock[0])
    assert [acquire(limiter) for _ in range(3)] == [0.0, 0.25, 0.5]
    clock[0] = 10.0  # idle time is not banked as a burst
    assert acquire(limiter) == 0.0 and acquire(limiter) == 0.25
    assert waits == [0.25, 0.5, 0.25]


def test_a_reserved_slot_is_slept_to_from_when_the_caller_comes_back() -> None:
    """Time spent between reserving and sleeping (the dialer's checks) is not added to the wait."""
    clock = [0.0]
    waits: list[float] = []
    limiter = LocalRateLimiter(4.0, sleep=waits.append, clock=lambda: clock[0])
    limiter.reserve()
    slot = limiter.reserve()
    clock[0] = 0.1
    limiter.sleep_until(slot)
    clock[0] = 0.3
    limiter.sleep_until(slot)  # already come: no sleep
    assert (slot.wait, waits) == (0.25, [pytest.approx(0.15)])


def test_redis_limiter_is_shared_by_every_worker(redis_url: str) -> None:
    rate = 20.0
    limiters = [RedisRateLimiter(redis_url, rate, key="test:cps") for _ in range(3)]
    stamps: list[float] = []
    lock = threading.Lock()

    def worker(limiter: RedisRateLimiter) -> None:
        for _ in range(5):
            acquire(limiter)
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker, args=(lim,)) for lim in limiters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps.sort()
    assert len(stamps) == 15
    # 15 calls at 20/s across three "workers": at least 14 slot widths apart from first to last.
    assert stamps[-1] - stamps[0] >= 14 / rate - 0.02
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert sum(g < 0.5 / rate for g in gaps) <= 2  # scheduling jitter aside, calls never bunch up


# --- reconciler -------------------------------------------------------------------------------------------------


def test_reconciler_releases_an_attempt_the_provider_never_accepted(db: Session, settings: Settings) -> None:
    callback, attempt = make_callback(db, state="calling", sid=None)
    attempt.provider_call_id, attempt.status, attempt.created_at = None, "dialing", NOW - STALE_AFTER * 2
    db.commit()
    (done,) = reconcile_stale_calls(db, switchboard(), settings, NOW)
    assert done.action == "released"
    callback = reload(db, callback)
    assert (callback.state, callback.attempts_used) == ("drawn", 0)
    assert db.get(Attempt, attempt.id).status == "not_placed"


@pytest.mark.parametrize(("provider_status", "state"), [("no-answer", "drawn"), ("busy", "drawn")])
def test_reconciler_applies_the_final_status_the_webhook_never_brought(
    db: Session, settings: Settings, provider_status: str, state: str
) -> None:
    callback, attempt = make_callback(db, state="calling")
    attempt.status, attempt.created_at = "ringing", NOW - STALE_AFTER * 2
    db.commit()
    provider = switchboard({attempt.provider_call_id: CallStatus(attempt.provider_call_id, provider_status)})
    (done,) = reconcile_stale_calls(db, provider, settings, NOW)
    assert (done.action, done.status) == ("closed", provider_status)
    assert reload(db, callback).state == state and db.get(Attempt, attempt.id).status == provider_status


def test_reconciler_closes_a_call_stuck_in_progress_for_good(db: Session, settings: Settings) -> None:
    callback, attempt = make_callback(db, state="in_survey")
    attempt.status, attempt.created_at = "in-progress", NOW - GIVE_UP_AFTER - timedelta(minutes=1)
    db.commit()
    (done,) = reconcile_stale_calls(db, switchboard(), settings, NOW)
    assert done.action == "failed"
    assert reload(db, callback).state == "refused"  # the survey it carried is finished, not left open


def test_reconciler_leaves_young_calls_and_unreachable_providers_alone(db: Session, settings: Settings) -> None:
    young, young_attempt = make_callback(db, state="calling")
    old, old_attempt = make_callback(db, state="calling")
    young_attempt.status, young_attempt.created_at = "ringing", NOW - timedelta(minutes=1)
    old_attempt.status, old_attempt.created_at = "ringing", NOW - STALE_AFTER * 2
    db.commit()
    provider = switchboard({old_attempt.provider_call_id: ProviderError("provider down")})
    (done,) = reconcile_stale_calls(db, provider, settings, NOW)
    assert (done.attempt_id, done.action) == (old_attempt.id, "unreachable_provider")
    assert reload(db, young).state == "calling" and reload(db, old).state == "calling"


def test_provider_error_backoff_never_exceeds_a_normal_retry_wait(database_url: str) -> None:
    from ivr.dialer import dial_error_backoff

    quick = Settings(database_url=database_url, call_retry_minutes=7)
    assert [dial_error_backoff(n, quick) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (5, 7, 7)]
    default = Settings(database_url=database_url)
    assert dial_error_backoff(4, default) == timedelta(minutes=40)
