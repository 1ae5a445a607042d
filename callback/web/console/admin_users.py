"""The administrator's users page (issue 14 §8): the hall's accounts, a new account, disabling and enabling one.
Every change is audited by the account services, with the administrator and their address."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from callback.accounts.roles import LANGUAGES, N_, ROLE_LABELS, Action, Role
from callback.accounts.services import AccountError, NewUser, actor_of, create_user, list_users, set_active
from callback.db import db_session
from callback.models import Hall, User, Window
from callback.web.console import clock
from callback.web.console.auth import client_ip, in_hall, permission_required
from callback.web.console.blueprint import bp
from callback.web.console.forms import UserCreateForm


@bp.route("/admin/users", methods=["GET", "POST"])
@permission_required(Action.ADMIN_USERS)
def admin_users() -> Any:
    session = db_session()
    hall = session.get(Hall, current_user.hall_id)
    form = _create_form(session, hall)
    if form.validate_on_submit():
        try:
            user = create_user(session, hall, _new_user(form), actor=_actor(), at=clock.now(),
                               by=current_user.row, ip=client_ip())
        except AccountError as exc:
            session.rollback()
            form.form_errors.append(_(exc.message_id, **exc.params))
        else:
            session.commit()
            flash(_("已新建账号 %(username)s", username=user.username), "success")
            return redirect(url_for("console.admin_users"))
    return _page(session, hall, form), 400 if form.is_submitted() else 200


def _page(session: Any, hall: Hall, form: UserCreateForm) -> str:
    windows = {w.id: w.name for w in session.scalars(select(Window).where(Window.hall_id == hall.id))}
    return render_template("console/admin_users.html", users=list_users(session, hall), windows=windows,
                           form=form, now=clock.now())


def _create_form(session: Any, hall: Hall) -> UserCreateForm:
    form = UserCreateForm()
    form.role.choices = [(role.value, _(label)) for role, label in ROLE_LABELS.items()]
    names = session.scalars(select(Window.name).where(Window.hall_id == hall.id).order_by(Window.name))
    form.window.choices = [("", _("（不关联窗口）"))] + [(name, name) for name in names]
    form.language.choices = list(LANGUAGES.items())
    return form


def _new_user(form: UserCreateForm) -> NewUser:
    return NewUser(username=form.username.data or "", password=form.password.data or "",
                   role=_role(form.role.data), display_name=form.display_name.data,
                   window=form.window.data or None, desk_phone=form.desk_phone.data or None,
                   language=form.language.data or "zh-Hans")


def _role(value: str | None) -> Role:
    try:
        return Role(value or "")
    except ValueError:
        raise AccountError(N_("请选择角色")) from None


def _actor() -> str:
    return actor_of(current_user.row)


@bp.route("/admin/users/<int:user_id>/disable", methods=["POST"])
@permission_required(Action.ADMIN_USERS)
def admin_user_disable(user_id: int) -> Any:
    return _set_active(user_id, False)


@bp.route("/admin/users/<int:user_id>/enable", methods=["POST"])
@permission_required(Action.ADMIN_USERS)
def admin_user_enable(user_id: int) -> Any:
    return _set_active(user_id, True)


def _set_active(user_id: int, active: bool) -> Any:
    user: User = in_hall(User, user_id)
    if user.id == current_user.id and not active:
        flash(_("不能停用自己正在使用的账号"), "error")
        return redirect(url_for("console.admin_users"))
    if set_active(db_session(), user, active, actor=_actor(), at=clock.now(), by=current_user.row, ip=client_ip()):
        db_session().commit()
        if active:
            flash(_("已启用账号 %(username)s", username=user.username), "success")
        else:
            flash(_("已停用账号 %(username)s，其会话随即失效", username=user.username), "success")
    return redirect(url_for("console.admin_users"))
