"""Health endpoints for the load balancer and the process manager (README "Running in production").

* ``GET /healthz`` — the process answers: 200 ``ok``.
* ``GET /readyz`` — it can work: the database answers ``SELECT 1`` and, when REDIS_URL is set, Redis answers PING;
  200 ``ok`` or 503 ``not ready``. The body never says more (no URL, no error text); the log names the failing
  dependency and the exception's type only.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from sqlalchemy import text

from callback.config import current_settings
from callback.db import get_engine

bp = Blueprint("health", __name__)
REDIS_TIMEOUT_SECONDS = 2.0


@bp.get("/healthz")
def healthz() -> Response:
    return Response("ok\n", mimetype="text/plain")


@bp.get("/readyz")
def readyz() -> Response:
    ready = database_ready(current_settings().database_url) and redis_ready(current_settings().redis_url)
    return Response("ok\n" if ready else "not ready\n", status=200 if ready else 503, mimetype="text/plain")


def database_ready(url: str) -> bool:
    try:
        with get_engine(url).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 — any failure means "not ready"
        current_app.logger.warning("readyz: database not reachable (%s)", type(exc).__name__)
        return False
    return True


def redis_ready(url: str) -> bool:
    """True when Redis answers PING, or when no REDIS_URL is configured (tasks run inline)."""
    if not url:
        return True
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                                  socket_timeout=REDIS_TIMEOUT_SECONDS)
    try:
        return bool(client.ping())
    except Exception as exc:  # noqa: BLE001
        current_app.logger.warning("readyz: Redis not reachable (%s)", type(exc).__name__)
        return False
    finally:
        client.close()
