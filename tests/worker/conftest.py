"""Fixtures the worker tests share."""

from __future__ import annotations

import pytest

from tests.worker.celery_process import truncate_all


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """PostgreSQL only, emptied with ids restarted: the worker is another process, and the test reads what it
    wrote (SKIP LOCKED and row locks need a real server)."""
    truncate_all(pg_database)
    return pg_database
