"""The public board (篇2 六): the latest published week of a hall, for the big screen and print.

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
from callback.results.publication import PublishRefused, latest_published, parse_week, published_weeks

bp = Blueprint("board", __name__)
REFRESH_SECONDS = 300


def week_label(week: str) -> str:
    """``"2026-W45"`` → ``"2026年第45周"``."""
    year, number = parse_week(week)
    return f"{year}年第{number}周"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "—"
    return f"{low * 100:.1f}%–{high * 100:.1f}%"


def _row(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "window": figures["window"], "n": figures["n"], "satisfied": figures["satisfied"],
        "basic": figures["basic"], "unsatisfied": figures["unsatisfied"], "score": _score(figures["score"]),
        "interval": _interval(figures["ci_low"], figures["ci_high"]), "grade": figures["grade"],
    }


def _page(hall: Hall, published: PublishedReport) -> dict[str, Any]:
    figures = published.figures
    local = published.published_at.astimezone(ZoneInfo(hall.timezone or "Asia/Shanghai"))
    return {
        "hall_name": hall.name, "hall_code": hall.code, "week": published.period,
        "week_label": week_label(published.period), "version": published.version,
        "rows": [_row(w) for w in figures["windows"]], "total": _row(figures["totals"]),
        "published_at": local.strftime("%Y-%m-%d %H:%M"),
    }


def _hall() -> Hall | None:
    try:
        return get_hall(db_session(), request.args.get("hall") or current_settings().default_hall)
    except UnknownHall:
        return None


def _not_found(message: str) -> tuple[str, int]:
    return render_template("board/not_found.html", message=message, refresh=REFRESH_SECONDS), 404


def _render(hall: Hall, published: PublishedReport) -> str:
    weeks = published_weeks(db_session(), hall)
    return render_template("board/week.html", page=_page(hall, published), refresh=REFRESH_SECONDS,
                           weeks=[(w, week_label(w)) for w in weeks])


@bp.get("/board")
def latest() -> str | tuple[str, int]:
    hall = _hall()
    if hall is None:
        return _not_found("未找到该政务服务中心")
    published = latest_published(db_session(), hall)
    if published is None:
        return render_template("board/empty.html", hall_name=hall.name, refresh=REFRESH_SECONDS)
    return _render(hall, published)


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
    return _render(hall, published)
