"""Approve, then publish (篇2 六; issue 14 §7): the leader approves a period's public figures, a supervisor
publishes only the figures approved, a change after the approval needs approving again, an unfinished week is
published only with the supervisor's reason, and the preview is the publication rolled back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.models import AuditEvent, PublishedReport
from callback.models.publication import MONTH, WEEK, ResultsApproval
from callback.results.publication import (
    APPROVED,
    CHANGED,
    UNAPPROVED,
    AlreadyPublished,
    ApprovalOutdated,
    IncompleteWeek,
    NotApproved,
    PublishRefused,
    UnfinishedMonth,
    approve_results,
    figures_digest,
    latest_published,
    period_figures,
    period_status,
    preview_publication,
    public_figures,
    publish_results,
)
from callback.results.report import weekly_report
from tests.callback.results.test_report import ALL_GOOD, MARKET, REPORT_AT, TAX, add_callback, build_week
from tests.callback.results.test_report import WEEK as BUSY_WEEK
from tests.factories import make_hall

WEEK_DONE = "2026-W44"  # 10-26 … 11-01
LATER = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
LEADER = dict(approved_by="王主任", actor="王主任 (console:wang)", user_id=None, ip="10.0.0.8")
SUPERVISOR = dict(actor="张督查 (console:zhang)", ip="10.0.0.9")


def finished_week(session: Session) -> None:
    """Three answered callbacks of 市场监管窗口 and one of 税务窗口 in a past week: nothing open."""
    for _ in range(3):
        add_callback(session, MARKET, ALL_GOOD, week=WEEK_DONE)
    add_callback(session, TAX, ALL_GOOD | {"attitude": "B"}, week=WEEK_DONE)


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_publishing_is_refused_until_the_leader_approves(session: Session) -> None:
    finished_week(session)
    hall = make_hall(session)
    with pytest.raises(NotApproved, match="尚未经中心领导审核"):
        publish_results(session, hall, WEEK, WEEK_DONE, REPORT_AT, **SUPERVISOR)
    assert _count(session, PublishedReport) == 0
    assert period_status(session, hall, WEEK, WEEK_DONE, REPORT_AT).approval_state == UNAPPROVED


def test_approve_then_publish_records_the_leader_and_both_steps(session: Session) -> None:
    finished_week(session)
    hall = make_hall(session)
    approval = approve_results(session, hall, WEEK, WEEK_DONE, REPORT_AT, **LEADER)
    assert (approval.kind, approval.period, approval.approved_by) == (WEEK, WEEK_DONE, "王主任")
    assert approval.digest == figures_digest(public_figures(weekly_report(session, hall, WEEK_DONE, REPORT_AT)))
    published = publish_results(session, hall, WEEK, WEEK_DONE, LATER, **SUPERVISOR)
    assert (published.period, published.version, published.approved_by) == (WEEK_DONE, 1, "王主任")
    assert latest_published(session, hall, WEEK_DONE) is published
    approved, = _events(session, "results_approved")
    assert (approved.entity_id, approved.ip, approved.detail["approved_by"]) == (approval.id, "10.0.0.8", "王主任")
    done, = _events(session, "results_published")
    assert (done.entity, done.entity_id, done.actor, done.ip) == ("published_report", published.id,
                                                                  "张督查 (console:zhang)", "10.0.0.9")
    assert done.detail == {"kind": WEEK, "period": WEEK_DONE, "version": 1, "approval": approval.id,
                           "approved_by": "王主任"}
    status = period_status(session, hall, WEEK, WEEK_DONE, LATER)
    assert status.approval_state == APPROVED and status.published_current


def test_the_time_the_figures_were_computed_is_not_a_change(session: Session) -> None:
    finished_week(session)
    hall = make_hall(session)
    early, late = period_figures(session, hall, WEEK, WEEK_DONE, REPORT_AT), period_figures(session, hall, WEEK,
                                                                                            WEEK_DONE, LATER)
    assert early["as_of"] != late["as_of"]
    assert figures_digest(early) == figures_digest(late)
    assert figures_digest(early) != figures_digest(early | {"windows": early["windows"][:1]})


def test_a_change_after_approval_needs_approving_again(session: Session) -> None:
    finished_week(session)
    hall = make_hall(session)
    first = approve_results(session, hall, WEEK, WEEK_DONE, REPORT_AT, **LEADER)
    add_callback(session, TAX, ALL_GOOD | {"overall": "U"}, week=WEEK_DONE)  # a late answer changes 税务's figures
    assert period_status(session, hall, WEEK, WEEK_DONE, LATER).approval_state == CHANGED
    with pytest.raises(ApprovalOutdated, match="须重新审核"):
        publish_results(session, hall, WEEK, WEEK_DONE, LATER, **SUPERVISOR)
    assert _count(session, PublishedReport) == 0
    second = approve_results(session, hall, WEEK, WEEK_DONE, LATER, **LEADER | {"approved_by": "李副主任"})
    assert second.id != first.id and _events(session, "results_approved")[-1].detail["replaces"] == first.id
    published = publish_results(session, hall, WEEK, WEEK_DONE, LATER, **SUPERVISOR)
    assert published.approved_by == "李副主任"
    assert published.figures["windows"][1]["n"] == 2  # the late answer is in what was published


def test_approving_unchanged_figures_again_adds_nothing(session: Session) -> None:
    finished_week(session)
    hall = make_hall(session)
    first = approve_results(session, hall, WEEK, WEEK_DONE, REPORT_AT, **LEADER)
    again = approve_results(session, hall, WEEK, WEEK_DONE, LATER, **LEADER)
    assert again.id == first.id and _count(session, ResultsApproval) == 1
    assert len(_events(session, "results_approved")) == 1


def test_the_approved_figures_are_published_once(session: Session) -> None:
    finished_week(session)
    hall = make_hall(session)
    approve_results(session, hall, WEEK, WEEK_DONE, REPORT_AT, **LEADER)
    publish_results(session, hall, WEEK, WEEK_DONE, LATER, **SUPERVISOR)
    with pytest.raises(AlreadyPublished, match="已发布（第 1 版）"):
        publish_results(session, hall, WEEK, WEEK_DONE, LATER, **SUPERVISOR)
    assert _count(session, PublishedReport) == 1


def test_an_unfinished_week_needs_the_supervisors_reason(session: Session) -> None:
    hall = build_week(session)  # one callback still calling, two rectifications waiting for feedback
    approve_results(session, hall, WEEK, BUSY_WEEK, REPORT_AT, **LEADER)
    with pytest.raises(IncompleteWeek, match="1 个回访仍在电话回访中"):
        publish_results(session, hall, WEEK, BUSY_WEEK, REPORT_AT, **SUPERVISOR)
    with pytest.raises(IncompleteWeek):
        publish_results(session, hall, WEEK, BUSY_WEEK, REPORT_AT, **SUPERVISOR, incomplete_reason="   ")
    assert _count(session, PublishedReport) == 0
    published = publish_results(session, hall, WEEK, BUSY_WEEK, REPORT_AT, **SUPERVISOR,
                                incomplete_reason="  领导要求  本周五前公示 ")
    assert published.version == 1
    event, = _events(session, "results_published")
    assert event.detail["reason"] == "领导要求 本周五前公示"
    assert event.detail["incomplete"] == ["1 个回访仍在电话回访中（待拨或通话中）", "2 个整改尚未反馈"]


def test_a_week_with_nothing_drawn_cannot_be_approved(session: Session) -> None:
    hall = make_hall(session)
    with pytest.raises(PublishRefused, match="没有抽取的回访对象"):
        approve_results(session, hall, WEEK, WEEK_DONE, REPORT_AT, **LEADER)
    with pytest.raises(PublishRefused, match="须填写审核人姓名|请填写审核人姓名"):
        approve_results(session, hall, WEEK, WEEK_DONE, REPORT_AT, **LEADER | {"approved_by": " "})
    with pytest.raises(PublishRefused):
        period_status(session, hall, WEEK, "2026-W60", REPORT_AT)
    assert _count(session, ResultsApproval) == 0


def test_a_month_is_approved_and_published_once_it_has_ended(session: Session) -> None:
    in_month = datetime(2026, 10, 14, 2, 0, tzinfo=UTC)
    for _ in range(5):
        add_callback(session, MARKET, ALL_GOOD, week="2026-W42", finished_at=in_month)
    hall = make_hall(session)
    approve_results(session, hall, MONTH, "2026-10", in_month, **LEADER)
    with pytest.raises(UnfinishedMonth, match="尚未结束"):
        publish_results(session, hall, MONTH, "2026-10", in_month, **SUPERVISOR)
    status = period_status(session, hall, MONTH, "2026-10", in_month)
    assert not status.finished and status.open_items() == ["2026-10 尚未结束，月度结果仍会变化"]
    published = publish_results(session, hall, MONTH, "2026-10", LATER, **SUPERVISOR)
    assert (published.kind, published.period, published.approved_by) == (MONTH, "2026-10", "王主任")
    assert published.figures["red_flags"]["windows"][0]["window"] == MARKET


def test_the_preview_is_the_publication_rolled_back(session: Session) -> None:
    finished_week(session)
    hall = make_hall(session)
    seen = preview_publication(session, hall, WEEK, WEEK_DONE, LATER,
                               lambda p: (p.version, p.figures, latest_published(session, hall) is p))
    assert seen == (1, period_figures(session, hall, WEEK, WEEK_DONE, LATER), True)
    assert _count(session, PublishedReport) == 0
    with pytest.raises(PublishRefused, match="没有抽取的回访对象"):
        preview_publication(session, hall, WEEK, "2026-W30", LATER, lambda p: p)
