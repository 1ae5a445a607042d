"""Measure 3: the dialer on the simulator, CALLS_PER_SECOND=10, two Celery workers, two minutes (--quick: 15 s).

1,400 callbacks (--quick: 200) are drawn and due now. The app runs under gunicorn (the production settings) and
two Celery worker processes dial through the simulator (TELEPHONY=simulator), whose calls play Twilio's part over
HTTP against the app's real webhooks. This process plays the beat: `worker.tasks.tick` every 30 s, as the schedule
does. A call counts as started when the simulator accepted it (its `placed_at`, as Twilio would record the call's
creation). The measured span starts at the first call. Baseline: the configured rate itself.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pgdb

from callback.config import Settings
from capacity.draws import wait_ready
from capacity.figures import Figure, judged
from capacity.processes import (
    CpuSampler,
    busy_seconds,
    free_port,
    redis_database,
    start_celery_worker,
    start_gunicorn,
    stop_group,
)
from capacity.seeding import OPEN_ALL_DAY, OPEN_ALL_DAY_ENV, drawn_callbacks

DB_NAME = pgdb.unique_name("cb_bench_dialer")
AUTH = "bench-dialer-auth-token"
RATE = 10.0
MIN_SHARE = 0.95
TICK_SECONDS = 30.0


def started_calls(state_dir: Path) -> tuple[list[float], int]:
    """(placed_at of every simulated call as epoch seconds, sorted; calls whose log holds an error entry)."""
    times, with_errors = [], 0
    for path in (state_dir / "calls").glob("CA*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        times.append(datetime.fromisoformat(record["placed_at"]).timestamp())
        with_errors += any(entry.get("kind") == "error" for entry in record.get("log", []))
    return sorted(times), with_errors


def most_in_any_second(times: list[float]) -> int:
    """The most calls started within any window [t, t + 1 s), t anywhere (a sliding window)."""
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def most_in_a_clock_second(times: list[float]) -> int:
    counts: dict[int, int] = {}
    for at in times:
        counts[int(at)] = counts.get(int(at), 0) + 1
    return max(counts.values(), default=0)


def _environment(url: str, redis_url: str, base: str, state_dir: Path) -> dict[str, str]:
    return {"DATABASE_URL": url, "REDIS_URL": redis_url, "TELEPHONY": "simulator", "TWILIO_AUTH_TOKEN": AUTH,
            "PUBLIC_BASE_URL": base, "SIMULATOR_STATE_DIR": str(state_dir),
            "SIMULATOR_CITIZENS": str(state_dir / "citizens.json"), "CALLS_PER_SECOND": f"{RATE:g}",
            **OPEN_ALL_DAY_ENV}


def play_beat(app, state_dir: Path, seconds: float) -> float:  # noqa: ANN001
    """Send the tick every 30 s until ``seconds`` have passed since the first call; returns when that came."""
    first, next_tick = None, time.monotonic()
    deadline = time.monotonic() + 120  # the first call comes within seconds of the first tick
    while first is None or time.time() < first + seconds + 1:
        if time.monotonic() >= next_tick:
            app.send_task("worker.tasks.tick")
            next_tick += TICK_SECONDS
        if first is None:
            times, _ = started_calls(state_dir)
            first = times[0] if times else None
            if first is None and time.monotonic() > deadline:
                raise RuntimeError("no call was placed within 120 s of the first tick")
        time.sleep(0.2)
    return first


@dataclass(frozen=True)
class Run:
    window: list[float]  # start times of the calls in the measured span
    calls: int  # calls started during the whole run
    with_errors: int
    cpu: dict[str, float]  # CPU seconds over the run: web, workers, db, machine (every process), wall (seconds)


def run_dialers(url: str, out_dir: Path, seconds: float) -> Run:
    from worker.celery_app import create_celery

    state_dir = out_dir / "dialer-simulator"
    shutil.rmtree(state_dir, ignore_errors=True)
    state_dir.mkdir(parents=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with redis_database() as redis_url:
        env = _environment(url, redis_url, base, state_dir)
        web = start_gunicorn("callback.web.app:create_app()", port, env, out_dir / "dialer-web.log")
        workers = [start_celery_worker(f"dial{n}", env, out_dir / f"dialer-worker-{n}.log") for n in (1, 2)]
        try:
            app = create_celery(Settings(database_url=url, redis_url=redis_url, **OPEN_ALL_DAY))
            wait_ready(app, len(workers))
            groups = {"web": web.pid, **{f"worker{n}": w.pid for n, w in enumerate(workers)}}
            machine, started = busy_seconds(), time.monotonic()
            with CpuSampler(groups, DB_NAME) as sampler:
                first = play_beat(app, state_dir, seconds)
            cpu = {"web": sampler.spent("web"), "workers": sampler.spent("worker0") + sampler.spent("worker1"),
                   "db": sampler.spent("db"), "machine": busy_seconds() - machine,
                   "wall": time.monotonic() - started}
        finally:
            for process in [*workers, web]:
                stop_group(process)
    times, with_errors = started_calls(state_dir)
    return Run([t for t in times if first <= t < first + seconds], len(times), with_errors, cpu)


def _cpu_note(run: Run) -> str:
    per_call = {k: run.cpu[k] / max(run.calls, 1) * 1000 for k in ("web", "workers", "db")}
    ours = sum(run.cpu[k] for k in ("web", "workers", "db"))
    cores = os.cpu_count() or 1
    return (f"CPU a call: webhooks {per_call['web']:.0f} ms, workers (dialing and the simulated call) "
            f"{per_call['workers']:.0f} ms, PostgreSQL {per_call['db']:.0f} ms; the cores were "
            f"{run.cpu['machine'] / run.cpu['wall'] / cores:.0%} busy, {ours / run.cpu['wall'] / cores:.0%} "
            f"by these processes")


def measure(out_dir: Path, quick: bool) -> list[Figure]:
    seconds = 15.0 if quick else 120.0
    url = pgdb.create_database(DB_NAME)
    try:
        drawn = drawn_callbacks(url, "DIAL", int(RATE * seconds * 1.15) + 20, out_dir)
        run = run_dialers(url, out_dir, seconds)
    finally:
        pgdb.drop_database(DB_NAME)
    times = run.window
    rate = len(times) / seconds
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    note = (f"{len(times):,} calls in {seconds:.0f} s of {drawn:,} due; calls whose webhooks answered an error: "
            f"{run.with_errors}; {_cpu_note(run)}")
    window_note = (f"most in a clock second {most_in_a_clock_second(times)}; gaps between calls "
                   f"{min(gaps, default=0) * 1000:.0f}–{max(gaps, default=0) * 1000:.0f} ms (limiter slots are "
                   f"{1000 / RATE:.0f} ms apart)")
    return [
        judged("dialer.calls_per_second", f"calls started a second, over {seconds:.0f} s", rate, "calls/s",
               target=f"≥ {MIN_SHARE * RATE:g} calls/s", ok=lambda v: v >= MIN_SHARE * RATE, quick=quick,
               baseline=RATE, baseline_label="CALLS_PER_SECOND", note=note),
        judged("dialer.most_in_one_second", "  most calls started in any 1-second window", most_in_any_second(times),
               "calls", target=f"≤ {RATE:g}", ok=lambda v: v <= RATE, quick=quick, baseline=RATE,
               baseline_label="CALLS_PER_SECOND", note=window_note),
    ]
