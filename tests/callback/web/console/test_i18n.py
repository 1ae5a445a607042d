"""Every console text is in the message catalogs (issue 14 §10): zh-Hans by default, zh-Hant and English by the
user's preference, the compiled catalogs up to date, times in Asia/Shanghai."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask
from sqlalchemy.orm import Session

from callback.accounts.roles import Role
from callback.web.console.i18n import LOCALES, TRANSLATIONS, localtime
from tests.callback.web.console.helpers import login, make_user, text_of

ROOT = Path(__file__).resolve().parents[4]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The message ids in the sources, extracted as scripts/translations.sh does."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), "extract", "-F", "babel.cfg", "-k", "N_", "-k", "_l", "--no-location",
                    "-o", str(pot), "."], cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as f:
        ids = {m.id for m in read_po(f) if m.id}
    assert len(ids) > 100 and "用户名或密码错误" in ids and "督查科" in ids
    return ids


def _catalog(locale: str, kind: str = "po") -> dict[str, str]:
    path = TRANSLATIONS / locale / "LC_MESSAGES" / f"messages.{kind}"
    with path.open("rb") as f:
        catalog = read_po(f) if kind == "po" else read_mo(f)
    return {m.id: m.string for m in catalog if m.id}


@pytest.mark.parametrize("locale", sorted(LOCALES.values()))
def test_every_text_is_translated_with_the_same_placeholders(extracted: set[str], locale: str) -> None:
    catalog = _catalog(locale)
    missing = sorted(i for i in extracted if not catalog.get(i))
    assert missing == [], f"run scripts/translations.sh and fill in {locale}"
    for msgid in extracted:
        assert set(PLACEHOLDER.findall(catalog[msgid])) == set(PLACEHOLDER.findall(msgid)), msgid


@pytest.mark.parametrize("locale", sorted(LOCALES.values()))
def test_the_compiled_catalog_is_the_catalog(locale: str) -> None:
    assert _catalog(locale, "mo") == {k: v for k, v in _catalog(locale).items() if v}, "run scripts/translations.sh"


def test_simplified_chinese_is_the_catalogs_own_text() -> None:
    assert all(msgid == text for msgid, text in _catalog("zh_Hans").items())


@pytest.mark.parametrize(("language", "expected", "absent"), [
    ("zh-Hans", ["您好，", "退出登录", "督查科", "本次登录"], ["Log out"]),
    ("zh-Hant", ["您好，", "退出登錄", "督查科", "本次登錄"], ["退出登录"]),
    ("en", ["Hello,", "Log out", "Supervisor", "Logged in"], ["退出登录"]),
])
def test_the_console_speaks_the_users_language(console_app: Flask, db: Session, site, language: str,  # noqa: ANN001
                                               expected: list[str], absent: list[str]) -> None:
    make_user(db, site.hall, Role.SUPERVISOR, username="u1", language=language)
    db.commit()
    client = console_app.test_client()
    login(client, "u1")
    html = client.get("/console/").get_data(as_text=True)
    assert f'<html lang="{language}">' in html
    text = text_of(html)
    assert all(e in text for e in expected) and not any(a in text for a in absent)


def test_before_login_the_console_speaks_simplified_chinese(console_app: Flask) -> None:
    response = console_app.test_client().get("/console/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "登录监督工作台" in text_of(response.get_data(as_text=True))


def test_errors_are_translated_too(console_app: Flask, db: Session, site) -> None:  # noqa: ANN001
    make_user(db, site.hall, Role.LEADER, username="u2", language="en")
    db.commit()
    client = console_app.test_client()
    login(client, "u2")
    assert "Access denied" in text_of(client.get("/console/admin/users").get_data(as_text=True))


def test_times_are_shown_in_asia_shanghai(console_app: Flask) -> None:
    with console_app.app_context():
        assert localtime(datetime(2026, 11, 2, 16, 30, tzinfo=UTC)) == "2026-11-03 00:30"
        assert localtime(None) == "—"
