"""ISO weeks and calendar months: the periods every report, draw and assessment is about.

One place for the rules (the draw, the rectification loop, publication, reports and the assessment all use them):

* a week is an ISO week written ``2026-W48`` (Monday to Sunday); a month is written ``2026-11``;
* a period is read in the hall's local time (Asia/Shanghai by default) and turned into a half-open UTC interval
  ``[start, end)`` for queries;
* anything that is not a real week or month raises `PeriodError`, whose message is for people (Chinese).

Pure and stdlib-only.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_WEEK = re.compile(r"(\d{4})-W(\d{2})")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


class PeriodError(ValueError):
    """A week or month that is not written as one, or does not exist. The message is Simplified Chinese."""


def parse_week(week: str) -> tuple[int, int]:
    """``"2026-W48"`` → ``(2026, 48)``; PeriodError for anything else or a week the year does not have."""
    match = _WEEK.fullmatch(week.strip()) if isinstance(week, str) else None
    if match is None:
        raise PeriodError(f"周次格式应为 2026-W48 这样的 ISO 周：{week!r}")
    year, number = int(match[1]), int(match[2])
    try:
        date.fromisocalendar(year, number, 1)
    except ValueError:
        raise PeriodError(f"{year} 年没有第 {number} 周：{week!r}") from None
    return year, number


def week_dates(week: str) -> tuple[date, date]:
    """Monday and Sunday of an ISO week."""
    year, number = parse_week(week)
    return date.fromisocalendar(year, number, 1), date.fromisocalendar(year, number, 7)


def week_bounds(week: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The week as a half-open UTC interval: Monday 00:00 up to the next Monday 00:00, local time ``tz``."""
    monday, sunday = week_dates(week)
    return local_midnight(monday, tz), local_midnight(sunday + timedelta(days=1), tz)


def week_of(moment: datetime, tz: ZoneInfo) -> str:
    """The ISO week (``2026-W48``) of an aware moment, in local time ``tz``."""
    year, number, _ = aware(moment).astimezone(tz).isocalendar()
    return f"{year}-W{number:02d}"


def parse_month(month: str) -> tuple[int, int]:
    """``"2026-11"`` → ``(2026, 11)``; PeriodError for anything else."""
    match = _MONTH.fullmatch(month.strip()) if isinstance(month, str) else None
    if match is None or not 1 <= int(match[2]) <= 12:
        raise PeriodError(f"月份格式不正确：{month!r}，应为 YYYY-MM，例如 2026-11")
    return int(match[1]), int(match[2])


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The month as a half-open UTC interval: the 1st 00:00 up to the next month's 1st 00:00, local time ``tz``."""
    year, number = parse_month(month)
    start = date(year, number, 1)
    end = date(year + number // 12, number % 12 + 1, 1)
    return local_midnight(start, tz), local_midnight(end, tz)


def month_of(moment: datetime, tz: ZoneInfo) -> str:
    """The month (``2026-11``) of an aware moment, in local time ``tz``."""
    local = aware(moment).astimezone(tz)
    return f"{local.year}-{local.month:02d}"


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """00:00 of ``day`` in ``tz``, as an aware UTC datetime."""
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def aware(moment: datetime) -> datetime:
    """The moment itself; a naive datetime is a bug (storage is UTC, rules are local), so it is refused."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware time (UTC or Asia/Shanghai)")
    return moment
