"""Working-day maths on the Chinese official calendar (docs/architecture.md §Working days).

A day is a working day unless it is a weekend or an official day off; a weekend day is a working day when the
State Council notice makes it a 调休 make-up workday.  A case opened on day D is due at the end of the Nth
working day after D, D itself not counted (篇2 五: 需要反馈的在3个工作日内完成).

Pure and stdlib-only: where the schedule of a year comes from (the `chinese_calendar` package, a file an
administrator loaded, an estimate) is `callback.calendar.services`'s business.  This module also parses and checks the
schedule file format (``date,kind,name``) so the rules live next to the data they describe.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

DayKind = Literal["holiday", "workday"]
KINDS: tuple[DayKind, ...] = ("holiday", "workday")
HEADER = ("date", "kind", "name")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Due:
    """The day a deadline falls on, and whether an estimated (unofficial) year was used to compute it."""

    day: date
    estimated: bool


@dataclass(frozen=True)
class YearSchedule:
    """Exceptions to the Monday–Friday rule for one calendar year.

    ``days_off`` maps a date to the holiday's name (weekend dates may appear, as in the official notices);
    ``workdays`` maps a weekend date to the name of the holiday it makes up for (调休上班).
    """

    year: int
    days_off: Mapping[date, str] = field(default_factory=dict)
    workdays: Mapping[date, str] = field(default_factory=dict)

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.days_off


def due_after(is_workday: Callable[[date], bool], start: date, days: int) -> date:
    """The Nth working day strictly after ``start`` (the deadline is the end of that day)."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    day, counted = start, 0
    while counted < days:
        day += timedelta(days=1)
        counted += is_workday(day)
    return day


def next_workday(is_workday: Callable[[date], bool], day: date) -> date:
    """The first working day strictly after ``day``."""
    return due_after(is_workday, day, 1)


def working_days_between(is_workday: Callable[[date], bool], start: date, end: date) -> int:
    """Working days ``d`` with ``start < d <= end`` (0 when ``end <= start``): how far past ``start`` ``end`` is."""
    count, day = 0, start + timedelta(days=1)
    while day <= end:
        count += is_workday(day)
        day += timedelta(days=1)
    return count


# --- the schedule file -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleDay:
    day: date
    kind: DayKind
    name: str


@dataclass(frozen=True)
class ParsedSchedule:
    """A year's official schedule as read from a file; ``days`` is sorted by date.

    A notice for year Y may name days at the edge of the neighbouring years (the 2019 notice made
    2018-12-29 a workday for New Year's Day), so ``days`` can hold late-December dates of Y-1 and
    early-January dates of Y+1.
    """

    year: int
    days: tuple[ScheduleDay, ...]

    def counts(self) -> Counter[str]:
        return Counter(d.kind for d in self.days)


class ScheduleFileError(ValueError):
    """A schedule file that cannot be loaded. ``errors`` holds ``(line number, message)`` pairs."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        self.errors = errors
        super().__init__(
            "\n".join(f"第 {line} 行: {message}" if line else message for line, message in errors)
        )


def parse_schedule(text: str) -> ParsedSchedule:
    """Parse a ``date,kind,name`` CSV; raise `ScheduleFileError` listing every bad line (line numbers from 1).

    Blank lines and lines starting with ``#`` are ignored.  ``kind`` is ``holiday`` (a day off) or
    ``workday`` (a weekend day made a working day, 调休上班).  The schedule's year is the year most dates
    fall in; other dates must be in the adjacent December or January.
    """
    rows, errors = _parse_rows(_data_lines(text))
    if not errors and not rows:
        errors.append((0, "文件中没有任何日期行 (no data lines)"))
    if errors:
        raise ScheduleFileError(errors)
    year = _schedule_year(rows)
    days = tuple(sorted((day for _, day in rows), key=lambda d: d.day))
    return ParsedSchedule(year=year, days=days)


def _data_lines(text: str) -> Iterable[tuple[int, str]]:
    for number, raw in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        if raw.strip() and not raw.lstrip().startswith("#"):
            yield number, raw


def _parse_rows(
    lines: Iterable[tuple[int, str]],
) -> tuple[list[tuple[int, ScheduleDay]], list[tuple[int, str]]]:
    rows: list[tuple[int, ScheduleDay]] = []
    errors: list[tuple[int, str]] = []
    seen: dict[date, int] = {}
    header_seen = False
    for number, raw in lines:
        cells = [c.strip() for c in next(csv.reader([raw]))]
        if not header_seen:
            header_seen = True
            if tuple(c.lower() for c in cells) != HEADER:
                errors.append((number, f"表头应为 date,kind,name，实际为 {raw.strip()!r}"))
            continue
        try:
            day = _parse_row(cells)
        except ValueError as exc:
            errors.append((number, str(exc)))
            continue
        if day.day in seen:
            errors.append((number, f"日期 {day.day} 与第 {seen[day.day]} 行重复"))
            continue
        seen[day.day] = number
        rows.append((number, day))
    return rows, errors + _year_errors(rows)


def _parse_row(cells: list[str]) -> ScheduleDay:
    if len(cells) != 3:
        raise ValueError(f"应有 3 列 (date,kind,name)，实际 {len(cells)} 列")
    raw_date, kind, name = cells
    if not _ISO_DATE.match(raw_date):
        raise ValueError(f"日期格式应为 YYYY-MM-DD: {raw_date!r}")
    try:
        day = date.fromisoformat(raw_date)
    except ValueError:
        raise ValueError(f"不存在的日期: {raw_date!r}") from None
    if kind not in KINDS:
        raise ValueError(f"kind 应为 holiday 或 workday: {kind!r}")
    if kind == "workday" and day.weekday() < 5:
        raise ValueError(f"{raw_date} 本来就是工作日；workday 只用于周末调休上班")
    return ScheduleDay(day=day, kind=kind, name=name)


def _schedule_year(rows: list[tuple[int, ScheduleDay]]) -> int:
    counts = Counter(day.day.year for _, day in rows).most_common()
    return counts[0][0]


def _year_errors(rows: list[tuple[int, ScheduleDay]]) -> list[tuple[int, str]]:
    if not rows:
        return []
    counts = Counter(day.day.year for _, day in rows).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return [(0, f"无法确定日程年份：{counts[0][0]} 年与 {counts[1][0]} 年的日期一样多")]
    year = counts[0][0]
    return [
        (number, f"{day.day} 不属于 {year} 年日程（只允许相邻的 {year - 1} 年 12 月或 {year + 1} 年 1 月）")
        for number, day in rows
        if not _belongs_to(day.day, year)
    ]


def _belongs_to(day: date, year: int) -> bool:
    return (
        day.year == year
        or (day.year == year - 1 and day.month == 12)
        or (day.year == year + 1 and day.month == 1)
    )
