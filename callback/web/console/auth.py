"""Logging in and out of the console, and who may see what (issue 14 §1; docs/architecture.md §Privacy and security).

* Every console page needs a login: ``require_login`` runs before each request of the blueprint, so a page is
  protected even when its author forgets a decorator (only ``PUBLIC_ENDPOINTS`` are exempt). ``login_required`` is
  re-exported for symmetry.
* ``permission_required(Action.X)`` (or ``role_required(Role.A, …)``) refuses the wrong role with 403; a page looks
  objects up with ``in_hall`` (404 for another hall's) and asks ``current_user.window_scope`` where a role sees
  only its window.
* A session ends after ``SESSION_IDLE_MINUTES`` without a request (checked on the server from the time of the last
  request kept in the signed session, not only by the cookie's expiry), when the account is disabled, and when its
  password changes (the session is bound to a fingerprint of the password hash).
* The login throttle and its audit events are ``callback.accounts.services.authenticate``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from callback.accounts.roles import Action, Role, can
from callback.accounts.services import (
    LoginOutcome,
    LoginPolicy,
    LoginResult,
    authenticate,
    record_logout,
    window_scope,
)
from callback.config import current_settings
from callback.db import db_session
from callback.models import User
from callback.web.console import clock
from callback.web.console.blueprint import bp
from callback.web.console.forms import LoginForm

__all__ = ["ConsoleUser", "client_ip", "in_hall", "login_manager", "login_required", "permission_required",
           "role_required"]

PUBLIC_ENDPOINTS = frozenset({"console.login"})
SEEN = "console_seen"  # the session key holding the time of the last request (seconds since the epoch)
F = TypeVar("F", bound=Callable[..., Any])

login_manager = LoginManager()
login_manager.login_view = "console.login"
login_manager.login_message = _l("请先登录")
login_manager.login_message_category = "info"


class ConsoleUser(UserMixin):
    """The logged-in account as Flask-Login sees it; ``row`` is the ``User`` in this request's session."""

    def __init__(self, row: User) -> None:
        self.row = row

    def get_id(self) -> str:
        return session_id(self.row)

    @property
    def is_active(self) -> bool:
        return self.row.active

    @property
    def id(self) -> int:
        return self.row.id

    @property
    def hall_id(self) -> int:
        return self.row.hall_id

    @property
    def role(self) -> str:
        return self.row.role

    @property
    def window_scope(self) -> int | None:
        """The one window this user sees (window lead, staff), or None for the whole hall."""
        return window_scope(self.row)

    def can(self, action: Action) -> bool:
        return can(self.row.role, action)


def session_id(row: User) -> str:
    """What the session stores: the user id and a fingerprint of the password hash, so a new password (or a
    reset by an administrator) ends every session of the old one."""
    fingerprint = hashlib.sha256(row.password_hash.encode()).hexdigest()[:16]
    return f"{row.id}:{fingerprint}"


@login_manager.user_loader
def load_user(value: str) -> ConsoleUser | None:
    user_id, _sep, fingerprint = value.partition(":")
    if not user_id.isdigit():
        return None
    row = db_session().get(User, int(user_id))
    if row is None or not row.active or session_id(row) != f"{user_id}:{fingerprint}":
        return None
    return ConsoleUser(row)


def client_ip() -> str | None:
    """The client's address (behind TRUSTED_PROXIES proxies, the one they forwarded: ProxyFix in the app)."""
    return request.remote_addr


# --- the guards -----------------------------------------------------------------------------------------------------


@bp.before_request
def require_login() -> Response | None:
    """Every console request but the login page: a login, a session not idle too long; refreshes the idle
    clock."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    now = int(clock.now().timestamp())
    seen = session.get(SEEN)
    if not isinstance(seen, int) or now - seen > current_settings().session_idle_minutes * 60:
        return _expire()
    session[SEEN] = now
    return None


def _expire() -> Response:
    record_logout(db_session(), current_user.row, at=clock.now(), ip=client_ip(), reason="session_expired")
    db_session().commit()
    logout_user()
    session.clear()
    flash(_("登录已超时，请重新登录"), "info")
    return redirect(url_for("console.login", next=_here()))


def _here() -> str:
    return request.full_path.rstrip("?") if request.method == "GET" else url_for("console.home")


def permission_required(*actions: Action) -> Callable[[F], F]:
    """The view needs a login and one of ``actions`` (callback.accounts.roles.PERMISSIONS); otherwise 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not any(current_user.can(action) for action in actions):
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def role_required(*roles: Role) -> Callable[[F], F]:
    """The view needs a login and one of ``roles``; otherwise 403. Prefer ``permission_required``: the table
    in callback.accounts.roles then stays the one place that says who may do what."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in {role.value for role in roles}:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def in_hall(model: type, object_id: int) -> Any:
    """The row of ``model`` with this id in the current user's hall, or 404 (another hall's row is as missing
    as one that does not exist)."""
    row = db_session().get(model, object_id)
    if row is None or getattr(row, "hall_id", None) != current_user.hall_id:
        abort(404)
    return row


# --- the pages ------------------------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("console.home"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("console/login.html", form=form), 400 if request.method == "POST" else 200
    result = authenticate(db_session(), form.username.data or "", form.password.data or "", ip=client_ip(),
                          at=clock.now(), policy=LoginPolicy.from_settings(current_settings()))
    db_session().commit()  # a failure is counted even though the login is refused
    if not result.ok:
        error, status = refusal_message(result)
        return render_template("console/login.html", form=form, error=error), status
    session.clear()  # nothing from before the login carries over
    login_user(ConsoleUser(result.user))  # type: ignore[arg-type]
    session.permanent = True
    session[SEEN] = int(clock.now().timestamp())
    return redirect(safe_next(request.args.get("next")) or url_for("console.home"))


def refusal_message(result: LoginResult) -> tuple[str, int]:
    """The one line a refused login shows, and its status. A wrong password and an unknown user read the same."""
    if result.outcome is LoginOutcome.BAD_CREDENTIALS:
        return _("用户名或密码错误"), 401
    from callback.web.console.i18n import localtime

    when = localtime(result.retry_after)
    if result.outcome is LoginOutcome.LOCKED:
        return _("登录失败次数过多，账号已暂时锁定，请于 %(time)s 后再试", time=when), 429
    return _("此地址登录失败次数过多，请于 %(time)s 后再试", time=when), 429


def safe_next(target: str | None) -> str | None:
    """``next`` only when it is a console path of this site (never another host: no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or not parts.path.startswith("/console/"):
        return None
    return target


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    record_logout(db_session(), current_user.row, at=clock.now(), ip=client_ip())  # CSRF was checked first
    db_session().commit()
    logout_user()
    session.clear()
    flash(_("您已退出登录"), "info")
    return redirect(url_for("console.login"))
