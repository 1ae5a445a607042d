"""Publication (篇2 六; 篇1): a supervisor approves a week's — or a month's — per-window figures and they go to
the public page and the hall board.

篇2 六: results are tallied per window, graded, and announced on the centre's website and notice board within a
week of the calls; 篇1: each month's top three windows are its 红旗窗口. What is published is window names and
figures only — scores, grades, n, the figures of each source (questionnaire, evaluator) and the month's 红旗窗口:
never a citizen's name or number, never a staff name, never the rectification cases or the per-item tables
(docs/architecture.md §Privacy and security). Every public figure passes through `public_figures`, the one
whitelist; the board reads nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.models import Callback, Hall, PublishedReport
from callback.models.publication import MONTH, WEEK
from callback.models.rectification import AWAITING_FEEDBACK, Rectification
from callback.responses.states import PENDING, CallbackState
from callback.results.report import Presses, monthly_report, weekly_report
from survey.weeks import PeriodError, month_bounds, parse_month
from survey.weeks import parse_week as parse_iso_week

WINDOW_FIELDS = ("window", "n", "score", "grade", "satisfied", "ci_low", "ci_high")
SOURCE_FIELDS = {"questionnaire": ("n", "score", "satisfied"), "evaluator": ("n", "score", "S", "B", "U")}
PERIOD_FIELDS = {WEEK: ("week", "from", "to"), MONTH: ("month", "from", "to")}
RED_FLAG_FIELDS = ("window", "place", "score", "grade")
APPROVER_MAX = 100


class PublishRefused(ValueError):
    """A publication that may not happen; the message is for the supervisor, in Chinese."""


def parse_week(week: str) -> tuple[int, int]:
    """``"2026-W45"`` → (2026, 45); refuses anything that is not a real ISO week (the draw's rule)."""
    try:
        return parse_iso_week(week or "")
    except PeriodError as exc:
        raise PublishRefused(str(exc)) from None


@dataclass(frozen=True)
class WeekCompleteness:
    """Is the week's work done? Its first callbacks still being called or waiting for an SMS reply, and the
    rectification cases opened from them still waiting for feedback (篇2 五: feedback within 3 working days).
    Publishing before they are done publishes figures that will still change."""

    week: str
    calling: int
    sms_pending: int
    open_rectifications: int

    @property
    def complete(self) -> bool:
        return not (self.calling or self.sms_pending or self.open_rectifications)

    def reasons(self) -> list[str]:
        """What is still open, one phrase each (Chinese, for the supervisor)."""
        reasons = []
        if self.calling:
            reasons.append(f"{self.calling} 个回访仍在电话回访中（待拨或通话中）")
        if self.sms_pending:
            reasons.append(f"{self.sms_pending} 个短信回访尚未结束")
        if self.open_rectifications:
            reasons.append(f"{self.open_rectifications} 个整改尚未反馈")
        return reasons


def week_completeness(session: Session, hall: Hall, week: str) -> WeekCompleteness:
    """The rule "is this week complete?" that `callback publish` asks before publishing: the same callbacks as the
    weekly report (the hall's first callbacks of the ISO week; 二次回访 are not counted again)."""
    parse_week(week)
    first = (Callback.hall_id == hall.id, Callback.week == week, Callback.revisit_of_id.is_(None))
    states = dict(session.execute(
        select(Callback.state, func.count()).where(*first, Callback.state.in_([*PENDING, CallbackState.SMS]))
        .group_by(Callback.state)
    ).all())
    open_cases = session.scalar(
        select(func.count()).select_from(Rectification).join(Callback, Callback.id == Rectification.callback_id)
        .where(*first, Rectification.state.in_(AWAITING_FEEDBACK))
    )
    return WeekCompleteness(
        week=week,
        calling=sum(states.get(s, 0) for s in PENDING),  # still to be called, or on the phone now
        sms_pending=states.get(CallbackState.SMS, 0),  # handed to SMS, no final reply yet
        open_rectifications=open_cases or 0,
    )


def _public_row(figures: dict[str, Any]) -> dict[str, Any]:
    row = {key: figures[key] for key in WINDOW_FIELDS}
    row["sources"] = {source: {key: figures["sources"][source][key] for key in keys}
                      for source, keys in SOURCE_FIELDS.items()}
    return row


def _public_red_flags(flags: dict[str, Any]) -> dict[str, Any]:
    return {
        "rule": flags["rule"],
        "windows": [{key: row[key] for key in RED_FLAG_FIELDS} for row in flags["windows"]],
        "tied": [{"score": t["score"], "place": t["place"], "windows": list(t["windows"])} for t in flags["tied"]],
        "too_few": list(flags["too_few"]),
    }


def public_figures(report: dict[str, Any]) -> dict[str, Any]:
    """The only fields of a `weekly_report` or `monthly_report` that may be published: the period, the hall, and
    per window and for the hall the window name, ``n``, ``score``, ``grade``, the satisfied count and its Wilson
    interval and the ``sources`` figures; for a month its 红旗窗口. Everything else (cases, items, reach and
    on-site counts) stays in."""
    kind = MONTH if "month" in report else WEEK
    figures = {key: report[key] for key in PERIOD_FIELDS[kind]}
    figures |= {
        "hall": report["hall"],
        "hall_name": report["hall_name"],
        "as_of": report["generated_at"],
        "windows": [_public_row(w) for w in report["windows"]],
        "totals": _public_row(report["totals"]),
    }
    if kind == MONTH:
        figures["red_flags"] = _public_red_flags(report["red_flags"])
    return figures


def _approver(approved_by: str | None) -> str:
    name = (approved_by or "").strip()
    if not name:
        raise PublishRefused("发布需要审核人：请填写审核人姓名")
    if len(name) > APPROVER_MAX:
        raise PublishRefused(f"审核人姓名过长（最多 {APPROVER_MAX} 个字符）")
    return name


def _next_version(session: Session, hall: Hall, period: str) -> int:
    # Two supervisors publishing the same hall at once: the hall row lock makes the second wait for the first's
    # version (PostgreSQL; SQLite serialises writers anyway). The unique key is the backstop.
    session.execute(select(Hall.id).where(Hall.id == hall.id).with_for_update())
    current = session.scalar(
        select(func.max(PublishedReport.version))
        .where(PublishedReport.hall_id == hall.id, PublishedReport.period == period)
    )
    return (current or 0) + 1


class IncompleteWeek(PublishRefused):
    """The week still has callbacks in progress or rectifications without feedback (see `WeekCompleteness`)."""

    def __init__(self, progress: WeekCompleteness) -> None:
        super().__init__(f"{progress.week} 尚未完成：{'；'.join(progress.reasons())}")
        self.progress = progress


def publish_week(
    session: Session, hall: Hall, week: str, approved_by: str, now: datetime, *, require_complete: bool = False,
    presses: Presses | None = None,
) -> PublishedReport:
    """Publish the week's figures as of ``now`` (aware; stored UTC) as its next version. The caller commits.

    Raises `PublishRefused` for a malformed week, an empty approver, or a week with no drawn callbacks; with
    ``require_complete``, `IncompleteWeek` when `week_completeness` finds work still open (the CLI asks for it
    unless the supervisor says ``--force``)."""
    parse_week(week)
    approver = _approver(approved_by)
    report = weekly_report(session, hall, week, now, presses=presses)
    if report["totals"]["drawn"] == 0:
        raise PublishRefused(f"{week} 没有抽取的回访对象，无可发布的结果")
    if require_complete:
        progress = week_completeness(session, hall, week)
        if not progress.complete:
            raise IncompleteWeek(progress)
    return _store(session, hall, WEEK, week, public_figures(report), approver, now)


def _store(session: Session, hall: Hall, kind: str, period: str, figures: dict[str, Any], approver: str,
           now: datetime) -> PublishedReport:
    published = PublishedReport(
        hall_id=hall.id, kind=kind, period=period, version=_next_version(session, hall, period), figures=figures,
        approved_by=approver, published_at=now,
    )
    session.add(published)
    session.flush()
    return published


def parse_month_or_refuse(month: str) -> str:
    """``"2026-11"`` as written; refuses anything that is not a month (the message is the period module's)."""
    try:
        year, number = parse_month(month or "")
    except PeriodError as exc:
        raise PublishRefused(str(exc)) from None
    return f"{year}-{number:02d}"


class UnfinishedMonth(PublishRefused):
    """The month has not ended yet: its figures would still change."""


def publish_month(
    session: Session, hall: Hall, month: str, approved_by: str, now: datetime, *, require_complete: bool = False,
    presses: Presses | None = None,
) -> PublishedReport:
    """Publish the month's figures and its 红旗窗口 (篇1) as of ``now`` as its next version. The caller commits.

    Raises `PublishRefused` for a malformed month, an empty approver, or a month with no response and no press;
    with ``require_complete``, `UnfinishedMonth` while the month has not ended (the CLI asks for it unless
    ``--force``)."""
    month = parse_month_or_refuse(month)
    approver = _approver(approved_by)
    report = monthly_report(session, hall, month, now, presses=presses)
    if report["totals"]["n"] == 0:
        raise PublishRefused(f"{month} 没有回访问卷或评价器数据，无可发布的结果")
    _, end = month_bounds(month, ZoneInfo(hall.timezone or "Asia/Shanghai"))
    if require_complete and now < end:
        raise UnfinishedMonth(f"{month} 尚未结束（截至 {report['to']}），月度结果仍会变化")
    return _store(session, hall, MONTH, month, public_figures(report), approver, now)


def latest_published(session: Session, hall: Hall, week: str | None = None, *,
                     kind: str = WEEK) -> PublishedReport | None:
    """The newest version of a period (``week``: an ISO week, or a month with ``kind=MONTH``); without one, the
    newest version of the latest period of that kind published. "2026-W45" and "2026-11" sort in time order."""
    query = select(PublishedReport).where(PublishedReport.hall_id == hall.id, PublishedReport.kind == kind)
    if week is not None:
        query = query.where(PublishedReport.period == week)
    query = query.order_by(PublishedReport.period.desc(), PublishedReport.version.desc()).limit(1)
    return session.scalar(query)


def published_weeks(session: Session, hall: Hall, *, kind: str = WEEK) -> list[str]:
    """Every week (or month, ``kind=MONTH``) of the hall with a publication, newest first (for the board's links)."""
    query = (
        select(PublishedReport.period).where(PublishedReport.hall_id == hall.id, PublishedReport.kind == kind)
        .group_by(PublishedReport.period).order_by(PublishedReport.period.desc())
    )
    return list(session.scalars(query))
