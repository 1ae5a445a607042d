"""The administrator's hall page (issue 14 §8): the hall's name (the IVR greets with it, the SMS survey signs with
it, the board shows it), its windows and their role (篇3 七9: 综合受理 / 出件 / 其他), its staff (name, 工号,
window) and the supervisors who receive its alerts (mobiles masked). Every change goes through the feature's
service — callback.halls.services, callback.halls.windows, callback.halls.staff, callback.rectification.alerts —
which writes the audit event; ``attribution.acting`` puts the administrator's account and address on it.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from callback.accounts.roles import N_, Action
from callback.db import db_session
from callback.halls.services import NAME_MAX, HallNameError, set_hall_name
from callback.halls.staff import StaffChange, StaffError, add_staff, list_staff, update_staff
from callback.halls.windows import WindowRoleError, set_window_role
from callback.models import Hall, Staff, Window
from callback.models.ledger import WINDOW_ROLES
from callback.models.rectification import ALERT_KINDS, AlertRecipient
from callback.rectification.alerts import AlertConfigError, add_recipient, list_recipients, remove_recipient
from callback.web.console import clock
from callback.web.console.attribution import acting
from callback.web.console.auth import in_hall, permission_required
from callback.web.console.blueprint import bp

ROLE_LABELS = {"comprehensive": N_("综合受理"), "issuing": N_("出件"), "other": N_("其他")}
KIND_LABELS = {"integrity": N_("廉洁问题反映（立即）"), "due_tomorrow": N_("整改明日到期"),
               "overdue": N_("整改超期未反馈（每个工作日）")}
assert set(ROLE_LABELS) == set(WINDOW_ROLES) and set(KIND_LABELS) == set(ALERT_KINDS)  # noqa: S101 - a typo fails at import


class HallNameForm(FlaskForm):
    name = StringField(_l("中心名称"), validators=[DataRequired(message=_l("请输入中心名称")), Length(max=NAME_MAX)],
                       description=_l("语音回访的问候（您好，这里是……）、短信签名和公示屏都使用这个名称，下一通电话起生效"))


class WindowRoleForm(FlaskForm):
    role = SelectField(_l("窗口类型"), choices=[(key, _l(label)) for key, label in ROLE_LABELS.items()])


class StaffForm(FlaskForm):
    name = StringField(_l("姓名"), validators=[DataRequired(message=_l("请输入姓名")), Length(max=200)],
                       description=_l("与台账中的经办人姓名一致：导入台账时按姓名找到经办人"))
    staff_no = StringField(_l("工号"), validators=[Optional(), Length(max=64)],
                           description=_l("评价器数据按工号找到经办人；本中心内不能重复"))
    window = SelectField(_l("窗口"), validate_choice=False)


class RecipientForm(FlaskForm):
    name = StringField(_l("姓名"), validators=[DataRequired(message=_l("请输入姓名")), Length(max=100)],
                       description=_l("已有同名的接收人时，修改其设置"))
    mobile = StringField(_l("手机号码"), validators=[Optional(), Length(max=32)],
                         description=_l("接收短信提醒；修改已有接收人时留空则保留原号码"),
                         render_kw={"inputmode": "tel", "autocomplete": "off"})
    email = StringField(_l("电子邮箱"), validators=[Optional(), Length(max=254)],
                        render_kw={"inputmode": "email", "autocomplete": "off"})
    kinds = SelectMultipleField(_l("接收哪些提醒"), choices=[(key, _l(label)) for key, label in KIND_LABELS.items()],
                                default=list(ALERT_KINDS), widget=ListWidget(prefix_label=False),
                                option_widget=CheckboxInput())


@bp.route("/admin/hall", methods=["GET", "POST"])
@permission_required(Action.ADMIN_HALL)
def admin_hall() -> Any:
    session, hall = _hall()
    form = HallNameForm(data={"name": hall.name} if request.method == "GET" else None)
    if not form.validate_on_submit():
        return _page(session, hall, name_form=form, status=400 if form.is_submitted() else 200)
    try:
        with acting(session) as actor:
            result = set_hall_name(session, hall.code, form.name.data, clock.now(), actor=actor)
    except HallNameError as exc:
        session.rollback()
        form.name.errors.append(str(exc))
        return _page(session, hall, name_form=form, status=400)
    session.commit()
    if result.changed:
        flash(_("中心名称已改为「%(name)s」，下一通回访电话、短信和公示屏起使用新名称", name=result.hall.name), "success")
    return redirect(url_for("console.admin_hall"))


def _hall() -> tuple[Session, Hall]:
    session = db_session()
    return session, session.get(Hall, current_user.hall_id)


def _page(session: Session, hall: Hall, *, status: int = 200, **forms: FlaskForm) -> Any:
    windows = sorted(session.scalars(select(Window).where(Window.hall_id == hall.id)), key=lambda w: w.name)
    staff_form = forms.get("staff_form") or StaffForm(formdata=None)
    staff_form.window.choices = _window_choices(windows)
    return render_template(
        "console/admin_hall.html", hall=hall, windows=windows, window_names={w.id: w.name for w in windows},
        staff=list_staff(session, hall), recipients=list_recipients(session, hall),
        name_form=forms.get("name_form") or HallNameForm(data={"name": hall.name}),
        role_forms={w.id: WindowRoleForm(formdata=None, data={"role": w.role}, prefix=f"w{w.id}") for w in windows},
        staff_form=staff_form, recipient_form=forms.get("recipient_form") or RecipientForm(formdata=None),
        role_labels=ROLE_LABELS, kind_labels=KIND_LABELS), status


def _window_choices(windows: list[Window]) -> list[tuple[str, str]]:
    return [("", _("（未登记窗口）"))] + [(str(w.id), w.name) for w in windows]


# --- windows --------------------------------------------------------------------------------------------------------


@bp.route("/admin/hall/windows/<int:window_id>/role", methods=["POST"])
@permission_required(Action.ADMIN_HALL)
def admin_window_role(window_id: int) -> Any:
    session, hall = _hall()
    window: Window = in_hall(Window, window_id)
    form = WindowRoleForm(prefix=f"w{window.id}")
    if not form.validate_on_submit():
        flash(_("请选择窗口类型"), "error")
        return redirect(url_for("console.admin_hall", _anchor="windows"))
    try:
        with acting(session) as actor:
            _row, previous = set_window_role(session, hall, window.name, form.role.data, clock.now(), actor=actor)
    except WindowRoleError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("console.admin_hall", _anchor="windows"))
    session.commit()
    if previous != form.role.data:
        flash(_("%(window)s 已设为%(role)s窗口", window=window.name, role=_(ROLE_LABELS[form.role.data])), "success")
    return redirect(url_for("console.admin_hall", _anchor="windows"))


# --- staff ----------------------------------------------------------------------------------------------------------


@bp.route("/admin/hall/staff", methods=["POST"])
@permission_required(Action.ADMIN_HALL)
def admin_staff_add() -> Any:
    session, hall = _hall()
    form = StaffForm()
    if form.validate_on_submit():
        try:
            with acting(session) as actor:
                member = add_staff(session, hall, _change(form), clock.now(), actor=actor)
        except StaffError as exc:
            session.rollback()
            form.form_errors.append(str(exc))
        else:
            session.commit()
            flash(_("已添加经办人 %(name)s", name=member.name), "success")
            return redirect(url_for("console.admin_hall", _anchor="staff"))
    return _page(session, hall, staff_form=form, status=400)


@bp.route("/admin/hall/staff/<int:staff_id>", methods=["GET", "POST"])
@permission_required(Action.ADMIN_HALL)
def admin_staff_edit(staff_id: int) -> Any:
    session, hall = _hall()
    member: Staff = in_hall(Staff, staff_id)
    data = {"name": member.name, "staff_no": member.staff_no or "", "window": str(member.window_id or "")}
    form = StaffForm(data=data if request.method == "GET" else None)
    windows = sorted(session.scalars(select(Window).where(Window.hall_id == hall.id)), key=lambda w: w.name)
    form.window.choices = _window_choices(windows)
    if form.validate_on_submit():
        try:
            with acting(session) as actor:
                _row, changed = update_staff(session, hall, member.id, _change(form), clock.now(), actor=actor)
        except StaffError as exc:
            session.rollback()
            form.form_errors.append(str(exc))
        else:
            session.commit()
            if changed:
                flash(_("已保存经办人 %(name)s", name=member.name), "success")
            return redirect(url_for("console.admin_hall", _anchor="staff"))
    status = 400 if form.is_submitted() else 200
    return render_template("console/admin_staff.html", member=member, form=form), status


def _change(form: StaffForm) -> StaffChange:
    window = form.window.data or ""
    return StaffChange(name=form.name.data or "", staff_no=form.staff_no.data or None,
                       window_id=int(window) if window.isdigit() else None)


# --- alert recipients -----------------------------------------------------------------------------------------------


@bp.route("/admin/hall/alerts", methods=["POST"])
@permission_required(Action.ADMIN_HALL)
def admin_alert_save() -> Any:
    session, hall = _hall()
    form = RecipientForm()
    if form.validate_on_submit():
        if not form.kinds.data:
            form.kinds.errors.append(_("请至少选择一种提醒"))
        elif (row := _save_recipient(session, hall, form)) is not None:
            session.commit()
            flash(_("已保存提醒接收人 %(name)s", name=row.name), "success")
            return redirect(url_for("console.admin_hall", _anchor="alerts"))
    return _page(session, hall, recipient_form=form, status=400)


def _save_recipient(session: Session, hall: Hall, form: RecipientForm) -> AlertRecipient | None:
    """Add the recipient, or update the one of that name (a blank mobile keeps theirs: the page shows it masked)."""
    name = (form.name.data or "").strip()
    existing = session.scalar(select(AlertRecipient).where(AlertRecipient.hall_id == hall.id,
                                                           AlertRecipient.name == name))
    mobile = form.mobile.data or (existing.mobile if existing else None)
    if not (mobile or form.email.data):
        form.form_errors.append(_("请至少填写手机号码或电子邮箱之一"))
        return None
    try:
        with acting(session) as actor:
            row, _created = add_recipient(session, hall, name=name, mobile=mobile, email=form.email.data or None,
                                          kinds=form.kinds.data, actor=actor)
    except AlertConfigError as exc:
        session.rollback()
        form.form_errors.append(str(exc))
        return None
    return row


@bp.route("/admin/hall/alerts/<int:recipient_id>/remove", methods=["POST"])
@permission_required(Action.ADMIN_HALL)
def admin_alert_remove(recipient_id: int) -> Any:
    session, hall = _hall()
    row: AlertRecipient = in_hall(AlertRecipient, recipient_id)
    name = row.name
    with acting(session) as actor:
        remove_recipient(session, hall, row.name, actor=actor)
    session.commit()
    flash(_("已移除提醒接收人 %(name)s", name=name), "success")
    return redirect(url_for("console.admin_hall", _anchor="alerts"))
