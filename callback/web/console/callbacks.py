"""Callbacks (回访记录, issue 14 §3): the hall's callbacks as a filterable, paginated list, and one callback's page —
the case, the attempts, the answers with their meaning, the transcript as a timeline, the suggestion and the
recording played in the browser.

Privacy (DESIGN §6; docs/architecture.md §Privacy and security): numbers and names are masked on every page; each
view of a callback's page (its transcript) and each play of its recording is an audit event; the recording is
streamed through the app with the provider's credentials (``PROVIDER_FACTORY`` in the app config), never linked
at the provider. A supervisor may correct an answer (callback.responses.corrections) and reveal the whole number
or the suggestion as said (callback.responses.privacy) — each with a reason, each audited; the revealed text is
shown once, in the answer to that POST, and never stored in the session. Window leads hold none of these actions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response
from wtforms import SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from callback.accounts.roles import N_, Action
from callback.accounts.services import actor_of
from callback.db import db_session
from callback.models import Answer, Attempt, Callback, Case, Contact, Hall, Staff, Window
from callback.models.rectification import Rectification
from callback.rectification.services import STATE_LABELS as CASE_STATE_LABELS
from callback.rectification.services import item_answers
from callback.responses.corrections import CorrectionRefused, correct_answer
from callback.responses.privacy import RevealRefused, reveal_phone, reveal_suggestion
from callback.responses.states import (
    NOT_SURVEYED,
    OUTCOME_LABELS,
    PENDING,
    STATE_LABELS,
    CallbackFlags,
    CallbackState,
    flags_of,
)
from callback.responses.transcript import as_dicts
from callback.retention.services import is_hashed
from callback.telephony import ProviderError
from callback.web.console import clock
from callback.web.console.audit import audit
from callback.web.console.auth import client_ip, in_hall, permission_required
from callback.web.console.blueprint import bp
from survey.privacy import mask_name, mask_phone, mask_text
from survey.questionnaire import ITEMS, overall_rating
from survey.weeks import PeriodError, parse_week, week_dates, week_of

PAGE_SIZE = 25
S = CallbackState

# The week's callbacks by where they are, for the list's filter and the dashboard's counts (each a message id).
GROUPS: dict[str, tuple[str, frozenset[CallbackState]]] = {
    "answered": (N_("完成"), frozenset({S.COMPLETE})),
    "partial": (N_("部分完成"), frozenset({S.PARTIAL})),
    "sms": (N_("短信待回复"), frozenset({S.SMS})),
    "unreached": (N_("无法联系"), frozenset({S.UNREACHABLE})),
    "opted_out": (N_("退订"), frozenset({S.OPTED_OUT})),
    "not_surveyed": (N_("接通未答题"), NOT_SURVEYED),
    "pending": (N_("待呼叫或通话中"), PENDING),
    "superseded": (N_("已作废"), frozenset({S.SUPERSEDED})),
}
CHANNELS = {"voice": N_("电话"), "sms": N_("短信"), "manual": N_("人工回访"), "onsite": N_("现场问卷")}
RATINGS = {"S": N_("满意"), "B": N_("基本满意"), "U": N_("不满意")}
# The services' own Chinese labels, marked here so Babel extracts them; the pages translate them with _(label).
# tests/callback/web/console/test_callbacks.py checks that every label the services use is in this list.
SERVICE_LABELS = (
    N_("待呼叫"), N_("呼叫中"), N_("调查中"), N_("转短信回访"), N_("完成"), N_("部分完成"), N_("中途挂断（未答题）"),
    N_("未同意参加"), N_("无法联系"), N_("退订"), N_("已作废（重新抽样）"), N_("无人接听"), N_("忙线"), N_("呼叫失败"),
    N_("答录机"), N_("服务态度"), N_("办事效率"), N_("按章办事"), N_("体外循环"), N_("廉洁自律"), N_("总体评价"),
    N_("满意"), N_("基本满意"), N_("不满意"), N_("是"), N_("否"), N_("没有"), N_("有"), N_("提示"), N_("按键"),
    N_("语音"), N_("录音"), N_("状态"), N_("备注"), N_("短信(收)"), N_("短信(发)"), N_("待整改"), N_("已整改"),
    N_("已反馈"), N_("已办结"),
)
ATTEMPT_RESULTS = {"answered": N_("已接听"), "no_answer": N_("无人接听"), "busy": N_("忙线"), "failed": N_("呼叫失败"),
                   "machine": N_("答录机")}


@bp.app_template_global("console_link")
def console_link(endpoint: str, **values: Any) -> str | None:
    """The URL of another console page, or None while that page is not there (pages arrive one by one)."""
    if endpoint not in current_app.view_functions:
        return None
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


# --- the list -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the list shows: ``week`` None for every week; flags as the query string gives them."""

    week: str | None
    window_id: int | None = None
    group: str | None = None
    channel: str | None = None
    rating: str | None = None  # S, B, U, or "none" (no rating)
    suggestion: bool = False
    complaint: bool = False
    integrity: bool = False
    page: int = 1

    def args(self, **changes: Any) -> dict[str, Any]:
        """The query string of these filters (with ``changes``), without the defaults."""
        f = replace(self, **changes)
        values = {"week": f.week or "all", "window": f.window_id, "state": f.group, "channel": f.channel,
                  "rating": f.rating, "suggestion": int(f.suggestion) or None, "complaint": int(f.complaint) or None,
                  "integrity": int(f.integrity) or None, "page": f.page if f.page > 1 else None}
        return {k: v for k, v in values.items() if v is not None}

    @property
    def in_python(self) -> bool:
        """Filters read from the answers and flags (not columns): the matching rows are filtered here."""
        return bool(self.rating or self.complaint or self.integrity)


def hall_zone(hall: Hall) -> ZoneInfo:
    return ZoneInfo(hall.timezone or "Asia/Shanghai")


def current_week(hall: Hall) -> str:
    return week_of(clock.now(), hall_zone(hall))


def read_week(value: str | None, hall: Hall) -> str:
    """The ISO week asked for, or the current one (also for a malformed week)."""
    try:
        parse_week(value or "")
    except PeriodError:
        return current_week(hall)
    return (value or "").strip()


def read_filters(args: Any, hall: Hall) -> Filters:
    """The list's filters from the query string; a value that is not one of the choices is ignored."""
    week = None if args.get("week") == "all" else read_week(args.get("week"), hall)
    rating = args.get("rating") if args.get("rating") in (*RATINGS, "none") else None
    return Filters(week=week, window_id=_int(args.get("window")),
                   group=args.get("state") if args.get("state") in GROUPS else None,
                   channel=args.get("channel") if args.get("channel") in CHANNELS else None, rating=rating,
                   suggestion=args.get("suggestion") == "1", complaint=args.get("complaint") == "1",
                   integrity=args.get("integrity") == "1", page=max(_int(args.get("page")) or 1, 1))


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


def _query(hall: Hall, f: Filters) -> Any:
    query = select(Callback).where(Callback.hall_id == hall.id)
    if f.week:
        query = query.where(Callback.week == f.week)
    if f.window_id:
        query = query.where(Callback.window_id == f.window_id)
    if f.group:
        query = query.where(Callback.state.in_(list(GROUPS[f.group][1])))
    if f.channel:
        query = query.where(Callback.channel == f.channel)
    if f.suggestion:
        query = query.where(Callback.suggestion.is_not(None), Callback.suggestion != "")
    return query


@dataclass(frozen=True)
class Row:
    """One callback as the list shows it: never a whole number or a name."""

    callback: Callback
    window: str
    case_no: str | None
    item_name: str | None
    phone: str
    keys: str
    rating: str | None
    complaint: bool
    integrity: bool
    corrected: bool


def find_callbacks(session: Session, hall: Hall, f: Filters) -> tuple[list[Row], int]:
    """The page of rows the filters select, newest first, and how many rows match in all. Filters on the answers
    and flags read only the columns they need for every candidate; whole rows are built for one page."""
    query = _query(hall, f).order_by(Callback.id.desc())
    if not f.in_python:
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
        page = list(session.scalars(query.limit(PAGE_SIZE).offset((f.page - 1) * PAGE_SIZE)))
        return build_rows(session, page), total
    candidates = session.execute(query.with_only_columns(Callback.id, Callback.flags)).all()
    values = _answer_values(session, query.with_only_columns(Callback.id).order_by(None))
    matching = [cid for cid, flags in candidates if _matches(Facts.of(flags, values.get(cid, {})), f)]
    wanted = matching[(f.page - 1) * PAGE_SIZE: f.page * PAGE_SIZE]
    page = sorted(session.scalars(select(Callback).where(Callback.id.in_(wanted))), key=lambda c: -c.id)
    return build_rows(session, page), len(matching)


@dataclass(frozen=True)
class Facts:
    """What the answers and flags say about a callback: its overall rating (S/B/U or None), a complaint, an
    integrity problem (有 on 廉洁自律, integrity words, an alert or a person's mark)."""

    rating: str | None
    complaint: bool
    integrity: bool

    @classmethod
    def of(cls, flags_json: dict[str, Any] | None, values: dict[str, str]) -> Facts:
        flags = CallbackFlags.from_json(flags_json)
        integrity = (flags.integrity_alert or flags.integrity or flags.integrity_in_suggestion
                     or values.get("integrity") == "Y")
        return cls(_rating(frozenset(values.items())), flags.complaint, integrity)


@lru_cache(maxsize=4096)
def _rating(values: frozenset[tuple[str, str]]) -> str | None:
    """The overall rating (S/B/U or None) of a callback's answers ({item: value}, one per item). A pure function of
    the few distinct sets of answers, worked out once each: a filter reads every callback of the year."""
    rating = overall_rating(item_answers([_Stored(item, value) for item, value in values]))  # type: ignore[arg-type]
    return rating.value if rating else None


@dataclass(frozen=True)
class _Stored:
    """An answer's item and value, as `item_answers` reads a stored answer."""

    item: str
    value: str


def _answer_values(session: Session, callback_ids: Select[Any]) -> dict[int, dict[str, str]]:
    """{callback id: {item: value}} for the callbacks ``callback_ids`` selects (a subquery, so a year's ids are not
    sent back to the database as parameters)."""
    out: dict[int, dict[str, str]] = defaultdict(dict)
    rows = session.execute(select(Answer.callback_id, Answer.item, Answer.value)
                           .where(Answer.callback_id.in_(callback_ids)))
    for callback_id, item, value in rows:
        out[callback_id][item] = value
    return out


def _matches(facts: Facts, f: Filters) -> bool:
    if f.rating and (facts.rating or "none") != f.rating:
        return False
    return (not f.complaint or facts.complaint) and (not f.integrity or facts.integrity)


def build_rows(session: Session, callbacks: Sequence[Callback]) -> list[Row]:
    """Rows for these callbacks, with four queries whatever their number."""
    ids = [c.id for c in callbacks]
    answers = _answers(session, ids)
    cases = _by_id(session, Case, [c.case_id for c in callbacks if c.case_id])
    contacts = _by_id(session, Contact, [c.contact_id for c in callbacks if c.contact_id])
    windows = _by_id(session, Window, list({c.window_id for c in callbacks}))
    return [_row(c, answers[c.id], cases.get(c.case_id), contacts.get(c.contact_id), windows.get(c.window_id))
            for c in callbacks]


def _row(c: Callback, answers: list[Answer], case: Case | None, contact: Contact | None,
         window: Window | None) -> Row:
    given = {a.item: a for a in answers}
    facts = Facts.of(c.flags, {a.item: a.value for a in answers})
    return Row(c, window.name if window else "—", case.case_no if case else None, case.item_name if case else None,
               shown_phone(contact), "".join(given[i.code].key or "?" if i.code in given else "-" for i in ITEMS),
               facts.rating, facts.complaint, facts.integrity, any(a.original_value is not None for a in answers))


def shown_phone(contact: Contact | None) -> str:
    """A contact's number as pages show it: masked; a purged number says so."""
    if contact is None:
        return "—"
    return _("已清除") if is_hashed(contact.phone) else mask_phone(contact.phone)


def _answers(session: Session, ids: list[int]) -> dict[int, list[Answer]]:
    out: dict[int, list[Answer]] = defaultdict(list)
    if ids:
        for answer in session.scalars(select(Answer).where(Answer.callback_id.in_(ids)).order_by(Answer.id)):
            out[answer.callback_id].append(answer)
    return out


def _by_id(session: Session, model: type, ids: Iterable[int]) -> dict[int, Any]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(wanted)))}


def hall_weeks(session: Session, hall: Hall, *also: str) -> list[str]:
    """The weeks the hall has callbacks in, and ``also``, newest first."""
    weeks = set(session.scalars(select(Callback.week).where(Callback.hall_id == hall.id).distinct()))
    return sorted(weeks | {w for w in also if w}, reverse=True)


def week_label(week: str) -> str:
    """``2026-W48（11-23 至 11-29）``: the ISO week with its dates, as people read it."""
    monday, sunday = week_dates(week)
    return _("%(week)s（%(start)s 至 %(end)s）", week=week, start=monday.strftime("%m-%d"), end=sunday.strftime("%m-%d"))


@bp.route("/callbacks")
@permission_required(Action.CALLBACKS_VIEW)
def callbacks() -> Any:
    session = db_session()
    hall = session.get(Hall, current_user.hall_id)
    f = read_filters(request.args, hall)
    rows, total = find_callbacks(session, hall, f)
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    windows = session.scalars(select(Window).where(Window.hall_id == hall.id).order_by(Window.name)).all()
    return render_template("console/callbacks.html", rows=rows, total=total, pages=pages, f=f, windows=windows,
                           weeks=hall_weeks(session, hall, current_week(hall), f.week or ""), week_label=week_label,
                           groups=GROUPS, channels=CHANNELS, ratings=RATINGS, state_labels=STATE_LABELS,
                           outcome_labels=OUTCOME_LABELS)


# --- one callback ---------------------------------------------------------------------------------------------------


class CorrectionForm(FlaskForm):
    """Correct one answer (prefixed with the item's code: one form per answer on the page)."""

    value = SelectField(_l("更正为"), validate_choice=False)
    reason = TextAreaField(_l("更正理由"), validators=[DataRequired(message=_l("请填写更正理由")), Length(max=500)],
                           description=_l("例如：录音中市民说的是“基本满意”。原答案会保留并显示。"))


class RevealForm(FlaskForm):
    """Reveal the whole number or the suggestion as said (prefixed with the field; the page posts ``field``)."""

    reason = TextAreaField(_l("查看理由"), validators=[DataRequired(message=_l("请填写查看理由")), Length(max=500)],
                           description=_l("查看记入审计日志，请写明为何必须查看，例如：市民投诉需人工回电。"))


REVEAL_FIELDS = ("phone", "suggestion")


@bp.route("/callbacks/<int:callback_id>")
@permission_required(Action.CALLBACKS_VIEW)
def callback_detail(callback_id: int) -> Any:
    callback: Callback = in_hall(Callback, callback_id)
    return _detail_page(callback)


def _detail_page(callback: Callback, *, status: int = 200, corrections: dict[str, CorrectionForm] | None = None,
                 reveals: dict[str, RevealForm] | None = None, revealed: dict[str, str] | None = None) -> Any:
    """The callback's page; every showing of it (its transcript) is audited, and the audit committed."""
    session = db_session()
    detail = callback_view(session, callback)
    forms = {item: _correction_form(item, detail) for item in detail["answered"]} | (corrections or {})
    reveal_forms = {name: RevealForm(prefix=name, formdata=None) for name in REVEAL_FIELDS} | (reveals or {})
    audit("view_transcript", "callback", callback.id, via="console")
    session.commit()
    html = render_template("console/callback_detail.html", d=detail, c=callback, forms=forms,
                           reveal_forms=reveal_forms, revealed=revealed or {}, channels=CHANNELS, ratings=RATINGS,
                           state_labels=STATE_LABELS, outcome_labels=OUTCOME_LABELS, attempt_results=ATTEMPT_RESULTS)
    response = current_app.make_response((html, status))
    response.headers["Cache-Control"] = "no-store"  # personal data, and once revealed: never cached
    return response


def _correction_form(item: str, detail: dict[str, Any], form: CorrectionForm | None = None) -> CorrectionForm:
    form = form or CorrectionForm(prefix=item, formdata=None)
    current = detail["answers_by_item"][item]["value"]
    choices = next(i.choices for i in ITEMS if i.code == item)
    form.value.choices = [(str(c.value), _(c.label)) for c in choices if str(c.value) != current]
    return form


def callback_view(session: Session, callback: Callback) -> dict[str, Any]:
    """What the callback's page shows, masked: the case, the attempts, the answers with their meaning and their
    corrections, the suggestion, the recording, the transcript, the rectification case."""
    case = session.get(Case, callback.case_id) if callback.case_id else None
    contact = session.get(Contact, callback.contact_id) if callback.contact_id else None
    staff = session.get(Staff, case.staff_id) if case and case.staff_id else None
    names = [case.applicant] if case and case.applicant else []
    answers = _answers(session, [callback.id])[callback.id]
    rows = [_answer_row(item, {a.item: a for a in answers}.get(item.code)) for item in ITEMS]
    rectification = session.scalar(select(Rectification).where(Rectification.callback_id == callback.id))
    rating = overall_rating(item_answers(answers))
    return {
        "window": session.get(Window, callback.window_id).name, "case": case, "staff": staff.name if staff else None,
        "applicant": mask_name(case.applicant) if case and case.applicant else None, "phone": shown_phone(contact),
        "phone_kind": contact.kind if contact else None, "flags": flags_of(callback), "rating": rating,
        "can_reveal_phone": contact is not None and not is_hashed(contact.phone),
        "attempts": session.scalars(select(Attempt).where(Attempt.callback_id == callback.id)
                                    .order_by(Attempt.id)).all(),
        "answers": rows, "answers_by_item": {r["code"]: r for r in rows if r["answered"]},
        "answered": [r["code"] for r in rows if r["answered"]],
        "suggestion": mask_text(callback.suggestion, names) or None,
        "transcript": as_dicts(session, callback.id),
        "rectification": rectification,
        "rectification_state": CASE_STATE_LABELS.get(rectification.state) if rectification else None,
        "revisit_of": callback.revisit_of_id,
    }


def _answer_row(item: Any, answer: Answer | None) -> dict[str, Any]:
    def meaning(value: str | None) -> str | None:
        return next((c.label for c in item.choices if str(c.value) == value), None)

    row = {"code": item.code, "label": item.label, "answered": answer is not None}
    if answer is None:
        return row
    return row | {"value": answer.value, "key": answer.key, "meaning": meaning(answer.value),
                  "tone": "good" if answer.key == "1" else "warn" if answer.value == "B" else "bad",
                  "channel": answer.channel,
                  "original": meaning(answer.original_value), "original_key": answer.original_key,
                  "corrected_at": answer.corrected_at, "corrected_by": answer.corrected_by,
                  "correction_reason": answer.correction_reason}


# --- the recording ----------------------------------------------------------------------------------------------


AUDIO_TYPES = {"audio/x-wav": "audio/wav", "audio/wave": "audio/wav", "audio/vnd.wave": "audio/wav"}


@bp.route("/callbacks/<int:callback_id>/recording")
@permission_required(Action.CALLBACKS_VIEW)
def callback_recording(callback_id: int) -> Any:
    """The recording's bytes, fetched from the provider with its credentials and passed on (ranges answered, so
    the player can seek). A listen is audited once: the request for the start of the file, not every range."""
    callback: Callback = in_hall(Callback, callback_id)
    if not callback.recording_url:
        abort(404)
    provider = current_app.config["PROVIDER_FACTORY"](current_app.config["SETTINGS"])
    try:
        recording = provider.fetch_recording(callback.recording_url)
    except ProviderError as exc:
        current_app.logger.warning("录音获取失败 (recording fetch failed) callback=%s code=%s", callback.id, exc.code)
        return Response(_("录音暂时无法获取，请稍后再试。"), status=502, mimetype="text/plain")
    if _starts_listening():
        audit("recording_played", "callback", callback.id, via="console")
        db_session().commit()
    response = Response(recording.data, mimetype=AUDIO_TYPES.get(recording.content_type, recording.content_type))
    response.headers["Cache-Control"] = "no-store"
    return response.make_conditional(request, accept_ranges=True, complete_length=len(recording.data))


def _starts_listening() -> bool:
    ranges = request.range
    return ranges is None or not ranges.ranges or ranges.ranges[0][0] == 0


# --- correcting an answer -----------------------------------------------------------------------------------------


@bp.route("/callbacks/<int:callback_id>/answers/<item>/correct", methods=["POST"])
@permission_required(Action.ANSWER_CORRECT)
def callback_correct(callback_id: int, item: str) -> Any:
    callback: Callback = in_hall(Callback, callback_id)
    if item not in {i.code for i in ITEMS}:
        abort(404)
    form = CorrectionForm(prefix=item)
    if not form.validate_on_submit():
        return _refused_correction(callback, item, form)
    session = db_session()
    try:
        done = correct_answer(session, callback, item, form.value.data or "", form.reason.data or "",
                              actor=actor_of(current_user.row), now=clock.now(), user_id=current_user.id,
                              ip=client_ip())
    except CorrectionRefused as exc:
        session.rollback()
        form.form_errors.append(str(exc))
        return _refused_correction(callback, item, form)
    session.commit()
    _flash_correction(done)
    return redirect(url_for("console.callback_detail", callback_id=callback.id, _anchor="answers"))


def _refused_correction(callback: Callback, item: str, form: CorrectionForm) -> Any:
    detail = callback_view(db_session(), callback)
    if item not in detail["answers_by_item"]:
        flash(_("此项没有答案，不能更正"), "error")
        return redirect(url_for("console.callback_detail", callback_id=callback.id))
    return _detail_page(callback, status=400, corrections={item: _correction_form(item, detail, form)})


def _flash_correction(done: Any) -> None:
    item = next(i for i in ITEMS if i.code == done.item)
    label = {str(c.value): c.label for c in item.choices}
    flash(_("已更正%(item)s：%(old)s → %(new)s（原答案已保留）", item=_(item.label), old=_(label[done.old_value]),
            new=_(label[done.new_value])), "success")
    if done.case_opened:
        flash(_("更正后的答案需要整改：已开立整改 #%(id)d", id=done.case_id), "info")
    elif done.case_reasons_differ:
        flash(_("整改 #%(id)d 的原因与更正后的答案不一致，请到整改页面核实处理", id=done.case_id), "info")
    if done.integrity_alert:
        flash(_("更正为“有”（廉洁自律）：已即时提醒督查科"), "info")


# --- revealing the number or the suggestion ----------------------------------------------------------------------------


@bp.route("/callbacks/<int:callback_id>/reveal", methods=["POST"])
@permission_required(Action.PERSONAL_REVEAL)
def callback_reveal(callback_id: int) -> Any:
    callback: Callback = in_hall(Callback, callback_id)
    name = request.form.get("field", "")
    if name not in REVEAL_FIELDS:
        abort(400)
    form = RevealForm(prefix=name)
    if not form.validate_on_submit():
        return _detail_page(callback, status=400, reveals={name: form})
    session = db_session()
    reveal = reveal_phone if name == "phone" else reveal_suggestion
    try:
        text = reveal(session, callback.id, actor_of(current_user.row), form.reason.data or "",
                      user_id=current_user.id, ip=client_ip())
    except RevealRefused as exc:
        session.rollback()
        flash(str(exc), "error")  # at the top: a callback with no number (an on-site form) has no reveal box
        return _detail_page(callback, status=400, reveals={name: form})
    session.commit()
    shown = text.removeprefix("+86") if name == "phone" else text
    return _detail_page(callback, revealed={name: shown or _("（无）")})
