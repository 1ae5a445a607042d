"""The weekly publication (DESIGN.md §2.6, §5; 篇2 六): a supervisor approves a week's per-window figures and they
go to the public page and the hall board.

篇2 六: results are tallied per window, graded, and announced on the centre's website and notice board within a
week of the calls. What is published is window names and figures only: never a citizen's name or number, never a
staff name, never the rectification cases (DESIGN.md §6). Every public figure passes through `public_figures`,
the one whitelist; the board reads nothing else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.draw import DrawError
from callback.draw import parse_week as parse_iso_week
from callback.models import Hall, PublishedReport
from callback.report import weekly_report

WINDOW_FIELDS = ("window", "n", "satisfied", "basic", "unsatisfied", "score", "ci_low", "ci_high", "grade")
APPROVER_MAX = 100


class PublishRefused(ValueError):
    """A publication that may not happen; the message is for the supervisor, in Chinese."""


def parse_week(week: str) -> tuple[int, int]:
    """``"2026-W45"`` → (2026, 45); refuses anything that is not a real ISO week (the draw's rule)."""
    try:
        return parse_iso_week(week or "")
    except DrawError as exc:
        raise PublishRefused(str(exc)) from None


def public_figures(report: dict[str, Any]) -> dict[str, Any]:
    """The only fields of a `weekly_report` that may be published: per window and for the hall, the window name,
    the rating counts, score, Wilson interval and grade. Everything else (cases, items, reach counts) stays in."""

    def row(figures: dict[str, Any]) -> dict[str, Any]:
        return {key: figures[key] for key in WINDOW_FIELDS}

    return {
        "week": report["week"],
        "hall": report["hall"],
        "hall_name": report["hall_name"],
        "as_of": report["generated_at"],
        "windows": [row(w) for w in report["windows"]],
        "totals": row(report["totals"]),
    }


def _approver(approved_by: str | None) -> str:
    name = (approved_by or "").strip()
    if not name:
        raise PublishRefused("发布需要审核人：请填写审核人姓名")
    if len(name) > APPROVER_MAX:
        raise PublishRefused(f"审核人姓名过长（最多 {APPROVER_MAX} 个字符）")
    return name


def _next_version(session: Session, hall: Hall, week: str) -> int:
    # Two supervisors publishing the same hall at once: the hall row lock makes the second wait for the first's
    # version (PostgreSQL; SQLite serialises writers anyway). The unique key is the backstop.
    session.execute(select(Hall.id).where(Hall.id == hall.id).with_for_update())
    current = session.scalar(
        select(func.max(PublishedReport.version))
        .where(PublishedReport.hall_id == hall.id, PublishedReport.week == week)
    )
    return (current or 0) + 1


def publish_week(session: Session, hall: Hall, week: str, approved_by: str, now: datetime) -> PublishedReport:
    """Publish the week's figures as of ``now`` (aware; stored UTC) as its next version. The caller commits.

    Raises `PublishRefused` for a malformed week, an empty approver, or a week with no drawn callbacks."""
    parse_week(week)
    approver = _approver(approved_by)
    report = weekly_report(session, hall, week, now)
    if report["totals"]["drawn"] == 0:
        raise PublishRefused(f"{week} 没有抽取的回访对象，无可发布的结果")
    published = PublishedReport(
        hall_id=hall.id, week=week, version=_next_version(session, hall, week), figures=public_figures(report),
        approved_by=approver, published_at=now,
    )
    session.add(published)
    session.flush()
    return published


def latest_published(session: Session, hall: Hall, week: str | None = None) -> PublishedReport | None:
    """The newest version of ``week``; without a week, the newest version of the latest week published.
    ISO week strings ("2026-W45") sort in time order."""
    query = select(PublishedReport).where(PublishedReport.hall_id == hall.id)
    if week is not None:
        query = query.where(PublishedReport.week == week)
    query = query.order_by(PublishedReport.week.desc(), PublishedReport.version.desc()).limit(1)
    return session.scalar(query)


def published_weeks(session: Session, hall: Hall) -> list[str]:
    """Every week of the hall with a publication, newest first (for the board's links to earlier weeks)."""
    query = (
        select(PublishedReport.week).where(PublishedReport.hall_id == hall.id)
        .group_by(PublishedReport.week).order_by(PublishedReport.week.desc())
    )
    return list(session.scalars(query))
