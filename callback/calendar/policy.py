"""When the service may call or text a citizen (docs/architecture.md §Calling hours).

Settings (environment variables, read by `callback.config.Settings`):

* ``CALL_HOURS`` — local-time windows, default ``09:00-11:30,14:00-17:30``. Each window is half-open:
  ``09:00-11:30`` allows 09:00:00 up to but not including 11:30:00. ``24:00`` may end a window.
* ``CALL_DAYS`` — ``workdays`` (default: working days of the official calendar, 调休 Saturdays included,
  holidays excluded) or ``all``. ``CALL_HOURS=00:00-24:00 CALL_DAYS=all`` allows every instant.
* ``SMS_HOURS`` — default ``08:00-20:00``. SMS hours apply on *every* day, holidays included: a text waits
  quietly until the citizen chooses to read it, and the SMS fallback (docs/architecture.md §Callback states)
  must not sit out a nine-day Spring Festival. ``CALL_DAYS`` governs calls only.
* ``TIMEZONE`` — the zone the windows and the calendar's days are read in, default ``Asia/Shanghai``.

All functions take aware datetimes (any zone) and return aware UTC datetimes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callback.config import Settings

DayMode = Literal["workdays", "all"]
MINUTES_PER_DAY = 24 * 60
SEARCH_DAYS = 400  # the longest run of days off is ~10; a year of them means the settings are broken
_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class DayCalendar(Protocol):
    def is_workday(self, day: date) -> bool: ...


@dataclass(frozen=True, order=True)
class TimeWindow:
    """Minutes after local midnight: ``start`` included, ``end`` excluded (``end`` may be 1440)."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


def parse_windows(text: str, setting: str = "CALL_HOURS") -> tuple[TimeWindow, ...]:
    """``"09:00-11:30,14:00-17:30"`` → sorted, merged windows. Raises ValueError naming ``setting``."""
    parts = [p.strip() for p in unicodedata.normalize("NFKC", text).replace(" ", "").split(",")]
    if not any(parts):
        raise ValueError(f"{setting} is empty; give windows like 09:00-11:30,14:00-17:30")
    return _merge(sorted(_parse_window(part, setting) for part in parts))


def _parse_window(part: str, setting: str) -> TimeWindow:
    match = _WINDOW.match(part)
    if not match:
        raise ValueError(f"{setting}: {part!r} is not a window like 09:00-11:30")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start >= MINUTES_PER_DAY or end > MINUTES_PER_DAY:
        raise ValueError(f"{setting}: {part!r} is not a time of day (00:00 to 24:00)")
    if start >= end:
        raise ValueError(f"{setting}: {part!r} ends before it starts (windows cannot cross midnight)")
    return TimeWindow(start, end)


def _merge(windows: list[TimeWindow]) -> tuple[TimeWindow, ...]:
    merged: list[TimeWindow] = []
    for window in windows:
        if merged and window.start <= merged[-1].end:
            merged[-1] = TimeWindow(merged[-1].start, max(merged[-1].end, window.end))
        else:
            merged.append(window)
    return tuple(merged)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Hours:
    """Windows of local time on the allowed days: answers "allowed at?" and "next allowed moment?"."""

    zone: ZoneInfo
    windows: tuple[TimeWindow, ...]
    days: DayMode
    calendar: DayCalendar

    def allows(self, at: datetime) -> bool:
        local = _aware(at).astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return self._day_allowed(local.date()) and any(w.start <= minute < w.end for w in self.windows)

    def next_moment(self, at: datetime) -> datetime:
        """``at`` itself (in UTC) if allowed, else the earliest allowed instant after it."""
        at = _aware(at).astimezone(UTC)
        if self.allows(at):
            return at
        first = at.astimezone(self.zone).date()
        for offset in range(SEARCH_DAYS):
            day = first + timedelta(days=offset)
            if self._day_allowed(day):
                found = self._first_in_day(day, at)
                if found is not None:
                    return found
        raise ValueError(
            f"no allowed moment within {SEARCH_DAYS} days of {at.isoformat()}; check the settings"
        )

    def _day_allowed(self, day: date) -> bool:
        return self.days == "all" or self.calendar.is_workday(day)

    def _first_in_day(self, day: date, at: datetime) -> datetime | None:
        begin, end = self._instant(day, 0), self._instant(day, MINUTES_PER_DAY)
        if end <= at:
            return None
        if begin.utcoffset() != end.utcoffset():
            return self._scan(max(begin, _ceil_minute(at)), end)
        for window in self.windows:
            start, stop = self._instant(day, window.start), self._instant(day, window.end)
            if at < stop:
                return max(at, start).astimezone(UTC)
        return None

    def _scan(self, begin: datetime, end: datetime) -> datetime | None:
        # A day with a clock change (not Asia/Shanghai since 1991): walk it minute by minute.
        moment = begin.astimezone(UTC)
        while moment < end:
            if self.allows(moment):
                return moment
            moment += timedelta(minutes=1)
        return None

    def _instant(self, day: date, minute: int) -> datetime:
        if minute == MINUTES_PER_DAY:
            day, minute = day + timedelta(days=1), 0
        return datetime.combine(day, time(minute // 60, minute % 60), self.zone)


@dataclass(frozen=True)
class CallingPolicy:
    """Calling hours on calling days, SMS hours on every day (see the module docstring)."""

    calls: Hours
    sms: Hours

    @classmethod
    def from_settings(
        cls, settings: Settings, calendar: DayCalendar, timezone: str | None = None
    ) -> CallingPolicy:
        """Build from ``CALL_HOURS``, ``CALL_DAYS``, ``SMS_HOURS`` and ``TIMEZONE`` (or a hall's own zone)."""
        zone = _zone(timezone or settings.timezone)
        if settings.call_days not in ("workdays", "all"):
            raise ValueError(f"CALL_DAYS must be 'workdays' or 'all', got {settings.call_days!r}")
        calls = Hours(zone, parse_windows(settings.call_hours, "CALL_HOURS"), settings.call_days, calendar)
        sms = Hours(zone, parse_windows(settings.sms_hours, "SMS_HOURS"), "all", calendar)
        return cls(calls=calls, sms=sms)

    def may_call(self, at: datetime) -> bool:
        return self.calls.allows(at)

    def next_call_moment(self, at: datetime) -> datetime:
        return self.calls.next_moment(at)

    def may_sms(self, at: datetime) -> bool:
        return self.sms.allows(at)

    def next_sms_moment(self, at: datetime) -> datetime:
        return self.sms.next_moment(at)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"TIMEZONE: unknown time zone {name!r} (e.g. Asia/Shanghai)") from None


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("naive datetime given to the calling policy; attach a timezone first")
    return at


def _ceil_minute(at: datetime) -> datetime:
    floor = at.replace(second=0, microsecond=0)
    return floor if floor == at else floor + timedelta(minutes=1)
