"""The working-day calendar (issue 14 §8; docs/architecture.md §Working days): each year with its source —
``official`` (the chinese_calendar package), ``loaded`` (a State Council notice an administrator loaded) or
``estimated`` (weekends and statutory holidays, no 调休: flagged) — its days off and make-up workdays; and loading
a notice file (``date,kind,name``), as ``callback calendar load`` does: callback.calendar.services reads it (every
bad line by number, nothing loaded), and open rectification cases get their deadlines worked out again on the new
calendar (callback.rectification.services.recompute_deadlines, the hook the command line's composition root
passes). The calendar is the deployment's, shared by every hall. A load is an audit event.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from callback.accounts.roles import N_, Action
from callback.calendar.services import (
    ScheduleFileError,
    WorkingCalendar,
    load_calendar,
    load_schedule_file,
    official_package_version,
    official_years,
)
from callback.db import db_session
from callback.rectification.services import recompute_deadlines
from callback.web.console import clock
from callback.web.console.attribution import acting
from callback.web.console.audit import audit
from callback.web.console.auth import permission_required
from callback.web.console.blueprint import bp
from callback.web.console.i18n import localtime
from callback.web.console.imports import safe_filename

SOURCE_LABELS = {
    "official": N_("官方数据（chinese_calendar 数据包）"),
    "loaded": N_("管理员载入的国务院通知"),
    "estimated": N_("估算（周末加法定节假日，不含调休）"),
}
WEEKDAYS = (N_("周一"), N_("周二"), N_("周三"), N_("周四"), N_("周五"), N_("周六"), N_("周日"))


class CalendarUploadForm(FlaskForm):
    file = FileField(_l("放假安排文件"), validators=[FileRequired(message=_l("请选择要上传的文件"))],
                     description=_l("CSV 文件，表头 date,kind,name：kind 为 holiday（放假）或 workday（调休上班）；"
                                    "一个文件一年，载入后取代该年原有数据"),
                     render_kw={"accept": ".csv,.txt"})


@bp.route("/admin/calendar")
@permission_required(Action.ADMIN_CALENDAR)
def admin_calendar() -> Any:
    return _page(CalendarUploadForm())


def _page(form: CalendarUploadForm, problems: list[str] | None = None, status: int = 200) -> Any:
    cal = load_calendar(db_session())
    this_year = localtime(clock.now(), "%Y")
    years = sorted({int(this_year) - 1, int(this_year), int(this_year) + 1, *cal.loaded_years})
    year = _year_arg(int(this_year))
    first, last = official_years()
    return render_template(
        "console/admin_calendar.html", form=form, problems=problems or [], rows=[_year_row(cal, y) for y in years],
        year=_year_row(cal, year), days=_days(cal, year), official=(first, last, official_package_version()),
        loaded_years=cal.loaded_years, source_labels=SOURCE_LABELS), status


def _year_arg(default: int) -> int:
    value = request.args.get("year", "")
    return int(value) if value.isdigit() and 1900 < int(value) < 2200 else default


def _year_row(cal: WorkingCalendar, year: int) -> dict[str, Any]:
    schedule = cal.schedule(year)
    return {"year": year, "source": cal.source(year), "days_off": len(schedule.days_off),
            "workdays": len(schedule.workdays),
            "working_days": cal.working_days_between(date(year - 1, 12, 31), date(year, 12, 31))}


def _days(cal: WorkingCalendar, year: int) -> dict[str, list[tuple[date, str, str]]]:
    """The year's days off and make-up workdays: (date, weekday, holiday name), in date order."""
    schedule = cal.schedule(year)

    def listed(days: dict[date, str]) -> list[tuple[date, str, str]]:
        return [(d, _(WEEKDAYS[d.weekday()]), name) for d, name in sorted(days.items())]

    return {"days_off": listed(dict(schedule.days_off)), "workdays": listed(dict(schedule.workdays))}


@bp.route("/admin/calendar/load", methods=["POST"])
@permission_required(Action.ADMIN_CALENDAR)
def admin_calendar_load() -> Any:
    form = CalendarUploadForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    session, name = db_session(), safe_filename(form.file.data.filename)
    try:
        with tempfile.TemporaryDirectory(prefix="console-calendar-") as folder:
            path = Path(folder) / name
            form.file.data.save(path)
            result = load_schedule_file(session, path)
        with acting(session) as actor:
            recomputed = recompute_deadlines(session, clock.now(), actor=actor) if result.changed else []
    except ScheduleFileError as exc:
        session.rollback()
        return _page(form, [_("%(name)s 有误，未载入任何内容：", name=name), *str(exc).splitlines()], 400)
    if result.changed:
        audit("calendar_loaded", "calendar", result.year, file=name, year=result.year, holidays=result.holidays,
              workdays=result.workdays, previous_source=result.previous_source, recomputed=recomputed)
    session.commit()
    _flash_result(result, recomputed)
    return redirect(url_for("console.admin_calendar", year=result.year))


def _flash_result(result: Any, recomputed: list[int]) -> None:
    if not result.changed:
        flash(_("%(year)d 年的安排与已载入的内容相同，未作改动", year=result.year), "info")
        return
    flash(_("已载入 %(year)d 年的放假安排：放假 %(off)d 天，调休上班 %(work)d 天（取代：%(before)s）", year=result.year,
            off=result.holidays, work=result.workdays, before=_(SOURCE_LABELS[result.previous_source])), "success")
    if recomputed:
        flash(_("已按新日历重算 %(n)d 件尚未反馈整改的期限", n=len(recomputed)), "info")
