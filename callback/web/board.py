"""The public board (篇2 六; 篇1): the latest published week of a hall, and its published months with their
红旗窗口, for the big screen and print.

Thin: it reads `PublishedReport.figures` (the whitelist of `callback.results.publication.public_figures`) and nothing
else, so nothing unpublished and no personal data can reach the page. The approver is not shown publicly.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request

from callback.config import current_settings
from callback.db import db_session
from callback.halls.services import UnknownHall, get_hall
from callback.models import Hall, PublishedReport
from callback.models.publication import MONTH
from callback.results.publication import (
    PublishRefused,
    latest_published,
    parse_month_or_refuse,
    parse_week,
    published_weeks,
)
from survey.weeks import week_dates

bp = Blueprint("board", __name__)
REFRESH_SECONDS = 300


def _md(day: Any) -> str:
    return f"{day.month}月{day.day}日"


def week_label(week: str) -> str:
    """``"2026-W48"`` → ``"2026年第48周（11月23日—11月29日）"``: the week and its Monday to Sunday."""
    year, number = parse_week(week)
    monday, sunday = week_dates(week)
    return f"{year}年第{number}周（{_md(monday)}—{_md(sunday)}）"


def month_label(month: str) -> str:
    """``"2026-11"`` → ``"2026年11月"``."""
    year, number = (int(part) for part in parse_month_or_refuse(month).split("-"))
    return f"{year}年{number}月"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "—"
    return f"{low * 100:.1f}%–{high * 100:.1f}%"


def _row(figures: dict[str, Any]) -> dict[str, Any]:
    questionnaire, evaluator = figures["sources"]["questionnaire"], figures["sources"]["evaluator"]
    return {
        "window": figures["window"], "n": figures["n"],
        "questionnaire_n": questionnaire["n"], "questionnaire_score": _score(questionnaire["score"]),
        "evaluator_n": evaluator["n"], "evaluator_score": _score(evaluator["score"]),
        "score": _score(figures["score"]), "grade": figures["grade"],
        "interval": _interval(figures["ci_low"], figures["ci_high"]),
    }


def _published_at(hall: Hall, published: PublishedReport) -> str:
    local = published.published_at.astimezone(ZoneInfo(hall.timezone or "Asia/Shanghai"))
    return local.strftime("%Y-%m-%d %H:%M")


def _page(hall: Hall, published: PublishedReport, label: str) -> dict[str, Any]:
    figures = published.figures
    return {
        "hall_name": hall.name, "hall_code": hall.code, "period": published.period, "label": label,
        "version": published.version, "rows": [_row(w) for w in figures["windows"]],
        "total": _row(figures["totals"]), "published_at": _published_at(hall, published),
    }


def _red_flags(hall: Hall, published: PublishedReport | None) -> dict[str, Any] | None:
    """A published month's 红旗窗口, as the board shows them; None before any month is published."""
    if published is None:
        return None
    flags = published.figures["red_flags"]
    tied = [f"第{t['place']}名并列：{'、'.join(t['windows'])}（{_score(t['score'])} 分）" for t in flags["tied"]]
    return {
        "month": published.period, "label": month_label(published.period), "hall_code": hall.code,
        "windows": [{"place": r["place"], "window": r["window"], "score": _score(r["score"]), "grade": r["grade"]}
                    for r in flags["windows"]],
        "tied": tied, "too_few": "、".join(flags["too_few"]), "rule": flags["rule"],
    }


def _hall() -> Hall | None:
    try:
        return get_hall(db_session(), request.args.get("hall") or current_settings().default_hall)
    except UnknownHall:
        return None


def _not_found(message: str) -> tuple[str, int]:
    return render_template("board/not_found.html", message=message, refresh=REFRESH_SECONDS), 404


def _latest_month(hall: Hall) -> PublishedReport | None:
    return latest_published(db_session(), hall, kind=MONTH)


def render_week(hall: Hall, published: PublishedReport) -> str:
    """The board's page of a published week (the console's preview renders a publication through it too)."""
    weeks = published_weeks(db_session(), hall)
    return render_template("board/week.html", page=_page(hall, published, week_label(published.period)),
                           refresh=REFRESH_SECONDS, weeks=[(w, week_label(w)) for w in weeks],
                           red_flags=_red_flags(hall, _latest_month(hall)))


def render_month(hall: Hall, published: PublishedReport) -> str:
    """The board's page of a published month and its 红旗窗口 (also the console's preview)."""
    months = published_weeks(db_session(), hall, kind=MONTH)
    return render_template("board/month.html", page=_page(hall, published, month_label(published.period)),
                           refresh=REFRESH_SECONDS, months=[(m, month_label(m)) for m in months],
                           red_flags=_red_flags(hall, published))


@bp.get("/board")
def latest() -> str | tuple[str, int]:
    hall = _hall()
    if hall is None:
        return _not_found("未找到该政务服务中心")
    published = latest_published(db_session(), hall)
    if published is None:
        return render_template("board/empty.html", hall_name=hall.name, refresh=REFRESH_SECONDS,
                               red_flags=_red_flags(hall, _latest_month(hall)))
    return render_week(hall, published)


@bp.get("/board/<week>")
def for_week(week: str) -> str | tuple[str, int]:
    hall = _hall()
    if hall is None:
        return _not_found("未找到该政务服务中心")
    try:
        label = week_label(week)
    except PublishRefused:
        return _not_found("周次格式不正确")
    published = latest_published(db_session(), hall, week)
    if published is None:
        return _not_found(f"{label}的回访结果尚未发布")
    return render_week(hall, published)


@bp.get("/board/month")
@bp.get("/board/month/<month>")
def for_month(month: str | None = None) -> str | tuple[str, int]:
    """A published month (the newest without one): each window's month figures and the month's 红旗窗口."""
    hall = _hall()
    if hall is None:
        return _not_found("未找到该政务服务中心")
    try:
        label = month_label(month) if month is not None else None
    except PublishRefused:
        return _not_found("月份格式不正确")
    published = latest_published(db_session(), hall, month, kind=MONTH)
    if published is None:
        return _not_found(f"{label}的月度结果尚未发布" if label else "暂无已发布的月度结果")
    return render_month(hall, published)
