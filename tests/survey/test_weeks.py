"""ISO weeks and months (survey.weeks): the one place the draw, reports, publication and the assessment read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from survey.weeks import PeriodError, month_bounds, month_of, parse_month, parse_week, week_bounds, week_of

SH = ZoneInfo("Asia/Shanghai")


def test_iso_week_helpers() -> None:
    assert parse_week("2026-W48") == (2026, 48)
    assert parse_week("2026-W53") == (2026, 53)  # 2026 starts on a Thursday: it has 53 ISO weeks
    for bad in ("2025-W53", "2026-48", "2026-W00", "W48", "", "2026-W60", "banana"):
        with pytest.raises(PeriodError):
            parse_week(bad)
    start, end = week_bounds("2026-W48", SH)
    assert (start, end) == (datetime(2026, 11, 22, 16, tzinfo=UTC), datetime(2026, 11, 29, 16, tzinfo=UTC))
    assert week_of(datetime(2026, 11, 22, 16, 30, tzinfo=UTC), SH) == "2026-W48"  # Monday 00:30 in Shanghai
    assert week_of(datetime(2026, 11, 22, 15, 30, tzinfo=UTC), SH) == "2026-W47"


def test_month_helpers() -> None:
    assert parse_month("2026-11") == (2026, 11)
    for bad in ("2026-13", "2026-00", "2026-1", "11-2026", "", "banana"):
        with pytest.raises(PeriodError, match="月份格式不正确"):
            parse_month(bad)
    assert month_bounds("2026-12", SH) == (datetime(2026, 11, 30, 16, tzinfo=UTC), datetime(2026, 12, 31, 16, tzinfo=UTC))
    assert month_of(datetime(2026, 11, 30, 16, 0, tzinfo=UTC), SH) == "2026-12"  # 1 December 00:00 in Shanghai
    assert month_of(datetime(2026, 11, 30, 15, 59, tzinfo=UTC), SH) == "2026-11"


def test_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        week_of(datetime(2026, 11, 23, 9, 0), SH)


moments = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 1), timezones=st.just(UTC))


@given(moments)
def test_a_moment_lies_inside_its_own_week_and_month(moment: datetime) -> None:
    start, end = week_bounds(week_of(moment, SH), SH)
    assert start <= moment < end and end - start == timedelta(days=7)
    start, end = month_bounds(month_of(moment, SH), SH)
    assert start <= moment < end
