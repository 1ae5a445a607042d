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

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.models import AuditEvent, Callback, Hall, PublishedReport
from callback.models.publication import MONTH, WEEK, ResultsApproval
from callback.models.rectification import AWAITING_FEEDBACK, Rectification
from callback.responses.states import PENDING, CallbackState
from callback.results.report import Presses, monthly_report, weekly_report
from survey.weeks import PeriodError, month_bounds, parse_month, week_bounds
from survey.weeks import parse_week as parse_iso_week

WINDOW_FIELDS = ("window", "n", "score", "grade", "satisfied", "ci_low", "ci_high")
SOURCE_FIELDS = {"questionnaire": ("n", "score", "satisfied"), "evaluator": ("n", "score", "S", "B", "U")}
PERIOD_FIELDS = {WEEK: ("week", "from", "to"), MONTH: ("month", "from", "to")}
RED_FLAG_FIELDS = ("window", "place", "score", "grade")
APPROVER_MAX = 100
T = TypeVar("T")


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
    report = _week_report(session, hall, week, now, presses)
    if require_complete:
        progress = week_completeness(session, hall, week)
        if not progress.complete:
            raise IncompleteWeek(progress)
    return _store(session, hall, WEEK, week, public_figures(report), approver, now)


def _week_report(session: Session, hall: Hall, week: str, now: datetime, presses: Presses | None) -> dict[str, Any]:
    report = weekly_report(session, hall, week, now, presses=presses)
    if report["totals"]["drawn"] == 0:
        raise PublishRefused(f"{week} 没有抽取的回访对象，无可发布的结果")
    return report


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
    report = _month_report(session, hall, month, now, presses)
    _, end = month_bounds(month, ZoneInfo(hall.timezone or "Asia/Shanghai"))
    if require_complete and now < end:
        raise UnfinishedMonth(f"{month} 尚未结束（截至 {report['to']}），月度结果仍会变化")
    return _store(session, hall, MONTH, month, public_figures(report), approver, now)


def _month_report(session: Session, hall: Hall, month: str, now: datetime, presses: Presses | None) -> dict[str, Any]:
    report = monthly_report(session, hall, month, now, presses=presses)
    if report["totals"]["n"] == 0:
        raise PublishRefused(f"{month} 没有回访问卷或评价器数据，无可发布的结果")
    return report


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


# --- approval, then publication (issue 14 §7) ------------------------------------------------------------------
#
# 篇2 六 has the results tallied, graded and announced; the centre's leadership approves what is announced. The
# rule, in one place: the leader (中心领导) approves a period's public figures as they stand — the approval keeps
# their digest — and a supervisor publishes only figures whose digest is the latest approval's, recording the
# leader's name as the approver. A figure that changes after the approval (a corrected answer, a late press)
# changes the digest, so the period needs approving again. An unfinished week (or month) is published only when
# the supervisor confirms it with a reason.

UNAPPROVED, APPROVED, CHANGED = "unapproved", "approved", "changed"
APPROVAL_LABELS = {UNAPPROVED: "待领导审核", APPROVED: "已审核", CHANGED: "审核后数据有变动，须重新审核"}
REASON_MAX = 500


class NotApproved(PublishRefused):
    """No approval of the period by the leader yet."""


class ApprovalOutdated(PublishRefused):
    """The figures changed after the leader approved them."""


class AlreadyPublished(PublishRefused):
    """The approved figures are already the period's latest publication."""


def figures_digest(figures: dict[str, Any]) -> str:
    """SHA-256 of public figures, without ``as_of`` (when they were computed, which is not a figure)."""
    content = {key: value for key, value in figures.items() if key != "as_of"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _kind(kind: str) -> str:
    if kind not in (WEEK, MONTH):
        raise PublishRefused(f"未知的周期类型 {kind!r}（week 或 month）")
    return kind


def period_figures(session: Session, hall: Hall, kind: str, period: str, now: datetime) -> dict[str, Any]:
    """The public figures of a week or a month as they stand at ``now``: what publishing now would store.
    `PublishRefused` for a malformed period or one with nothing to publish."""
    if _kind(kind) == WEEK:
        parse_week(period)
        return public_figures(_week_report(session, hall, period, now, None))
    return public_figures(_month_report(session, hall, parse_month_or_refuse(period), now, None))


def latest_approval(session: Session, hall: Hall, kind: str, period: str) -> ResultsApproval | None:
    return session.scalar(
        select(ResultsApproval)
        .where(ResultsApproval.hall_id == hall.id, ResultsApproval.kind == kind, ResultsApproval.period == period)
        .order_by(ResultsApproval.id.desc()).limit(1)
    )


@dataclass(frozen=True)
class PeriodStatus:
    """Where a period stands: its figures now (None with ``refused``: nothing to publish), the latest approval and
    whether it still matches, the latest publication and whether it shows these figures, and for a week what is
    still open (`week_completeness`); for a month whether it has ended."""

    kind: str
    period: str
    figures: dict[str, Any] | None
    refused: str | None
    approval: ResultsApproval | None
    published: PublishedReport | None
    completeness: WeekCompleteness | None
    ended: bool

    @property
    def digest(self) -> str | None:
        return None if self.figures is None else figures_digest(self.figures)

    @property
    def approval_state(self) -> str:
        if self.approval is None:
            return UNAPPROVED
        return APPROVED if self.approval.digest == self.digest else CHANGED

    @property
    def published_current(self) -> bool:
        """The latest publication shows exactly the figures as they stand."""
        return self.published is not None and figures_digest(self.published.figures) == self.digest

    @property
    def finished(self) -> bool:
        """A week with nothing open, a month that has ended."""
        return self.completeness.complete if self.completeness is not None else self.ended

    def open_items(self) -> list[str]:
        """What is unfinished, one phrase each (Chinese)."""
        if self.completeness is not None:
            return self.completeness.reasons()
        return [] if self.ended else [f"{self.period} 尚未结束，月度结果仍会变化"]


def _ended(hall: Hall, kind: str, period: str, now: datetime) -> bool:
    tz = ZoneInfo(hall.timezone or "Asia/Shanghai")
    end = week_bounds(period, tz)[1] if kind == WEEK else month_bounds(period, tz)[1]
    return now >= end


def period_status(session: Session, hall: Hall, kind: str, period: str, now: datetime) -> PeriodStatus:
    """The period's figures, approval and publication as they stand at ``now`` (`PublishRefused` for a malformed
    period only)."""
    period = parse_month_or_refuse(period) if _kind(kind) == MONTH else period
    if kind == WEEK:
        parse_week(period)
    try:
        figures, refused = period_figures(session, hall, kind, period, now), None
    except PublishRefused as exc:
        figures, refused = None, str(exc)
    return PeriodStatus(
        kind=kind, period=period, figures=figures, refused=refused,
        approval=latest_approval(session, hall, kind, period),
        published=latest_published(session, hall, period, kind=kind),
        completeness=week_completeness(session, hall, period) if kind == WEEK else None,
        ended=_ended(hall, kind, period, now),
    )


def _event(session: Session, hall: Hall, action: str, entity: str, entity_id: int, now: datetime, actor: str,
           user_id: int | None, ip: str | None, **detail: Any) -> None:
    session.add(AuditEvent(hall_id=hall.id, at=now, actor=actor[:100], entity=entity, entity_id=entity_id,
                           action=action, detail=detail, user_id=user_id, ip=ip))


def approve_results(
    session: Session, hall: Hall, kind: str, period: str, now: datetime, *, approved_by: str, actor: str,
    user_id: int | None = None, ip: str | None = None,
) -> ResultsApproval:
    """The leader approves the period's public figures as they stand at ``now``; audited (``results_approved``)
    with the account and address when given. Approving figures already approved returns that approval. The
    caller commits. `PublishRefused` for an empty approver or a period with nothing to publish."""
    name = _approver(approved_by)
    status = period_status(session, hall, kind, period, now)
    if status.refused is not None:
        raise PublishRefused(status.refused)
    if status.approval_state == APPROVED:
        return status.approval  # type: ignore[return-value]
    approval = ResultsApproval(hall_id=hall.id, kind=kind, period=status.period, digest=status.digest,
                               approved_by=name, user_id=user_id, approved_at=now)
    session.add(approval)
    session.flush()
    _event(session, hall, "results_approved", "results_approval", approval.id, now, actor, user_id, ip,
           kind=kind, period=status.period, approved_by=name, digest=approval.digest,
           replaces=status.approval.id if status.approval is not None else None)
    return approval


def _reason(text: str | None) -> str | None:
    reason = " ".join((text or "").split())
    if len(reason) > REASON_MAX:
        raise PublishRefused(f"说明最多 {REASON_MAX} 个字")
    return reason or None


def publish_results(
    session: Session, hall: Hall, kind: str, period: str, now: datetime, *, actor: str,
    user_id: int | None = None, ip: str | None = None, incomplete_reason: str | None = None,
) -> PublishedReport:
    """A supervisor publishes the figures the leader approved (their name is the publication's approver);
    audited (``results_published``). Refused (`PublishRefused` and its kinds, nothing written) without an
    approval (`NotApproved`), when the figures changed after it (`ApprovalOutdated`), when they are already
    the latest publication (`AlreadyPublished`), and for an unfinished week or month unless the supervisor gives
    ``incomplete_reason`` (`IncompleteWeek`, `UnfinishedMonth`). The caller commits."""
    reason = _reason(incomplete_reason)
    status = period_status(session, hall, kind, period, now)
    if status.refused is not None:
        raise PublishRefused(status.refused)
    if status.approval is None:
        raise NotApproved(f"{status.period} 的结果尚未经中心领导审核，不能发布")
    if status.approval_state == CHANGED:
        raise ApprovalOutdated(f"{status.period} 的数据在领导审核后有变动，须重新审核后才能发布")
    if status.published_current:
        raise AlreadyPublished(f"{status.period} 的审核结果已发布（第 {status.published.version} 版）")  # type: ignore[union-attr]
    publish = publish_week if kind == WEEK else publish_month
    with session.begin_nested():  # nothing stays if the stored figures are not the approved ones
        published = publish(session, hall, status.period, status.approval.approved_by, now,
                            require_complete=reason is None)
        if figures_digest(published.figures) != status.approval.digest:
            raise ApprovalOutdated(f"{status.period} 的数据在领导审核后有变动，须重新审核后才能发布")
    _event(session, hall, "results_published", "published_report", published.id, now, actor, user_id, ip,
           kind=kind, period=status.period, version=published.version, approval=status.approval.id,
           approved_by=published.approved_by,
           **({"incomplete": status.open_items(), "reason": reason} if reason and not status.finished else {}))
    return published


def preview_publication(session: Session, hall: Hall, kind: str, period: str, now: datetime,
                        render: Callable[[PublishedReport], T]) -> T:
    """``render`` the period as publishing it now would store it — the row exists while ``render`` runs (the
    board's own pages list it among the published periods), then it is rolled back, so the preview shows exactly
    what the public board will. `PublishRefused` for a period with nothing to publish."""
    publish = publish_week if _kind(kind) == WEEK else publish_month
    savepoint = session.begin_nested()
    try:
        return render(publish(session, hall, period, "（预览）", now))
    finally:
        savepoint.rollback()
