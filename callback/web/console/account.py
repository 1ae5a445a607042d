"""One's own account: the language the console speaks, and a new password (the current one first). Every role
has this page; both changes are audited. A new password ends the account's other sessions and keeps this one."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_user

from callback.accounts.roles import LANGUAGES, Action
from callback.accounts.services import AccountError, actor_of, check_own_password, set_language, set_password
from callback.db import db_session
from callback.models import Window
from callback.web.console import clock
from callback.web.console.audit import audit
from callback.web.console.auth import ConsoleUser, client_ip, permission_required
from callback.web.console.blueprint import bp
from callback.web.console.forms import LanguageForm, PasswordForm


@bp.route("/account")
@permission_required(Action.OWN_ACCOUNT)
def account() -> Any:
    return _page(_language_form(), PasswordForm(prefix="pw"))


@bp.route("/account/language", methods=["POST"])
@permission_required(Action.OWN_ACCOUNT)
def account_language() -> Any:
    form = _language_form()
    try:
        changed = set_language(db_session(), current_user.row, form.language.data or "", at=clock.now(),
                               by=current_user.row, ip=client_ip())
    except AccountError as exc:
        form.language.errors = [_(exc.message_id, **exc.params)]
        return _page(form, PasswordForm(prefix="pw")), 400
    db_session().commit()
    if changed:
        refresh()  # the message in the new language
        flash(_("界面语言已更改"), "success")
    return redirect(url_for("console.account"))


@bp.route("/account/password", methods=["POST"])
@permission_required(Action.OWN_ACCOUNT)
def account_password() -> Any:
    form = PasswordForm(prefix="pw")
    if form.validate_on_submit():
        if _change_password(form):
            flash(_("密码已修改；其他设备上的登录已失效"), "success")
            return redirect(url_for("console.account"))
    return _page(_language_form(), form), 400


def _change_password(form: PasswordForm) -> bool:
    user = current_user.row
    if not check_own_password(user, form.current.data or ""):
        form.current.errors = [_("当前密码不正确")]
        audit("password_change_refused", "user", user.id, reason="wrong_current_password")
        db_session().commit()
        return False
    try:
        set_password(db_session(), user, form.password.data or "", actor=actor_of(user), at=clock.now(), by=user,
                     ip=client_ip())
    except AccountError as exc:
        form.password.errors = [_(exc.message_id, **exc.params)]
        return False
    db_session().commit()
    login_user(ConsoleUser(user))  # this session follows the new password; the others end
    return True


def _language_form() -> LanguageForm:
    form = LanguageForm(language=current_user.row.language)
    form.language.choices = list(LANGUAGES.items())
    return form


def _page(language: LanguageForm, password: PasswordForm) -> str:
    window = db_session().get(Window, current_user.row.window_id) if current_user.row.window_id else None
    return render_template("console/account.html", language_form=language, password_form=password,
                           window_name=window.name if window else None)
