"""The console's blueprint, in a module of its own so every page module can import it without a cycle."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console")
