"""Real Celery worker processes for the kill tests: started in their own process group, killed as a group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start_worker(env: dict[str, str], log: Path, name: str, *, queue: str | None = None,
                 concurrency: int = 1) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "--pool=prefork",
               f"--concurrency={concurrency}", "--prefetch-multiplier=1", "--without-gossip", "--without-mingle",
               "--without-heartbeat", "--loglevel=INFO", f"--hostname={name}@%h"]
    if queue:
        command.append(f"--queues={queue}")
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group: SIGKILL takes the pool too


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL, timeout: float = 20) -> None:
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
