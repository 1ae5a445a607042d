"""/healthz (the process answers) and /readyz (database and, when configured, Redis reachable); their bodies say
ok / not ready and nothing else (README "Running in production")."""

from __future__ import annotations

import logging

import pytest

from callback.web.app import create_app

UNREACHABLE_DB = "postgresql://callback:secret-password@127.0.0.1:1/callback"
UNREACHABLE_REDIS = "redis://:secret-password@127.0.0.1:1/0"


def get(path: str, **config: str) -> tuple[int, str]:
    response = create_app(config).test_client().get(path)
    assert response.mimetype == "text/plain"
    return response.status_code, response.get_data(as_text=True)


def test_healthz_says_ok_whatever_the_database(database_url: str) -> None:
    assert get("/healthz", database_url=database_url) == (200, "ok\n")
    assert get("/healthz", database_url=UNREACHABLE_DB) == (200, "ok\n")


def test_readyz_is_ok_when_the_database_answers(database_url: str) -> None:
    assert get("/readyz", database_url=database_url) == (200, "ok\n")


def test_readyz_is_503_when_the_database_is_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    assert get("/readyz", database_url=UNREACHABLE_DB) == (503, "not ready\n")
    assert "database" in caplog.text and "secret-password" not in caplog.text


def test_readyz_checks_redis_when_it_is_configured(database_url: str, redis_url: str,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    assert get("/readyz", database_url=database_url, redis_url=redis_url) == (200, "ok\n")
    assert get("/readyz", database_url=database_url, redis_url=UNREACHABLE_REDIS) == (503, "not ready\n")
    assert "Redis" in caplog.text and "secret-password" not in caplog.text
