"""`callback serve`: the development server, or `--production`, which execs gunicorn with the production config;
either refuses development secrets in production with one line and exit 2
(docs/architecture.md §Privacy and security)."""

from __future__ import annotations

import os
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from click.testing import CliRunner

from callback.cli import main
from callback.config import Settings


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No service setting from this process's environment; a scratch SQLite database."""
    for f in fields(Settings):
        monkeypatch.delenv(f.name.upper(), raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")


@pytest.mark.parametrize("args", [["serve"], ["serve", "--production"]])
def test_callback_serve_refuses_with_one_line_and_exit_2(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEPHONY", "twilio")
    monkeypatch.setattr(os, "execv", lambda *a: pytest.fail(f"exec'd although insecure: {a}"))
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "TWILIO_AUTH_TOKEN" in result.stderr and "SECRET_KEY" in result.stderr
    assert result.stderr.startswith("拒绝以开发默认密钥在生产环境启动") and "Traceback" not in result.output


def test_serve_production_execs_gunicorn_with_the_production_config(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, list[str]]] = []

    def fake_execv(path: str, argv: list[str]) -> None:
        calls.append((path, argv))
        raise SystemExit(0)

    monkeypatch.setattr(os, "execv", fake_execv)
    result = CliRunner().invoke(main, ["serve", "--production", "--host", "127.0.0.1", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert calls == [(sys.executable, [sys.executable, "-m", "gunicorn", "-c", "python:callback.web.gunicorn_conf",
                                       "--bind", "127.0.0.1:8123", "callback.web.app:create_app()"])]
