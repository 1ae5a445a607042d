"""Results and publication (issue 14 §7; 篇2 六, 篇1 红旗窗口): the weekly and monthly reports as pages, their XLSX,
the preview of the public board, the leader's approval and the supervisor's publication.

Thin: the figures are ``callback.results.report``'s, the approve-then-publish rule is
``callback.results.publication`` (`approve_results`, `publish_results`), and the preview renders the board's own
page (`callback.web.board.render_week` / `render_month`) over the publication as it would be stored, rolled back
(`preview_publication`) — so the preview and the board cannot differ. Only the leader approves
(``Action.RESULTS_APPROVE``) and only a supervisor publishes (``Action.RESULTS_PUBLISH``); both are audited by
the service with the account and its address.
"""

from __future__ import annotations

import io
import tempfile
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import TextAreaField
from wtforms.validators import Length

from callback.accounts.roles import Action
from callback.accounts.services import actor_of
from callback.db import db_session
from callback.models import Hall
from callback.models.publication import MONTH, WEEK
from callback.responses.onsite import ONSITE_TARGET
from callback.results.publication import (
    REASON_MAX,
    PeriodStatus,
    PublishRefused,
    approve_results,
    parse_month_or_refuse,
    parse_week,
    period_status,
    preview_publication,
    publish_results,
)
from callback.results.report import ITEM_TITLES, monthly_report, weekly_report, write_xlsx
from callback.web import board
from callback.web.console import clock
from callback.web.console.audit import audit
from callback.web.console.auth import client_ip, permission_required
from callback.web.console.blueprint import bp
from callback.web.console.forms import ButtonForm
from survey.questionnaire import ITEMS
from survey.weeks import month_of, week_dates, week_of

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class PublishForm(FlaskForm):
    """The supervisor's publish button; the reason confirms publishing a week (or month) that is not finished."""

    reason = TextAreaField(_l("确认仍要发布的原因"), validators=[Length(max=REASON_MAX)],
                           description=_l("本期尚未完成时必填，例如：领导要求按时公示，剩余回访完成后再发布新版本"))


# --- periods ----------------------------------------------------------------------------------------------------


def _hall() -> Hall:
    return db_session().get(Hall, current_user.hall_id)


def _tz(hall: Hall) -> ZoneInfo:
    return ZoneInfo(hall.timezone or "Asia/Shanghai")


def _iso_week(day: date) -> str:
    year, week, _weekday = day.isocalendar()
    return f"{year}-W{week:02d}"


def _shift_month(month: str, step: int) -> str:
    year, number = (int(part) for part in month.split("-"))
    index = year * 12 + number - 1 + step
    return f"{index // 12}-{index % 12 + 1:02d}"


def _checked(kind: str, period: str) -> str:
    """The period as written (a month normalised), or 404 for a malformed one or an unknown kind."""
    try:
        if kind == WEEK:
            parse_week(period)
            return period
        if kind == MONTH:
            return parse_month_or_refuse(period)
    except PublishRefused:
        pass
    abort(404)


def _asked(kind: str, default: str) -> str:
    """The period the query string names, or ``default`` (a malformed one says so)."""
    given = (request.args.get(kind) or "").strip()
    if not given:
        return default
    try:
        if kind == MONTH:
            return parse_month_or_refuse(given)
        parse_week(given)
        return given
    except PublishRefused:
        flash(_("周次或月份格式不正确：%(value)s（例如 2026-W48、2026-11）", value=given), "error")
        return default


def _default_week(hall: Hall, now: datetime) -> str:
    """The week that ended last: the one to publish next."""
    return week_of(now - timedelta(days=7), _tz(hall))


def _page_url(kind: str, period: str) -> str:
    return url_for("console.results", week=period) if kind == WEEK else url_for("console.results_month", month=period)


# --- pages ------------------------------------------------------------------------------------------------------


@bp.route("/results")
@permission_required(Action.RESULTS_VIEW)
def results() -> Any:
    hall, now = _hall(), clock.now()
    week = _asked(WEEK, _default_week(hall, now))
    monday, sunday = week_dates(week)
    report = weekly_report(db_session(), hall, week, now)
    return _render(hall, WEEK, week, report, now, nav={
        "prev": _iso_week(monday - timedelta(days=7)), "next": _iso_week(monday + timedelta(days=7)),
        "current": week_of(now, _tz(hall)), "from": monday, "to": sunday,
    })


@bp.route("/results/month")
@permission_required(Action.RESULTS_VIEW)
def results_month() -> Any:
    hall, now = _hall(), clock.now()
    month = _asked(MONTH, _shift_month(month_of(now, _tz(hall)), -1))  # the month that ended last
    report = monthly_report(db_session(), hall, month, now)
    return _render(hall, MONTH, month, report, now, nav={
        "prev": _shift_month(month, -1), "next": _shift_month(month, 1), "current": month_of(now, _tz(hall)),
        "from": report["from"], "to": report["to"],
    })


def _render(hall: Hall, kind: str, period: str, report: dict[str, Any], now: datetime,
            nav: dict[str, Any]) -> str:
    status = period_status(db_session(), hall, kind, period, now)
    return render_template(
        "console/results.html", kind=kind, period=period, report=report, status=status, nav=nav,
        items=_item_rows(report),
        publish_form=PublishForm(), button=ButtonForm(), onsite_target=ONSITE_TARGET,
        can_approve=current_user.can(Action.RESULTS_APPROVE), can_publish=current_user.can(Action.RESULTS_PUBLISH),
        board_url=_board_url(hall, status),
    )


def _item_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per window and item: the answers by level (rated items) or yes/no (体外循环, 廉洁自律)."""
    rows = []
    for window in [*report["windows"], report["totals"]]:
        for item in ITEMS:
            counts = window["items"][item.code]
            rows.append({"window": window["window"], "item": ITEM_TITLES.get(item.code, item.label),
                         "rated": item.kind == "rating", "counts": counts})
    return rows


def _board_url(hall: Hall, status: PeriodStatus) -> str | None:
    if status.published is None:
        return None
    if status.kind == WEEK:
        return url_for("board.for_week", week=status.period, hall=hall.code)
    return url_for("board.for_month", month=status.period, hall=hall.code)


@bp.route("/results/<kind>/<period>.xlsx")
@permission_required(Action.RESULTS_VIEW)
def results_xlsx(kind: str, period: str) -> Response:
    """The period's workbook (the writer `callback report --xlsx` uses; no formula cells), as an attachment."""
    period = _checked(kind, period)
    hall, now = _hall(), clock.now()
    report = (weekly_report if kind == WEEK else monthly_report)(db_session(), hall, period, now)
    with tempfile.TemporaryDirectory() as folder:
        data = write_xlsx(report, Path(folder) / "report.xlsx").read_bytes()
    audit("results_exported", "results", None, kind=kind, period=period)
    db_session().commit()
    name = f"回访结果-{hall.code}-{period}.xlsx"
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True, download_name=name)


@bp.route("/results/<kind>/<period>/preview")
@permission_required(Action.RESULTS_VIEW)
def results_preview(kind: str, period: str) -> Any:
    """What the public board will show once the period is published now: the board's own page."""
    period = _checked(kind, period)
    hall, session = _hall(), db_session()
    render = board.render_week if kind == WEEK else board.render_month
    try:
        page = preview_publication(session, hall, kind, period, clock.now(), partial(render, hall))
    except PublishRefused as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(_page_url(kind, period))
    session.rollback()  # nothing of the preview stays (and the hall's row lock is let go)
    return page


@bp.route("/results/<kind>/<period>/approve", methods=["POST"])
@permission_required(Action.RESULTS_APPROVE)
def results_approve(kind: str, period: str) -> Response:
    period = _checked(kind, period)
    user, session = current_user.row, db_session()
    try:
        approval = approve_results(session, _hall(), kind, period, clock.now(),
                                   approved_by=user.display_name or user.username, actor=actor_of(user),
                                   user_id=user.id, ip=client_ip())
    except PublishRefused as exc:
        session.rollback()
        flash(str(exc), "error")
    else:
        session.commit()
        flash(_("已审核 %(period)s 的结果（审核人：%(name)s）。督查科可以发布了。", period=period,
                name=approval.approved_by), "success")
    return redirect(_page_url(kind, period))


@bp.route("/results/<kind>/<period>/publish", methods=["POST"])
@permission_required(Action.RESULTS_PUBLISH)
def results_publish(kind: str, period: str) -> Response:
    period = _checked(kind, period)
    form, session = PublishForm(), db_session()
    if not form.validate_on_submit():
        flash("；".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(_page_url(kind, period))
    try:
        published = publish_results(session, _hall(), kind, period, clock.now(), actor=actor_of(current_user.row),
                                    user_id=current_user.id, ip=client_ip(), incomplete_reason=form.reason.data)
    except PublishRefused as exc:
        session.rollback()
        flash(str(exc), "error")
    else:
        session.commit()
        flash(_("已发布 %(period)s 第 %(version)d 版，公示板已更新。", period=period, version=published.version),
              "success")
    return redirect(_page_url(kind, period))
