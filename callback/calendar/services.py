"""The working-day calendar and its sources (docs/architecture.md §Working days).

For each year, in order of authority:

* ``loaded`` — a schedule an administrator loaded from the State Council notice (`load_schedule_file`);
  it replaces the package's data for that year;
* ``official`` — the `chinese_calendar` package, for the years it covers (it raises for others);
* ``estimated`` — weekends plus the statutory holidays the `holidays` package predicts, with no 调休
  make-up workdays. Every answer that rests on an estimated day says so (`Due.estimated`, `is_estimated`),
  and the CLI warns; nothing crashes and nothing is silently guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Literal

import chinese_calendar
import holidays
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from callback.models.calendar import CalendarDay
from survey.workdays import (
    Due,
    ParsedSchedule,
    ScheduleFileError,
    YearSchedule,
    due_after,
    next_workday,
    parse_schedule,
    working_days_between,
)

__all__ = [
    "OFFICIAL_PACKAGE",
    "Due",
    "LoadResult",
    "LoadedDay",
    "ScheduleFileError",
    "Source",
    "WorkingCalendar",
    "load_calendar",
    "load_schedule_file",
    "official_years",
    "official_package_version",
]

Source = Literal["official", "loaded", "estimated"]

# chinese_calendar names its holidays in English; people read Chinese.
_PACKAGE_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


@dataclass(frozen=True)
class LoadedDay:
    """A row of a loaded schedule: ``year`` is the schedule (notice) year, ``day`` the date it names."""

    year: int
    day: date
    kind: str
    name: str


class WorkingCalendar:
    """Answers "is this a working day?" for any date, and says when the answer is an estimate.

    Build it with `load_calendar` (reads the loaded schedules once); ``WorkingCalendar()`` uses the packages
    only. Instances are cheap and immutable; per-year schedules are computed on first use.
    """

    def __init__(self, loaded: Iterable[LoadedDay] = ()) -> None:
        rows = list(loaded)
        self._loaded_years = frozenset(r.year for r in rows)
        # A date named by its own year's schedule wins over a neighbouring year's notice.
        ordered = sorted(rows, key=lambda r: r.year == r.day.year)
        self._overrides = {r.day: r for r in ordered}
        self._years: dict[int, YearSchedule] = {}

    @property
    def loaded_years(self) -> list[int]:
        """The years an administrator loaded a schedule for, ascending."""
        return sorted(self._loaded_years)

    def source(self, year: int) -> Source:
        if year in self._loaded_years:
            return "loaded"
        return "official" if _official(year) is not None else "estimated"

    def is_estimated(self, day: date) -> bool:
        return self.source(day.year) == "estimated" and day not in self._overrides

    def is_workday(self, day: date) -> bool:
        return self.schedule(day.year).is_workday(day)

    def schedule(self, year: int) -> YearSchedule:
        """Days off and make-up workdays of ``year`` as this calendar sees them."""
        if year not in self._years:
            self._years[year] = self._build(year)
        return self._years[year]

    def due_after_working_days(self, start: date, days: int) -> Due:
        """The end of the ``days``-th working day after ``start`` (``start`` not counted; docs/architecture.md
        §Working days).

        2026-09-30 + 3 → 2026-10-10, a Saturday make-up workday after the National Day holiday.
        """
        due = due_after(self.is_workday, start, days)
        return Due(day=due, estimated=self.any_estimated(start + timedelta(days=1), due))

    def next_workday(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        return next_workday(self.is_workday, day)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days ``d`` with ``start < d <= end``; e.g. how many working days a case has been open."""
        return working_days_between(self.is_workday, start, end)

    def any_estimated(self, first: date, last: date) -> bool:
        """Whether any day in ``first..last`` (inclusive) rests on an estimate."""
        years = range(first.year, last.year + 1)
        if all(self.source(y) != "estimated" for y in years):
            return False
        day = first
        while day <= last:
            if self.is_estimated(day):
                return True
            day += timedelta(days=1)
        return False

    def _build(self, year: int) -> YearSchedule:
        if year in self._loaded_years:
            base = YearSchedule(year)
        else:
            base = _official(year) or _estimate(year)
        days_off, workdays = dict(base.days_off), dict(base.workdays)
        for row in self._overrides.values():
            if row.day.year != year:
                continue
            days_off.pop(row.day, None)
            workdays.pop(row.day, None)
            (days_off if row.kind == "holiday" else workdays)[row.day] = row.name
        return YearSchedule(year, days_off, workdays)


OFFICIAL_PACKAGE = "chinesecalendar"  # the PyPI name of the `chinese_calendar` module


def official_years() -> tuple[int, int]:
    """The first and last year the installed `chinese_calendar` package has official data for (its holiday table's
    range, which is also the range it accepts: it raises NotImplementedError outside it)."""
    years = [day.year for day in chinese_calendar.holidays]
    return min(years), max(years)


def official_package_version() -> str | None:
    """The installed `chinesecalendar` version (upgrade it to get a newly published year)."""
    try:
        return metadata.version(OFFICIAL_PACKAGE)
    except metadata.PackageNotFoundError:
        return None


@cache
def _official(year: int) -> YearSchedule | None:
    """The `chinese_calendar` package's schedule for ``year``, or None if it has no data for that year."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return None
    return YearSchedule(
        year,
        {d: _PACKAGE_NAMES.get(n, n) for d, n in chinese_calendar.holidays.items() if d.year == year},
        {d: _PACKAGE_NAMES.get(n, n) for d, n in chinese_calendar.workdays.items() if d.year == year},
    )


@cache
def _estimate(year: int) -> YearSchedule:
    """Weekends plus the statutory holidays the `holidays` package predicts; no make-up workdays."""
    try:
        predicted = holidays.country_holidays("CN", years=year, language="zh_CN")
    except (NotImplementedError, ValueError, KeyError):
        return YearSchedule(year)
    return YearSchedule(year, {d: str(n) for d, n in predicted.items() if d.year == year})


def load_calendar(session: Session) -> WorkingCalendar:
    """The calendar with every loaded schedule (one query)."""
    rows = session.execute(select(CalendarDay.year, CalendarDay.day, CalendarDay.kind, CalendarDay.name))
    return WorkingCalendar(LoadedDay(*row) for row in rows)


# --- loading a schedule file -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    """What `load_schedule_file` did. ``changed`` is False when the same schedule was already loaded."""

    year: int
    holidays: int
    workdays: int
    changed: bool
    previous_source: Source


def load_schedule_file(session: Session, path: str | Path) -> LoadResult:
    """Load a ``date,kind,name`` schedule file; it replaces any earlier load and the package for its year.

    Raises `ScheduleFileError` (with line numbers) and loads nothing if any line is malformed. Loading the
    same content again changes nothing. The caller owns the transaction.
    """
    parsed = parse_schedule(_read_text(Path(path)))
    previous = load_calendar(session).source(parsed.year)
    changed = _stored(session, parsed.year) != {(d.day, d.kind, d.name) for d in parsed.days}
    if changed:
        _replace(session, parsed)
    counts = parsed.counts()
    return LoadResult(parsed.year, counts["holiday"], counts["workday"], changed, previous)


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    # NUL bytes never occur in a UTF-8/GBK CSV: an XLSX workbook, a UTF-16 text export or other binary data.
    if b"\x00" in raw:
        raise ScheduleFileError([(0, "不是 CSV 文本文件（可能是 Excel 工作簿、UTF-16 文本或二进制文件），"
                                     "请另存为「CSV UTF-8」 (not a UTF-8 CSV file)")])
    # Excel on a Chinese Windows saves CSV as GBK; gb18030 is its superset.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ScheduleFileError([(0, "无法识别文件编码，请另存为 UTF-8 (cannot decode the file)")])


def _stored(session: Session, year: int) -> set[tuple[date, str, str]]:
    rows = session.execute(
        select(CalendarDay.day, CalendarDay.kind, CalendarDay.name).where(CalendarDay.year == year)
    )
    return {(r.day, r.kind, r.name) for r in rows}


def _replace(session: Session, parsed: ParsedSchedule) -> None:
    session.execute(delete(CalendarDay).where(CalendarDay.year == parsed.year))
    now = datetime.now(UTC)
    session.add_all(
        CalendarDay(year=parsed.year, day=d.day, kind=d.kind, name=d.name, loaded_at=now) for d in parsed.days
    )
    session.flush()
