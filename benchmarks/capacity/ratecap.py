"""Measure 3b: what the calls-per-second window costs and what it buys, without the rest of the dialer.

Four threads (dialing workers) share one Redis limiter at CALLS_PER_SECOND=10 for 30 s (--quick: 5 s) and send
each call to a stand-in provider that receives it after a delay and answers after a further one, drawn from a
fixed-seed profile. The provider's clock (wall time, as Redis's TIME) stamps each call on receipt; the figures
are the calls received a second and the most received in any 1-second window.

* profile "simulator": receipt 2–10 ms after sending, 3% of calls 40–110 ms late (the spread traced in the
  dialer measure on this machine: median 6 ms, p99 58 ms, worst 108 ms); answered 2 ms after receipt.
* profile "provider API": receipt 30–80 ms after sending, answered 150–350 ms later (an HTTPS API far away).

Baseline, the same run: the slots alone (the limiter before the window: reserve a slot, sleep to it, send).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

from capacity.dialer import most_in_any_second
from capacity.figures import Figure, judged
from capacity.processes import redis_database
from ivr.ratelimit import RedisRateLimiter, acquire, placing

RATE = 10.0
WORKERS = 4
Profile = Callable[[random.Random], tuple[float, float]]  # → (seconds to receipt, seconds from receipt to answer)


def simulator_like(rng: random.Random) -> tuple[float, float]:
    late = rng.random() < 0.03
    return (rng.uniform(0.040, 0.110) if late else rng.uniform(0.002, 0.010)), 0.002


def provider_api_like(rng: random.Random) -> tuple[float, float]:
    return rng.uniform(0.030, 0.080), rng.uniform(0.150, 0.350)


PROFILES: dict[str, Profile] = {"simulator": simulator_like, "provider API": provider_api_like}


def run(redis_url: str, profile: Profile, with_window: bool, seconds: float, tag: str) -> list[float]:
    """Every worker dials until ``seconds`` have passed; the provider's receipt times, sorted."""
    received: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(n: int) -> None:
        limiter = RedisRateLimiter(redis_url, RATE, key=f"bench:{tag}:slots", window_key=f"bench:{tag}:window")
        rng = random.Random(f"{tag}-{n}")
        while time.monotonic() < stop:
            to_receipt, to_answer = profile(rng)
            acquire(limiter)
            if with_window:
                with placing(limiter):
                    _send(to_receipt, to_answer, received, lock)
            else:
                _send(to_receipt, to_answer, received, lock)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(received)


def _send(to_receipt: float, to_answer: float, received: list[float], lock: threading.Lock) -> None:
    time.sleep(to_receipt)
    with lock:
        received.append(time.time())
    time.sleep(to_answer)


def _rate(times: list[float]) -> float:
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


def measure(out_dir: Path, quick: bool) -> list[Figure]:
    seconds = 5.0 if quick else 30.0
    figures = []
    with redis_database() as redis_url:
        for name, profile in PROFILES.items():
            key = name.replace(" ", "_")
            slots = run(redis_url, profile, False, seconds, f"{key}-slots")
            window = run(redis_url, profile, True, seconds, f"{key}-window")
            figures += [
                Figure(f"ratecap.{key}.calls_per_second", f"{name}: calls received a second, slots + window",
                       round(_rate(window), 2), "calls/s", baseline=round(_rate(slots), 2),
                       baseline_label="slots alone",
                       note=f"{len(window)} calls in {seconds:.0f} s (slots alone: {len(slots)})"),
                judged(f"ratecap.{key}.most_in_one_second", f"  {name}: most received in any 1-second window",
                       most_in_any_second(window), "calls", target=f"≤ {RATE:g}", ok=lambda most: most <= RATE,
                       quick=quick, baseline=most_in_any_second(slots), baseline_label="slots alone"),
            ]
    return figures
