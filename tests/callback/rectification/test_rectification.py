"""Rectification cases (篇2 五; docs/architecture.md §Rectification cases): opening rules, deadlines on the
official calendar, the lifecycle with an injected clock, feedback by SMS through a provider, and the second
callback's linkage (篇3 (五)2)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.models import Answer, Callback, Contact, Message, TranscriptEvent
from callback.models.rectification import Rectification, RectificationEvent
from callback.rectification.services import (
    THEN_SATISFIED,
    TWICE_UNSATISFIED,
    FeedbackNotSent,
    Notice,
    RectificationError,
    close,
    deadline_status,
    give_feedback,
    list_cases,
    open_for_callback,
    rectify,
    revisit_links,
    run_deadlines,
    schedule_revisit,
)
from callback.telephony import MockProvider, ProviderError, ProviderRequest, SentSms, SmsRequest
from tests.factories import make_case, make_hall, make_window

ALL_GOOD = {"attitude": "S", "efficiency": "S", "by_the_rules": "S", "in_hall": "Y", "integrity": "N", "overall": "S"}
# 2026-09-30 10:00 in Asia/Shanghai, the day before the National Day holiday.
OPENED = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)


def make_callback(
    session: Session,
    answers: dict[str, str] | None = None,
    *,
    suggestion: str | None = None,
    window: str = "市场监管窗口",
    state: str = "complete",
    phone: str | None = None,
    revisit_of: Callback | None = None,
) -> Callback:
    hall = make_hall(session)
    win = make_window(session, hall, window)
    case = revisit_of_case(session, revisit_of) or make_case(session, hall, win, phone=phone)
    callback = Callback(
        hall_id=hall.id, case_id=case.id, contact_id=case.contact_id, window_id=win.id, week="2026-W40",
        state=state, channel="voice", token=secrets.token_hex(16), suggestion=suggestion,
        revisit_of_id=revisit_of.id if revisit_of else None,
    )
    session.add(callback)
    session.flush()
    for item, value in (answers or {}).items():
        session.add(Answer(hall_id=hall.id, callback_id=callback.id, item=item, value=value, channel="voice"))
    session.flush()
    return callback


def revisit_of_case(session: Session, first: Callback | None):  # noqa: ANN201
    if first is None:
        return None
    from callback.models import Case

    return session.get(Case, first.case_id)


@dataclass
class CollectingNotifier:
    notices: list[Notice] = field(default_factory=list)

    def notify(self, notice: Notice) -> None:
        self.notices.append(notice)


def texts_only(request: ProviderRequest) -> None:
    """The rectification service's provider handler: it sends texts (the default answer) and never places a call."""
    assert isinstance(request, SmsRequest), f"rectification never asks the provider for {request!r}"


def events(session: Session, case: Rectification) -> list[str]:
    rows = session.scalars(
        select(RectificationEvent).where(RectificationEvent.rectification_id == case.id).order_by(RectificationEvent.id)
    )
    return [e.action for e in rows]


# --- opening rules -----------------------------------------------------------------------------------------


def test_all_good_opens_nothing(session: Session) -> None:
    callback = make_callback(session, ALL_GOOD, suggestion="工作人员很热情，谢谢")
    assert open_for_callback(session, callback, OPENED) is None
    assert session.scalar(select(Rectification)) is None


@pytest.mark.parametrize(
    ("item", "value", "reason"),
    [
        ("attitude", "B", "attitude"),
        ("attitude", "U", "attitude"),
        ("efficiency", "B", "efficiency"),
        ("by_the_rules", "U", "by_the_rules"),
        ("overall", "B", "overall"),
        ("overall", "U", "overall"),
        ("in_hall", "N", "in_hall"),
    ],
)
def test_each_bad_answer_opens_a_case(session: Session, item: str, value: str, reason: str) -> None:
    callback = make_callback(session, ALL_GOOD | {item: value})
    case = open_for_callback(session, callback, OPENED)
    assert case is not None
    assert case.reasons == [reason]
    assert case.state == "open"
    assert case.integrity is False
    assert case.window.name == "市场监管窗口"
    assert events(session, case) == ["opened"]


def test_partial_callback_opens_on_what_was_said(session: Session) -> None:
    callback = make_callback(session, {"attitude": "S", "efficiency": "U"}, state="partial")
    case = open_for_callback(session, callback, OPENED)
    assert case is not None and case.reasons == ["efficiency"]
    assert case.excerpt["overall"] == "U"  # no overall item: the worst rated item answered


def test_complaint_in_the_suggestion_opens_a_case(session: Session) -> None:
    callback = make_callback(session, ALL_GOOD, suggestion="窗口让我去别的办公室办，来回跑了三趟")
    case = open_for_callback(session, callback, OPENED)
    assert case is not None and case.reasons == ["complaint"]
    assert "让我去别的办公室" in case.excerpt["matched"]


def test_negated_complaint_does_not(session: Session) -> None:
    callback = make_callback(session, ALL_GOOD, suggestion="没有刁难，挺好的")
    assert open_for_callback(session, callback, OPENED) is None


def test_complaint_flag_set_by_staff_opens_a_case(session: Session) -> None:
    callback = make_callback(session, ALL_GOOD)
    callback.flags = {"complaint": True}
    case = open_for_callback(session, callback, OPENED)
    assert case is not None and case.reasons == ["complaint"]


def test_integrity_yes_alerts_supervisors_and_is_hidden_from_the_window(session: Session) -> None:
    notifier = CollectingNotifier()
    bad = make_callback(session, ALL_GOOD | {"integrity": "Y"})
    plain = make_callback(session, ALL_GOOD | {"attitude": "B"})
    case = open_for_callback(session, bad, OPENED, notifier=notifier)
    other = open_for_callback(session, plain, OPENED, notifier=notifier)
    assert case is not None and other is not None
    assert case.reasons == ["integrity"] and case.integrity is True
    assert events(session, case) == ["opened", "integrity_alert"]
    audiences = session.scalars(select(RectificationEvent.audience).where(RectificationEvent.rectification_id == case.id))
    assert set(audiences) == {"supervisors"}
    assert [(n.kind, n.audience, n.rectification_id) for n in notifier.notices] == [
        ("integrity_alert", "supervisors", case.id)
    ]
    window_view = list_cases(session, case.hall_id, OPENED, window_id=case.window_id)
    assert [c.id for c in window_view] == [other.id]
    assert {c.id for c in list_cases(session, case.hall_id, OPENED)} == {case.id, other.id}


def test_integrity_word_in_suggestion_is_an_integrity_case(session: Session) -> None:
    notifier = CollectingNotifier()
    callback = make_callback(session, ALL_GOOD, suggestion="办事员暗示要红包")
    case = open_for_callback(session, callback, OPENED, notifier=notifier)
    assert case is not None and case.integrity is True and "integrity" in case.reasons
    assert [n.kind for n in notifier.notices] == ["integrity_alert"]


def test_several_reasons_in_questionnaire_order(session: Session) -> None:
    callback = make_callback(session, ALL_GOOD | {"overall": "B", "in_hall": "N", "attitude": "U"})
    case = open_for_callback(session, callback, OPENED)
    assert case is not None and case.reasons == ["attitude", "in_hall", "overall"]


def test_one_case_per_callback(session: Session) -> None:
    notifier = CollectingNotifier()
    callback = make_callback(session, ALL_GOOD | {"integrity": "Y"})
    first = open_for_callback(session, callback, OPENED, notifier=notifier)
    again = open_for_callback(session, callback, OPENED + timedelta(hours=1), notifier=notifier)
    assert first is not None and again is not None and again.id == first.id
    assert len(session.scalars(select(Rectification)).all()) == 1
    assert len(notifier.notices) == 1


def test_excerpt_never_holds_the_phone_number_or_name(session: Session) -> None:
    callback = make_callback(
        session, ALL_GOOD | {"attitude": "U"}, phone="+8613812345678",
        suggestion="我是张三，电话13812345678，态度差",
    )
    session.add(TranscriptEvent(hall_id=callback.hall_id, callback_id=callback.id, kind="speech",
                                text="张三说：请打 138 1234 5678 找我"))
    session.flush()
    case = open_for_callback(session, callback, OPENED)
    assert case is not None
    blob = repr(case.excerpt)
    assert "13812345678" not in blob and "1234 5678" not in blob and "张三" not in blob
    assert "138****5678" in case.excerpt["suggestion"] and "张*" in case.excerpt["suggestion"]
    assert case.excerpt["transcript"][0]["text"] == "张*说：请打 138****5678 找我"
    assert {"item": "attitude", "label": "服务态度", "value": "U", "answer": "不满意"} in case.excerpt["answers"]


# --- due dates ---------------------------------------------------------------------------------------------


def test_due_across_the_national_day_make_up_workday(session: Session) -> None:
    """Opened Wed 2026-09-30: 10-01..07 off; 10-08, 10-09, 10-10 (a Saturday 调休 workday) → due 10-10."""
    case = open_for_callback(session, make_callback(session, ALL_GOOD | {"overall": "B"}), OPENED)
    assert case is not None
    assert case.due_at == datetime(2026, 10, 10, 15, 59, 59, tzinfo=UTC)  # 23:59:59 Asia/Shanghai
    assert case.due_estimated is False
    assert case.remind_at == datetime(2026, 10, 8, 16, 0, tzinfo=UTC)  # start of Fri 10-09 in Shanghai


def test_sunday_make_up_workday_counts(session: Session) -> None:
    """Opened Fri 2026-09-18 evening: Sun 09-20 is a 调休 workday, so 09-20, 09-21, 09-22 → due 09-22."""
    opened = datetime(2026, 9, 18, 11, 0, tzinfo=UTC)  # 19:00 Shanghai
    case = open_for_callback(session, make_callback(session, ALL_GOOD | {"overall": "B"}), opened)
    assert case is not None
    assert case.due_at == datetime(2026, 9, 22, 15, 59, 59, tzinfo=UTC)


def test_opening_day_is_the_shanghai_date(session: Session) -> None:
    """23:30 UTC on Tue 09-29 is already Wed 09-30 in Shanghai: the same due day as OPENED."""
    opened = datetime(2026, 9, 29, 23, 30, tzinfo=UTC)
    case = open_for_callback(session, make_callback(session, ALL_GOOD | {"overall": "U"}), opened)
    assert case is not None and case.due_at == datetime(2026, 10, 10, 15, 59, 59, tzinfo=UTC)


def test_due_in_an_unpublished_year_is_marked_estimated(session: Session) -> None:
    """Opened Wed 2026-12-30: 12-31, (2027-01-01 New Year, weekend), 01-04, 01-05 → due 2027-01-05, estimated."""
    opened = datetime(2026, 12, 30, 2, 0, tzinfo=UTC)
    case = open_for_callback(session, make_callback(session, ALL_GOOD | {"overall": "U"}), opened)
    assert case is not None
    assert case.due_at == datetime(2027, 1, 5, 15, 59, 59, tzinfo=UTC)
    assert case.due_estimated is True
    assert case.remind_at == datetime(2027, 1, 3, 16, 0, tzinfo=UTC)  # Mon 01-04 Shanghai


# --- lifecycle, deadlines, injected clock -------------------------------------------------------------------


def _opened(session: Session, answers: dict[str, str] | None = None) -> Rectification:
    case = open_for_callback(session, make_callback(session, answers or ALL_GOOD | {"overall": "B"}), OPENED)
    assert case is not None
    return case


def test_full_lifecycle_by_phone_is_audited(session: Session) -> None:
    case = _opened(session)
    t1, t2, t3 = OPENED + timedelta(days=8), OPENED + timedelta(days=9), OPENED + timedelta(days=10)
    rectify(session, case, "已对窗口人员进行批评教育，调整叫号流程", t1, actor="窗口负责人李四")
    give_feedback(session, case, "已电话告知申请人整改情况", t2, actor="窗口负责人李四", via="phone")
    close(session, case, t3, actor="督查科王五")
    assert case.state == "closed"
    assert (case.rectified_at, case.feedback_at, case.closed_at) == (t1, t2, t3)
    assert case.feedback_via == "phone" and case.feedback_message_id is None
    rows = session.scalars(
        select(RectificationEvent).where(RectificationEvent.rectification_id == case.id).order_by(RectificationEvent.id)
    ).all()
    assert [(e.action, e.actor, e.at) for e in rows] == [
        ("opened", "system", OPENED), ("rectified", "窗口负责人李四", t1), ("feedback_given", "窗口负责人李四", t2),
        ("revisit_scheduled", "system", t2), ("closed", "督查科王五", t3),  # overall 基本满意: a 二次回访 is owed
    ]
    assert deadline_status(case, t3) == "on_time"


def test_transitions_out_of_order_are_refused(session: Session) -> None:
    case = _opened(session)
    with pytest.raises(RectificationError, match="请先登记整改措施"):
        give_feedback(session, case, "已告知", OPENED, actor="a", via="phone")
    with pytest.raises(RectificationError, match="只有已反馈"):
        close(session, case, OPENED, actor="a")
    with pytest.raises(RectificationError, match="尚未反馈也未超期"):
        schedule_revisit(session, case, OPENED, actor="a")
    with pytest.raises(RectificationError, match="不能为空"):
        rectify(session, case, "   ", OPENED, actor="a")
    rectify(session, case, "已整改", OPENED, actor="a")
    with pytest.raises(RectificationError, match="sms 或 phone"):
        give_feedback(session, case, "已告知", OPENED, actor="a", via="email")
    assert case.state == "rectified"


def test_amending_the_action_is_audited(session: Session) -> None:
    case = _opened(session)
    rectify(session, case, "初稿", OPENED, actor="a")
    rectify(session, case, "修改后的整改措施", OPENED + timedelta(hours=1), actor="b")
    assert case.action == "修改后的整改措施"
    assert events(session, case) == ["opened", "rectified", "action_amended"]


def test_feedback_by_sms_goes_through_the_provider_with_an_outbox_row(session: Session) -> None:
    def sent(request: ProviderRequest) -> SentSms:
        texts_only(request)
        return SentSms(sid=f"SM{1:032d}", status="queued")

    provider = MockProvider(sent)
    case = _opened(session)
    rectify(session, case, "已整改", OPENED, actor="a")
    give_feedback(session, case, "您反映的问题已整改，感谢监督。", OPENED, actor="a", via="sms", provider=provider)
    contact = session.get(Contact, case.callback.contact_id)
    assert [(r.to, r.body) for r in provider.texts()] == [(contact.phone, "【示范政务服务中心】您反映的问题已整改，感谢监督。")]
    message = session.get(Message, case.feedback_message_id)
    assert (message.direction, message.purpose, message.provider_sid, message.status) == (
        "out", "rectify_feedback", f"SM{1:032d}", "queued",
    )
    assert case.state == "feedback_given" and case.feedback_via == "sms"


def test_failed_feedback_sms_keeps_the_state_and_the_failed_outbox_row(session: Session) -> None:
    case = _opened(session)
    rectify(session, case, "已整改", OPENED, actor="a")
    with pytest.raises(FeedbackNotSent):
        give_feedback(session, case, "已整改", OPENED, actor="a", via="sms", provider=MockProvider(texts_only).fail_next(ProviderError("carrier down", transient=True)))
    assert case.state == "rectified" and case.feedback_at is None
    assert session.scalar(select(Message.status).where(Message.purpose == "rectify_feedback")) == "failed"
    assert events(session, case)[-1] == "feedback_sms_failed"


def test_no_feedback_sms_to_an_opted_out_number(session: Session) -> None:
    provider = MockProvider(texts_only)
    case = _opened(session)
    rectify(session, case, "已整改", OPENED, actor="a")
    session.get(Contact, case.callback.contact_id).opted_out_at = OPENED
    with pytest.raises(RectificationError, match="退订"):
        give_feedback(session, case, "已整改", OPENED, actor="a", via="sms", provider=provider)
    assert provider.texts() == []


def test_feedback_by_sms_needs_a_provider_and_changes_nothing_without_one(session: Session) -> None:
    case = _opened(session)
    rectify(session, case, "已整改", OPENED, actor="a")
    with pytest.raises(RectificationError, match="短信通道"):
        give_feedback(session, case, "已整改", OPENED, actor="a", via="sms")
    assert case.state == "rectified" and session.scalar(select(Message.id)) is None


def test_reminder_one_working_day_before_due_then_escalation(session: Session) -> None:
    notifier = CollectingNotifier()
    case = _opened(session)  # due end of Sat 10-10, reminder from start of Fri 10-09 (Shanghai)
    before = datetime(2026, 10, 8, 15, 59, tzinfo=UTC)  # Thu 10-08 23:59 Shanghai
    assert run_deadlines(session, before, notifier=notifier).reminded == []
    remind = datetime(2026, 10, 9, 1, 0, tzinfo=UTC)
    assert run_deadlines(session, remind, notifier=notifier).reminded == [case.id]
    assert run_deadlines(session, remind + timedelta(hours=1), notifier=notifier).reminded == []  # once only
    assert case.reminded_at == remind and case.escalated_at is None
    last_moment = datetime(2026, 10, 10, 15, 59, 59, tzinfo=UTC)
    assert run_deadlines(session, last_moment, notifier=notifier).escalated == []
    assert deadline_status(case, last_moment) == "pending"
    late = last_moment + timedelta(seconds=1)
    assert run_deadlines(session, late, notifier=notifier).escalated == [case.id]
    assert run_deadlines(session, late + timedelta(days=1), notifier=notifier).escalated == []
    assert deadline_status(case, late) == "overdue"
    assert [(n.kind, n.audience) for n in notifier.notices] == [("reminder", "window"), ("escalation", "supervisors")]
    assert events(session, case) == ["opened", "reminder", "escalated", "revisit_scheduled"]
    assert [c.id for c in list_cases(session, case.hall_id, late, only_overdue=True)] == [case.id]
    assert list_cases(session, case.hall_id, last_moment, only_overdue=True) == []


def test_late_feedback_counts_as_late_and_stops_escalation(session: Session) -> None:
    notifier = CollectingNotifier()
    case = _opened(session)
    late = case.due_at + timedelta(hours=2)
    rectify(session, case, "已整改", late, actor="a")
    give_feedback(session, case, "已告知", late, actor="a", via="phone")
    assert deadline_status(case, late) == "late"
    assert run_deadlines(session, late + timedelta(days=1), notifier=notifier).escalated == []
    assert notifier.notices == []
    assert session.scalar(
        select(RectificationEvent.detail).where(RectificationEvent.action == "feedback_given")
    )["late"] is True


def test_first_run_after_due_escalates_without_a_stale_reminder(session: Session) -> None:
    notifier = CollectingNotifier()
    case = _opened(session)
    result = run_deadlines(session, case.due_at + timedelta(days=3), notifier=notifier)
    assert (result.reminded, result.escalated) == ([], [case.id])
    assert [n.kind for n in notifier.notices] == ["escalation"]


def test_integrity_reminder_goes_to_supervisors(session: Session) -> None:
    notifier = CollectingNotifier()
    case = _opened(session, ALL_GOOD | {"integrity": "Y"})
    run_deadlines(session, case.remind_at, notifier=notifier)
    assert [(n.kind, n.audience) for n in notifier.notices] == [("reminder", "supervisors")]


# --- second callback ---------------------------------------------------------------------------------------


def _fed_back(session: Session, answers: dict[str, str]) -> Rectification:
    case = _opened(session, answers)
    rectify(session, case, "已整改", OPENED + timedelta(days=8), actor="a")
    give_feedback(session, case, "已告知", OPENED + timedelta(days=8), actor="a", via="phone")
    return case


def _answer_revisit(session: Session, revisit: Callback, answers: dict[str, str]) -> None:
    for item, value in answers.items():
        session.add(Answer(hall_id=revisit.hall_id, callback_id=revisit.id, item=item, value=value, channel="voice"))
    revisit.state = "complete"
    session.flush()


def test_feedback_places_the_revisit_a_new_drawn_callback_linked_to_the_first(session: Session) -> None:
    case = _fed_back(session, ALL_GOOD | {"overall": "U"})
    fed_back = OPENED + timedelta(days=8)  # Thu 10-08 10:00 Shanghai: inside calling hours
    revisit = session.get(Callback, case.revisit_callback_id)
    assert (revisit.state, revisit.revisit_of_id, revisit.case_id, revisit.window_id) == (
        "drawn", case.callback_id, case.callback.case_id, case.window_id,
    )
    assert revisit.next_action_at == fed_back and revisit.week == "2026-W41" and revisit.draw_id is None
    assert events(session, case)[-2:] == ["feedback_given", "revisit_scheduled"]
    # By hand later, or by the beat: the same revisit, never a second one.
    assert schedule_revisit(session, case, fed_back + timedelta(days=1), actor="督查科") is revisit
    assert run_deadlines(session, case.due_at + timedelta(days=5), settings=Settings()).revisits == []
    assert session.scalar(select(func.count()).where(Callback.revisit_of_id == case.callback_id)) == 1


def test_not_satisfied_twice(session: Session) -> None:
    case = _fed_back(session, ALL_GOOD | {"overall": "U"})
    revisit = schedule_revisit(session, case, OPENED + timedelta(days=9), actor="s")
    _answer_revisit(session, revisit, ALL_GOOD | {"overall": "B"})
    second = open_for_callback(session, revisit, OPENED + timedelta(days=10))
    assert case.revisit_rating == "B"
    assert second is not None and second.id != case.id  # still not satisfied: a new case for the window
    [link] = revisit_links(session, case.hall_id)
    assert (link.rectification_id, link.first_rating, link.second_rating, link.outcome) == (case.id, "U", "B", TWICE_UNSATISFIED)
    assert "revisit_linked" in events(session, case)


def test_not_satisfied_then_satisfied(session: Session) -> None:
    case = _fed_back(session, ALL_GOOD | {"attitude": "B", "overall": "B"})
    revisit = schedule_revisit(session, case, OPENED + timedelta(days=9), actor="s")
    _answer_revisit(session, revisit, ALL_GOOD)
    assert open_for_callback(session, revisit, OPENED + timedelta(days=10)) is None
    [link] = revisit_links(session, case.hall_id)
    assert (link.first_rating, link.second_rating, link.outcome) == ("B", "S", THEN_SATISFIED)
    # Linking is idempotent.
    open_for_callback(session, revisit, OPENED + timedelta(days=11))
    assert events(session, case).count("revisit_linked") == 1


def test_a_first_callback_that_was_satisfied_overall_is_not_a_revisit_pair(session: Session) -> None:
    case = _fed_back(session, ALL_GOOD | {"in_hall": "N"})  # opened for 体外循环, overall S
    revisit = schedule_revisit(session, case, OPENED + timedelta(days=9), actor="s")
    _answer_revisit(session, revisit, ALL_GOOD | {"overall": "U"})
    open_for_callback(session, revisit, OPENED + timedelta(days=10))
    assert case.revisit_rating == "U"
    assert revisit_links(session, case.hall_id) == []


def test_no_revisit_for_an_opted_out_number(session: Session) -> None:
    case = _opened(session, ALL_GOOD | {"overall": "U"})
    session.get(Contact, case.callback.contact_id).opted_out_at = OPENED
    rectify(session, case, "已整改", OPENED + timedelta(days=1), actor="a")
    give_feedback(session, case, "已告知", OPENED + timedelta(days=1), actor="a", via="phone")
    assert (case.revisit_callback_id, case.revisit_skipped) == (None, "opted_out")
    assert events(session, case)[-1] == "revisit_not_possible"
    with pytest.raises(RectificationError, match="退订"):
        schedule_revisit(session, case, OPENED + timedelta(days=9), actor="s")
    # Recorded once: the beat does not try again.
    assert run_deadlines(session, case.due_at + timedelta(days=1), settings=Settings()).revisits == []
    assert events(session, case).count("revisit_not_possible") == 1


# --- CLI ---------------------------------------------------------------------------------------------------


def _cli(database_url: str, monkeypatch: pytest.MonkeyPatch, at: datetime, *args: str):  # noqa: ANN202
    from click.testing import CliRunner

    import callback.rectification.cli as cli_rectify
    import callback.results.cli_deadlines as cli_deadlines
    from callback.cli import main

    monkeypatch.setattr(cli_rectify, "now", lambda: at)
    monkeypatch.setattr(cli_deadlines, "now", lambda: at)
    env = {"DATABASE_URL": database_url, "DEFAULT_HALL": "DEMO", "TELEPHONY": "simulator"}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_cli_lifecycle(session: Session, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    case = _opened(session)
    hidden = _opened(session, ALL_GOOD | {"integrity": "Y"})
    session.commit()
    listed = json.loads(_cli(database_url, monkeypatch, OPENED, "rectifications", "--open", "--json").output)
    assert [r["id"] for r in listed] == [case.id, hidden.id]
    assert {k: listed[0][k] for k in ("window", "reasons", "state", "opened_at", "due_at", "estimated")} == {
        "window": "市场监管窗口", "reasons": ["overall"], "state": "open",
        "opened_at": "2026-09-30T10:00:00+08:00", "due_at": "2026-10-10T23:59:59+08:00", "estimated": False,
    }
    window_view = _cli(database_url, monkeypatch, OPENED, "rectifications", "--window", "市场监管窗口", "--json")
    assert [r["id"] for r in json.loads(window_view.output)] == [case.id]

    late = datetime(2026, 10, 11, 1, 0, tzinfo=UTC)
    overdue = json.loads(_cli(database_url, monkeypatch, late, "rectifications", "--overdue", "--json").output)
    assert [r["id"] for r in overdue] == [case.id, hidden.id] and overdue[0]["deadline"] == "overdue"
    ran = json.loads(_cli(database_url, monkeypatch, late, "deadlines", "--json").output)
    assert (ran["reminded"], ran["escalated"]) == ([], [case.id, hidden.id])
    assert ran["revisits"] == [case.id]  # overdue, first callback 基本满意: its 二次回访 is placed without feedback

    refused = _cli(database_url, monkeypatch, late, "feedback", str(case.id), "--text", "已告知", "--via", "phone")
    assert refused.exit_code == 2 and "请先登记整改措施" in refused.output
    ok = _cli(database_url, monkeypatch, late, "rectify", str(case.id), "--action", "已约谈窗口人员", "--actor", "李四")
    assert ok.exit_code == 0, ok.output
    fed = _cli(database_url, monkeypatch, late, "feedback", str(case.id), "--text", "已电话告知", "--via", "phone", "--json")
    assert json.loads(fed.output)["deadline"] == "late"
    revisit = json.loads(_cli(database_url, monkeypatch, late, "revisit", str(case.id), "--json").output)
    assert (revisit["rectification_id"], revisit["existing"]) == (case.id, True)
    assert _cli(database_url, monkeypatch, late, "close", str(case.id)).exit_code == 0

    session.expire_all()
    stored = session.get(Rectification, case.id)
    assert (stored.state, stored.revisit_callback_id) == ("closed", revisit["callback_id"])
    assert stored.rectified_by.startswith("李四 (cli:")  # the named actor and the OS account
    assert session.get(Callback, revisit["callback_id"]).revisit_of_id == stored.callback_id
    done = _cli(database_url, monkeypatch, late, "rectify", str(case.id), "--action", "再改")
    assert done.exit_code == 2 and "已办结" in done.output


def test_cli_finds_a_case_by_ledger_case_number(session: Session, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from callback.models import Case

    case = _opened(session)
    case_no = session.get(Case, case.callback.case_id).case_no
    session.commit()
    result = _cli(database_url, monkeypatch, OPENED, "rectify", case_no, "--action", "已整改")
    assert result.exit_code == 0, result.output
    unknown = _cli(database_url, monkeypatch, OPENED, "rectify", "NO-SUCH", "--action", "已整改")
    assert unknown.exit_code == 2 and "找不到整改" in unknown.output


def test_no_feedback_sms_outside_sms_hours(session: Session) -> None:
    provider = MockProvider(texts_only)
    case = _opened(session)
    rectify(session, case, "已整改", OPENED, actor="a")
    night = datetime(2026, 10, 8, 13, 30, tzinfo=UTC)  # 21:30 Shanghai; SMS hours 08:00–20:00
    with pytest.raises(RectificationError, match="10-09 08:00"):
        give_feedback(session, case, "已整改", night, actor="a", via="sms", provider=provider, settings=Settings())
    assert provider.texts() == [] and case.state == "rectified"
    assert session.scalar(select(Message).where(Message.purpose == "rectify_feedback")) is None


def test_revisit_waits_for_calling_hours(session: Session) -> None:
    case = _opened(session, ALL_GOOD | {"overall": "U"})
    evening = datetime(2026, 10, 9, 12, 0, tzinfo=UTC)  # Fri 20:00 Shanghai; next calling moment Sat 10-10 09:00
    rectify(session, case, "已整改", evening, actor="a")
    give_feedback(session, case, "已告知", evening, actor="a", via="phone", settings=Settings())
    revisit = session.get(Callback, case.revisit_callback_id)
    assert revisit.next_action_at == datetime(2026, 10, 10, 1, 0, tzinfo=UTC)  # 调休 Saturday is a working day
