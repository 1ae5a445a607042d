"""Real Celery worker processes for the kill tests: started in their own process group, killed as a group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from callback.db import get_engine
from callback.models import Base

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


def truncate_all(url: str, *, end_other_sessions: bool = False) -> None:
    """Empty every table of the PostgreSQL database and restart its ids. ``end_other_sessions`` first ends the
    connections a killed worker left behind, so their locks cannot block the TRUNCATE."""
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with get_engine(url).begin() as conn:
        if end_other_sessions:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
