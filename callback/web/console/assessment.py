"""篇3 assessment pages (issue 15 §2, §4, §6; issue 14): each month's scores, a staff member's month with every
applied rule and where each figure came from, the entries page (per staff member and month: a clause picker with
the seed text, the fields the clause needs, corrections with a reason — never deletions), the monthly bulletin
with the leader's approval, the year with its 优秀服务标兵, and a staff member's own sheet.

Thin: the scores are ``callback.assessment``'s (`monthly_assessment`, `assess_year`, `staff_month`,
`year_payload`), entries go through `add_entry` / `correct_entry`, the bulletin through `monthly_bulletin`,
`approve_bulletin` and `render_bulletin_html`. Those services write their own audit events; `acting` gives them
the console account's name, id and address. A window lead holds none of these actions (403): they never see a
score. A staff account (``Action.OWN_SCORES``) sees its own sheet only: no ids, no notes, nobody who rated them.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from callback.accounts.roles import Action
from callback.assessment.annual import year_payload
from callback.assessment.bulletin import (
    TEMPLATES,
    BulletinError,
    approve_bulletin,
    bulletin_xlsx,
    monthly_bulletin,
    render_bulletin_html,
)
from callback.assessment.entries import (
    LEAVE,
    LEAVE_KINDS,
    MATERNITY,
    MAX_COUNT,
    MAX_NOTE,
    EntryError,
    EntryInput,
    add_entry,
    correct_entry,
    entry_history,
)
from callback.assessment.services import (
    SOURCE_LABELS,
    assess_year,
    last_month,
    month_in_reach,
    month_payload,
    staff_month,
)
from callback.assessment.workbook import month_xlsx, year_xlsx
from callback.db import db_session
from callback.models import Case, Hall, Staff, Window
from callback.models.assessment import AssessmentEntry
from callback.web.console import clock
from callback.web.console.attribution import acting
from callback.web.console.audit import audit
from callback.web.console.auth import in_hall, permission_required
from callback.web.console.blueprint import bp
from callback.web.console.forms import ButtonForm
from survey.assessment_rules import CLAUSES, CLAUSES_BY_ID, SECTIONS, Clause
from survey.weeks import PeriodError, month_of

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SCORED_SECTIONS = [s for s in SECTIONS if s.points is not None]
AUTOMATIC = {"evaluator": _l("评价器数据"), "revisit": _l("二次回访结果"), "ledger": _l("受理台账"),
             "district": _l("区级及以上电话回访")}


# --- forms ------------------------------------------------------------------------------------------------------


class EntryForm(FlaskForm):
    """One entry for a staff member's month; the view keeps only the fields the chosen clause needs."""

    clause = HiddenField()
    staff = SelectField(_l("工作人员"), coerce=int, validate_choice=False)
    day = DateField(_l("日期"), validators=[Optional()], description=_l("可不填；填写时须在本月内"))
    count = IntegerField(_l("次数"), default=1, validators=[
        InputRequired(message=_l("请填写次数")), NumberRange(min=1, max=MAX_COUNT, message=_l("次数须在 1–1000 之间"))])
    grade = SelectField(_l("情形（等次）"), validate_choice=False)
    minutes = IntegerField(_l("不在岗分钟数"), validators=[
        Optional(), NumberRange(min=1, max=100_000, message=_l("分钟数须为正整数"))],
        description=_l("超过 15 分钟按空岗、超过 120 分钟按旷工（篇3 一3）；填写分钟时可不选情形"))
    points = StringField(_l("每次分值"), validators=[Optional(), Length(max=8)],
                         description=_l("酌情扣分或加分的条款：在条款允许的范围内，以 0.5 分为单位"))
    note = TextAreaField(_l("说明"), validators=[Length(max=MAX_NOTE)],
                         description=_l("简要写明时间和事实；不要写群众的姓名、电话"))


class CorrectForm(EntryForm):
    """A correction: the entry's fields as they should have been, or withdrawn, always with the reason."""

    withdraw = BooleanField(_l("撤销这条录入（不再计分）"))
    reason = TextAreaField(_l("更正原因"), validators=[InputRequired(message=_l("请说明更正原因")), Length(max=MAX_NOTE)])


# --- shared -----------------------------------------------------------------------------------------------------


def _hall() -> Hall:
    return db_session().get(Hall, current_user.hall_id)


def _tz(hall: Hall) -> ZoneInfo:
    return ZoneInfo(hall.timezone or "Asia/Shanghai")


def _month(hall: Hall, now: datetime, given: str | None) -> str:
    """A month that has begun (the hall's time), as ``2026-11``; a bad one: 404 in a path, the current month with
    a message in the query string."""
    try:
        year, number = month_in_reach(given or month_of(now, _tz(hall)), hall, now)
    except PeriodError as exc:
        if request.view_args and "month" in request.view_args:
            abort(404)
        flash(str(exc), "error")
        year, number = month_in_reach(month_of(now, _tz(hall)), hall, now)
    return f"{year}-{number:02d}"


def _shift(month: str, step: int) -> str:
    year, number = (int(part) for part in month.split("-"))
    index = year * 12 + number - 1 + step
    return f"{index // 12}-{index % 12 + 1:02d}"


def _months_nav(month: str, hall: Hall, now: datetime) -> dict[str, str | None]:
    after = _shift(month, 1)
    return {"prev": _shift(month, -1), "next": after if after <= month_of(now, _tz(hall)) else None}


def _year_of(hall: Hall, month: str, now: datetime) -> Any:
    year, number = (int(part) for part in month.split("-"))
    return assess_year(db_session(), hall, year, number, now)


def link(endpoint: str, **values: Any) -> str | None:
    """A console page's URL when that page exists (pages other helpers add), else None."""
    if endpoint not in current_app.view_functions:
        return None
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def _download(data: bytes, name: str) -> Response:
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True, download_name=name)


# --- the month --------------------------------------------------------------------------------------------------


@bp.route("/assessment")
@permission_required(Action.ASSESSMENT_VIEW)
def assessment() -> Any:
    hall, now = _hall(), clock.now()
    month = _month(hall, now, request.args.get("month"))
    payload = month_payload(_year_of(hall, month, now), month)
    return render_template("console/assessment.html", payload=payload, month=month, sections=SCORED_SECTIONS,
                           nav=_months_nav(month, hall, now), year=int(month[:4]),
                           can_enter=current_user.can(Action.ASSESSMENT_ENTER))


@bp.route("/assessment/<month>.xlsx")
@permission_required(Action.ASSESSMENT_VIEW)
def assessment_xlsx(month: str) -> Response:
    hall, now = _hall(), clock.now()
    month = _month(hall, now, month)
    data = month_xlsx(month_payload(_year_of(hall, month, now), month))
    audit("assessment_exported", "assessment", None, month=month)
    db_session().commit()
    return _download(data, f"月度考核-{hall.code}-{month}.xlsx")


@bp.route("/assessment/<month>/staff/<int:staff_id>")
@permission_required(Action.ASSESSMENT_VIEW)
def assessment_staff(month: str, staff_id: int) -> Any:
    hall, now = _hall(), clock.now()
    month = _month(hall, now, month)
    member: Staff = in_hall(Staff, staff_id)
    row = staff_month(_year_of(hall, month, now), member, month)
    row["entries"] = [e | {"grade": grade_label(e["clause"], e["grade"])} for e in row["entries"]]
    return render_template("console/assessment_staff.html", row=row, month=month, sections=SCORED_SECTIONS,
                           member=member, clauses=CLAUSES_BY_ID, sources=_sources(row, month),
                           can_enter=current_user.can(Action.ASSESSMENT_ENTER))


def _sources(row: dict[str, Any], month: str) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Per applied rule, where its count came from, each with what to link: the entries on the entries page,
    rectification cases (五2) on their page when it exists, ledger cases (四7) by 办件编号, presses counted."""
    case_numbers = _case_numbers([i for f in row["figures"] if f["source"] == "ledger" for i in f["ids"]])
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rule in row["rules"]:
        out[(rule["clause"], rule["grade"])] = [_source(s, row["staff_id"], month, case_numbers)
                                                for s in rule["sources"]]
    return out


def _source(source: dict[str, Any], staff_id: int, month: str, case_numbers: dict[int, str]) -> dict[str, Any]:
    kind = source["source"]
    if kind == "entry":
        entries = url_for("console.assessment_entries", month=month, staff=staff_id)
        items = [{"text": f"#{i}", "url": f"{entries}#entry-{i}"} for i in source["entries"]]
    elif kind == "revisit":
        items = [{"text": _("整改 #%(id)d", id=i), "url": link("console.rectification", case_id=i)}
                 for i in source["ids"]]
    elif kind == "ledger":
        items = [{"text": case_numbers.get(i, f"#{i}"), "url": None} for i in source["ids"]]
    else:
        items = []
    return {"label": SOURCE_LABELS.get(kind, kind), "count": source["count"], "items": items}


def _case_numbers(ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db_session().execute(select(Case.id, Case.case_no).where(Case.id.in_(ids), Case.hall_id == current_user.hall_id))
    return {case_id: number for case_id, number in rows}


# --- entries ----------------------------------------------------------------------------------------------------


def grade_label(clause_id: str, grade: str | None) -> str | None:
    """How people name an entry's grade: the clause's own label (一1 迟到、早退不进行指纹录入), 因私请假 / 病假."""
    if grade is None:
        return None
    if clause_id == LEAVE:
        return LEAVE_KINDS.get(grade, grade)
    clause = CLAUSES_BY_ID.get(clause_id)
    try:
        return clause.grade(grade).label if clause is not None and len(clause.grades) > 1 else None
    except ValueError:
        return grade


def _staff_choices(hall: Hall) -> list[tuple[int, str]]:
    rows = db_session().scalars(select(Staff).where(Staff.hall_id == hall.id).order_by(Staff.name))
    return [(s.id, s.name) for s in rows]


def _clause_choice(given: str | None) -> Clause | str | None:
    """The clause the picker chose: a clause of 篇3, or 产假; None when nothing (or something unknown) is chosen."""
    if given == MATERNITY:
        return MATERNITY
    return CLAUSES_BY_ID.get(given or "")


def _picker() -> list[dict[str, Any]]:
    """篇3 二's sections with their clauses, as the picker lists them (the seed text of each)."""
    return [{"section": s, "clauses": [c for c in CLAUSES if c.section == s.id]} for s in SECTIONS]


def _grade_choices(chosen: Clause | str) -> list[tuple[str, str]]:
    if chosen == MATERNITY:
        return []
    if chosen.id == LEAVE:  # type: ignore[union-attr]
        return list(LEAVE_KINDS.items())
    grades = [(g.key, f"{g.label}（{g.points:+g} 分）") for g in chosen.grades]  # type: ignore[union-attr]
    if chosen.by_minutes:  # type: ignore[union-attr]
        return [("", _("按分钟数确定（空岗或旷工）")), *grades]
    return grades if len(grades) > 1 else []


def _needs(chosen: Clause | str | None) -> dict[str, bool]:
    """Which fields the chosen clause takes."""
    if chosen is None or chosen == MATERNITY:
        return {"count": False, "grade": False, "minutes": False, "points": False, "day": chosen is not None}
    return {"count": True, "grade": bool(_grade_choices(chosen)), "minutes": chosen.by_minutes,  # type: ignore[union-attr]
            "points": any(g.range for g in chosen.grades), "day": True}  # type: ignore[union-attr]


def _entry_form(hall: Hall, chosen: Clause | str | None, staff_id: int | None, form_class: type = EntryForm,
                **values: Any) -> Any:
    form = form_class(**values)
    form.staff.choices = _staff_choices(hall)
    if staff_id is not None and not form.is_submitted():
        form.staff.data = staff_id
    form.grade.choices = _grade_choices(chosen) if chosen is not None else []
    if chosen is not None:
        form.clause.data = chosen if chosen == MATERNITY else chosen.id  # type: ignore[union-attr]
    return form


@bp.route("/assessment/<month>/entries")
@permission_required(Action.ASSESSMENT_VIEW)
def assessment_entries(month: str) -> Any:
    hall, now = _hall(), clock.now()
    month = _month(hall, now, month)
    staff_id = request.args.get("staff", type=int)
    chosen = _clause_choice(request.args.get("clause"))
    form = _entry_form(hall, chosen, staff_id) if current_user.can(Action.ASSESSMENT_ENTER) else None
    return _entries_page(hall, month, staff_id, chosen, form)


def _entries_page(hall: Hall, month: str, staff_id: int | None, chosen: Clause | str | None, form: Any,
                  status: int = 200) -> Any:
    member = in_hall(Staff, staff_id) if staff_id else None
    history = [e | {"entered_at": datetime.fromisoformat(e["entered_at"]), "grade": grade_label(e["clause"], e["grade"])}
               for e in entry_history(db_session(), hall, month) if member is None or e["staff_id"] == member.id]
    return render_template(
        "console/assessment_entries.html", month=month, member=member, history=history, chosen=chosen,
        form=form, needs=_needs(chosen), picker=_picker() if form is not None else [], maternity=MATERNITY,
        leave=LEAVE, staff=_staff_choices(hall), clauses=CLAUSES_BY_ID, can_enter=form is not None,
        nav=_months_nav(month, hall, clock.now()),
    ), status


@bp.route("/assessment/<month>/entries", methods=["POST"])
@permission_required(Action.ASSESSMENT_ENTER)
def assessment_entry_add(month: str) -> Any:
    hall, now, session = _hall(), clock.now(), db_session()
    month = _month(hall, now, month)
    chosen = _clause_choice(request.form.get("clause"))
    if chosen is None:
        abort(400)
    form = _entry_form(hall, chosen, None)
    member = session.get(Staff, form.staff.data) if form.staff.data else None
    if member is None or member.hall_id != hall.id:
        form.staff.errors = [_("请选择工作人员")]
    elif _valid(form, chosen):
        try:
            with acting(session) as actor:
                entry = add_entry(session, hall, _input(form, chosen, member.name, month), now, actor=actor,
                                  origin="console")
        except EntryError as exc:
            session.rollback()
            form.form_errors.append(str(exc))
        else:
            session.commit()
            flash(_("已录入 #%(id)d：%(name)s %(clause)s", id=entry.id, name=member.name, clause=entry.clause),
                  "success")
            return redirect(url_for("console.assessment_entries", month=month, staff=member.id) + "#history")
    return _entries_page(hall, month, member.id if member else None, chosen, form, status=400)


def _valid(form: EntryForm, chosen: Clause | str) -> bool:
    """The form's own checks, for the fields this clause takes (the others are ignored)."""
    needs = _needs(chosen)
    form.validate()
    ignored = {name for name, needed in needs.items() if not needed} | {"clause", "staff", "withdraw"}
    return not any(errors for name, errors in form.errors.items() if name not in ignored)


def _input(form: EntryForm, chosen: Clause | str, staff: str, month: str) -> EntryInput:
    needs = _needs(chosen)
    return EntryInput(
        staff=staff, clause=form.clause.data, month=month, day=form.day.data if needs["day"] else None,
        count=form.count.data if needs["count"] else 1, grade=(form.grade.data or None) if needs["grade"] else None,
        minutes=form.minutes.data if needs["minutes"] else None,
        points=(form.points.data or None) if needs["points"] else None, note=form.note.data or "",
    )


@bp.route("/assessment/entries/<int:entry_id>/correct", methods=["GET", "POST"])
@permission_required(Action.ASSESSMENT_ENTER)
def assessment_entry_correct(entry_id: int) -> Any:
    entry: AssessmentEntry = in_hall(AssessmentEntry, entry_id)
    hall, now, session = _hall(), clock.now(), db_session()
    chosen = _clause_choice(entry.clause) or abort(404)
    form = _entry_form(hall, chosen, entry.staff_id, CorrectForm, **({} if request.method == "POST" else {
        "count": entry.count, "minutes": entry.minutes, "grade": entry.grade or "", "note": entry.note,
        "day": entry.day, "points": "" if entry.points is None else f"{entry.points:g}"}))
    form.staff.data = entry.staff_id
    if form.is_submitted() and _valid_correction(form, chosen):
        try:
            with acting(session) as actor:
                newer = correct_entry(session, hall, entry.id, _changes(form, chosen, entry), form.reason.data or "",
                                      now, actor=actor)
        except EntryError as exc:
            session.rollback()
            form.form_errors.append(str(exc))
        else:
            session.commit()
            flash(_("已更正 #%(old)d，新录入 #%(new)d", old=entry.id, new=newer.id), "success")
            return redirect(url_for("console.assessment_entries", month=entry.month, staff=entry.staff_id)
                            + "#history")
    member = session.get(Staff, entry.staff_id)
    return render_template("console/assessment_entry_correct.html", entry=entry, member=member, form=form,
                           needs=_needs(chosen), clause=CLAUSES_BY_ID.get(entry.clause), maternity=MATERNITY,
                           leave=LEAVE), 400 if form.is_submitted() else 200


def _valid_correction(form: CorrectForm, chosen: Clause | str) -> bool:
    """A withdrawal needs only the reason; a correction the fields its clause takes, and the reason."""
    fields_ok = _valid(form, chosen)
    return not form.reason.errors and (fields_ok or bool(form.withdraw.data))


def _changes(form: CorrectForm, chosen: Clause | str, entry: AssessmentEntry) -> dict[str, Any]:
    """What the correction gives (the same clause and month); withdrawing keeps everything but the count."""
    if form.withdraw.data:
        return {"count": 0}
    given = _input(form, chosen, "", entry.month)
    return {"count": given.count, "grade": given.grade, "minutes": given.minutes, "points": given.points,
            "note": given.note, "day": given.day, "month": entry.month}


# --- the bulletin -----------------------------------------------------------------------------------------------


@bp.route("/assessment/<month>/bulletin")
@permission_required(Action.ASSESSMENT_VIEW)
def assessment_bulletin(month: str) -> Any:
    hall, now = _hall(), clock.now()
    month = _month(hall, now, month)
    bulletin = monthly_bulletin(db_session(), hall, month, now)
    return render_template("console/assessment_bulletin.html", b=bulletin, month=month, button=ButtonForm(),
                           sections=SCORED_SECTIONS, can_approve=current_user.can(Action.RESULTS_APPROVE))


@bp.route("/assessment/<month>/bulletin/print")
@permission_required(Action.ASSESSMENT_VIEW)
def assessment_bulletin_print(month: str) -> Any:
    """The printable bulletin, the very page `callback assess bulletin --html` writes (its stylesheet linked)."""
    hall, now = _hall(), clock.now()
    bulletin = monthly_bulletin(db_session(), hall, _month(hall, now, month), now)
    return render_bulletin_html(bulletin, stylesheet_url=url_for("console.assessment_bulletin_css"))


@bp.route("/assessment/bulletin.css")
@permission_required(Action.ASSESSMENT_VIEW)
def assessment_bulletin_css() -> Response:
    """The bulletin's own stylesheet, served (the content security policy allows no inline style)."""
    css = (TEMPLATES / "assessment" / "bulletin.css").read_text(encoding="utf-8")
    return current_app.response_class(css, mimetype="text/css")


@bp.route("/assessment/<month>/bulletin.xlsx")
@permission_required(Action.ASSESSMENT_VIEW)
def assessment_bulletin_xlsx(month: str) -> Response:
    hall, now = _hall(), clock.now()
    month = _month(hall, now, month)
    data = bulletin_xlsx(monthly_bulletin(db_session(), hall, month, now))
    audit("assessment_bulletin_exported", "assessment", None, month=month)
    db_session().commit()
    return _download(data, f"考核简报-{hall.code}-{month}.xlsx")


@bp.route("/assessment/<month>/bulletin/approve", methods=["POST"])
@permission_required(Action.RESULTS_APPROVE)
def assessment_bulletin_approve(month: str) -> Response:
    """The leader approves the month's bulletin as it stands (篇3 三(二)1); audited by the service."""
    hall, now, session = _hall(), clock.now(), db_session()
    month = _month(hall, now, month)
    user = current_user.row
    try:
        with acting(session) as actor:
            approve_bulletin(session, hall, month, user.display_name or user.username, now, actor=actor)
    except BulletinError as exc:
        session.rollback()
        flash(str(exc), "error")
    else:
        session.commit()
        flash(_("已审批 %(month)s 的考核简报", month=month), "success")
    return redirect(url_for("console.assessment_bulletin", month=month))


# --- the year ---------------------------------------------------------------------------------------------------


@bp.route("/assessment/year")
@permission_required(Action.ASSESSMENT_VIEW)
def assessment_year() -> Any:
    hall, now = _hall(), clock.now()
    year = _year(hall, now)
    payload = year_payload(db_session(), assess_year(db_session(), hall, year, last_month(year, hall, now), now))
    payload["staff"].sort(key=lambda r: (r["score"] is None, -(r["score"] or 0), r["name"]))
    current = month_of(now, _tz(hall))
    return render_template("console/assessment_year.html", payload=payload, year=year,
                           this_year=int(current[:4]), year_over=current > f"{year}-12")


def _year(hall: Hall, now: datetime) -> int:
    current = int(month_of(now, _tz(hall))[:4])
    year = request.args.get("year", type=int) or current
    if not 2000 <= year <= current:
        flash(_("年份须在 2000 年至今年之间"), "error")
        return current
    return year


@bp.route("/assessment/year/<int:year>.xlsx")
@permission_required(Action.ASSESSMENT_VIEW)
def assessment_year_xlsx(year: int) -> Response:
    hall, now = _hall(), clock.now()
    try:
        through = last_month(year, hall, now)
    except PeriodError:
        abort(404)
    data = year_xlsx(year_payload(db_session(), assess_year(db_session(), hall, year, through, now)))
    audit("assessment_exported", "assessment", None, year=year)
    db_session().commit()
    return _download(data, f"年度考核-{hall.code}-{year}.xlsx")


# --- a staff member's own sheet ----------------------------------------------------------------------------------


@bp.route("/my-scores")
@permission_required(Action.OWN_SCORES)
def my_scores() -> Any:
    """The logged-in staff member's own month: sections, bonus, total, the rules applied with their counts — no
    ids, no notes, no one who rated them."""
    hall, now, session = _hall(), clock.now(), db_session()
    member = session.get(Staff, current_user.row.staff_id) if current_user.row.staff_id else None
    if member is None or member.hall_id != hall.id:
        return render_template("console/my_scores.html", member=None, row=None)
    month = _month(hall, now, request.args.get("month"))
    row = staff_month(_year_of(hall, month, now), member, month)
    status = monthly_bulletin(session, hall, month, now)["status"]
    window = session.get(Window, member.window_id) if member.window_id else None
    return render_template("console/my_scores.html", member=member, row=_own(row), month=month,
                           sections=SCORED_SECTIONS, nav=_months_nav(month, hall, now), status=status,
                           window=window, clauses=CLAUSES_BY_ID)


def _own(row: dict[str, Any]) -> dict[str, Any]:
    """What a staff member sees of their month: no entry, press or case ids, no notes, no who-entered."""
    keep = ("name", "windows", "assessed", "maternity", "sections", "bonus", "bonus_uncapped", "total",
            "bonus_items", "award_bars", "year_to_date")
    rules = [{key: rule[key] for key in ("clause", "section", "grade", "label", "count", "per_occurrence", "points")}
             | {"sources": [SOURCE_LABELS.get(s["source"], s["source"]) for s in rule["sources"]]}
             for rule in row["rules"]]
    return {key: row[key] for key in keep} | {"rules": rules}
