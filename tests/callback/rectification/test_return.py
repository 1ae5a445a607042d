"""The supervisor's review (issue 14 §5): accepting is closing; returning sends the window's answer back — the case
is open again with the reason the window reads, the measures kept to amend, the feedback taken off the case (and
kept in the event), so the deadline counts again until the window answers anew."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from callback.models.rectification import CLOSED, FEEDBACK_GIVEN, OPEN, RECTIFIED, Rectification
from callback.rectification.services import (
    RETURNED,
    RectificationError,
    close,
    deadline_status,
    give_feedback,
    last_return,
    open_for_callback,
    rectify,
    return_to_window,
    state_label,
)
from tests.callback.rectification.test_rectification import ALL_GOOD, OPENED, events, make_callback

LATER = OPENED + timedelta(days=1)


def opened(session: Session) -> Rectification:
    case = open_for_callback(session, make_callback(session, ALL_GOOD | {"attitude": "B"}), OPENED)
    assert case is not None
    return case


def fed_back(session: Session) -> Rectification:
    case = opened(session)
    rectify(session, case, "已对窗口人员进行批评教育", LATER, actor="李窗口")
    give_feedback(session, case, "已电话告知申请人整改情况", LATER, actor="李窗口", via="phone")
    return case


def test_returning_a_fed_back_case_opens_it_again_with_the_reason(session: Session) -> None:
    case = fed_back(session)
    assert deadline_status(case, LATER) == "on_time"
    return_to_window(session, case, "反馈内容过于笼统，请说明具体措施", LATER, actor="张督查")
    assert case.state == OPEN and state_label(case) == "已退回"
    assert case.action == "已对窗口人员进行批评教育"  # kept, for the window to amend
    assert (case.feedback, case.feedback_via, case.feedback_at, case.feedback_by) == (None, None, None, None)
    assert deadline_status(case, LATER) == "pending"  # waiting for the window again
    returned = last_return(case)
    assert returned is not None and returned.audience == "window" and returned.actor == "张督查"
    assert returned.detail["reason"] == "反馈内容过于笼统，请说明具体措施"
    assert returned.detail["previous_state"] == FEEDBACK_GIVEN
    assert returned.detail["feedback"] == "已电话告知申请人整改情况"
    assert events(session, case)[-1] == RETURNED


def test_after_a_return_the_window_answers_again_and_the_supervisor_accepts(session: Session) -> None:
    case = fed_back(session)
    return_to_window(session, case, "请补充", LATER, actor="张督查")
    rectify(session, case, "已对窗口人员进行批评教育，并调整了排班", LATER, actor="李窗口")
    assert case.state == RECTIFIED and last_return(case) is None and state_label(case) == "已整改"
    assert events(session, case)[-1] == "action_amended"
    give_feedback(session, case, "已再次电话告知", LATER, actor="李窗口", via="phone")
    close(session, case, LATER, actor="张督查", note="验收通过")
    assert case.state == CLOSED and state_label(case) == "已办结"


def test_a_rectified_case_may_be_returned_before_feedback(session: Session) -> None:
    case = opened(session)
    rectify(session, case, "已整改", LATER, actor="李窗口")
    return_to_window(session, case, "措施不具体", LATER, actor="张督查")
    assert case.state == OPEN and last_return(case).detail["previous_state"] == RECTIFIED


def test_a_returned_case_overdue_is_overdue(session: Session) -> None:
    case = fed_back(session)
    after_due = case.due_at + timedelta(hours=1)
    return_to_window(session, case, "请补充", after_due, actor="张督查")
    assert deadline_status(case, after_due) == "overdue"


@pytest.mark.parametrize("stage", ["open", "closed"])
def test_only_an_answered_case_not_yet_closed_can_be_returned(session: Session, stage: str) -> None:
    case = opened(session) if stage == "open" else fed_back(session)
    if stage == "closed":
        close(session, case, LATER, actor="张督查")
    with pytest.raises(RectificationError, match="只有已整改或已反馈、尚未办结的整改才能退回"):
        return_to_window(session, case, "请补充", LATER, actor="张督查")
    assert RETURNED not in events(session, case)


def test_a_return_needs_a_reason(session: Session) -> None:
    case = fed_back(session)
    with pytest.raises(RectificationError, match="退回原因不能为空"):
        return_to_window(session, case, "  ", LATER, actor="张督查")
    assert case.state == FEEDBACK_GIVEN
