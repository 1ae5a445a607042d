"""The rectification loop without loopholes (篇2 五; 篇3 (五)2): every first callback that was not satisfied gets
one 二次回访 — after feedback, on a close without feedback, or at the latest when its case is overdue — never two;
and a case whose citizen needs no feedback is closed with a reason, audited and counted as settled."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.db import session_factory
from callback.models import Callback
from callback.models.rectification import Rectification
from callback.rectification.services import (
    RectificationError,
    close,
    deadline_status,
    give_feedback,
    list_cases,
    open_for_callback,
    place_due_revisits,
    rectify,
    run_deadlines,
    schedule_revisit,
)
from tests.callback.rectification.test_rectification import (
    ALL_GOOD,
    OPENED,
    _answer_revisit,
    _cli,
    events,
    make_callback,
)

SETTINGS = Settings()
DUE = datetime(2026, 10, 10, 15, 59, 59, tzinfo=UTC)  # end of Sat 10-10 (调休 workday) Shanghai: OPENED's due time


def opened(session: Session, answers: dict[str, str]) -> Rectification:
    case = open_for_callback(session, make_callback(session, answers), OPENED)
    assert case is not None
    return case


def revisits_of(session: Session, case: Rectification) -> list[Callback]:
    return list(session.scalars(select(Callback).where(Callback.revisit_of_id == case.callback_id)))


# --- who is owed a revisit ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("answers", "owed"), [
    (ALL_GOOD | {"overall": "U"}, True),
    (ALL_GOOD | {"overall": "B"}, True),
    # No overall item: the worst item answered is the rating (docs/architecture.md §Ratings and points).
    ({"attitude": "S", "efficiency": "U"}, True),
    # Opened for 体外循环 or an integrity report with an overall 满意: the first callback was satisfied.
    (ALL_GOOD | {"in_hall": "N"}, False),
    (ALL_GOOD | {"integrity": "Y"}, False),
])
def test_a_revisit_is_owed_when_the_first_callback_was_not_satisfied(
    session: Session, answers: dict[str, str], owed: bool
) -> None:
    case = opened(session, answers)
    assert case.revisit_required is owed
    run = run_deadlines(session, DUE + timedelta(seconds=1), settings=SETTINGS)
    assert run.revisits == ([case.id] if owed else [])
    assert len(revisits_of(session, case)) == (1 if owed else 0)


def test_a_revisit_is_not_owed_a_revisit(session: Session) -> None:
    """A 二次回访 still not satisfied opens its own case, which is owed no third call."""
    first = opened(session, ALL_GOOD | {"overall": "U"})
    revisit = schedule_revisit(session, first, DUE + timedelta(seconds=1), actor="s")
    _answer_revisit(session, revisit, ALL_GOOD | {"overall": "U"})
    second = open_for_callback(session, revisit, DUE + timedelta(days=2))
    assert second is not None and second.revisit_required is False
    assert run_deadlines(session, second.due_at + timedelta(days=1), settings=SETTINGS).revisits == []


# --- when it is placed -------------------------------------------------------------------------------------


def test_an_overdue_case_without_feedback_gets_its_revisit_from_the_beat(session: Session) -> None:
    case = opened(session, ALL_GOOD | {"overall": "U"})
    assert run_deadlines(session, DUE, settings=SETTINGS).revisits == []  # due, not overdue yet
    assert revisits_of(session, case) == []
    late = DUE + timedelta(hours=10)  # Sun 10-11 17:59 Shanghai: a Sunday, outside calling hours
    run = run_deadlines(session, late, settings=SETTINGS)
    assert (run.escalated, run.revisits) == ([case.id], [case.id])
    [revisit] = revisits_of(session, case)
    assert case.state == "open" and case.feedback_at is None  # whether or not the window gave feedback
    assert revisit.state == "drawn" and revisit.next_action_at == datetime(2026, 10, 12, 1, 0, tzinfo=UTC)  # Mon 09:00
    assert events(session, case)[-2:] == ["escalated", "revisit_scheduled"]


def test_feedback_places_the_revisit_at_once(session: Session) -> None:
    case = opened(session, ALL_GOOD | {"attitude": "B", "overall": "B"})
    at = OPENED + timedelta(days=1)  # Thu 10-01 10:00: 国庆节, so the call waits for the next working day
    rectify(session, case, "已整改", at, actor="窗口")
    give_feedback(session, case, "已电话告知", at, actor="窗口", via="phone", settings=SETTINGS)
    [revisit] = revisits_of(session, case)
    assert case.revisit_callback_id == revisit.id
    assert revisit.next_action_at == datetime(2026, 10, 8, 1, 0, tzinfo=UTC)  # Thu 10-08 09:00, after the holiday


def test_never_two_revisits(session: Session) -> None:
    case = opened(session, ALL_GOOD | {"overall": "U"})
    rectify(session, case, "已整改", OPENED, actor="窗口")
    give_feedback(session, case, "已告知", OPENED, actor="窗口", via="phone", settings=SETTINGS)
    first = case.revisit_callback_id
    assert schedule_revisit(session, case, OPENED + timedelta(days=1), actor="督查科").id == first
    assert place_due_revisits(session, DUE + timedelta(days=3), settings=SETTINGS) == []
    close(session, case, DUE + timedelta(days=3), actor="督查科")
    assert run_deadlines(session, DUE + timedelta(days=4), settings=SETTINGS).revisits == []
    assert [c.id for c in revisits_of(session, case)] == [first]
    assert events(session, case).count("revisit_scheduled") == 1


def test_a_second_runner_with_a_stale_view_places_no_second_revisit(session: Session, database_url: str) -> None:
    """Two runners pick the same overdue case: the one that comes second finds the case claimed (a conditional
    UPDATE) and adds nothing."""
    case = opened(session, ALL_GOOD | {"overall": "U"})
    session.commit()
    with session_factory(database_url)() as other:
        stale = other.get(Rectification, case.id)
        assert stale.revisit_callback_id is None
        late = DUE + timedelta(days=2)
        assert place_due_revisits(session, late, settings=SETTINGS) == [case.id]
        session.commit()
        assert place_due_revisits(other, late, settings=SETTINGS) == []
        other.commit()
    session.expire_all()
    assert len(revisits_of(session, case)) == 1
    assert session.scalar(select(func.count()).select_from(Callback).where(Callback.revisit_of_id.is_not(None))) == 1


# --- closing without feedback ------------------------------------------------------------------------------


def test_close_without_feedback_needs_a_reason_and_is_audited(session: Session) -> None:
    case = opened(session, ALL_GOOD | {"overall": "B"})
    at = OPENED + timedelta(days=2)
    with pytest.raises(RectificationError, match="--no-feedback"):
        close(session, case, at, actor="督查科")
    with pytest.raises(RectificationError, match="无需反馈的原因不能为空"):
        close(session, case, at, actor="督查科", without_feedback=True, reason="  ")
    assert case.state == "open" and revisits_of(session, case) == []
    close(session, case, at, actor="督查科", without_feedback=True, reason="申请人仅提建议，表示无需回复",
          settings=SETTINGS)
    assert (case.state, case.closed_without_feedback, case.close_reason) == ("closed", True, "申请人仅提建议，表示无需回复")
    assert deadline_status(case, DUE + timedelta(days=5)) == "on_time"  # settled before the deadline
    assert run_deadlines(session, DUE + timedelta(days=5), settings=SETTINGS).escalated == []
    assert list_cases(session, case.hall_id, DUE + timedelta(days=5), only_overdue=True) == []
    assert events(session, case)[-2:] == ["closed_without_feedback", "revisit_scheduled"]  # the revisit still comes
    with pytest.raises(RectificationError, match="已办结"):
        close(session, case, at, actor="督查科", without_feedback=True, reason="再次")


def test_a_late_close_without_feedback_counts_as_late(session: Session) -> None:
    case = opened(session, ALL_GOOD | {"in_hall": "N"})
    rectify(session, case, "已提醒窗口全程在大厅办理", DUE, actor="窗口")
    close(session, case, DUE + timedelta(hours=1), actor="督查科", without_feedback=True, reason="无需反馈")
    assert deadline_status(case, DUE + timedelta(days=1)) == "late"
    assert revisits_of(session, case) == []  # overall 满意: nothing owed


def test_a_fed_back_case_is_not_closed_as_without_feedback(session: Session) -> None:
    case = opened(session, ALL_GOOD | {"overall": "B"})
    rectify(session, case, "已整改", OPENED, actor="窗口")
    give_feedback(session, case, "已告知", OPENED, actor="窗口", via="phone", settings=SETTINGS)
    with pytest.raises(RectificationError, match="已反馈"):
        close(session, case, OPENED, actor="督查科", without_feedback=True, reason="无需")


def test_cli_close_without_feedback(session: Session, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case = opened(session, ALL_GOOD | {"overall": "U"})
    session.commit()
    at = OPENED + timedelta(days=1)
    plain = _cli(database_url, monkeypatch, at, "close", str(case.id))
    assert plain.exit_code == 2 and "--no-feedback" in plain.output
    stray = _cli(database_url, monkeypatch, at, "close", str(case.id), "--reason", "x")
    assert stray.exit_code == 2 and "--no-feedback" in stray.output
    bare = _cli(database_url, monkeypatch, at, "close", str(case.id), "--no-feedback")
    assert bare.exit_code == 2 and "原因不能为空" in bare.output
    done = _cli(database_url, monkeypatch, at, "close", str(case.id), "--no-feedback", "--reason",
                "申请人表示无需回复", "--actor", "王五", "--json")
    assert done.exit_code == 0, done.output
    row = json.loads(done.output)
    assert (row["state_label"], row["closed_without_feedback"], row["close_reason"]) == (
        "已办结（无需反馈）", True, "申请人表示无需回复")
    assert row["revisit_callback_id"] is not None and row["deadline"] == "on_time"
    session.expire_all()
    stored = session.get(Rectification, case.id)
    assert stored.closed_by.startswith("王五 (cli:")
