"""A calls-per-second cap shared by every dialing worker (CALLS_PER_SECOND), in two parts.

**Slots spread the calls.** Each caller reserves the next free slot and sleeps until it: slots are ``1 / rate``
seconds apart. Reserving and sleeping are two steps, so a caller can use the wait (the dialer checks calling hours
and opt-out meanwhile) and still place its call the moment its slot comes.

**A window makes the cap hard at the provider.** A call reaches the provider some milliseconds after its slot —
more when the machine is busy — so slots alone let one late call and a punctual one ten slots later make eleven in
a second (README, "Benchmarks"). So each call also holds a place in a window from the moment it is sent until a
second after the provider answered (``placing``), and a call is sent only while fewer than ``cap`` places are
held. Why that is enough: take any second of the provider's clock and the call in it that was sent last; every
other call in that second was sent before it, and the provider answered each at or after the second began, so
each still held its place when the last one was admitted — at most ``cap - 1`` of them. A worker killed while
its call is on the wire holds its place for ``IN_FLIGHT_LEASE`` and no longer (a call the provider takes longer
than that to receive could then share a second with ``cap`` others: a stalled network, not a busy machine). A
caller that finds no place within ``ADMIT_TIMEOUT`` gets `WindowFull` and gives its claim back for the next tick —
it never waits while the reconciler could take the claim as stale. And a worker that cannot report the answer
(Redis gone) still records its call: the place frees itself when the lease ends.

With REDIS_URL both are atomic Lua scripts on the Redis server's own clock, so workers on different machines
share one cap (the proof needs the provider's clock and Redis's to agree to the milliseconds it tolerates: one
machine, or NTP); without Redis they are a lock in this process (the embedded mode runs one dialer).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from callback.config import Settings

log = logging.getLogger(__name__)

KEY = "callback:ivr:calls-per-second:next-slot"
WINDOW_KEY = "callback:ivr:calls-per-second:window"
WINDOW_SECONDS = 1.0
IN_FLIGHT_LEASE = 5.0  # seconds a sent call holds its place if its worker never reports the provider's answer
POLL_SECONDS = 0.02  # how often a caller looks again while every place is held by a call still on the wire
ADMIT_TIMEOUT = 2.0  # the longest a caller waits for a place; far below the reconciler's stale-call limit

# KEYS[1] next free slot (µs since the epoch); ARGV[1] slot width (µs). Returns how long the caller must wait (µs).
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, free)
local after = slot + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX', math.floor((after - now) / 1000) + 1000)
return math.floor(slot - now)
"""

# KEYS[1] the window (member → µs since the epoch: the end of a sent call's lease, or the moment the provider
# answered it); ARGV[1] cap; ARGV[2] lease (µs); ARGV[3] member. Returns -1 if admitted, else how long to wait (µs).
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 1000000)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], string.format('%.0f', now + tonumber(ARGV[2])), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.floor(tonumber(ARGV[2]) / 1000) + 2000)
  return -1
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.floor(tonumber(first[2]) + 1000000 - now)
"""

# KEYS[1] the window; ARGV[1] member: the provider has answered its call now.
_ANSWERED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZADD', KEYS[1], 'XX', string.format('%.0f', now), ARGV[1])
return 0
"""


class WindowFull(Exception):
    """No place in the calls-per-second window came free within ADMIT_TIMEOUT."""


@dataclass(frozen=True)
class Slot:
    """A reserved slot: ``wait`` seconds after the reservation, at ``at`` on the limiter's monotonic clock."""

    wait: float
    at: float


class RateLimiter(Protocol):
    def reserve(self) -> Slot:
        """Reserve the next free slot for one call, without waiting for it."""
        ...

    def sleep_until(self, slot: Slot) -> None:
        """Block until the slot (at once if it has come)."""
        ...

    def admit(self) -> Hashable:
        """Block until a place in the window is free and take it for a call about to be sent; its token. Raises
        `WindowFull` after ADMIT_TIMEOUT."""
        ...

    def answered(self, token: Hashable) -> None:
        """The provider has answered the call that holds ``token`` (accepted or refused it): its place is freed a
        second from now."""
        ...


def acquire(limiter: RateLimiter) -> float:
    """Reserve the next slot and wait for it; the seconds waited."""
    slot = limiter.reserve()
    limiter.sleep_until(slot)
    return slot.wait


@contextmanager
def placing(limiter: RateLimiter) -> Iterator[None]:
    """Hold a place in the limiter's window while a call goes to the provider (the body sends it)."""
    token = limiter.admit()
    try:
        yield
    finally:
        try:
            limiter.answered(token)
        except Exception as exc:  # noqa: BLE001 — the call is placed: record it; the place frees at the lease's end
            log.warning("calls-per-second window: could not record the provider's answer (%s)", type(exc).__name__)


def cap_per_window(rate: float) -> int:
    """The most calls any one second may hold at ``rate`` calls a second (at least one)."""
    return max(1, math.floor(rate * WINDOW_SECONDS))


def _pause_or_give_up(wait: float, waited: float) -> float:
    """How long to sleep before looking again: until the first place frees, or a short poll while every place is
    held by a call still on the wire (its lease ends later than a window from now). `WindowFull` once the caller
    would have waited ADMIT_TIMEOUT."""
    pause = wait if wait <= WINDOW_SECONDS else POLL_SECONDS
    if waited + pause > ADMIT_TIMEOUT:
        raise WindowFull(f"no place in the calls-per-second window within {ADMIT_TIMEOUT:g} s")
    return pause


class LocalRateLimiter:
    def __init__(self, rate: float, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.cap = cap_per_window(rate) if rate > 0 else None
        self._sleep, self._clock = sleep, clock
        self._next = 0.0
        self._held: dict[object, float] = {}  # token → lease end while on the wire, then the answer's moment
        self._lock = threading.Lock()

    def reserve(self) -> Slot:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        return Slot(slot - now, slot)

    def sleep_until(self, slot: Slot) -> None:
        if (left := slot.at - self._clock()) > 0:
            self._sleep(left)

    def admit(self) -> Hashable:
        token, waited = object(), 0.0
        while self.cap is not None:
            with self._lock:
                now = self._clock()
                self._held = {t: at for t, at in self._held.items() if at > now - WINDOW_SECONDS}
                if len(self._held) < self.cap:
                    self._held[token] = now + IN_FLIGHT_LEASE
                    break
                wait = min(self._held.values()) + WINDOW_SECONDS - now
            pause = _pause_or_give_up(wait, waited)
            self._sleep(pause)
            waited += pause
        return token

    def answered(self, token: Hashable) -> None:
        with self._lock:
            if token in self._held:
                self._held[token] = self._clock()


class RedisRateLimiter:
    def __init__(self, redis_url: str, rate: float, key: str = KEY, window_key: str = WINDOW_KEY,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        import redis

        self.interval_us = int(1_000_000 / rate) if rate > 0 else 0
        self.cap = cap_per_window(rate)
        self._client = redis.Redis.from_url(redis_url)
        self._reserve = self._client.register_script(_RESERVE)
        self._admit = self._client.register_script(_ADMIT)
        self._answered = self._client.register_script(_ANSWERED)
        self._key, self._window_key, self._sleep = key, window_key, sleep

    def reserve(self) -> Slot:
        wait = int(self._reserve(keys=[self._key], args=[self.interval_us])) / 1_000_000
        return Slot(wait, time.monotonic() + wait)  # Redis's clock gives the wait; this process's clock the moment

    def sleep_until(self, slot: Slot) -> None:
        if (left := slot.at - time.monotonic()) > 0:
            self._sleep(left)

    def admit(self) -> Hashable:
        token, waited = uuid.uuid4().hex, 0.0
        lease_us = int(IN_FLIGHT_LEASE * 1_000_000)
        while (wait_us := int(self._admit(keys=[self._window_key], args=[self.cap, lease_us, token]))) >= 0:
            pause = _pause_or_give_up(wait_us / 1_000_000, waited)
            self._sleep(pause)
            waited += pause
        return token

    def answered(self, token: Hashable) -> None:
        self._answered(keys=[self._window_key], args=[token])


class NoLimit:
    def reserve(self) -> Slot:
        return Slot(0.0, 0.0)

    def sleep_until(self, slot: Slot) -> None:
        return None

    def admit(self) -> Hashable:
        return None

    def answered(self, token: Hashable) -> None:
        return None


_limiters: dict[tuple[str, float], RateLimiter] = {}
_lock = threading.Lock()


def get_limiter(settings: Settings) -> RateLimiter:
    """The process's limiter for these settings: Redis-backed when REDIS_URL is set, else in-process."""
    key = (settings.redis_url, settings.calls_per_second)
    with _lock:
        if key not in _limiters:
            _limiters[key] = _build(settings)
        return _limiters[key]


def _build(settings: Settings) -> RateLimiter:
    if settings.calls_per_second <= 0:
        return NoLimit()
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url, settings.calls_per_second)
    return LocalRateLimiter(settings.calls_per_second)
