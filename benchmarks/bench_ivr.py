"""Benchmark: the IVR answer webhook under gunicorn, next to a bare Flask endpoint.

The webhook under test is the one a caller hits on every key press: POST /ivr/<token>/item/<item>?a=…&n=0&r=0 with
Digits=1 — X-Twilio-Signature checked, the callback row locked, the delivery de-duplicated, the answer and two
transcript events written, the next item's TwiML rendered with the twilio library. Every request is distinct (one
per callback and item), so each one really writes. The baseline is benchmarks/ivr_bare_app.py: a bare Flask
endpoint returning a constant TwiML of the same shape. Both run under gunicorn on loopback with the same settings,
one after the other in the same run, each loaded at the same concurrency (wrk if installed, else a small threaded
load generator). Prints requests/s, p50/p99 latency, the ratio, and the CPU time per request of the gunicorn
processes and of the benchmark database's PostgreSQL backends (which, unlike requests/s, hardly depend on what
else the machine is doing). Target: ratio ≥ 0.5, p99 < 50 ms at 50
concurrent connections.

    .venv/bin/python benchmarks/bench_ivr.py [--connections 50] [--duration 10] [--workers 4] [--threads 8]

It creates (and afterwards drops) its own PostgreSQL database (BENCH_PG_ADMIN_URL or TEST_PG_ADMIN_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pgdb  # noqa: E402  (benchmarks/ is on sys.path when a script runs)

from callback.db import session_factory  # noqa: E402
from callback.models import Answer, Attempt, Callback, Case, Contact, Hall, Window  # noqa: E402
from ivr.signing import sign_request  # noqa: E402

DB_NAME = "cb_bench_ivr"
AUTH = "bench-auth-token"
ITEMS = ("attitude", "efficiency", "by_the_rules", "in_hall", "integrity", "overall")
TARGET_RATIO, TARGET_P99_MS = 0.5, 50.0


@dataclass(frozen=True)
class Result:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    app_cpu_ms: float = 0.0  # CPU time of the gunicorn processes per request
    db_cpu_ms: float = 0.0  # CPU time of this database's PostgreSQL backends per request

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# --- database ---------------------------------------------------------------------------------------------------


def create_database() -> str:
    return pgdb.create_database(DB_NAME)


def drop_database() -> None:
    pgdb.drop_database(DB_NAME)


def seed(url: str, n: int) -> list[tuple[str, int, str]]:
    """n callbacks in the middle of a survey (consent given), each with its accepted call; (token, attempt, sid)."""
    now = datetime.now(UTC)
    with session_factory(url).begin() as s:
        hall = Hall(code="BENCH", name="示范政务服务中心")
        s.add(hall)
        s.flush()
        window = Window(hall_id=hall.id, name="市场监管窗口")
        s.add(window)
        s.flush()
        s.execute(insert(Contact), [{"hall_id": hall.id, "phone": f"+86138{i:08d}", "kind": "mobile"}
                                    for i in range(n)])
        contacts = s.scalars(select(Contact.id).order_by(Contact.id)).all()
        s.execute(insert(Case), [
            {"hall_id": hall.id, "case_no": f"BJ{i:08d}", "window_id": window.id, "contact_id": c,
             "item_name": "个体工商户设立登记", "accepted_at": now, "row_hash": f"{i:064d}"}
            for i, c in enumerate(contacts)])
        cases = s.scalars(select(Case.id).order_by(Case.id)).all()
        s.execute(insert(Callback), [
            {"hall_id": hall.id, "case_id": k, "contact_id": c, "window_id": window.id, "week": "2026-W48",
             "state": "in_survey", "attempts_used": 1, "token": secrets.token_urlsafe(16),
             "flags": {"consent": True}} for k, c in zip(cases, contacts, strict=True)])
        callbacks = s.execute(select(Callback.id, Callback.token).order_by(Callback.id)).all()
        s.execute(insert(Attempt), [
            {"hall_id": hall.id, "callback_id": cid, "number": 1, "status": "in-progress",
             "provider_call_id": f"CA{cid:032x}", "placed_at": now} for cid, _ in callbacks])
        attempts = s.execute(select(Attempt.callback_id, Attempt.id, Attempt.provider_call_id)).all()
    by_callback = {cid: (aid, sid) for cid, aid, sid in attempts}
    return [(token, *by_callback[cid]) for cid, token in callbacks]


def build_requests(calls: list[tuple[str, int, str]], base: str) -> list[tuple[str, str, str]]:
    """(path, form body, signature) — item by item, callback by callback, so no two requests are alike."""
    out = []
    for item in ITEMS:
        for token, attempt_id, sid in calls:
            path = f"/ivr/{token}/item/{item}?a={attempt_id}&n=0&r=0"
            form = {"AccountSid": "AC" + "0" * 32, "CallSid": sid, "Digits": "1", "CallStatus": "in-progress"}
            out.append((path, urlencode(form), sign_request(base + path, form, AUTH)))
    return out


# --- servers ------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(target: str, port: int, env: dict[str, str], workers: int, threads: int) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).with_name("gunicorn")), target, "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
        "--backlog", "2048", "--keep-alive", "30", "--log-level", "warning", "--preload",
        "--chdir", str(ROOT), "--pythonpath", f"{ROOT},{ROOT / 'benchmarks'}",
    ]
    process = subprocess.Popen(command, env={**os.environ, **env}, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    stop(process)
    raise RuntimeError(f"gunicorn {target} did not start")


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- load ---------------------------------------------------------------------------------------------------------

WRK_SCRIPT = """
local requests = dofile("%(data)s")
local counter = 0
function request()
  counter = counter + 1
  local r = requests[((counter - 1) %% #requests) + 1]
  return wrk.format("POST", r[1], {["Content-Type"] = "application/x-www-form-urlencoded",
                                   ["X-Twilio-Signature"] = r[3]}, r[2])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%f %%f %%f %%d\\n", summary.requests, summary.duration / 1e6,
           latency:percentile(50) / 1000, latency:percentile(99) / 1000,
           e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def _lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(name: str, port: int, reqs: list[tuple[str, str, str]], connections: int, seconds: int,
            workdir: Path) -> Result:
    data = workdir / f"{name}-requests.lua"
    data.write_text("return {\n" + ",\n".join(
        "{" + ",".join(_lua_string(v) for v in r) + "}" for r in reqs) + "\n}\n", encoding="utf-8")
    script = workdir / f"{name}.lua"
    script.write_text(WRK_SCRIPT % {"data": str(data)}, encoding="utf-8")
    # One wrk thread: its request counter walks the list once, so every request is distinct.
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script),
               f"http://127.0.0.1:{port}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", output)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    n, duration, p50, p99, errors = match.groups()
    return Result(name, int(n), float(duration), float(p50), float(p99), int(errors))


def run_threads(name: str, port: int, reqs: list[tuple[str, str, str]], connections: int, seconds: int,
                _workdir: Path) -> Result:
    """Fallback load generator: `connections` keep-alive connections, each in its own thread."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    cursor = iter(range(10**9))

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        while time.monotonic() < stop_at:
            with lock:
                path, body, signature = reqs[next(cursor) % len(reqs)]
            started = time.perf_counter()
            conn.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded",
                                              "X-Twilio-Signature": signature})
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    cuts = statistics.quantiles(latencies, n=100)
    return Result(name, len(latencies), elapsed, cuts[49] * 1000, cuts[98] * 1000, errors[0])


def measure(name: str, target: str, env: dict[str, str], args: argparse.Namespace, reqs: list, port: int,
            workdir: Path) -> Result:
    load = run_wrk if shutil.which("wrk") and not args.python_load else run_threads
    process = start_gunicorn(target, port, env, args.workers, args.threads)
    try:
        load(f"{name}-warmup", port, reqs[-3000:], args.connections, 4, workdir)
        before = cpu_by_process(process.pid)
        result = load(name, port, reqs[: len(reqs) - 3000], args.connections, args.duration, workdir)
        after = cpu_by_process(process.pid)
    finally:
        stop(process)
    app, db = (sum(after[k].get(pid, 0.0) - before[k].get(pid, 0.0) for pid in after[k]) for k in ("app", "db"))
    per = 1000 / max(result.requests, 1)
    return replace(result, app_cpu_ms=app * per, db_cpu_ms=db * per)


def cpu_by_process(gunicorn_pgid: int) -> dict[str, dict[int, float]]:
    """CPU seconds (user + system) of the gunicorn processes and of this database's PostgreSQL backends, by pid
    (Linux /proc). CPU time per request, unlike requests/s, hardly depends on what else the machine is doing."""
    found: dict[str, dict[int, float]] = {"app": {}, "db": {}}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        kind = "app" if int(fields[2]) == gunicorn_pgid else "db" if f" {DB_NAME} " in command else None
        if kind and (kind == "app" or command.startswith("postgres")):
            found[kind][int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per endpoint")
    parser.add_argument("--workers", type=int, default=max(2, (os.cpu_count() or 1) * 2))
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--callbacks", type=int, default=6000, help="callbacks seeded (6 distinct requests each)")
    parser.add_argument("--python-load", action="store_true", help="use the threaded generator even if wrk exists")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    url = create_database()
    try:
        calls = seed(url, args.callbacks)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        reqs = build_requests(calls, base)
        env = {"DATABASE_URL": url, "TWILIO_AUTH_TOKEN": AUTH, "PUBLIC_BASE_URL": base, "TELEPHONY": "simulator"}
        with tempfile.TemporaryDirectory() as tmp:
            webhook = measure("webhook", "callback.web.app:create_app()", env, args, reqs, port, Path(tmp))
            bare = measure("bare", "ivr_bare_app:app", env, args, reqs, port, Path(tmp))
        with session_factory(url)() as s:
            written = s.scalar(select(func.count()).select_from(Answer))
        report(webhook, bare, written, args)
    finally:
        if not args.keep:
            drop_database()
    return 0


def report(webhook: Result, bare: Result, written: int, args: argparse.Namespace) -> None:
    ratio = webhook.rps / bare.rps if bare.rps else 0.0
    met = ratio >= TARGET_RATIO and webhook.p99_ms < TARGET_P99_MS
    if args.json:
        print(json.dumps({"webhook": webhook.__dict__ | {"rps": webhook.rps}, "bare": bare.__dict__ | {"rps": bare.rps},
                          "ratio": ratio, "answers_written": written, "target_met": met,
                          "cpus": os.cpu_count(), "load_average": os.getloadavg()[0],
                          "settings": vars(args)}, default=str))
        return
    print(f"gunicorn gthread workers={args.workers} threads={args.threads}; {args.connections} connections, "
          f"{args.duration}s each; load: {'wrk' if shutil.which('wrk') and not args.python_load else 'python'}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other work on the machine skews results)")
    print(f"{'endpoint':<10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}{'requests':>10}"
          f"{'app CPU ms/req':>16}{'db CPU ms/req':>15}")
    for r in (webhook, bare):
        print(f"{r.name:<10}{r.rps:>10.0f}{r.p50_ms:>10.1f}{r.p99_ms:>10.1f}{r.errors:>8}{r.requests:>10}"
              f"{r.app_cpu_ms:>16.3f}{r.db_cpu_ms:>15.3f}")
    print(f"ratio webhook/bare = {ratio:.2f} (target ≥ {TARGET_RATIO}); webhook p99 {webhook.p99_ms:.1f} ms "
          f"(target < {TARGET_P99_MS:.0f} ms); answers written: {written}; targets {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    raise SystemExit(main())
