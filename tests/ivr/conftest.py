"""Fixtures the telephony tests share: a session, the app with test settings, and plain settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.db import session_factory
from tests.ivr.ivr_support import make_app


@pytest.fixture
def db(database_url: str) -> Iterator[Session]:
    with session_factory(database_url)() as s:
        yield s


@pytest.fixture
def app(database_url: str) -> Flask:
    return make_app(database_url)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, public_base_url="https://hall.example.cn")
