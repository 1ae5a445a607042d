"""Processes the benchmark starts (gunicorn, Celery workers, the import CLI) and what it measures of them:
the summed RSS of a process tree, sampled every 50 ms, and CPU seconds by process group or database."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


def tree_memory(root: psutil.Process) -> tuple[int, int, int]:
    """(summed RSS, summed PSS, process count) of ``root`` and all its descendants now, in bytes. RSS counts the
    pages forked processes share once in each; PSS splits them among their sharers."""
    rss = pss = count = 0
    try:
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0, 0
    for member in members:
        try:
            memory = member.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss, pss, count = rss + memory.rss, pss + getattr(memory, "pss", memory.rss), count + 1
    return rss, pss, count


class TreeSampler:
    """Samples a process tree's memory every 50 ms in a thread: the peaks of the summed RSS and of the summed PSS,
    and the most processes seen at once."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak_rss = self.peak_pss = self.most_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, pss, count = tree_memory(self.root)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.most_processes = max(self.most_processes, count)
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass(frozen=True)
class Sampled:
    seconds: float
    peak_rss_mb: float  # summed over the tree, at its peak
    peak_pss_mb: float
    processes: int  # the most at once
    stdout: str
    cpu_seconds: float = 0.0  # user + system CPU of the command and the children it waited for


def run_sampled(command: list[str], env: dict[str, str]) -> Sampled:
    """Run ``command`` to its end while sampling its process tree's memory. Raises with its stderr if it fails."""
    started, cpu_before = time.perf_counter(), _children_cpu()
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    with TreeSampler(process.pid) as sampler:
        out, err = process.communicate()
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} … exited {process.returncode}: {err[-2000:]}")
    return Sampled(elapsed, sampler.peak_rss / 2**20, sampler.peak_pss / 2**20, sampler.most_processes, out,
                   _children_cpu() - cpu_before)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- CPU ---------------------------------------------------------------------------------------------------------


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy so far (every process, ours or not)."""
    times = psutil.cpu_times()
    return times.user + times.nice + times.system + getattr(times, "irq", 0.0) + getattr(times, "softirq", 0.0)


def cpu_snapshot(groups: dict[str, int], database: str) -> dict[str, dict[int, float]]:
    """CPU seconds by pid now: of each named process group (by its leader's pid, e.g. {"app": gunicorn.pid}) and,
    under "db", of the PostgreSQL backends serving ``database``. CPU time per request, unlike latency, hardly
    depends on what else the machine is doing."""
    found: dict[str, dict[int, float]] = {name: {} for name in [*groups, "db"]}
    by_leader = {leader: name for name, leader in groups.items()}
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            command = " ".join(process.info["cmdline"] or ())
            group = by_leader.get(os.getpgid(process.pid))
            if group is not None:
                found[group][process.pid] = _cpu(process)
            elif command.startswith("postgres:") and f" {database} " in f"{command} ":
                found["db"][process.pid] = _cpu(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
            continue
    return found


class CpuSampler:
    """CPU seconds spent by process groups and the database's backends while it runs, snapshotted every 250 ms:
    a process that exits meanwhile (gunicorn recycles a worker after max_requests, and its database connections
    close with it) keeps what it had spent by its last snapshot; one that starts counts from zero."""

    def __init__(self, groups: dict[str, int], database: str) -> None:
        self.groups, self.database = groups, database
        self.first = cpu_snapshot(groups, database)
        self.last = {kind: dict(pids) for kind, pids in self.first.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _take(self) -> None:
        for kind, pids in cpu_snapshot(self.groups, self.database).items():
            self.last[kind].update(pids)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self._take()

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._take()

    def spent(self, kind: str) -> float:
        return sum(seconds - self.first[kind].get(pid, 0.0) for pid, seconds in self.last[kind].items())


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
