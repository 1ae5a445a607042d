"""Entries: checked by 篇3's own rules before anything is written, corrected (never deleted) with the reason,
audited; the active ones are what counts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.assessment.entries import (
    EntryError,
    EntryInput,
    active_entries,
    add_entry,
    correct_entry,
    entry_history,
)
from callback.assessment.services import monthly_assessment
from callback.models import AuditEvent
from callback.models.assessment import AssessmentEntry
from tests.callback.assessment.builders import TAX, cases, hall, staff_member

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def add(session: Session, **given: object) -> AssessmentEntry:
    values = {"staff": "张伟", "clause": "一2", "month": "2026-11"} | given
    return add_entry(session, hall(session), EntryInput(**values), NOW, actor="督查科")  # type: ignore[arg-type]


@pytest.fixture
def zhang(session: Session):  # noqa: ANN201
    return staff_member(session, "张伟", TAX)


def total(session: Session) -> float:
    [row] = [r for r in monthly_assessment(session, hall(session), "2026-11", NOW)["staff"] if r["name"] == "张伟"]
    return row["total"]


@pytest.mark.parametrize(("given", "message"), [
    ({"clause": "九1"}, "未知条款"),
    ({"clause": "一1"}, "须注明等次"),  # two grades, none given
    ({"clause": "一3", "minutes": 10}, "未超过15分钟"),
    ({"clause": "三7"}, "须注明每次分值"),
    ({"clause": "三7", "points": "4"}, "1–3"),
    ({"clause": "一2", "points": "1"}, "固定"),
    ({"clause": "五4", "source": "district", "rating": "S"}, "满意"),
    ({"clause": "五1", "source": "district", "rating": "B"}, "五4"),
    ({"staff": "王五"}, "没有登记"),
    ({"month": None, "day": None}, "须注明月份或日期"),
    ({"month": "2026-11", "day": date(2026, 12, 1)}, "不在 2026-11"),
    ({"count": 0}, "至少为 1"),
    ({"clause": "一7", "grade": "vacation"}, "personal"),
    ({"clause": "产假", "count": 2}, "产假"),
])
def test_a_bad_entry_is_refused_and_nothing_is_written(session: Session, zhang, given: dict, message: str) -> None:
    with pytest.raises(EntryError, match=message):
        add(session, **given)
    assert session.scalars(select(AssessmentEntry)).all() == []


def test_the_grade_is_stored_as_survey_resolves_it(session: Session, zhang) -> None:
    assert add(session, clause="一3", minutes=200).grade == "absent"  # > 2 h: 旷工
    assert add(session, clause="三2", grade="穿背心、短裤、拖鞋或奇装异服，在办公场所脱鞋出脚").grade == "improper"  # by label
    assert add(session, clause="五4", source="above_district", rating="B").grade == "above_basic"
    assert add(session, clause="三7", points="2.5").points == Decimal("2.5")
    assert add(session, clause="一2").grade == "each"


def test_a_correction_replaces_the_entry_keeps_it_and_is_audited(session: Session, zhang) -> None:
    first = add(session, clause="一2", count=4, note="指纹未打")  # 4 × −0.5
    assert total(session) == 98.0
    fixed = correct_entry(session, hall(session), first.id, {"count": 2}, "核实为两次", NOW, actor="科长")
    assert (fixed.supersedes_id, fixed.count, fixed.note, fixed.reason) == (first.id, 2, "指纹未打", "核实为两次")
    assert total(session) == 99.0
    assert [e.id for e in active_entries(session, hall(session).id, ["2026-11"])] == [fixed.id]
    assert session.get(AssessmentEntry, first.id) is not None  # never deleted
    history = entry_history(session, hall(session), "2026-11")
    assert [(h["id"], h["corrected_by"]) for h in history] == [(first.id, fixed.id), (fixed.id, None)]
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.entity == "assessment_entry")
                              .order_by(AuditEvent.id)).all()
    assert actions == ["assessment_entry_added", "assessment_entry_corrected"]
    with pytest.raises(EntryError, match="已被"):
        correct_entry(session, hall(session), first.id, {"count": 1}, "再改", NOW, actor="科长")


def test_a_correction_to_another_clause_drops_what_only_the_old_one_needed(session: Session, zhang) -> None:
    first = add(session, clause="一3", minutes=30)  # 空岗 −2
    fixed = correct_entry(session, hall(session), first.id, {"clause": "一2"}, "实为未按指纹", NOW, actor="科长")
    assert (fixed.clause, fixed.grade, fixed.minutes, fixed.count) == ("一2", "each", None, 1)


def test_a_withdrawn_entry_counts_nothing(session: Session, zhang) -> None:
    cases(session, zhang, TAX, 1)  # a case of theirs: the month is assessed with or without entries
    first = add(session, clause="二1")  # −5
    assert total(session) == 95.0
    correct_entry(session, hall(session), first.id, {"count": 0}, "误录", NOW, actor="科长")
    assert total(session) == 100.0


def test_a_correction_needs_a_reason_and_is_checked_like_an_entry(session: Session, zhang) -> None:
    first = add(session)
    with pytest.raises(EntryError, match="原因"):
        correct_entry(session, hall(session), first.id, {"count": 1}, " ", NOW, actor="科长")
    with pytest.raises(EntryError, match="固定"):
        correct_entry(session, hall(session), first.id, {"points": "2"}, "改分值", NOW, actor="科长")
    assert len(session.scalars(select(AssessmentEntry)).all()) == 1


def test_a_second_maternity_entry_for_the_month_is_refused(session: Session, zhang) -> None:
    add(session, clause="产假")
    with pytest.raises(EntryError, match="已录入产假"):
        add(session, clause="产假")


def test_the_note_is_masked_when_shown(session: Session, zhang) -> None:
    add(session, note="群众13812345678来电反映")
    [row] = [r for r in monthly_assessment(session, hall(session), "2026-11", NOW)["staff"] if r["name"] == "张伟"]
    assert "13812345678" not in row["entries"][0]["note"] and "5678" in row["entries"][0]["note"]
