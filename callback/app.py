"""Flask application factory (flaskr style): configuration read once, blueprints registered here.

Production: ``gunicorn -c gunicorn.conf.py 'callback.app:create_app()'`` (README "Running in production").
``create_app`` raises ``InsecureSettings`` when a production deployment still holds a development secret.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from callback import web_security
from callback.config import Settings, check_production_settings
from callback.db import autocommit_engine, session_factory


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The web app for the environment's settings (``test_config`` overrides them); raises InsecureSettings."""
    settings = Settings.from_env(**(test_config or {}))
    check_production_settings(settings)
    app = Flask(__name__, instance_relative_config=False)
    app.config["SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["sessionmaker"] = session_factory(settings.database_url)
    app.teardown_appcontext(_close_session)
    web_security.init_app(app, https=settings.public_base_url.lower().startswith("https://"))
    _register_blueprints(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from callback.api import bp as api_bp
    from callback.board import bp as board_bp
    from callback.health import bp as health_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(board_bp)
    app.register_blueprint(health_bp)
    for module_name in ("ivr.voice", "ivr.sms"):
        _register_optional(app, module_name)


def _register_optional(app: Flask, module_name: str) -> None:
    """Telephony blueprints live in ivr/; register them when that package provides them."""
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return
    app.register_blueprint(module.bp)


def settings() -> Settings:
    from flask import current_app

    return current_app.config["SETTINGS"]


def autocommit_db() -> Engine:
    """The pool of autocommit connections for the hot paths that run one statement per request."""
    return autocommit_engine(settings().database_url)


def db_session() -> Session:
    """The request's session; one transaction per request, committed by the view."""
    from flask import current_app

    if "db_session" not in g:
        g.db_session = current_app.extensions["sessionmaker"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
