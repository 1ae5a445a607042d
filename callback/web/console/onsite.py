"""On-site forms (篇2 三(二): 每周在中心办事大厅向前来办事的申请人发放5份征求意见表，现场填写、回访，做好汇总;
issue 14 §4): a paper 征求意见表 entered by hand — window, date, the six answers as radio buttons with their
meanings, the suggestion — or a file of them; the week's forms against the target of 5.

    GET  /console/onsite[?week=2026-W48]   the week's forms, the entry form, the upload
    POST /console/onsite                   one form (callback.responses.onsite.add_form)
    POST /console/onsite/import            a CSV/XLSX of forms (import_forms): rows added, rows rejected and why

Supervisors (``ONSITE_ENTER``). Each form is a response of its window (channel ``onsite``) and opens a
rectification case when one is needed (篇2 五); every entry and import is audited with the account.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired

from callback.accounts.roles import Action
from callback.accounts.services import actor_of
from callback.config import current_settings
from callback.db import db_session
from callback.models import Hall, Window
from callback.responses import onsite as forms
from callback.responses.entry import EntryError
from callback.responses.states import STATE_LABELS
from callback.web.console import clock
from callback.web.console.audit import audit
from callback.web.console.auth import permission_required
from callback.web.console.blueprint import bp
from callback.web.console.questionnaire_form import AnswersForm
from survey.questionnaire import ITEMS
from survey.weeks import PeriodError, week_dates, week_of

SUFFIXES = (".csv", ".xlsx", ".xls")


class OnsiteForm(AnswersForm):
    window = SelectField(_l("窗口"), validate_choice=False,
                         validators=[DataRequired(message=_l("请选择窗口"))])
    day = StringField(_l("填表日期"), render_kw={"type": "date"}, description=_l("默认今天；不能晚于今天"))


class OnsiteUploadForm(FlaskForm):
    file = FileField(_l("征求意见表文件（CSV 或 XLSX）"),
                     validators=[FileRequired(message=_l("请选择要上传的文件"))],
                     description=_l("表头：窗口、日期、答案（如 112111）或各项一列（服务态度…总体评价）、意见建议"))


def _hall() -> Hall:
    return db_session().get(Hall, current_user.hall_id)


def _tz(hall: Hall) -> ZoneInfo:
    return ZoneInfo(hall.timezone or current_settings().timezone)


def _entry_form(hall: Hall) -> OnsiteForm:
    form = OnsiteForm()
    names = db_session().scalars(select(Window.name).where(Window.hall_id == hall.id).order_by(Window.name))
    form.window.choices = [("", _("（请选择窗口）"))] + [(name, name) for name in names]
    if request.method == "GET":
        form.day.data = clock.now().astimezone(_tz(hall)).date().isoformat()
    return form


@bp.route("/onsite")
@permission_required(Action.ONSITE_ENTER)
def onsite() -> Any:
    hall = _hall()
    return _page(hall, _entry_form(hall), OnsiteUploadForm())


def _page(hall: Hall, entry: OnsiteForm, upload: OnsiteUploadForm, status: int = 200,
          report: forms.ImportReport | None = None, week: str | None = None) -> Any:
    week = week or request.args.get("week") or week_of(clock.now(), _tz(hall))
    try:
        summary = forms.week_forms(db_session(), hall, week)
    except PeriodError:
        summary = forms.week_forms(db_session(), hall, week_of(clock.now(), _tz(hall)))
        flash(_("周次格式应为 2026-W48，已显示本周"), "error")
    db_session().commit()
    for row in summary["forms"]:
        row["answers"] = answer_words(row["keys"])
    return render_template("console/onsite.html", summary=summary, entry=entry, upload=upload, report=report,
                           items=ITEMS, states=STATE_LABELS, days=week_dates(summary["week"]),
                           previous=_shift(summary["week"], -1), next=_shift(summary["week"], 1)), status


def answer_words(keys: str) -> list[tuple[str, str]]:
    """``112-11`` → [(服务态度, 满意), (办事效率, 满意), (按章办事, 基本满意), (体外循环, 未回答), …]."""
    words = []
    for item, key in zip(ITEMS, keys, strict=False):
        choice = next((c.label for c in item.choices if c.key == key), None)
        words.append((_(item.label), _(choice) if choice else _("未回答")))
    return words


def _shift(week: str, weeks: int) -> str:
    """The ISO week ``weeks`` before or after ``week``."""
    iso = (week_dates(week)[0] + timedelta(weeks=weeks)).isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


@bp.route("/onsite", methods=["POST"])
@permission_required(Action.ONSITE_ENTER)
def onsite_add() -> Any:
    session, hall = db_session(), _hall()
    form = _entry_form(hall)
    if not form.validate_on_submit():
        return _page(hall, form, OnsiteUploadForm(), 400)
    try:
        day = forms.read_day(form.day.data) if (form.day.data or "").strip() else None
        result = forms.add_form(session, hall, forms.OnsiteForm(form.window.data or "", day, form.entry()),
                                 clock.now(), actor=actor_of(current_user.row))
    except EntryError as exc:
        session.rollback()
        form.form_errors.append(str(exc))
        return _page(hall, form, OnsiteUploadForm(), 400)
    audit("onsite_form_entered", "callback", result.callback_id, window=result.window, date=result.day.isoformat(),
          keys=result.keys, rectification_id=result.rectification_id)
    session.commit()
    flash(_added_message(result), "success")
    return redirect(url_for("console.onsite", week=result.week))


def _added_message(result: forms.FormResult) -> str:
    message = _("已录入%(window)s %(date)s 的征求意见表（%(outcome)s）", window=result.window,
                date=result.day.isoformat(), outcome=_(STATE_LABELS.get(result.outcome, result.outcome)))
    if result.rectification_id:
        message += _("，已立案整改#%(id)d", id=result.rectification_id)
    return message


@bp.route("/onsite/import", methods=["POST"])
@permission_required(Action.ONSITE_ENTER)
def onsite_import() -> Any:
    session, hall = db_session(), _hall()
    upload = OnsiteUploadForm()
    if not upload.validate_on_submit():
        return _page(hall, _entry_form(hall), upload, 400)
    suffix = Path(upload.file.data.filename or "").suffix.lower()
    if suffix not in SUFFIXES:
        upload.file.errors.append(_("只能上传 CSV 或 XLSX 文件"))
        return _page(hall, _entry_form(hall), upload, 400)
    try:
        report = _imported(session, hall, upload, suffix)
    except EntryError as exc:  # FormFileError: a file that cannot be imported at all
        session.rollback()
        upload.file.errors.append(str(exc))
        return _page(hall, _entry_form(hall), upload, 400)
    audit("onsite_forms_imported", "callback", None, added=[f.callback_id for f in report.added],
          skipped_rows=report.skipped, rejected_rows=[row for row, _reason in report.rejected])
    session.commit()
    week = report.added[-1].week if report.added else None
    return _page(hall, _entry_form(hall), OnsiteUploadForm(formdata=None), 200, report=report, week=week)


def _imported(session: Any, hall: Hall, upload: OnsiteUploadForm, suffix: str) -> forms.ImportReport:
    with tempfile.TemporaryDirectory(prefix="console-onsite-") as folder:
        path = Path(folder) / f"forms{suffix}"
        upload.file.data.save(path)
        return forms.import_forms(session, hall, path, clock.now(), actor=actor_of(current_user.row))
