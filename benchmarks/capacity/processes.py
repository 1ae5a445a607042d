"""Processes the benchmark starts (gunicorn, Celery workers, the import CLI) and what it measures of them:
the summed RSS of a process tree, sampled every 50 ms, and CPU seconds by process group or database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REDIS_SERVER = os.environ.get("BENCH_REDIS_SERVER", os.environ.get("TEST_REDIS_SERVER", "redis://127.0.0.1:6379"))
SAMPLE_SECONDS = 0.05


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_group(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start ``command`` in its own process group (stopped as a group), its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop_group(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM the process group (a warm shutdown), SIGKILL it if it outlives ``timeout``."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}:\n{tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f} s:\n{tail(log)}")


def tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def start_gunicorn(app: str, port: int, env: dict[str, str], log: Path, pythonpath: str = "") -> subprocess.Popen:
    """The app under gunicorn with the production settings (callback/web/gunicorn_conf.py: 2 gthread workers,
    8 threads each), bound to a loopback port; access log off, as in production."""
    command = [str(BIN / "gunicorn"), "-c", "python:callback.web.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
               "--log-level", "warning", "--chdir", str(ROOT)]
    if pythonpath:
        command += ["--pythonpath", pythonpath]
    process = start_group([*command, app], env, log)
    wait_for_port(port, process, log)
    return process


def start_celery_worker(name: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    """One Celery worker (prefork, one child), as tests/worker/celery_process.py starts them."""
    command = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "--pool=prefork",
               "--concurrency=1", "--prefetch-multiplier=1", "--without-gossip", "--without-mingle",
               "--without-heartbeat", "--loglevel=WARNING", f"--hostname={name}@%h"]
    return start_group(command, env, log)


# --- memory ------------------------------------------------------------------------------------------------------


def tree_rss(root: psutil.Process) -> tuple[int, int]:
    """(summed RSS in bytes, process count) of ``root`` and all its descendants now; shared pages count in each."""
    total, count = 0, 0
    try:
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0
    for member in members:
        try:
            total += member.memory_info().rss
            count += 1
        except psutil.NoSuchProcess:
            continue
    return total, count


class TreeSampler:
    """Samples a process tree's summed RSS every 50 ms in a thread; keeps the peak sum and the most processes."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak_bytes, self.most_processes, self.samples = 0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, count = tree_rss(self.root)
            self.peak_bytes = max(self.peak_bytes, rss)
            self.most_processes = max(self.most_processes, count)
            self.samples += 1
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20


def run_sampled(command: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """Run ``command`` to its end while sampling its tree: (seconds, peak summed RSS in MB, most processes, stdout).
    Raises with the command's stderr if it fails."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    with TreeSampler(process.pid) as sampler:
        out, err = process.communicate()
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} … exited {process.returncode}: {err[-2000:]}")
    return elapsed, sampler.peak_mb, sampler.most_processes, out


# --- CPU ---------------------------------------------------------------------------------------------------------


def _cpu(process: psutil.Process, with_children: bool) -> float:
    times = process.cpu_times()
    total = times.user + times.system
    if with_children:  # workers the master has already reaped (gunicorn recycles them after max_requests)
        total += times.children_user + times.children_system
    return total


def cpu_snapshot(group_leader: int, database: str) -> dict[str, dict[int, float]]:
    """CPU seconds by pid: the process group ``group_leader`` leads (the app) and the PostgreSQL backends serving
    ``database``. CPU time per request, unlike latency, hardly depends on what else the machine is doing."""
    found: dict[str, dict[int, float]] = {"app": {}, "db": {}}
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            command = " ".join(process.info["cmdline"] or ())
            if os.getpgid(process.pid) == group_leader:
                found["app"][process.pid] = _cpu(process, process.pid == group_leader)
            elif command.startswith("postgres:") and f" {database} " in f"{command} ":
                found["db"][process.pid] = _cpu(process, False)
        except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
            continue
    return found


def cpu_spent(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]], kind: str) -> float:
    """CPU seconds the processes of ``kind`` spent between two snapshots (processes gone by ``after`` are lost,
    except the workers a gunicorn master reaped, which its children times keep)."""
    return sum(seconds - before[kind].get(pid, 0.0) for pid, seconds in after[kind].items())


# --- Redis -------------------------------------------------------------------------------------------------------


@contextmanager
def redis_database() -> Iterator[str]:
    """A Redis database (1–15) of this run's own, claimed in database 0 the way the test suite claims its own
    (tests/conftest.py), so a benchmark and a test run never flush each other's keys. Emptied before and after."""
    import redis

    admin = redis.Redis.from_url(f"{REDIS_SERVER}/0")
    token = f"bench-{os.getpid()}-{uuid.uuid4().hex}"
    number = next((n for n in range(15, 0, -1)
                   if admin.set(f"callback-tests:db:{n}", token, nx=True, ex=6 * 3600)), None)
    if number is None:
        raise RuntimeError("no free Redis database (1–15): test runs hold them all")
    url = f"{REDIS_SERVER}/{number}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        if admin.get(f"callback-tests:db:{number}") == token.encode():
            admin.delete(f"callback-tests:db:{number}")
