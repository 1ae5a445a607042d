"""Fixtures for console tests: the app on the test database, a hall with two windows, and a second hall."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from callback.db import session_factory
from callback.models import Hall, Window
from callback.web.app import create_app
from tests.factories import make_hall, make_window


@dataclass
class Site:
    """The test hall, its windows and a second hall, committed."""

    hall: Hall
    market: Window
    tax: Window
    other_hall: Hall


@pytest.fixture
def site(database_url: str) -> Site:
    with session_factory(database_url).begin() as s:
        hall = make_hall(s, "WF01", "潍坊高新区政务服务中心")
        site = Site(hall, make_window(s, hall, "市场监管窗口"), make_window(s, hall, "税务窗口"),
                    make_hall(s, "OTHER", "另一个中心"))
        make_window(s, site.other_hall, "市场监管窗口")
    return site


@pytest.fixture
def db(database_url: str) -> Iterator[Session]:
    """A session for arranging and checking rows; commit what the app must see."""
    with session_factory(database_url)() as s:
        yield s


@pytest.fixture
def console_app(database_url: str, site: Site) -> Flask:
    return create_app({"database_url": database_url})
