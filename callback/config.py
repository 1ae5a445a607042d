"""Configuration read once from the environment (12-factor, DESIGN.md §5)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

DEFAULT_INSTANCE = Path(os.environ.get("CALLBACK_INSTANCE", Path.cwd() / "instance"))


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
    twilio_auth_token: str = "simulator-auth-token"
    twilio_from: str = "+861080000000"
    twilio_api_url: str = ""
    public_base_url: str = "http://127.0.0.1:5000"
    secret_key: str = "dev-only-change-me"
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


def _coerce(type_name: object, raw: str) -> object:
    if type_name in ("int", int):
        return int(raw)
    if type_name in ("float", float):
        return float(raw)
    return raw
