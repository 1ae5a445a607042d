"""The recovery settings (worker/recovery.py; README "Recovery after a crash: the bounds") come from the
environment: a value the worker cannot run with is refused in one line and exit status 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from callback.config import ConfigError
from tests.callback.test_production_settings import clean_env
from worker.recovery import RecoverySettings


@pytest.mark.parametrize(("name", "value", "said"), [
    ("STALE_CALL_SECONDS", "abc", "STALE_CALL_SECONDS 应为秒数"),
    ("TICK_SECONDS", "0", "TICK_SECONDS 应为正的秒数"),
    ("RECONCILE_SECONDS", "nan", "RECONCILE_SECONDS 应为正的秒数"),
    ("LOCK_SECONDS", "99999", "LOCK_SECONDS 不得大于 CLAIM_LEASE_SECONDS"),
])
def test_a_bad_value_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                              said: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=said):
        RecoverySettings.from_env()


def test_a_good_value_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICK_SECONDS", "12.5")
    assert RecoverySettings.from_env().tick_seconds == 12.5


@pytest.mark.parametrize("role", ["worker", "beat"])
def test_the_worker_and_beat_refuse_a_bad_value_in_one_line(role: str, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "celery", "-A", "worker.celery_app", role, f"--schedule={tmp_path / 's'}"]
    if role == "worker":
        command.pop()
    done = subprocess.run(command, cwd=tmp_path, env=clean_env(STALE_CALL_SECONDS="ten minutes"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "STALE_CALL_SECONDS 应为秒数，而不是 'ten minutes'（STALE_CALL_SECONDS must be a number of seconds）"]
