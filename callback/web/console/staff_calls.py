"""A staff call from the console (篇2 四 专人回访; issue 14 §4): 「拨打」 rings the supervisor's own desk phone and the
provider bridges it to the citizen (callback.responses.staff_calls; the bridge webhook is ivr.voice), so the number
never reaches the screen; while they talk, the supervisor enters the answers on the same page, recorded as the
callback's staff call (callback.responses.manual, channel ``manual``).

    GET  /console/callbacks/<id>/staff-call           the callback, its staff calls, 「拨打」 and the answers form
    POST /console/callbacks/<id>/staff-call           place the call (the row is committed before the provider is asked)
    POST /console/callbacks/<id>/staff-call/answers   record what the citizen said

Supervisors only (``STAFF_CALL``). The page shows the number masked (138****5678), the view and every change audited.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import BooleanField

from callback.accounts.roles import Action
from callback.accounts.services import actor_of
from callback.config import current_settings
from callback.db import db_session
from callback.models import Callback, Case, Contact, Window
from callback.models.staff_calls import StaffCall
from callback.responses import staff_calls as svc
from callback.responses.entry import EntryError
from callback.responses.manual import record_manual
from callback.responses.states import STATE_LABELS
from callback.web.console import clock
from callback.web.console.audit import audit
from callback.web.console.auth import in_hall, permission_required
from callback.web.console.blueprint import bp
from callback.web.console.forms import ButtonForm
from callback.web.console.questionnaire_form import AnswersForm
from callback.web.console.rectifications import callback_url
from survey.privacy import mask_phone


class StaffCallAnswersForm(AnswersForm):
    opt_out = BooleanField(_l("申请人要求今后不再回访（退订，所有中心）"))


CALL_STATES = {
    svc.S.PLACING: _l("正在呼叫您的座机"),
    svc.S.RINGING: _l("您的座机正在振铃，请接听"),
    svc.S.BRIDGING: _l("已接听，正在接通申请人"),
    svc.S.COMPLETED: _l("已接通申请人"),
    svc.S.CITIZEN_UNANSWERED: _l("申请人未接听"),
    svc.S.DESK_UNANSWERED: _l("您的座机未接听"),
    svc.S.FAILED: _l("呼叫失败"),
}


def call_view(call: StaffCall, now: Any) -> dict[str, Any]:
    """A staff call as the page lists it; a call past `svc.LIVE_FOR` without a final status is shown as ended."""
    live = svc.is_live(call, now)
    label = str(CALL_STATES.get(call.state, call.state))
    if not live and call.state not in svc.FINAL:
        label = _("通话已结束（未收到最终状态）")
    detail = ""
    if call.state == svc.S.COMPLETED:
        detail = _("通话 %(seconds)d 秒", seconds=call.talk_seconds or 0)
    elif call.state == svc.S.CITIZEN_UNANSWERED and call.dial_status:
        detail = str(DIAL_LABELS.get(call.dial_status, call.dial_status))
    elif call.state == svc.S.FAILED and call.error:
        detail = call.error
    return {"call": call, "live": live, "label": label, "detail": detail}


DIAL_LABELS = {"busy": _l("忙线"), "no-answer": _l("无人接听"), "failed": _l("呼叫失败"), "canceled": _l("已取消")}


@bp.route("/callbacks/<int:callback_id>/staff-call")
@permission_required(Action.STAFF_CALL)
def staff_call(callback_id: int) -> Any:
    callback: Callback = in_hall(Callback, callback_id)
    return _page(callback, StaffCallAnswersForm())


def _page(callback: Callback, answers: StaffCallAnswersForm, status: int = 200) -> Any:
    session, now = db_session(), clock.now()
    case = session.get(Case, callback.case_id) if callback.case_id else None
    contact = session.get(Contact, callback.contact_id) if callback.contact_id else None
    calls = [call_view(c, now) for c in svc.calls_of(session, callback.id)]
    audit("staff_call_page_viewed", "callback", callback.id)
    session.commit()
    return render_template(
        "console/staff_call.html", callback=callback, case=case, phone=mask_phone(contact.phone) if contact else None,
        window=session.get(Window, callback.window_id), state_label=_(STATE_LABELS.get(callback.state, callback.state)),
        refusal=svc.refusal(session, callback), calls=calls, live=next((c for c in calls if c["live"]), None),
        desk_phone=mask_phone(current_user.row.desk_phone) if current_user.row.desk_phone else None, answers=answers, button=ButtonForm(),
        callback_url=callback_url(callback.id)), status


@bp.route("/callbacks/<int:callback_id>/staff-call", methods=["POST"])
@permission_required(Action.STAFF_CALL)
def staff_call_place(callback_id: int) -> Any:
    callback: Callback = in_hall(Callback, callback_id)
    session, user = db_session(), current_user.row
    try:
        call = svc.start_staff_call(session, callback.id, user, clock.now(), actor=actor_of(user))
    except svc.StaffCallError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("console.staff_call", callback_id=callback_id))
    audit("staff_call_placed", "callback", callback_id, staff_call=call.id)
    session.commit()  # before the provider is asked: its first webhook may come before its answer
    settings = current_settings()
    provider = current_app.config["PROVIDER_FACTORY"](settings)
    call = svc.place_staff_call(session, call, user, provider, settings, clock.now())
    session.commit()
    if call.state == svc.S.FAILED:
        flash(_("呼叫失败：%(error)s", error=call.error or ""), "error")
    else:
        flash(_("正在呼叫您的座机，请接听；接听后系统自动接通申请人"), "success")
    return redirect(url_for("console.staff_call", callback_id=callback_id))


@bp.route("/callbacks/<int:callback_id>/staff-call/answers", methods=["POST"])
@permission_required(Action.STAFF_CALL)
def staff_call_answers(callback_id: int) -> Any:
    callback: Callback = in_hall(Callback, callback_id)
    form = StaffCallAnswersForm()
    if not form.validate_on_submit():
        return _page(callback, form, 400)
    session = db_session()
    try:
        entry = None if form.opt_out.data and _nothing_ticked(form) else form.entry()
        result = record_manual(session, callback.id, entry, clock.now(), actor=actor_of(current_user.row),
                               opt_out=bool(form.opt_out.data))
    except EntryError as exc:
        session.rollback()
        form.form_errors.append(str(exc))
        return _page(session.get(Callback, callback_id), form, 400)
    audit("manual_result_entered", "callback", callback_id, keys=result.keys, outcome=result.outcome,
          opt_out=result.opted_out, rectification_id=result.rectification_id)
    session.commit()
    flash(_("已保存专人回访结果：%(state)s", state=_(STATE_LABELS.get(result.state, result.state))), "success")
    return redirect(callback_url(callback_id) or url_for("console.staff_call", callback_id=callback_id))


def _nothing_ticked(form: StaffCallAnswersForm) -> bool:
    return not any(field.data for field in form.item_fields()) and not (form.suggestion.data or "").strip()
