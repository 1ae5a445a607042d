"""What console tests share (this folder's and the page tests other helpers add): accounts, a logged-in client,
the CSRF token of a page, and a small HTML reader.

    user = make_user(session, hall, Role.SUPERVISOR)           # password PASSWORD
    client = console_app.test_client(); login(client, user.username)
    client.post(url, data={"csrf_token": csrf_token(client, page_url), ...})
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from callback.accounts.roles import Role
from callback.accounts.services import NewUser, create_user
from callback.models import Hall, User

PASSWORD = "correct-horse-9"
CREATED_AT = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
_seq = itertools.count(1)
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def make_user(session: Session, hall: Hall, role: Role = Role.SUPERVISOR, *, username: str | None = None,
              window: str | None = None, password: str = PASSWORD, language: str = "zh-Hans",
              phone: str | None = None, name: str | None = None) -> User:
    """A real account through the service (scrypt hash, audit row); flushed, not committed."""
    new = NewUser(username=username or f"{role.value}{next(_seq)}", password=password, role=role,
                  display_name=name, window=window, desk_phone=phone, language=language)
    return create_user(session, hall, new, actor="tests", at=CREATED_AT)


def csrf_token(client: FlaskClient, page: str = "/console/login") -> str:
    """The CSRF token a form on ``page`` carries (the session's token, so any form's works for any POST)."""
    match = _TOKEN.search(client.get(page).get_data(as_text=True))
    assert match, f"no CSRF token on {page}"
    return unescape(match.group(1))


def login(client: FlaskClient, username: str, password: str = PASSWORD, **environ: str):  # noqa: ANN201
    """POST the login form as a browser would (token from the login page); the response, not followed."""
    token = csrf_token(client)
    return client.post("/console/login", data={"csrf_token": token, "username": username, "password": password},
                       environ_base=environ)


def text_of(html: str) -> str:
    """The visible text of a page, whitespace collapsed (no tags, no attribute values)."""

    class _Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.parts: list[str] = []
            self.skip = 0

        def handle_starttag(self, tag: str, attrs: object) -> None:
            self.skip += tag in ("script", "style", "title")

        def handle_endtag(self, tag: str) -> None:
            self.skip -= tag in ("script", "style", "title")

        def handle_data(self, data: str) -> None:
            if not self.skip:
                self.parts.append(data)

    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())
