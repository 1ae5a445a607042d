"""The console's home page: who is logged in and where they can go (the week's dashboard is a page of its own)."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_login import current_user

from callback.accounts.roles import Action
from callback.db import db_session
from callback.models import Window
from callback.web.console.auth import permission_required
from callback.web.console.blueprint import bp


@bp.route("/")
@permission_required(Action.HOME)
def home() -> Any:
    window = db_session().get(Window, current_user.window_scope) if current_user.window_scope else None
    return render_template("console/home.html", window_name=window.name if window else None)
