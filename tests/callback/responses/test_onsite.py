"""On-site forms (篇2 三(二); callback.responses.onsite): a questionnaire response of a window with no draw, case or
number, through the same services as a call — answers, the integrity alert, rectification (篇2 五) — that nothing
can ever call or text, counted in the week of its date against the target of 5; and a week's forms from a file."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.draws.services import draw_weekly_sample
from callback.models import Answer, AuditEvent, Callback, Hall, TranscriptEvent
from callback.models.rectification import Rectification
from callback.rectification.services import RectificationError, give_feedback, rectify, schedule_revisit
from callback.responses.entry import EntryError, read_answers
from callback.responses.onsite import (
    ONSITE_TARGET,
    FormFileError,
    OnsiteForm,
    add_form,
    import_forms,
    read_day,
    week_forms,
)
from callback.responses.overview import describe, week_callbacks
from callback.responses.states import CallbackState, flags_of
from callback.retention.services import purge
from callback.telephony import MockProvider
from ivr.dialer import dial_callback, due_callback_ids
from ivr.sms_survey import due_sms_ids, run_sms_due
from tests.factories import make_case, make_hall, make_window

SH = ZoneInfo("Asia/Shanghai")
ENTERED = datetime(2026, 11, 27, 16, 0, tzinfo=SH)  # Friday of 2026-W48: the week's forms are typed in
ACTOR = "督查科王五 (cli:test)"
WINDOW = "市场监管窗口"


@pytest.fixture
def hall(session: Session) -> Hall:
    hall = make_hall(session)
    make_window(session, hall, WINDOW)
    make_window(session, hall, "税务窗口")
    return hall


def form(answers: str, day: date | None = date(2026, 11, 24), suggestion: str | None = None,
         window: str = WINDOW) -> OnsiteForm:
    return OnsiteForm(window, day, read_answers(answers, suggestion))


def add(session: Session, hall: Hall, *args, now: datetime = ENTERED, **kwargs):  # noqa: ANN002, ANN003, ANN201
    result = add_form(session, hall, form(*args, **kwargs), now, actor=ACTOR)
    return result, session.get(Callback, result.callback_id)


def case_of(session: Session, callback: Callback) -> Rectification | None:
    return session.scalar(select(Rectification).where(Rectification.callback_id == callback.id))


def test_a_form_is_a_response_of_its_window_with_no_draw_case_or_number(session: Session, hall: Hall) -> None:
    result, callback = add(session, hall, "111111")
    assert (callback.channel, callback.state, callback.outcome) == ("onsite", "complete", "complete")
    assert (callback.draw_id, callback.case_id, callback.contact_id) == (None, None, None)
    assert callback.window_id == make_window(session, hall, WINDOW).id
    assert callback.week == "2026-W48" and result.week == "2026-W48"
    assert callback.finished_at == datetime(2026, 11, 24, 12, 0, tzinfo=SH)  # the form's day, noon in the hall
    assert callback.next_action_at is None
    answers = session.scalars(select(Answer).where(Answer.callback_id == callback.id)).all()
    assert len(answers) == 6 and {a.channel for a in answers} == {"onsite"}
    lines = session.scalars(select(TranscriptEvent.text).where(TranscriptEvent.callback_id == callback.id,
                                                               TranscriptEvent.kind == "note")).all()
    assert lines == ["现场征求意见表录入：服务态度：满意；办事效率：满意；按章办事：满意；体外循环：是；廉洁自律：没有；"
                     "总体评价：满意"]
    audit = session.scalar(select(AuditEvent).where(AuditEvent.action == "onsite_form"))
    assert (audit.actor, audit.entity_id, audit.detail["keys"]) == (ACTOR, callback.id, "111111")
    assert case_of(session, callback) is None and result.rectification_id is None


def test_the_week_is_the_iso_week_of_the_forms_date(session: Session, hall: Hall) -> None:
    later = datetime(2026, 12, 1, 9, 0, tzinfo=SH)
    _, sunday = add(session, hall, "111111", day=date(2026, 11, 29), now=later)
    _, monday = add(session, hall, "111111", day=date(2026, 11, 30), now=later)
    assert (sunday.week, monday.week) == ("2026-W48", "2026-W49")


def test_a_form_of_today_finished_before_noon_is_dated_now(session: Session, hall: Hall) -> None:
    morning = datetime(2026, 11, 24, 9, 30, tzinfo=SH)
    _, callback = add(session, hall, "111111", day=None, now=morning)
    assert callback.finished_at == morning and callback.week == "2026-W48"


def test_an_integrity_yes_alerts_and_opens_an_integrity_only_case_from_the_entry(session: Session, hall: Hall) -> None:
    result, callback = add(session, hall, "111121")
    assert flags_of(callback).integrity_alert and result.integrity_alert
    alert = session.scalar(select(AuditEvent).where(AuditEvent.action == "integrity_alert"))
    assert alert.actor == ACTOR and alert.entity_id == callback.id
    case = case_of(session, callback)
    assert case.reasons == ["integrity"] and case.integrity and result.rectification_id == case.id
    assert case.opened_at == ENTERED  # the case runs from the moment the form was entered (篇2 五)
    assert case.excerpt["channel"] == "onsite"


def test_a_complaint_on_the_form_opens_a_case_and_its_number_is_masked(session: Session, hall: Hall) -> None:
    _, callback = add(session, hall, "111111", suggestion="窗口推诿，让我去别的地方办，电话13812345678")
    case = case_of(session, callback)
    assert case.reasons == ["complaint"] and not case.integrity
    assert "13812345678" not in str(case.excerpt) and "138****5678" in case.excerpt["suggestion"]


def test_a_partial_form_ends_partial(session: Session, hall: Hall) -> None:
    result, callback = add(session, hall, "12")
    assert (callback.state, result.keys) == ("partial", "12----")
    assert case_of(session, callback).reasons == ["efficiency"]


@pytest.mark.parametrize(("kwargs", "why"), [
    ({"window": "不存在的窗口"}, "未知窗口"),
    ({"day": date(2026, 11, 28)}, "晚于今天"),
])
def test_an_unknown_window_or_a_future_date_stores_nothing(session: Session, hall: Hall, kwargs, why: str) -> None:  # noqa: ANN001
    with pytest.raises(EntryError, match=why):
        add(session, hall, "111121", **kwargs)
    assert session.scalars(select(Callback)).all() == []
    assert session.scalars(select(AuditEvent)).all() == []


def test_the_date_as_people_write_it() -> None:
    for written in ("2026-11-24", "2026/11/24", "2026年11月24日", "2026.11.24", datetime(2026, 11, 24, 15, 0)):
        assert read_day(written) == date(2026, 11, 24)
    for bad in ("", None, "下周二", "2026-13-01"):
        with pytest.raises(EntryError, match="日期"):
            read_day(bad)


# --- nothing calls, texts, draws or feeds back by SMS to a form ----------------------------------------------------


def test_the_dialer_and_the_sms_survey_never_pick_up_a_form(session: Session, hall: Hall) -> None:
    """Even a form whose state were somehow drawn or sms (a bug elsewhere) has no number to call or text."""
    _, drawn_form = add(session, hall, "111111")
    _, sms_form = add(session, hall, "111111")
    session.execute(Callback.__table__.update().where(Callback.id == drawn_form.id).values(state="drawn"))
    session.execute(Callback.__table__.update().where(Callback.id == sms_form.id).values(state="sms"))
    session.commit()
    later = ENTERED + timedelta(days=3)
    assert due_callback_ids(session, later) == [] and due_sms_ids(session, later) == []
    provider = MockProvider()
    settings = Settings(database_url="sqlite://", public_base_url="https://hall.example.cn")
    assert dial_callback(session, drawn_form.id, provider, settings, later).result == "skipped"
    assert run_sms_due(session, provider, settings, later) == []
    assert provider.requests == []


def test_a_draw_beside_forms_counts_only_ledger_cases(session: Session, hall: Hall) -> None:
    add(session, hall, "111111", day=date(2026, 11, 16))
    add(session, hall, "333213", day=date(2026, 11, 17))
    accepted = datetime(2026, 11, 18, 10, 0, tzinfo=SH)
    case = make_case(session, hall, make_window(session, hall, WINDOW), accepted_at=accepted)
    case.created_at = accepted
    session.flush()
    result = draw_weekly_sample(session, hall, "2026-W48", now=ENTERED, settings=Settings())
    assert [s.case_id for s in result.sample] == [case.id]
    assert result.draw.candidates == 1 and sum(result.draw.excluded.values()) == 0


def test_a_forms_case_cannot_be_fed_back_by_sms_nor_revisited(session: Session, hall: Hall) -> None:
    _, callback = add(session, hall, "333213")
    case = case_of(session, callback)
    rectify(session, case, "已约谈窗口人员", ENTERED + timedelta(hours=1), actor="窗口负责人")
    with pytest.raises(RectificationError, match="现场征求意见表.*不能短信反馈"):
        give_feedback(session, case, "已整改", ENTERED + timedelta(hours=2), actor="a", via="sms",
                      settings=Settings(), provider=MockProvider())
    give_feedback(session, case, "已当面告知", ENTERED + timedelta(hours=2), actor="a", via="phone")
    with pytest.raises(RectificationError, match="不能二次回访"):
        schedule_revisit(session, case, ENTERED + timedelta(hours=3), actor="a", settings=Settings())


def test_the_weeks_callbacks_leave_forms_to_their_own_list(session: Session, hall: Hall) -> None:
    _, callback = add(session, hall, "111111")
    assert week_callbacks(session, "2026-W48", hall.id) == []
    assert week_callbacks(session, "2026-W48", hall.id, onsite=True) == [callback]
    row = describe(session, callback)
    assert (row["phone"], row["phone_kind"], row["item_name"], row["channel"]) == ("", None, None, "onsite")
    assert row["transcript"][0]["text"].startswith("现场征求意见表录入")


def test_a_purge_masks_the_numbers_written_on_old_forms(session: Session, hall: Hall) -> None:
    _, callback = add(session, hall, "111111", suggestion="有问题请打13812345678")
    session.commit()
    settings = Settings(retention_personal_days=30)
    report = purge(session, MockProvider(), settings, ENTERED + timedelta(days=10))
    assert "13812345678" in session.get(Callback, callback.id).suggestion and report.suggestions == 0
    report = purge(session, MockProvider(), settings, ENTERED + timedelta(days=40))
    assert session.get(Callback, callback.id).suggestion == "有问题请打138****5678" and report.suggestions == 1


# --- the week against the target -----------------------------------------------------------------------------------


def test_the_week_shows_its_forms_against_the_target_of_five(session: Session, hall: Hall) -> None:
    add(session, hall, "111111", day=date(2026, 11, 23))
    add(session, hall, "111121", day=date(2026, 11, 24), window="税务窗口")
    add(session, hall, "12", day=date(2026, 11, 25))
    add(session, hall, "111111", day=date(2026, 11, 30), now=datetime(2026, 12, 1, 9, 0, tzinfo=SH))  # next week
    week = week_forms(session, hall, "2026-W48")
    assert (week["count"], week["target"], week["missing"]) == (3, ONSITE_TARGET, 2) and ONSITE_TARGET == 5
    assert week["per_window"] == {WINDOW: 2, "税务窗口": 1}
    assert [(f["date"], f["keys"], f["state"]) for f in week["forms"]] == [
        ("2026-11-23", "111111", "complete"), ("2026-11-24", "111121", "complete"), ("2026-11-25", "12----", "partial")]
    assert [f["rectification_id"] is not None for f in week["forms"]] == [False, True, True]
    assert week_forms(session, hall, "2026-W47")["missing"] == 5


# --- a file of forms -----------------------------------------------------------------------------------------------


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


GOOD_AND_BAD = [
    ["现场征求意见表汇总（2026年第48周）"],
    ["窗口", "日期", "答案", "意见建议"],
    [WINDOW, "2026-11-23", "112111", ""],
    [WINDOW, "2026/11/24", "1 1 1 1 2 1", "办事员收红包"],
    ["税务窗口", "2026年11月25日", "12x", ""],
    ["税务窗口", "2026-11-25", "1121113", ""],
    ["不存在的窗口", "2026-11-25", "111111", ""],
    [WINDOW, "", "111111", ""],
    ["", "", "", ""],
    ["税务窗口", "2026-11-26", "满意", "希望延长午间服务"],
]


def test_an_import_keeps_good_rows_and_lists_bad_ones_by_row_number(session: Session, hall: Hall,
                                                                    tmp_path: Path) -> None:
    report = import_forms(session, hall, write_csv(tmp_path / "w48.csv", GOOD_AND_BAD), ENTERED, actor=ACTOR)
    assert [(f.window, f.day.isoformat(), f.keys) for f in report.added] == [
        (WINDOW, "2026-11-23", "112111"), (WINDOW, "2026-11-24", "111121"), ("税务窗口", "2026-11-26", "-----1")]
    assert [row for row, _ in report.rejected] == [5, 6, 7, 8]
    reasons = dict(report.rejected)
    assert "无法识别" in reasons[5] and "超过 6 项" in reasons[6] and "未知窗口" in reasons[7] and "日期" in reasons[8]
    integrity = session.get(Callback, report.added[1].callback_id)
    assert flags_of(integrity).integrity_alert and case_of(session, integrity).integrity
    assert report.added[0].rectification_id is not None  # 基本满意 on 按章办事
    assert week_forms(session, hall, "2026-W48")["count"] == 3


def test_importing_the_same_file_again_adds_nothing(session: Session, hall: Hall, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "w48.csv", GOOD_AND_BAD, encoding="gb18030")
    first = import_forms(session, hall, path, ENTERED, actor=ACTOR)
    again = import_forms(session, hall, path, ENTERED + timedelta(hours=1), actor=ACTOR)
    assert len(first.added) == 3 and again.added == [] and again.skipped == [3, 4, 10]
    assert len(again.rejected) == 4  # the bad rows are still bad
    assert session.scalars(select(Callback)).all().__len__() == 3


def test_an_xlsx_with_one_column_per_item(session: Session, hall: Hall, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["窗口名称", "填表日期", "服务态度", "办事效率", "按章办事", "体外循环", "廉洁自律", "总体评价", "意见"])
    sheet.append([WINDOW, datetime(2026, 11, 24), "满意", 1, "基本满意", "是", "没有", "满意", None])
    sheet.append([WINDOW, datetime(2026, 11, 25), 1, 1, 1, "否", "有", 3, "让我到大厅外办公室办理"])
    sheet.append([WINDOW, datetime(2026, 11, 25), 1, 1, 1, 3, 1, 1, None])
    path = tmp_path / "w48.xlsx"
    book.save(path)
    report = import_forms(session, hall, path, ENTERED, actor=ACTOR)
    assert [f.keys for f in report.added] == ["112111", "111223"]
    assert [row for row, _ in report.rejected] == [4] and "体外循环" in report.rejected[0][1]
    case = case_of(session, session.get(Callback, report.added[1].callback_id))
    assert case.reasons == ["in_hall", "integrity", "overall", "complaint"]


@pytest.mark.parametrize("rows", [
    [["窗口", "答案"], [WINDOW, "111111"]],  # no date column
    [["日期", "答案"], ["2026-11-24", "111111"]],  # no window column
    [["窗口", "日期", "备注"], [WINDOW, "2026-11-24", "111111"]],  # no answers at all
])
def test_a_file_without_the_columns_imports_nothing(session: Session, hall: Hall, tmp_path: Path,
                                                    rows: list[list[str]]) -> None:
    with pytest.raises(FormFileError, match="未找到表头行"):
        import_forms(session, hall, write_csv(tmp_path / "f.csv", rows), ENTERED, actor=ACTOR)
    assert session.scalars(select(Callback)).all() == []


def test_an_unreadable_file_is_one_error(session: Session, hall: Hall, tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(FormFileError, match="xls"):
        import_forms(session, hall, path, ENTERED, actor=ACTOR)


def test_form_states_are_the_answered_endings(session: Session, hall: Hall) -> None:
    _, full = add(session, hall, "111111")
    _, part = add(session, hall, "1")
    assert {full.state, part.state} == {CallbackState.COMPLETE, CallbackState.PARTIAL}
    assert full.finished_at.tzinfo is not None and full.finished_at < ENTERED.astimezone(UTC)
