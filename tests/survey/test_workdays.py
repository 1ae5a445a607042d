"""Pure working-day maths and the schedule file format (survey/workdays.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from survey.workdays import (
    ScheduleFileError,
    YearSchedule,
    due_after,
    next_workday,
    parse_schedule,
    working_days_between,
)

# A made-up year: Friday 2030-02-01 off, Saturday 2030-02-09 a make-up workday.
SCHEDULE = YearSchedule(
    2030,
    days_off={date(2030, 2, 1): "测试节", date(2030, 2, 2): "测试节"},
    workdays={date(2030, 2, 9): "测试节"},
)


def test_weekday_rule_with_exceptions() -> None:
    assert SCHEDULE.is_workday(date(2030, 1, 31))  # Thursday
    assert not SCHEDULE.is_workday(date(2030, 2, 1))  # Friday, day off
    assert not SCHEDULE.is_workday(date(2030, 2, 3))  # ordinary Sunday
    assert SCHEDULE.is_workday(date(2030, 2, 9))  # Saturday, make-up workday


def test_due_after_skips_days_off_and_counts_make_up_saturday() -> None:
    # Thu 31 Jan: Fri off, weekend, then Mon 4 .. Fri 8 are days 1..5, Sat 9 (make-up) is day 6.
    assert due_after(SCHEDULE.is_workday, date(2030, 1, 31), 1) == date(2030, 2, 4)
    assert due_after(SCHEDULE.is_workday, date(2030, 1, 31), 6) == date(2030, 2, 9)
    assert due_after(SCHEDULE.is_workday, date(2030, 1, 31), 7) == date(2030, 2, 11)


def test_start_day_is_not_counted_even_if_it_is_a_workday() -> None:
    assert due_after(SCHEDULE.is_workday, date(2030, 1, 28), 1) == date(2030, 1, 29)
    assert next_workday(SCHEDULE.is_workday, date(2030, 1, 28)) == date(2030, 1, 29)


def test_due_after_rejects_non_positive_days() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        due_after(SCHEDULE.is_workday, date(2030, 1, 28), 0)


def test_working_days_between_is_half_open() -> None:
    assert working_days_between(SCHEDULE.is_workday, date(2030, 1, 31), date(2030, 2, 9)) == 6
    assert working_days_between(SCHEDULE.is_workday, date(2030, 2, 9), date(2030, 2, 9)) == 0
    assert working_days_between(SCHEDULE.is_workday, date(2030, 2, 9), date(2030, 2, 1)) == 0


@given(start=st.dates(date(2029, 12, 1), date(2030, 3, 1)), days=st.integers(1, 40))
def test_due_after_lands_on_the_nth_working_day(start: date, days: int) -> None:
    due = due_after(SCHEDULE.is_workday, start, days)
    assert SCHEDULE.is_workday(due)
    assert working_days_between(SCHEDULE.is_workday, start, due) == days
    assert working_days_between(SCHEDULE.is_workday, start, due - timedelta(days=1)) == days - 1


# --- the schedule file ---------------------------------------------------------------------------------------


def test_parse_schedule_reads_kinds_names_comments_and_bom() -> None:
    text = "\ufeff# 示例\ndate,kind,name\n\n2027-02-20,workday,春节\n2027-02-05,holiday,春节\n"
    parsed = parse_schedule(text)
    assert parsed.year == 2027
    assert [(d.day, d.kind, d.name) for d in parsed.days] == [
        (date(2027, 2, 5), "holiday", "春节"),
        (date(2027, 2, 20), "workday", "春节"),
    ]
    assert parsed.counts() == {"holiday": 1, "workday": 1}


def test_every_malformed_line_is_reported_with_its_number() -> None:
    text = "\n".join(
        [
            "date,kind,name",  # 1
            "2027-01-01,holiday,元旦",  # 2
            "2027-13-01,holiday,坏月份",  # 3
            "2027/01/02,holiday,斜杠",  # 4
            "2027-01-04,vacation,错类型",  # 5
            "2027-01-05,workday,周二",  # 6: a Tuesday is already a workday
            "2027-01-01,holiday,重复",  # 7
            "2027-01-09,holiday",  # 8: two columns
        ]
    )
    with pytest.raises(ScheduleFileError) as caught:
        parse_schedule(text)
    assert [line for line, _ in caught.value.errors] == [3, 4, 5, 6, 7, 8]
    assert "第 7 行" in str(caught.value) and "第 2 行" in str(caught.value)


def test_wrong_header_is_reported() -> None:
    with pytest.raises(ScheduleFileError) as caught:
        parse_schedule("# c\nday,type,name\n2027-01-01,holiday,元旦\n")
    assert caught.value.errors[0][0] == 2


def test_header_only_file_is_an_error() -> None:
    with pytest.raises(ScheduleFileError, match="没有任何日期"):
        parse_schedule("date,kind,name\n")


def test_adjacent_december_belongs_to_next_years_notice() -> None:
    # The 2019 notice made Saturday 2018-12-29 a workday and 2018-12-31 a day off for New Year's Day.
    text = "date,kind,name\n2018-12-29,workday,元旦\n2018-12-31,holiday,元旦\n2019-01-01,holiday,元旦\n2019-02-04,holiday,春节\n2019-02-05,holiday,春节\n"
    assert parse_schedule(text).year == 2019


def test_dates_far_from_the_schedule_year_are_rejected() -> None:
    text = "date,kind,name\n2027-01-01,holiday,元旦\n2027-02-05,holiday,春节\n2026-10-01,holiday,国庆节\n"
    with pytest.raises(ScheduleFileError) as caught:
        parse_schedule(text)
    assert [line for line, _ in caught.value.errors] == [4]


def test_a_tie_between_years_is_rejected() -> None:
    with pytest.raises(ScheduleFileError, match="无法确定"):
        parse_schedule("date,kind,name\n2026-12-31,holiday,x\n2027-01-01,holiday,元旦\n")
