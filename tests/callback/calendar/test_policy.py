"""Calling and SMS hours (callback/calendar/policy.py): examples on the 2026 calendar and hypothesis properties."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from callback.calendar.policy import CallingPolicy, parse_windows
from callback.calendar.services import WorkingCalendar
from callback.config import Settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
CALENDAR = WorkingCalendar()


def _policy(**overrides: str) -> CallingPolicy:
    return CallingPolicy.from_settings(Settings(database_url="sqlite://", **overrides), CALENDAR)


def _sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


DEFAULT = _policy()


# --- examples ------------------------------------------------------------------------------------------------


def test_default_hours_on_a_working_day() -> None:
    assert DEFAULT.may_call(_sh(2026, 3, 4, 9, 0))
    assert DEFAULT.may_call(_sh(2026, 3, 4, 11, 29, 59))
    assert not DEFAULT.may_call(_sh(2026, 3, 4, 11, 30))  # windows are half-open
    assert not DEFAULT.may_call(_sh(2026, 3, 4, 8, 59, 59))
    assert DEFAULT.may_call(_sh(2026, 3, 4, 17, 29))
    assert not DEFAULT.may_call(_sh(2026, 3, 4, 17, 30))


def test_next_call_moment_is_at_itself_when_allowed_and_always_utc() -> None:
    at = _sh(2026, 3, 4, 10, 15, 7)
    assert DEFAULT.next_call_moment(at) == at and DEFAULT.next_call_moment(at).tzinfo is UTC


def test_lunch_break_and_evening_move_to_the_next_window() -> None:
    assert DEFAULT.next_call_moment(_sh(2026, 3, 4, 12, 0)) == _sh(2026, 3, 4, 14, 0)
    assert DEFAULT.next_call_moment(_sh(2026, 3, 4, 18, 0)) == _sh(2026, 3, 5, 9, 0)
    assert DEFAULT.next_call_moment(_sh(2026, 3, 4, 3, 0)) == _sh(2026, 3, 4, 9, 0)


def test_spring_festival_2026_make_up_saturday_and_holiday() -> None:
    assert DEFAULT.may_call(_sh(2026, 2, 14, 10, 0))  # Saturday, 调休 workday
    assert not DEFAULT.may_call(_sh(2026, 2, 16, 10, 0))  # Monday, Spring Festival
    # After the make-up Saturday's last window, the next call is after the nine-day holiday.
    assert DEFAULT.next_call_moment(_sh(2026, 2, 14, 17, 30)) == _sh(2026, 2, 24, 9, 0)


def test_national_day_2026_make_up_saturday() -> None:
    assert DEFAULT.next_call_moment(_sh(2026, 9, 30, 17, 45)) == _sh(2026, 10, 8, 9, 0)
    assert DEFAULT.next_call_moment(_sh(2026, 10, 9, 18, 0)) == _sh(2026, 10, 10, 9, 0)


def test_estimated_year_still_answers() -> None:
    # 2027-01-01 (Friday) is New Year's Day in the estimate; the weekend follows.
    assert DEFAULT.next_call_moment(_sh(2026, 12, 31, 17, 30)) == _sh(2027, 1, 4, 9, 0)


def test_sms_hours_apply_on_every_day_including_holidays() -> None:
    assert DEFAULT.may_sms(_sh(2026, 2, 17, 8, 0))  # Spring Festival
    assert not DEFAULT.may_sms(_sh(2026, 2, 17, 20, 0))
    assert DEFAULT.next_sms_moment(_sh(2026, 2, 17, 21, 0)) == _sh(2026, 2, 18, 8, 0)
    assert DEFAULT.next_sms_moment(_sh(2026, 2, 17, 7, 59, 30)) == _sh(2026, 2, 17, 8, 0)


def test_any_time_configuration_allows_every_instant() -> None:
    policy = _policy(call_hours="00:00-24:00", call_days="all")
    for at in (_sh(2026, 2, 17, 0, 0), _sh(2026, 2, 17, 23, 59, 59, 999999), _sh(2027, 1, 1, 3, 4)):
        assert policy.may_call(at) and policy.next_call_moment(at) == at


def test_call_days_all_ignores_the_calendar() -> None:
    policy = _policy(call_days="all")
    assert policy.may_call(_sh(2026, 2, 17, 10, 0))
    assert policy.next_call_moment(_sh(2026, 2, 17, 12, 0)) == _sh(2026, 2, 17, 14, 0)


def test_inputs_in_any_zone_are_read_in_the_policy_zone() -> None:
    at = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert DEFAULT.may_call(at) and not DEFAULT.may_call(at - timedelta(seconds=1))


def test_a_halls_own_zone_overrides_the_setting() -> None:
    policy = CallingPolicy.from_settings(Settings(database_url="sqlite://"), CALENDAR, timezone="UTC")
    assert policy.may_call(datetime(2026, 3, 4, 9, 0, tzinfo=UTC))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        DEFAULT.may_call(datetime(2026, 3, 4, 10, 0))
    with pytest.raises(ValueError, match="naive"):
        DEFAULT.next_sms_moment(datetime(2026, 3, 4, 10, 0))


def test_windows_are_parsed_sorted_and_merged() -> None:
    windows = parse_windows("14:00-17:30, 09:00-11:30,11:00-12:00,２０:００－24:00")
    assert [str(w) for w in windows] == ["09:00-12:00", "14:00-17:30", "20:00-24:00"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("call_hours", "9-17", "CALL_HOURS"),
        ("call_hours", "09:00-08:00", "ends before"),
        ("call_hours", "22:00-02:00", "cross midnight"),
        ("call_hours", "09:60-10:00", "time of day"),
        ("call_hours", "24:00-24:00", "time of day"),
        ("call_hours", "09:00-24:01", "time of day"),
        ("call_hours", " , ", "empty"),
        ("sms_hours", "08:00-20:00,bad", "SMS_HOURS"),
        ("call_days", "weekdays", "CALL_DAYS"),
        ("timezone", "Mars/Olympus", "TIMEZONE"),
    ],
)
def test_invalid_settings_raise_a_clear_value_error(field: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _policy(**{field: value})


def test_clock_change_days_are_walked_minute_by_minute() -> None:
    # New York springs forward at 02:00 on 2026-03-08: 02:00–02:59 local does not exist.
    policy = CallingPolicy.from_settings(
        Settings(database_url="sqlite://", call_hours="02:30-04:00", call_days="all"),
        CALENDAR,
        "America/New_York",
    )
    before = datetime(2026, 3, 8, 1, 59, tzinfo=NEW_YORK)
    assert policy.next_call_moment(before) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT
    # Falling back on 2026-11-01, 01:00–01:59 happens twice; both are inside 01:00-02:00.
    policy = CallingPolicy.from_settings(
        Settings(database_url="sqlite://", call_hours="01:00-02:00", call_days="all"),
        CALENDAR,
        "America/New_York",
    )
    assert policy.may_call(datetime(2026, 11, 1, 5, 30, tzinfo=UTC))
    assert policy.may_call(datetime(2026, 11, 1, 6, 30, tzinfo=UTC))
    assert policy.next_call_moment(datetime(2026, 11, 1, 7, 0, tzinfo=UTC)) == datetime(
        2026, 11, 2, 6, 0, tzinfo=UTC
    )


# --- properties ----------------------------------------------------------------------------------------------

ZONES = ["Asia/Shanghai", "UTC", "America/New_York"]
CLOCK_CHANGE_DAYS = [date(2026, 3, 8), date(2026, 11, 1), date(2027, 3, 14), date(2027, 11, 7)]

# Strategies are built once here: building them inside `cases` on every draw made the tests 10x slower.
# Window starts are biased towards midnight and New York's repeated (01:xx) and skipped (02:xx) hours.
window_starts = st.one_of(st.integers(0, 1439), st.sampled_from([0, 60, 90, 120, 150, 179]))
window_lengths = st.integers(1, 1440)
window_counts = st.integers(1, 3)
edge_picks = st.integers(0, 5)
days_modes = st.sampled_from(["workdays", "all"])
zones = st.sampled_from(ZONES)
instant_kinds = st.sampled_from(["anywhere", "near_edge", "near_clock_change"])
anywhere = st.datetimes(
    min_value=datetime(2025, 12, 1),
    max_value=datetime(2027, 12, 31),
    timezones=st.sampled_from([UTC, SHANGHAI, NEW_YORK]),
    allow_imaginary=False,
)
edge_days = st.dates(date(2025, 12, 1), date(2027, 12, 30))
edge_offsets = st.one_of(st.sampled_from([-1, 0, 1]), st.integers(-90, 90))  # seconds
clock_change_offsets = st.integers(-86400, 2 * 86400)  # seconds around local midnight


@st.composite
def windows_text(draw: st.DrawFn) -> str:
    """1–3 random windows as a setting string (sometimes overlapping, sometimes ending at 24:00)."""
    parts = []
    for _ in range(draw(window_counts)):
        start = draw(window_starts)
        end = min(start + draw(window_lengths), 1440)
        parts.append(f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}")
    return ",".join(parts)


@dataclass(frozen=True)
class Case:
    policy: CallingPolicy
    hours: str
    days: str
    zone: ZoneInfo
    at: datetime


def _minutes(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:])


def _local_midnight_utc(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)


@st.composite
def cases(draw: st.DrawFn, clock_changes_only: bool = False) -> Case:
    """A random configuration and an instant: anywhere in 2025-12..2027, or close to a window's edge, or
    close to a New York clock change — the places where an off-by-one minute would hide."""
    hours, days = draw(windows_text()), draw(days_modes)
    name = "America/New_York" if clock_changes_only else draw(zones)
    config = Settings(
        database_url="sqlite://", call_hours=hours, call_days=days, sms_hours=draw(windows_text())
    )
    zone = ZoneInfo(name)
    kind = "near_clock_change" if clock_changes_only else draw(instant_kinds)
    if kind == "anywhere":
        at = draw(anywhere)
    elif kind == "near_edge":
        edges = [_minutes(t) for part in hours.split(",") for t in part.split("-")]
        edge = edges[draw(edge_picks) % len(edges)]
        at = datetime.combine(draw(edge_days), datetime.min.time(), zone) + timedelta(minutes=edge)
        at = at.astimezone(UTC) + timedelta(seconds=draw(edge_offsets))
    else:
        at = _local_midnight_utc(draw(st.sampled_from(CLOCK_CHANGE_DAYS)), NEW_YORK)
        at += timedelta(seconds=draw(clock_change_offsets))
    return Case(CallingPolicy.from_settings(config, CALENDAR, name), hours, days, zone, at)


def _allowed_by_definition(case: Case, at: datetime) -> bool:
    """An independent reading of the settings: local wall-clock minute inside a window, on an allowed day."""
    local = at.astimezone(case.zone)
    minute = local.hour * 60 + local.minute
    in_window = False
    for part in case.hours.split(","):
        start, end = part.split("-")
        in_window |= _minutes(start) <= minute < _minutes(end)
    return in_window and (case.days == "all" or CALENDAR.is_workday(local.date()))


def _assert_none_allowed_between(allowed, at: datetime, found: datetime) -> None:
    # Offsets are whole minutes, so whether an instant is allowed only changes on a minute boundary:
    # `at` itself and every boundary before `found` being refused rules out any earlier allowed instant.
    assert not allowed(at)
    moment = at.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    while moment < found:
        assert not allowed(moment), moment
        moment += timedelta(minutes=1)


@settings(max_examples=200, deadline=None)
@given(cases())
def test_no_instant_outside_the_hours_is_ever_allowed(case: Case) -> None:
    assert case.policy.may_call(case.at) == _allowed_by_definition(case, case.at)


@settings(max_examples=100, deadline=None)
@given(cases())
def test_next_call_moment_is_allowed_not_earlier_and_the_earliest(case: Case) -> None:
    _check_next_call_moment(case)


@settings(max_examples=100, deadline=None)
@given(cases(clock_changes_only=True))
def test_next_call_moment_across_clock_changes(case: Case) -> None:
    _check_next_call_moment(case)


def _check_next_call_moment(case: Case) -> None:
    found = case.policy.next_call_moment(case.at)
    assert found.tzinfo is UTC and found >= case.at
    assert case.policy.may_call(found) and _allowed_by_definition(case, found)
    if found != case.at.astimezone(UTC):  # an ambiguous local time never equals a UTC one (PEP 495): compare in UTC
        _assert_none_allowed_between(case.policy.may_call, case.at, found)


@example(Case(CallingPolicy.from_settings(
    Settings(database_url="sqlite://", call_hours="00:00-00:01", call_days="workdays", sms_hours="00:00-05:01"),
    CALENDAR, "UTC"), "00:00-00:01", "workdays", ZoneInfo("UTC"),
    datetime(2026, 11, 1, 1, 0, tzinfo=NEW_YORK)))  # New York's repeated hour: the SMS window's last minute
@settings(max_examples=100, deadline=None)
@given(cases())
def test_sms_moment_is_allowed_on_any_day_and_the_earliest(case: Case) -> None:
    found = case.policy.next_sms_moment(case.at)
    assert found.tzinfo is UTC and found >= case.at and case.policy.may_sms(found)
    # SMS hours recur every day, whatever the calendar; a clock change can swallow one day's window (02:59 on
    # the morning New York springs forward does not exist), so the next one may be a day later still.
    assert found - case.at <= timedelta(days=2, hours=2)
    if found != case.at.astimezone(UTC):
        _assert_none_allowed_between(case.policy.may_sms, case.at, found)


def test_property_range_covers_the_calendar_edges() -> None:
    # The generated instants span the official 2026 and the estimated 2027; keep it that way.
    assert CALENDAR.source(2026) == "official" and CALENDAR.source(2027) == "estimated"
    assert not CALENDAR.is_workday(date(2026, 2, 16)) and CALENDAR.is_workday(date(2026, 2, 14))
