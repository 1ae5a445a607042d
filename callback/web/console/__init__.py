"""The supervision console under /console/ (issue 14): the blueprint and what the app factory installs for it.

Modules: ``auth`` (login, logout, the login guard, ``permission_required`` / ``role_required``, ``in_hall``,
``client_ip``), ``audit`` (``audit(action, entity, entity_id, **detail)``), ``i18n`` (Flask-Babel, the
``localtime`` / ``masked_phone`` / ``role_name`` filters), ``errors`` (Chinese 400/403/404/405/429 pages),
``nav`` (the menu as data), ``forms``, and one module per page (``home``, ``account``, ``admin_users``). A new page is a
module that imports ``bp`` from ``blueprint``, is imported below, and extends ``console/base.html``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect

from callback.db import db_session
from callback.models import Hall
from callback.web.console import (  # noqa: F401  (registers the pages)
    account,
    admin_users,
    assessment,
    auth,
    errors,
    home,
    i18n,
    onsite,
    rectifications,
    results,
    staff_calls,
)
from callback.web.console.blueprint import bp
from callback.web.console.nav import nav_items

# isort: split
# issue 14 §6 (ledger, evaluator, draw) and §8 (administration): registers the pages
from callback.web.console import (  # noqa: F401
    admin_calendar,
    admin_hall,
    admin_prompts,
    admin_tokens,
    draw,
    imports,
    optout_lookup,
)

# isort: split
# issue 14 §2 (this week), §3 (callbacks) and §9 (audit log): registers the pages
from callback.web.console import audit_log, callbacks, dashboard  # noqa: F401

__all__ = ["bp", "csrf", "init_app"]

csrf = CSRFProtect()


def init_app(app: Flask, *, csrf_exempt: tuple[Any, ...] = ()) -> None:
    """Sessions, CSRF, languages and error pages for the console; ``csrf_exempt``: the blueprints that check a
    signature or a token instead (webhooks, the ledger API). Register ``bp`` after this."""
    settings = app.config["SETTINGS"]
    app.config.update(PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_idle_minutes),
                      SESSION_REFRESH_EACH_REQUEST=True, WTF_CSRF_TIME_LIMIT=None)
    auth.login_manager.init_app(app)
    csrf.init_app(app)
    for blueprint in csrf_exempt:
        csrf.exempt(blueprint)
    i18n.init_app(app)
    errors.init_app(app)
    app.context_processor(_context)


def _context() -> dict[str, Any]:
    return {"console_nav": nav_items, "console_hall": _hall}


def _hall() -> Hall | None:
    return db_session().get(Hall, current_user.hall_id) if current_user.is_authenticated else None
