"""The rectification queue and a case's page (issue 14 §5; 篇2 五: 对回访中发现的问题要及时整改，需要反馈的在3个工作日内完成).

Who sees what (callback.accounts.roles; DESIGN §1, §6):

* a window lead (``RECTIFY_OWN_WINDOW``) sees their window's cases that are not closed, never an integrity case,
  never the 办件编号, the item or who rated them; they answer a case (``RECTIFY_RESPOND``): what was fixed and what
  the citizen was told — by SMS through the provider (the number stays on the server) or in person/by phone;
* a supervisor (``RECTIFY_ALL`` + ``RECTIFY_REVIEW``) sees every case, accepts (closes) or returns the window's
  answer, closes a case without feedback with a reason, sees escalations, integrity cases and the 二次回访's
  outcome (篇3 (五)2); integrity cases are answered by the supervisors, since the window never sees them;
* a leader (``RECTIFY_ALL``) reads what the supervisor reads.

Another window's case and an integrity case answer a window lead 404, as a case that does not exist: a 403 would
tell them that an integrity report about their window exists (case numbers run in sequence). Every list and case
shows the citizen's words (masked), so every view is audited; every change too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from callback.accounts.roles import Action
from callback.accounts.services import actor_of
from callback.calendar.services import WorkingCalendar, load_calendar
from callback.config import current_settings
from callback.db import db_session
from callback.models import Callback, Case, Hall, Window
from callback.models.rectification import CLOSED, FEEDBACK_GIVEN, Rectification
from callback.rectification import services as svc
from callback.web.console import clock
from callback.web.console.audit import audit
from callback.web.console.auth import in_hall, permission_required
from callback.web.console.blueprint import bp
from survey.privacy import mask_text

TEXT_MAX = 1000
EXCERPT_CHARS = 60
SEE = (Action.RECTIFY_ALL, Action.RECTIFY_OWN_WINDOW)


# --- forms ----------------------------------------------------------------------------------------------------------


class RespondForm(FlaskForm):
    """The window's answer: what was fixed and (optionally, now or later) what the citizen was told."""

    action = TextAreaField(_l("整改措施"), validators=[DataRequired(message=_l("请填写整改措施")), Length(max=TEXT_MAX)],
                           description=_l("发现了什么问题，做了哪些整改"))
    feedback = TextAreaField(_l("反馈申请人的内容"), validators=[Optional(), Length(max=TEXT_MAX)],
                             description=_l("告诉申请人的话；可以先只登记整改措施，稍后再反馈"))
    via = RadioField(_l("反馈方式"), default="sms", validate_choice=False)


class AcceptForm(FlaskForm):
    note = StringField(_l("办结说明（可不填）"), validators=[Optional(), Length(max=TEXT_MAX)])


class ReturnForm(FlaskForm):
    reason = TextAreaField(_l("退回原因"), validators=[DataRequired(message=_l("请填写退回原因")), Length(max=TEXT_MAX)],
                           description=_l("窗口负责人会看到这段话，请写明需要补充或改正什么"))


class CloseForm(FlaskForm):
    reason = TextAreaField(_l("无需反馈的原因"),
                           validators=[DataRequired(message=_l("请填写无需反馈的原因")), Length(max=TEXT_MAX)],
                           description=_l("例如：申请人只提建议、明确表示不需要答复"))


# --- what a page shows of a case --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """The deadline as a person reads it: a short label and its tone (ok, soon, today, overdue, late, done)."""

    label: str
    tone: str


def deadline_of(case: Rectification, now: datetime, calendar: WorkingCalendar, tz: ZoneInfo) -> Deadline:
    """Working days left until the case is due (end of the due day, 篇2 五), or how it was settled."""
    status = svc.deadline_status(case, now)
    if status in ("on_time", "late"):
        return Deadline(_("按期反馈") if status == "on_time" else _("逾期反馈"), "done" if status == "on_time" else "late")
    due_day, today = case.due_at.astimezone(tz).date(), now.astimezone(tz).date()
    if status == "overdue":
        days = calendar.working_days_between(due_day, today)
        return Deadline(_("已超期 %(n)d 个工作日", n=days) if days else _("已超期"), "overdue")
    if due_day <= today:
        return Deadline(_("今天到期"), "today")
    left = calendar.working_days_between(today, due_day)
    return Deadline(_("还剩 %(n)d 个工作日", n=left), "soon" if left <= 1 else "ok")


def citizen_words(excerpt: dict[str, Any], names: list[str]) -> list[str]:
    """The suggestion and the citizen's own transcript lines from the case's excerpt, each once, masked again for
    display (survey.privacy), so a case stored before the masking rules changed shows no number or name either."""
    lines = [excerpt.get("suggestion") or ""] + [e.get("text") or "" for e in excerpt.get("transcript") or []]
    said = dict.fromkeys(line.strip() for line in lines if line and line.strip())
    return [mask_text(line, names) for line in said]


def short(lines: list[str]) -> str:
    text = "；".join(lines)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


@dataclass(frozen=True)
class Ledger:
    """The ledger case a callback came from (supervisors only: the 办件编号 would name the citizen to a window)."""

    case_no: str | None
    item_name: str | None
    applicant: str | None


def ledger_of(session: Session, cases: list[Rectification]) -> dict[int, Ledger]:
    """callback id → its ledger case, in one query (an on-site form has none)."""
    ids = [c.callback_id for c in cases]
    if not ids:
        return {}
    rows = session.execute(select(Callback.id, Case.case_no, Case.item_name, Case.applicant)
                           .join(Case, Case.id == Callback.case_id).where(Callback.id.in_(ids)))
    return {row[0]: Ledger(*row[1:]) for row in rows}


def callback_url(callback_id: int | None) -> str | None:
    """The callback's page (the transcript), for those who may read it, once that page exists."""
    if callback_id is None or not current_user.can(Action.CALLBACKS_VIEW):
        return None
    try:
        return url_for("console.callback_detail", callback_id=callback_id)
    except BuildError:
        return None


REVISIT_LABELS = {svc.TWICE_UNSATISFIED: _l("二次回访仍不满意"), svc.THEN_SATISFIED: _l("二次回访改为满意")}
RATING_LABELS = {"S": _l("满意"), "B": _l("基本满意"), "U": _l("不满意")}


def revisit_of(case: Rectification) -> str:
    """The 二次回访 of the case in words (篇3 (五)2), for supervisors and leaders."""
    outcome = svc.revisit_outcome(case)
    if outcome is not None:
        return str(REVISIT_LABELS[outcome])
    if case.revisit_rating:
        return _("二次回访：%(rating)s", rating=RATING_LABELS[case.revisit_rating])
    if case.revisit_skipped:
        return _("无法二次回访：%(why)s", why=svc.REVISIT_SKIPPED_LABELS.get(case.revisit_skipped, case.revisit_skipped))
    if case.revisit_callback_id:
        return _("二次回访已安排，尚无结果")
    return _("反馈后将安排二次回访") if case.revisit_required else _("无需二次回访")


# --- the queue --------------------------------------------------------------------------------------------------------

FILTERS = ("active", "open", "rectified", "feedback_given", "closed", "all")


@bp.route("/rectifications")
@permission_required(*SEE)
def rectifications() -> Any:
    session, now = db_session(), clock.now()
    hall = session.get(Hall, current_user.hall_id)
    tz, calendar = ZoneInfo(hall.timezone or current_settings().timezone), load_calendar(session)
    cases, chosen = _queue(session, hall, now)
    ledger = ledger_of(session, cases)
    rows = [_row(c, ledger.get(c.callback_id), now, calendar, tz) for c in cases]
    if rows:  # the list shows what citizens said
        audit("rectifications_listed", "rectification", None, ids=[c.id for c in cases], **chosen)
    session.commit()
    windows = session.scalars(select(Window).where(Window.hall_id == hall.id).order_by(Window.name)).all()
    return render_template("console/rectifications.html", rows=rows, chosen=chosen, windows=windows,
                           filters=_filter_labels(), everything=current_user.can(Action.RECTIFY_ALL))


def _queue(session: Session, hall: Hall, now: datetime) -> tuple[list[Rectification], dict[str, Any]]:
    """A window lead: their window's cases not yet closed. Others: filtered by state, window, overdue."""
    if not current_user.can(Action.RECTIFY_ALL):
        scope = current_user.window_scope
        cases = svc.list_cases(session, hall.id, now, window_id=scope) if scope is not None else []
        return [c for c in cases if c.state != CLOSED], {}
    state = request.args.get("state", "active")
    state = state if state in FILTERS else "active"
    window = request.args.get("window", type=int)
    overdue = request.args.get("overdue") == "1"
    cases = svc.list_cases(session, hall.id, now, only_overdue=overdue)
    cases = [c for c in cases if _state_matches(c, state) and (window is None or c.window_id == window)]
    cases.sort(key=lambda c: (c.state == CLOSED, c.due_at))
    return cases, {"state": state, "window": window, "overdue": overdue}


def _state_matches(case: Rectification, state: str) -> bool:
    if state == "active":
        return case.state != CLOSED
    return state == "all" or case.state == state


def _filter_labels() -> dict[str, str]:
    return {"active": _("未办结"), "open": _("待整改"), "rectified": _("已整改"), "feedback_given": _("已反馈待验收"),
            "closed": _("已办结"), "all": _("全部")}


def _row(case: Rectification, ledger: Ledger | None, now: datetime, calendar: WorkingCalendar,
         tz: ZoneInfo) -> dict[str, Any]:
    names = [ledger.applicant] if ledger and ledger.applicant else []
    return {"case": case, "window": case.window.name, "reasons": _reasons(case), "state": _state(case),
            "deadline": deadline_of(case, now, calendar, tz), "said": short(citizen_words(case.excerpt, names)),
            "escalated": case.escalated_at is not None and current_user.can(Action.INTEGRITY_VIEW),
            "callback_url": callback_url(case.callback_id),
            "revisit": revisit_of(case) if current_user.can(Action.RECTIFY_ALL) else None}


def _reasons(case: Rectification) -> list[str]:
    return [_(svc.REASON_LABELS.get(code, code)) for code in case.reasons]


def _state(case: Rectification) -> dict[str, str]:
    """The state's label and a key for its badge (returned is an open case sent back by the supervisor)."""
    key = "returned" if svc.last_return(case) is not None else case.state
    return {"key": key, "label": _(svc.state_label(case))}


# --- a case -----------------------------------------------------------------------------------------------------------


def visible_case(case_id: int) -> Rectification:
    """The case, if the user may see it; a window lead asking for another window's case or an integrity case gets
    404, as for a case that does not exist."""
    case: Rectification = in_hall(Rectification, case_id)
    if current_user.can(Action.RECTIFY_ALL):
        return case
    if case.integrity or case.window_id != current_user.window_scope:
        abort(404)
    return case


def may_respond(case: Rectification) -> bool:
    """The window answers its cases; an integrity case (never shown to the window) is answered by the supervisors."""
    if case.state not in svc.AWAITING_FEEDBACK:
        return False
    return current_user.can(Action.RECTIFY_RESPOND) or (case.integrity and current_user.can(Action.RECTIFY_REVIEW))


@bp.route("/rectifications/<int:case_id>")
@permission_required(*SEE)
def rectification(case_id: int) -> Any:
    case = visible_case(case_id)
    return _case_page(case, respond=_respond_form(case))


def _case_page(case: Rectification, status: int = 200, **forms: FlaskForm) -> Any:
    session, now = db_session(), clock.now()
    hall = session.get(Hall, case.hall_id)
    tz = ZoneInfo(hall.timezone or current_settings().timezone)
    ledger = ledger_of(session, [case]).get(case.callback_id)
    names = [ledger.applicant] if ledger and ledger.applicant else []
    audit("rectification_viewed", "rectification", case.id)
    session.commit()
    supervisor = current_user.can(Action.RECTIFY_ALL)
    forms = {"respond": forms.get("respond") or _respond_form(case), "accept": forms.get("accept") or AcceptForm(),
             "return_form": forms.get("return_form") or ReturnForm(), "close": forms.get("close") or CloseForm()}
    return render_template(
        "console/rectification.html", case=case, state=_state(case), reasons=_reasons(case),
        deadline=deadline_of(case, now, load_calendar(session), tz), said=citizen_words(case.excerpt, names),
        answers=case.excerpt.get("answers") or [], returned=svc.last_return(case),
        ledger=ledger if supervisor else None, callback_url=callback_url(case.callback_id),
        revisit=revisit_of(case) if supervisor else None,
        revisit_url=callback_url(case.revisit_callback_id), events=_events(case),
        may_respond=may_respond(case), may_review=current_user.can(Action.RECTIFY_REVIEW),
        sms_possible=case.callback.contact_id is not None, **forms), status


def _respond_form(case: Rectification) -> RespondForm:
    form = RespondForm()
    form.via.choices = _via_choices(case)
    if request.method == "GET":
        form.action.data = case.action or ""
        form.via.data = form.via.choices[0][0]
    return form


def _via_choices(case: Rectification) -> list[tuple[str, str]]:
    phone = ("phone", _("已当面或电话告知申请人（登记）"))
    if case.callback.contact_id is None:  # an on-site form: no number to text
        return [phone]
    return [("sms", _("系统发短信告知申请人（号码不显示）")), phone]


EVENT_LABELS = {
    "opened": _l("立案"), "rectified": _l("登记整改措施"), "action_amended": _l("修改整改措施"),
    "feedback_given": _l("反馈申请人"), "feedback_sms_failed": _l("反馈短信发送失败"), "closed": _l("验收办结"),
    "closed_without_feedback": _l("无需反馈办结"), svc.RETURNED: _l("退回窗口"), "reminder": _l("到期提醒"),
    "escalated": _l("超期督办"), "integrity_alert": _l("廉洁问题即时提醒"), "revisit_scheduled": _l("安排二次回访"),
    "revisit_linked": _l("二次回访结果"), "revisit_not_possible": _l("无法二次回访"),
    "deadline_recomputed": _l("按工作日历重算期限"),
}
EVENT_TEXT = ("reason", "action", "text", "note")  # what an event's detail says in words, in this order
# the 二次回访 and its result count in the staff's 篇3 scores: supervisors' business, not the window's
NOT_FOR_THE_WINDOW = frozenset({"revisit_scheduled", "revisit_linked", "revisit_not_possible"})


def _events(case: Rectification) -> list[dict[str, Any]]:
    """The case's history; a window lead sees only the events meant for the window (never an escalation, never
    the 二次回访)."""
    everything = current_user.can(Action.INTEGRITY_VIEW)
    return [{"at": e.at, "actor": _("系统") if e.actor == svc.SYSTEM else e.actor,
             "label": EVENT_LABELS.get(e.action, e.action),
             "text": next((str(e.detail[k]) for k in EVENT_TEXT if e.detail.get(k)), "")}
            for e in case.events
            if everything or (e.audience == "window" and e.action not in NOT_FOR_THE_WINDOW)]


# --- changes ----------------------------------------------------------------------------------------------------------


def _actor() -> str:
    return actor_of(current_user.row)


def _done(case: Rectification, message: str) -> Any:
    db_session().commit()
    flash(message, "success")
    return redirect(url_for("console.rectification", case_id=case.id))


@bp.route("/rectifications/<int:case_id>/respond", methods=["POST"])
@permission_required(Action.RECTIFY_RESPOND, Action.RECTIFY_REVIEW)
def rectification_respond(case_id: int) -> Any:
    case = visible_case(case_id)
    if not may_respond(case):
        abort(403)
    form = _respond_form(case)
    if not form.validate_on_submit():
        return _case_page(case, 400, respond=form)
    session, now, actor = db_session(), clock.now(), _actor()
    feedback = (form.feedback.data or "").strip()
    try:
        if case.state != svc.RECTIFIED or (form.action.data or "").strip() != case.action:
            svc.rectify(session, case, form.action.data or "", now, actor=actor)
        if feedback:
            _give_feedback(session, case, feedback, form.via.data or "phone", now, actor)
    except svc.RectificationError as exc:
        # what was written stays (the measures; a text the provider refused keeps its failed outbox row)
        audit("rectification_responded", "rectification", case.id, state=case.state, error=str(exc))
        session.commit()
        form.form_errors.append(str(exc))
        return _case_page(case, 400, respond=form)
    audit("rectification_responded", "rectification", case.id, state=case.state,
          via=form.via.data if feedback else None)
    return _done(case, _("已反馈申请人，等待督查科验收") if feedback else _("已登记整改措施，请尽快反馈申请人"))


def _give_feedback(session: Session, case: Rectification, text: str, via: str, now: datetime, actor: str) -> None:
    if via not in dict(_via_choices(case)):
        raise svc.RectificationError(_("请选择反馈方式"))
    settings = current_settings()
    provider = current_app.config["PROVIDER_FACTORY"](settings) if via == "sms" else None
    svc.give_feedback(session, case, text, now, actor=actor, via=via, settings=settings, provider=provider)


@bp.route("/rectifications/<int:case_id>/accept", methods=["POST"])
@permission_required(Action.RECTIFY_REVIEW)
def rectification_accept(case_id: int) -> Any:
    case = visible_case(case_id)
    form = AcceptForm()
    if not form.validate_on_submit() or case.state != FEEDBACK_GIVEN:
        form.form_errors.append(_("只有已反馈的整改才能验收办结"))
        return _case_page(case, 400, accept=form)
    svc.close(db_session(), case, clock.now(), actor=_actor(), note=form.note.data or None,
              settings=current_settings())
    audit("rectification_accepted", "rectification", case.id, note=form.note.data or None)
    return _done(case, _("已验收并办结"))


@bp.route("/rectifications/<int:case_id>/return", methods=["POST"])
@permission_required(Action.RECTIFY_REVIEW)
def rectification_return(case_id: int) -> Any:
    case = visible_case(case_id)
    form = ReturnForm()
    if form.validate_on_submit():
        try:
            svc.return_to_window(db_session(), case, form.reason.data or "", clock.now(), actor=_actor())
        except svc.RectificationError as exc:
            form.form_errors.append(str(exc))
        else:
            audit("rectification_returned", "rectification", case.id, reason=form.reason.data)
            return _done(case, _("已退回窗口重新整改"))
    return _case_page(case, 400, return_form=form)


@bp.route("/rectifications/<int:case_id>/close", methods=["POST"])
@permission_required(Action.RECTIFY_REVIEW)
def rectification_close(case_id: int) -> Any:
    case = visible_case(case_id)
    form = CloseForm()
    if form.validate_on_submit():
        try:
            svc.close(db_session(), case, clock.now(), actor=_actor(), without_feedback=True,
                      reason=form.reason.data, settings=current_settings())
        except svc.RectificationError as exc:
            form.form_errors.append(str(exc))
        else:
            audit("rectification_closed_without_feedback", "rectification", case.id, reason=form.reason.data)
            return _done(case, _("已办结（无需反馈）"))
    return _case_page(case, 400, close=form)

