"""The working calendar: package data, loaded schedules, estimates, and the `callback calendar` CLI."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.calendar.services import (
    Due,
    LoadedDay,
    ScheduleFileError,
    WorkingCalendar,
    load_calendar,
    load_schedule_file,
)
from callback.cli import main
from callback.db import transaction
from callback.models import CalendarDay

EXAMPLE_2027 = Path(__file__).parents[3] / "callback" / "data" / "calendar-2027.example.csv"


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# --- package years ---------------------------------------------------------------------------------------------


def test_every_day_of_2026_matches_the_chinese_calendar_package() -> None:
    cal = WorkingCalendar()
    for day in _days(date(2026, 1, 1), date(2026, 12, 31)):
        assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
    assert cal.source(2026) == "official"
    assert not cal.is_estimated(date(2026, 6, 1))


def test_spring_festival_2026_make_up_saturdays_are_workdays() -> None:
    cal = WorkingCalendar()
    assert date(2026, 2, 14).weekday() == 5 and cal.is_workday(date(2026, 2, 14))
    assert date(2026, 2, 28).weekday() == 5 and cal.is_workday(date(2026, 2, 28))
    assert not any(cal.is_workday(d) for d in _days(date(2026, 2, 15), date(2026, 2, 23)))
    # Friday 13 Feb + 1 working day skips the nine-day holiday but not the make-up Saturday.
    assert cal.due_after_working_days(date(2026, 2, 13), 1) == Due(date(2026, 2, 14), False)
    assert cal.due_after_working_days(date(2026, 2, 14), 1) == Due(date(2026, 2, 24), False)
    assert cal.schedule(2026).days_off[date(2026, 2, 17)] == "春节"


def test_national_day_2026_due_date_is_the_make_up_saturday() -> None:
    cal = WorkingCalendar()
    assert cal.due_after_working_days(date(2026, 9, 30), 3) == Due(date(2026, 10, 10), False)
    assert cal.next_workday(date(2026, 9, 30)) == date(2026, 10, 8)
    assert cal.working_days_between(date(2026, 9, 30), date(2026, 10, 10)) == 3


def test_due_date_crossing_into_an_unpublished_year_is_estimated_not_a_crash() -> None:
    cal = WorkingCalendar()
    assert cal.source(2027) == "estimated"
    due = cal.due_after_working_days(date(2026, 12, 30), 3)
    # 2026-12-31 Thu; 2027-01-01 Fri is New Year's Day in the estimate; weekend; Mon 4 Jan.
    assert due == Due(date(2027, 1, 5), True)
    assert cal.is_estimated(date(2027, 1, 4)) and not cal.is_estimated(date(2026, 12, 31))


def test_the_estimate_is_weekends_plus_statutory_holidays_without_make_up_days() -> None:
    cal = WorkingCalendar()
    assert not cal.is_workday(date(2027, 10, 1))  # 国庆节 (Friday)
    assert not cal.is_workday(date(2027, 2, 6))  # 春节 (Saturday)
    assert cal.schedule(2027).workdays == {}
    assert all(not cal.is_workday(d) for d in _days(date(2027, 3, 6), date(2027, 3, 7)))  # a plain weekend


def test_due_date_within_2026_near_the_year_end_is_not_estimated() -> None:
    assert WorkingCalendar().due_after_working_days(date(2026, 12, 24), 3) == Due(date(2026, 12, 29), False)


def test_years_outside_both_packages_do_not_crash() -> None:
    cal = WorkingCalendar()
    for year in (1, 1990, 2003, 2100, 9998):
        assert cal.source(year) == "estimated"
        assert cal.due_after_working_days(date(year, 6, 1), 3).estimated


# --- loaded schedules (pure) -----------------------------------------------------------------------------------


def test_a_loaded_year_replaces_the_package_for_that_year() -> None:
    # An administrator's correction: 2026-10-08 off as well, and no make-up Saturday on 10 October.
    cal = WorkingCalendar([LoadedDay(2026, date(2026, 10, d), "holiday", "国庆节") for d in range(1, 9)])
    assert cal.source(2026) == "loaded"
    assert not cal.is_workday(date(2026, 10, 10))  # the package's make-up day is gone with the package
    assert cal.is_workday(date(2026, 2, 16))  # the file names no Spring Festival: a plain Monday
    assert cal.due_after_working_days(date(2026, 9, 30), 3) == Due(date(2026, 10, 13), False)


def test_neighbouring_notice_days_override_the_package_and_the_estimate() -> None:
    rows = [
        LoadedDay(2027, date(2026, 12, 31), "holiday", "元旦"),
        LoadedDay(2027, date(2027, 1, 1), "holiday", "元旦"),
        LoadedDay(2027, date(2027, 1, 2), "holiday", "元旦"),
        LoadedDay(2027, date(2028, 1, 1), "holiday", "元旦"),
    ]
    cal = WorkingCalendar(rows)
    assert cal.source(2026) == "official" and not cal.is_workday(date(2026, 12, 31))
    assert cal.is_workday(date(2026, 12, 30))
    assert cal.source(2028) == "estimated"
    assert not cal.is_estimated(date(2028, 1, 1)) and cal.is_estimated(date(2028, 1, 3))


def test_own_years_row_wins_over_a_neighbouring_notice() -> None:
    rows = [
        LoadedDay(2028, date(2028, 1, 2), "holiday", "元旦"),
        LoadedDay(2027, date(2028, 1, 2), "workday", "旧通知"),
    ]
    assert not WorkingCalendar(rows).is_workday(date(2028, 1, 2))
    assert not WorkingCalendar(list(reversed(rows))).is_workday(date(2028, 1, 2))


# --- loading files into the database ---------------------------------------------------------------------------


def _write(tmp_path: Path, text: str, name: str = "schedule.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _row_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(CalendarDay)) or 0


def test_loaded_2027_schedule_overrides_the_estimate(session: Session) -> None:
    before = load_calendar(session)
    assert before.is_workday(date(2027, 2, 20)) is False  # estimate: a plain Saturday
    assert before.is_workday(date(2027, 2, 11)) is True  # estimate: a plain Thursday

    result = load_schedule_file(session, EXAMPLE_2027)
    session.commit()
    assert (result.year, result.holidays, result.workdays) == (2027, 28, 6)
    assert result.changed and result.previous_source == "estimated"

    after = load_calendar(session)
    assert after.source(2027) == "loaded"
    assert after.is_workday(date(2027, 2, 20)) and not after.is_workday(date(2027, 2, 11))
    assert after.due_after_working_days(date(2026, 12, 30), 3) == Due(date(2027, 1, 5), False)
    assert after.due_after_working_days(date(2027, 2, 4), 2) == Due(date(2027, 2, 16), False)
    assert after.schedule(2027).workdays[date(2027, 10, 9)] == "国庆节"


def test_loading_the_same_file_twice_changes_nothing(session: Session) -> None:
    load_schedule_file(session, EXAMPLE_2027)
    session.commit()
    first = session.execute(select(CalendarDay.id, CalendarDay.loaded_at).order_by(CalendarDay.id)).all()
    again = load_schedule_file(session, EXAMPLE_2027)
    session.commit()
    assert not again.changed and again.previous_source == "loaded"
    assert (
        session.execute(select(CalendarDay.id, CalendarDay.loaded_at).order_by(CalendarDay.id)).all() == first
    )


def test_a_new_version_of_a_year_replaces_the_old_one(session: Session, tmp_path: Path) -> None:
    load_schedule_file(
        session, _write(tmp_path, "date,kind,name\n2027-01-01,holiday,元旦\n2027-01-04,holiday,x\n")
    )
    result = load_schedule_file(
        session, _write(tmp_path, "date,kind,name\n2027-01-01,holiday,元旦\n", "v2.csv")
    )
    session.commit()
    assert result.changed and _row_count(session) == 1
    assert load_calendar(session).is_workday(date(2027, 1, 4))


def test_a_malformed_line_loads_nothing_and_names_its_line(session: Session, tmp_path: Path) -> None:
    good = EXAMPLE_2027.read_text(encoding="utf-8")
    lines = good.splitlines()
    lines[9] = "2027-02-30,holiday,春节"  # line 10 does not exist as a date
    with pytest.raises(ScheduleFileError) as caught:
        load_schedule_file(session, _write(tmp_path, "\n".join(lines)))
    assert [line for line, _ in caught.value.errors] == [10]
    assert _row_count(session) == 0


def test_gbk_encoded_file_from_excel_is_read(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("date,kind,name\n2027-01-01,holiday,元旦\n".encode("gbk"))
    load_schedule_file(session, path)
    assert load_calendar(session).schedule(2027).days_off == {date(2027, 1, 1): "元旦"}


# --- CLI -----------------------------------------------------------------------------------------------------


@pytest.fixture
def runner(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return CliRunner()


def test_cli_due_json_official(runner: CliRunner) -> None:
    result = runner.invoke(main, ["calendar", "due", "--from", "2026-09-30", "--days", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"due": "2026-10-10", "estimated": False}
    assert result.stderr == ""


def test_cli_due_into_an_estimated_year_warns_on_stderr(runner: CliRunner) -> None:
    result = runner.invoke(main, ["calendar", "due", "--from", "2026-12-30", "--days", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"due": "2027-01-05", "estimated": True}
    assert "警告" in result.stderr and "2027" in result.stderr
    text = runner.invoke(main, ["calendar", "due", "--from", "2026-12-30", "--days", "3"])
    assert "2027-01-05" in text.stdout and "警告" in text.stderr


def test_cli_load_then_due_is_official_for_2027(runner: CliRunner, database_url: str) -> None:
    loaded = runner.invoke(main, ["calendar", "load", str(EXAMPLE_2027)])
    assert loaded.exit_code == 0, loaded.output
    assert "2027" in loaded.stdout and "28" in loaded.stdout
    again = runner.invoke(main, ["calendar", "load", str(EXAMPLE_2027), "--json"])
    assert json.loads(again.stdout)["changed"] is False
    result = runner.invoke(main, ["calendar", "due", "--from", "2027-02-04", "--days", "2", "--json"])
    assert json.loads(result.stdout) == {"due": "2027-02-16", "estimated": False}
    assert result.stderr == ""
    with transaction(database_url) as session:
        assert _row_count(session) == 34


def test_cli_load_malformed_file_fails_with_line_number(runner: CliRunner, tmp_path: Path) -> None:
    path = _write(tmp_path, "date,kind,name\n2027-01-01,holiday,元旦\n2027-01-02,holliday,元旦\n")
    result = runner.invoke(main, ["calendar", "load", str(path)])
    assert result.exit_code != 0
    assert "第 3 行" in result.stderr and "未载入" in result.stderr
    shown = runner.invoke(main, ["calendar", "show", "--year", "2027", "--json"])
    assert json.loads(shown.stdout)["source"] == "estimated"


def test_cli_show_json_official_year(runner: CliRunner) -> None:
    result = runner.invoke(main, ["calendar", "show", "--year", "2026", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["source"] == "official" and payload["estimated"] is False
    expected_workdays = sorted(d.isoformat() for d in chinese_calendar.workdays if d.year == 2026)
    assert [w["date"] for w in payload["workdays"]] == expected_workdays
    assert {"date": "2026-10-01", "name": "国庆节"} in payload["days_off"]
    expected = sum(chinese_calendar.is_workday(d) for d in _days(date(2026, 1, 1), date(2026, 12, 31)))
    assert payload["working_days"] == expected
    assert result.stderr == ""


def test_cli_show_estimated_year_warns_in_both_modes(runner: CliRunner) -> None:
    as_json = runner.invoke(main, ["calendar", "show", "--year", "2027", "--json"])
    assert json.loads(as_json.stdout)["source"] == "estimated" and "警告" in as_json.stderr
    as_text = runner.invoke(main, ["calendar", "show", "--year", "2027"])
    assert as_text.exit_code == 0
    assert "estimated" in as_text.stdout and "2027-10-01" in as_text.stdout and "警告" in as_text.stderr
