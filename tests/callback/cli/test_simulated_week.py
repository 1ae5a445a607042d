"""`run-week --simulate` as a whole week: the SMS hand-offs are sent and answered, 二次回访 are dialed, and a past
week is replayed inside that week — every call, answer, transcript line, SMS and rectification case carries the
simulated time, never a moment after today or before the case was accepted."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.cli import main
from callback.models import Answer, Attempt, Callback, Case, Message, TranscriptEvent
from callback.models.rectification import Rectification
from ivr.simulator import citizens
from ivr.simulator.citizens import CitizenRegistry
from survey.weeks import week_bounds
from tests.factories import make_case, make_hall

pytestmark = pytest.mark.slow

TZ = ZoneInfo("Asia/Shanghai")
WEEK = "2026-W46"  # Monday 9 – Sunday 15 November 2026, in the past
EARLY = datetime(2026, 11, 4, 10, 0, tzinfo=TZ)  # accepted the week before, same month
LATE = datetime(2026, 11, 12, 16, 0, tzinfo=TZ)  # accepted on the Thursday of the week
UNSATISFIED, SMS_REPLY, SMS_COMMENT, SMS_SILENT = "+8613700000021", "+8613700000022", "+8613700000023", "+8613700000024"
LATE_CASE, LANDLINE = "+8613700000025", "+865360000026"
PHONES = {
    UNSATISFIED: citizens.answers_all("1111113"),  # overall 不满意 → a rectification case
    SMS_REPLY: citizens.no_answer(sms_replies=["111111"]),
    SMS_COMMENT: citizens.busy(sms_replies=["112111 排队太久"]),  # 按章办事 基本满意 → a case opened by SMS
    SMS_SILENT: citizens.no_answer(),  # texted, reminded, never answers
    LATE_CASE: citizens.answers_all("1111111"),
    LANDLINE: citizens.busy(),
}


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"DATABASE_URL": database_url, "SIMULATOR_CITIZENS": str(tmp_path / "sim" / "citizens.json"),
              "TWILIO_AUTH_TOKEN": "week-test-token", "TELEPHONY": "simulator"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def ledger(db: Session, env: dict[str, str]) -> dict[str, Case]:
    hall = make_hall(db)
    cases = {phone: make_case(db, hall, phone=phone, kind="landline" if phone == LANDLINE else "mobile",
                              accepted_at=(LATE if phone == LATE_CASE else EARLY).astimezone(UTC))
             for phone in PHONES}
    db.commit()
    CitizenRegistry(Path(env["SIMULATOR_CITIZENS"])).update(PHONES)
    return cases


def run_week(*extra: str) -> dict:
    result = CliRunner().invoke(main, ["run-week", "--simulate", "--week", WEEK, "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def callback_of(db: Session, case: Case, revisit: bool = False) -> Callback:
    query = select(Callback).where(Callback.case_id == case.id)
    query = query.where(Callback.revisit_of_id.is_not(None) if revisit else Callback.revisit_of_id.is_(None))
    return db.scalars(query).one()


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_sms_hand_offs_are_sent_and_the_citizens_replies_settle_them(db: Session, ledger: dict) -> None:
    run_week()
    db.expire_all()
    state = {phone: callback_of(db, case).state for phone, case in ledger.items()}
    assert state[SMS_REPLY] == "complete" and state[SMS_COMMENT] == "complete"
    assert state[SMS_SILENT] == "unreachable" and state[LANDLINE] == "unreachable"
    silent = callback_of(db, ledger[SMS_SILENT])
    sent = db.scalars(select(Message.purpose).where(Message.callback_id == silent.id, Message.direction == "out"))
    assert sorted(sent) == ["reminder", "survey"]
    comment = callback_of(db, ledger[SMS_COMMENT])
    assert comment.channel == "sms" and comment.suggestion == "排队太久"
    assert db.scalar(select(Answer.value).where(Answer.callback_id == comment.id, Answer.item == "by_the_rules")) == "B"
    assert db.scalars(select(Callback).where(Callback.state == "sms")).all() == []
    assert json.loads(cli("sms", "--json")) == []  # nothing left for the worker's SMS step


def test_a_past_week_is_replayed_inside_that_week(db: Session, ledger: dict) -> None:
    run_week()
    db.expire_all()
    start, end = week_bounds(WEEK, TZ)
    monday_draw = datetime(2026, 11, 9, 9, 0, tzinfo=TZ)
    accepted = {c.id: c.accepted_at for c in db.scalars(select(Case))}
    case_of = {c.id: c.case_id for c in db.scalars(select(Callback))}
    stamps = _simulation_timestamps(db)
    assert len(stamps) > 100
    for what, callback_id, moment in stamps:
        assert monday_draw <= moment < end, (what, moment)
        assert moment >= accepted[case_of[callback_id]], (what, moment)
    late_attempts = db.scalars(select(Attempt.placed_at).where(
        Attempt.callback_id == callback_of(db, ledger[LATE_CASE]).id)).all()
    assert late_attempts and min(late_attempts) >= LATE  # not called before the case existed
    assert start < monday_draw


def test_feedback_given_today_comes_after_the_case_a_past_week_opened(db: Session, ledger: dict) -> None:
    run_week()
    db.expire_all()
    cases = db.scalars(select(Rectification).order_by(Rectification.id)).all()
    for case in cases:
        cli("rectify", str(case.id), "--action", "已培训")
        cli("feedback", str(case.id), "--text", "已整改", "--via", "phone")
    db.expire_all()
    for case in db.scalars(select(Rectification)):
        assert case.opened_at <= case.feedback_at and case.opened_at < week_bounds(WEEK, TZ)[1]
    assert {c.callback.case_id for c in cases} >= {ledger[UNSATISFIED].id, ledger[SMS_COMMENT].id}


def test_a_second_callback_is_dialed_by_the_next_simulated_week(db: Session, ledger: dict, env: dict) -> None:
    run_week()
    db.expire_all()
    first = callback_of(db, ledger[UNSATISFIED])
    case = db.scalars(select(Rectification).where(Rectification.callback_id == first.id)).one()
    cli("rectify", str(case.id), "--action", "已约谈窗口人员")
    cli("feedback", str(case.id), "--text", "已整改，感谢监督", "--via", "phone")
    cli("revisit", str(case.id))
    CitizenRegistry(Path(env["SIMULATOR_CITIZENS"])).set(UNSATISFIED, citizens.answers_all("1111111"))
    report = run_week()
    db.expire_all()
    revisit = callback_of(db, ledger[UNSATISFIED], revisit=True)
    assert [r["id"] for r in report["revisits"]] == [revisit.id]
    assert revisit.state == "complete" and revisit.attempts_used == 1
    case = db.get(Rectification, case.id)
    assert case.revisit_rating == "S" and case.revisit_callback_id == revisit.id
    placed = db.scalar(select(Attempt.placed_at).where(Attempt.callback_id == revisit.id))
    assert placed >= case.feedback_at  # the second callback follows the feedback it checks on


def _simulation_timestamps(db: Session) -> list[tuple[str, int, datetime]]:
    """Every moment the simulated week wrote, with its callback."""
    stamps: list[tuple[str, int, datetime]] = []
    for a in db.scalars(select(Attempt)):
        stamps += [(f"attempt.{f}", a.callback_id, getattr(a, f)) for f in ("created_at", "placed_at",
                                                                             "answered_at", "ended_at")]
    stamps += [("answer", a.callback_id, a.created_at) for a in db.scalars(select(Answer))]
    stamps += [("transcript", e.callback_id, e.at) for e in db.scalars(select(TranscriptEvent))]
    stamps += [("message", m.callback_id, m.created_at) for m in db.scalars(select(Message))]
    stamps += [("opened", r.callback_id, r.opened_at) for r in db.scalars(select(Rectification))]
    stamps += [("finished", c.id, c.finished_at) for c in db.scalars(select(Callback))]
    return [s for s in stamps if s[2] is not None]
