"""The chaos run's processes: a private Redis server, the web app under gunicorn, Celery workers and beat — each
started in its own process group, so a SIGKILL takes its children (the prefork pool, the simulator's call
threads) with it, as a crash would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout: float, what: str, step: float = 0.1) -> float:  # noqa: ANN001
    """Seconds waited until ``condition()`` held; AssertionError after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)
    return time.monotonic() - start


class Process:
    """One supervised process: started, killed (the whole group) and started again with the same command."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.command, self.env, self.log = name, command, env, log
        self.proc: subprocess.Popen | None = None
        self.started = 0

    def start(self) -> Process:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.started += 1
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def pids(self) -> set[int]:
        """This process and its children (a worker's pool processes)."""
        try:
            parent = psutil.Process(self.pid)
            return {self.pid, *(child.pid for child in parent.children(recursive=True))}
        except psutil.NoSuchProcess:
            return set()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 20) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def stop(self) -> None:
        self.kill(signal.SIGTERM, timeout=15)


def redis_server(port: int, folder: Path, log: Path) -> Process:
    """A Redis of the run's own on ``port``: nothing persisted, so a restart starts empty, as a crash would."""
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(folder), "--daemonize", "no"]
    return Process("redis", command, dict(os.environ), log)


def gunicorn(port: int, env: dict[str, str], log: Path) -> Process:
    command = [sys.executable, "-m", "gunicorn", "-c", "python:callback.web.gunicorn_conf", "--bind",
               f"127.0.0.1:{port}", "--workers", "1", "--threads", "8", "callback.web.app:create_app()"]
    return Process("web", command, env, log)


def celery_worker(name: str, env: dict[str, str], log: Path, concurrency: int) -> Process:
    command = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "--pool=prefork",
               f"--concurrency={concurrency}", "--prefetch-multiplier=1", "--without-gossip", "--without-mingle",
               "--without-heartbeat", "--loglevel=INFO", f"--hostname={name}@%h"]
    return Process(name, command, env, log)


def celery_beat(env: dict[str, str], log: Path, schedule: Path) -> Process:
    command = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "beat", "--loglevel=INFO",
               f"--schedule={schedule}"]
    return Process("beat", command, env, log)
