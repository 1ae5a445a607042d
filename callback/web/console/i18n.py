"""Languages and times in the console (issue 14 §10): Flask-Babel with the catalogs in ``callback/web/translations``
(Simplified Chinese message ids; zh_Hant and en catalogs), each user's preferred language, times in the hall's
time zone.

Templates use ``_("…")`` (or ``gettext``) and the filters ``localtime`` and ``masked_phone``; Python code uses
``flask_babel.gettext`` / ``lazy_gettext``, and ``N_`` (callback.accounts.roles) for ids kept as data.
README "Console / 监督工作台" says how to update the catalogs.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask, has_request_context
from flask_babel import Babel
from flask_babel import gettext as _
from flask_login import current_user

from callback.accounts.roles import LANGUAGES, role_label
from callback.config import current_settings
from callback.models.accounts import DEFAULT_LANGUAGE
from survey.privacy import mask_phone

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
# BCP 47 tag (users.language, <html lang>) → the catalog's locale
LOCALES = {"zh-Hans": "zh_Hans", "zh-Hant": "zh_Hant", "en": "en"}
TIME_FORMAT = "%Y-%m-%d %H:%M"

babel = Babel()


def init_app(app: Flask) -> None:
    babel.init_app(app, default_locale=LOCALES[DEFAULT_LANGUAGE], default_translation_directories=str(TRANSLATIONS),
                   default_timezone=app.config["SETTINGS"].timezone, locale_selector=select_locale)
    app.add_template_filter(localtime)
    app.add_template_filter(masked_phone)
    app.add_template_filter(role_name)
    app.add_template_global(language, "console_language")
    app.add_template_global(LANGUAGES, "console_languages")


def language() -> str:
    """The BCP 47 tag of the current user's language; Simplified Chinese before login (and for everyone else)."""
    if has_request_context() and current_user.is_authenticated and current_user.row.language in LOCALES:
        return current_user.row.language
    return DEFAULT_LANGUAGE


def select_locale() -> str:
    return LOCALES[language()]


def localtime(value: datetime | None, fmt: str = TIME_FORMAT) -> str:
    """An aware time in the hall's time zone (Settings TIMEZONE, Asia/Shanghai): ``2026-11-23 14:05``; "—" for
    none."""
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(current_settings().timezone)).strftime(fmt)


def masked_phone(value: str | None) -> str:
    """A phone number as the console shows it: 138****5678 (survey.privacy)."""
    return mask_phone(value) if value else "—"


def role_name(role: str) -> str:
    """A role's name in the user's language."""
    return _(role_label(role))
