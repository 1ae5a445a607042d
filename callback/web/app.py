"""Flask application factory (flaskr style): configuration read once, every blueprint registered here by name.

Production: ``gunicorn -c gunicorn.conf.py 'callback.web.app:create_app()'`` (README "Running in production").
``create_app`` raises ``InsecureSettings`` when a production deployment still holds a development secret.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from callback import config, db
from callback.config import Settings, check_production_settings
from callback.web import api, board, console, health, security
from ivr import sms, voice
from ivr.provider import get_provider


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The web app for the environment's settings (``test_config`` overrides them); raises InsecureSettings."""
    settings = Settings.from_env(**(test_config or {}))
    check_production_settings(settings)
    app = Flask(__name__, instance_relative_config=False)
    config.init_app(app, settings)
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    db.init_app(app, settings.database_url)
    # the telephony adapter TELEPHONY names, built when a page needs it (the console streams recordings through
    # it, with the provider's credentials); tests put a MockProvider factory here, as the CLI's ctx.meta does
    app.config["PROVIDER_FACTORY"] = get_provider
    security.init_app(app, https=settings.public_base_url.lower().startswith("https://"))
    if settings.trusted_proxies:  # the client's address as nginx forwarded it (the console's login throttle)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]
    # the console: sessions, CSRF on every form except the blueprints that check a signature or a token instead
    console.init_app(app, csrf_exempt=(api.bp, voice.bp, sms.bp))
    for blueprint in (api.bp, board.bp, health.bp, voice.bp, sms.bp, console.bp):
        app.register_blueprint(blueprint)
    return app
