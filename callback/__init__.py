"""The callback application: models, ledger import, draw, calendar, rectification, reports, web app and CLI."""

from callback.app import create_app

__all__ = ["create_app"]
