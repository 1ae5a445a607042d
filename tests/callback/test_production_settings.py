"""Production refuses development secrets (docs/architecture.md §Privacy and security): the web app,
`callback serve` (development server and gunicorn), the Celery worker and beat all ask
callback.config.check_production_settings and exit 2 with one line; the simulator keeps its defaults on plain
http."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from callback.config import (
    DEV_AUTH_TOKEN,
    DEV_SECRET_KEY,
    ConfigError,
    InsecureSettings,
    Settings,
    check_production_settings,
)
from callback.db import session_factory
from callback.models import Contact
from callback.web.app import create_app
from tests.ivr.ivr_support import BASE
from tests.ivr.sms_support import Citizen, phone_of, sms_callback

ROOT = Path(__file__).resolve().parents[2]
REAL_TOKEN = "a3f1c9e07b5d42e8a3f1c9e07b5d42e8"
REAL_SECRET = "9d2c7e51f0a84b36b1e4c8d7a2f05e93"
INSECURE = [
    pytest.param({"telephony": "twilio", "secret_key": REAL_SECRET}, "TWILIO_AUTH_TOKEN", id="twilio-default-token"),
    pytest.param({"telephony": "twilio", "twilio_auth_token": "", "secret_key": REAL_SECRET}, "TWILIO_AUTH_TOKEN",
                 id="twilio-no-token"),
    pytest.param({"telephony": "twilio", "twilio_auth_token": REAL_TOKEN}, "SECRET_KEY", id="twilio-default-secret"),
    pytest.param({"public_base_url": BASE, "secret_key": REAL_SECRET}, "TWILIO_AUTH_TOKEN", id="https-default-token"),
    pytest.param({"public_base_url": BASE, "twilio_auth_token": REAL_TOKEN}, "SECRET_KEY", id="https-default-secret"),
]
PRODUCTION_ENV = {"TELEPHONY": "twilio"}  # both secrets left at their defaults


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any service setting, plus ``values``."""
    names = {f.name.upper() for f in fields(Settings)}
    env = {k: v for k, v in os.environ.items() if k not in names}
    return {**env, "PYTHONPATH": str(ROOT), **values}


@pytest.fixture
def db(database_url: str) -> Iterator[Session]:
    with session_factory(database_url)() as session:
        yield session


@pytest.fixture
def no_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for f in fields(Settings):
        monkeypatch.delenv(f.name.upper(), raising=False)


@pytest.mark.parametrize(("values", "named"), INSECURE)
def test_each_development_secret_in_production_is_refused(values: dict[str, str], named: str, tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}", **values)
    assert any(named in problem for problem in settings.production_problems())
    with pytest.raises(InsecureSettings) as refused:
        create_app({"database_url": settings.database_url, **values})
    message = str(refused.value)
    assert isinstance(refused.value, ConfigError) and "\n" not in message
    assert message.startswith("拒绝以开发默认密钥在生产环境启动") and named in message and "refusing" in message
    assert REAL_TOKEN not in message and REAL_SECRET not in message


def test_the_simulator_keeps_its_defaults_on_plain_http(tmp_path: Path, no_settings_env: None) -> None:
    settings = Settings.from_env(database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert settings.twilio_auth_token == DEV_AUTH_TOKEN and settings.secret_key == DEV_SECRET_KEY
    assert settings.production_problems() == []
    check_production_settings(settings)
    assert create_app({"database_url": settings.database_url}).test_client().get("/healthz").status_code == 200


def test_production_with_real_secrets_starts(tmp_path: Path) -> None:
    values = {"telephony": "twilio", "twilio_auth_token": REAL_TOKEN, "secret_key": REAL_SECRET,
              "public_base_url": BASE}
    assert Settings(**values).production_problems() == []
    assert create_app({"database_url": f"sqlite:///{tmp_path / 'x.sqlite3'}", **values}).config["SECRET_KEY"] == REAL_SECRET


def test_an_unknown_telephony_value_counts_as_production() -> None:
    assert Settings(telephony="twilo").production_problems()  # a typo must not fall back to the simulator's rules


def test_the_environment_decides_for_create_app(monkeypatch: pytest.MonkeyPatch, no_settings_env: None,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    monkeypatch.setenv("TELEPHONY", "twilio")
    with pytest.raises(InsecureSettings):
        create_app()
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", REAL_TOKEN)
    monkeypatch.setenv("SECRET_KEY", REAL_SECRET)
    assert create_app().config["SETTINGS"].telephony == "twilio"


def refusal(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=clean_env(**PRODUCTION_ENV), capture_output=True, text=True,
                          timeout=60)


def assert_refused(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if "拒绝以开发默认密钥在生产环境启动" in line]
    assert len(lines) == 1 and "TWILIO_AUTH_TOKEN" in lines[0] and "SECRET_KEY" in lines[0]
    assert "Traceback" not in done.stderr


def test_gunicorn_refuses_before_any_worker_starts(tmp_path: Path) -> None:
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "--bind", "127.0.0.1:0",
                "callback.web.app:create_app()"]
    done = refusal(gunicorn, tmp_path)
    assert_refused(done)
    assert "Booting worker" not in done.stderr


@pytest.mark.parametrize("role", ["worker", "beat"])
def test_the_celery_worker_and_beat_refuse(role: str, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "celery", "-A", "worker.celery_app", role, "--loglevel=INFO"]
    if role == "beat":
        command.append(f"--schedule={tmp_path / 'beat-schedule'}")
    assert_refused(refusal(command, tmp_path))


def test_a_forged_opt_out_signed_with_the_published_token_is_rejected(database_url: str, db: Session) -> None:
    """The attack this guards against: a TD text signed with the simulator's published token."""
    app: Flask = create_app({"database_url": database_url, "telephony": "twilio", "twilio_auth_token": REAL_TOKEN,
                             "secret_key": REAL_SECRET, "public_base_url": BASE})
    callback = sms_callback(db)
    phone = phone_of(db, callback)
    assert Citizen(app.test_client(), phone, auth=DEV_AUTH_TOKEN).text("TD").status == 403
    db.expire_all()
    assert db.get(Contact, callback.contact_id).opted_out_at is None
    assert Citizen(app.test_client(), phone, auth=REAL_TOKEN).text("TD").status == 200  # the real token works
    db.expire_all()
    assert db.get(Contact, callback.contact_id).opted_out_at is not None
