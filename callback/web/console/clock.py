"""The console's clock: one function, so tests can move time (session timeout, lockouts)."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)
