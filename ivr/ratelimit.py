"""A calls-per-second cap shared by every dialing worker (CALLS_PER_SECOND).

Each caller reserves the next free slot and sleeps until it: slots are ``1 / rate`` seconds apart. Reserving and
sleeping are two steps, so a caller can use the wait (the dialer checks calling hours and opt-out meanwhile) and
still place its call the moment its slot comes. With REDIS_URL
the reservation is one atomic Lua script on the Redis server's own clock, so workers on different machines share
one cap; without Redis it is a lock in this process (the embedded mode runs one dialer).

CALLS_PER_SECOND is a cap for every 1-second window, so the slots are laid out ``HEADROOM`` (3%) wider than
``1 / rate``: a call reaches the provider a few milliseconds after its slot, more when the machine is busy, and with
slots exactly ``1 / rate`` apart one late call and a punctual one ten slots later would make eleven in a second.
At 10 calls a second that leaves 31 ms of such jitter and a rate of 9.7 (README, "Benchmarks").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from callback.config import Settings

KEY = "callback:ivr:calls-per-second:next-slot"
HEADROOM = 0.97  # slots 1 / (0.97 × CALLS_PER_SECOND) apart

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


def acquire(limiter: RateLimiter) -> float:
    """Reserve the next slot and wait for it; the seconds waited."""
    slot = limiter.reserve()
    limiter.sleep_until(slot)
    return slot.wait


class LocalRateLimiter:
    def __init__(self, rate: float, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._sleep, self._clock = sleep, clock
        self._next = 0.0
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


class RedisRateLimiter:
    def __init__(self, redis_url: str, rate: float, key: str = KEY,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        import redis

        self.interval_us = int(1_000_000 / rate) if rate > 0 else 0
        self._client = redis.Redis.from_url(redis_url)
        self._reserve = self._client.register_script(_RESERVE)
        self._key, self._sleep = key, sleep

    def reserve(self) -> Slot:
        wait = int(self._reserve(keys=[self._key], args=[self.interval_us])) / 1_000_000
        return Slot(wait, time.monotonic() + wait)  # Redis's clock gives the wait; this process's clock the moment

    def sleep_until(self, slot: Slot) -> None:
        if (left := slot.at - time.monotonic()) > 0:
            self._sleep(left)


class NoLimit:
    def reserve(self) -> Slot:
        return Slot(0.0, 0.0)

    def sleep_until(self, slot: Slot) -> None:
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
    rate = settings.calls_per_second * HEADROOM
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url, rate)
    return LocalRateLimiter(rate)
