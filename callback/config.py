"""Configuration read once from the environment (12-factor). The variables and their defaults:
README "Configuration (environment)"."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from flask import Flask, current_app

DEFAULT_INSTANCE = Path(os.environ.get("CALLBACK_INSTANCE", Path.cwd() / "instance"))
# Published development values: fine for the local simulator, never for a service that faces a network.
DEV_AUTH_TOKEN = "simulator-auth-token"
DEV_SECRET_KEY = "dev-only-change-me"


class ConfigError(ValueError):
    """Settings the service cannot run with."""


class InsecureSettings(ConfigError):
    """A production deployment still holds a development secret. The message is one line, Chinese first."""


def _default_database_url() -> str:
    return f"sqlite:///{DEFAULT_INSTANCE / 'callback.sqlite3'}"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


@dataclass(frozen=True)
class Settings:
    """All settings the service reads. Defaults give the embedded mode: SQLite, inline tasks, simulator."""

    database_url: str = field(default_factory=_default_database_url)
    redis_url: str = ""
    telephony: str = "simulator"
    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: str = DEV_AUTH_TOKEN
    twilio_from: str = "+861080000000"
    twilio_api_url: str = ""
    public_base_url: str = "http://127.0.0.1:5000"
    secret_key: str = DEV_SECRET_KEY
    timezone: str = "Asia/Shanghai"
    call_hours: str = "09:00-11:30,14:00-17:30"
    call_days: str = "workdays"
    sms_hours: str = "08:00-20:00"
    call_retry_minutes: int = 120
    call_attempts: int = 3
    calls_per_second: float = 1.0
    contact_cooldown_days: int = 30
    sms_survey_hours: int = 48
    deny_list: str = ""
    tts_voice: str = "Polly.Zhiyu"
    tts_language: str = "cmn-CN"
    speech_language: str = "cmn-Hans-CN"
    default_hall: str = "DEMO"
    max_content_length: int = 10 * 1024 * 1024  # bytes of a ledger API request body (larger → 413)
    # retention (个人信息保护法 最小必要; callback/retention): recordings deleted after this many days, citizens'
    # numbers and names on finished callbacks and old cases replaced by a keyed hash after this many
    retention_recordings_days: int = 90
    retention_personal_days: int = 365
    retention_key: str = ""  # the hash key; SECRET_KEY when unset. Never change it once a purge has run
    # e-mail alerts to supervisors (callback/rectification/alerts.py): no SMTP_HOST, no e-mail (SMS and the log
    # still carry them); port 465 is implicit TLS, otherwise STARTTLS when offered; a login when SMTP_USER is set
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "callback@localhost"
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    # the console (callback/web/console): an idle session ends after SESSION_IDLE_MINUTES; LOGIN_MAX_FAILURES
    # wrong passwords lock an account for LOGIN_LOCK_MINUTES, and LOGIN_IP_MAX_FAILURES failures from one address
    # within that time refuse it (an office behind one address shares it, hence higher); TRUSTED_PROXIES: how many
    # proxies (nginx) stand in front, whose X-Forwarded-For names the client's address
    session_idle_minutes: int = 480
    login_max_failures: int = 5
    login_lock_minutes: int = 15
    login_ip_max_failures: int = 20
    trusted_proxies: int = 0

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _coerce(f.type, raw)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def is_production(self) -> bool:
        """Real telephony, or a public https address: anything but the local simulator on plain http."""
        return self.telephony != "simulator" or self.public_base_url.lower().startswith("https://")

    def production_problems(self) -> list[str]:
        """The development secrets this deployment still holds; empty when it may start (docs/architecture.md
        §Privacy and security).

        With ``TELEPHONY=simulator`` on plain http the defaults are fine: the simulator signs with the same
        published token, and nothing outside the machine can reach the service."""
        if not self.is_production:
            return []
        problems = []
        if self.twilio_auth_token in ("", DEV_AUTH_TOKEN):
            problems.append("TWILIO_AUTH_TOKEN 未设置或仍为模拟器令牌 (TWILIO_AUTH_TOKEN unset or the simulator's)")
        if self.secret_key in ("", DEV_SECRET_KEY):
            problems.append("SECRET_KEY 未设置或仍为默认值 (SECRET_KEY unset or the default)")
        return problems


def check_production_settings(settings: Settings) -> None:
    """Raise InsecureSettings when a production deployment (real telephony or an https PUBLIC_BASE_URL) still
    holds a development secret: a forged webhook signed with the published token would otherwise be accepted.
    The one place web app, ``callback serve``, gunicorn and the Celery worker ask."""
    problems = settings.production_problems()
    if problems:
        raise InsecureSettings("拒绝以开发默认密钥在生产环境启动：" + "；".join(problems)
                               + " (refusing to start in production with development secrets)")


def init_app(app: Flask, settings: Settings) -> None:
    app.config["SETTINGS"] = settings


def current_settings() -> Settings:
    """The settings of the app handling this request (what ``init_app`` stored)."""
    return current_app.config["SETTINGS"]


def _coerce(type_name: object, raw: str) -> object:
    if type_name in ("int", int):
        return int(raw)
    if type_name in ("float", float):
        return float(raw)
    return raw
