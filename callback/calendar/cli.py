"""`callback calendar …`: load an official schedule, show a year, compute a due date (docs/architecture.md
§Working days)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from callback.calendar.services import (
    ScheduleFileError,
    Source,
    WorkingCalendar,
    load_calendar,
    load_schedule_file,
    official_package_version,
    official_years,
)
from callback.clitools import actor_option, echo_json, fail, pass_settings
from callback.config import Settings
from callback.db import transaction

WEEKDAYS = "一二三四五六日"
SOURCE_LABELS: dict[Source, str] = {
    "official": "官方数据（chinese_calendar 数据包）",
    "loaded": "管理员载入的国务院通知",
    "estimated": "估算（周末 + 法定节假日，无调休）",
}


@click.group("calendar")
def calendar() -> None:
    """工作日历：载入国务院放假通知、查看某年安排、计算 N 个工作日后的期限。"""


AFTER_LOAD = "after_calendar_load"
"""``ctx.meta`` key of what runs in the same transaction after a schedule changed: the composition root
(`callback.cli`) puts `callback.rectification.services.recompute_deadlines` there, so open cases' deadlines follow
the calendar at once (callback.rectification imports this package; importing it back would be a circle)."""
AfterLoad = Callable[..., list[int]]


def now() -> datetime:
    """The CLI's clock (tests replace it)."""
    return datetime.now(UTC)


@calendar.command("load")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果")
@actor_option
@click.pass_context
def load(ctx: click.Context, file: Path, as_json: bool, actor: str) -> None:
    """载入一年的官方放假安排（CSV：date,kind,name）；该年原有数据被取代。尚未反馈的整改按新日历重算期限
    （记入整改审计记录）。"""
    settings = ctx.find_object(Settings)
    after: AfterLoad | None = ctx.meta.get(AFTER_LOAD)
    _check_file(file)
    try:
        with transaction(settings.database_url) as session:
            result = load_schedule_file(session, file)
            recomputed = after(session, now(), actor=actor) if result.changed and after else []
    except ScheduleFileError as exc:
        fail(_schedule_problem(exc))
    except OSError as exc:
        fail(f"无法读取文件 {file}：{exc.strerror or exc} (cannot read the file)")
    if as_json:
        echo_json(result.__dict__ | {"recomputed": recomputed})
    elif result.changed:
        click.echo(
            f"已载入 {result.year} 年日程：放假 {result.holidays} 天，调休上班 {result.workdays} 天"
            f"（取代：{SOURCE_LABELS[result.previous_source]}）"
        )
        if recomputed:
            click.echo(f"已按新日历重算 {len(recomputed)} 件尚未反馈整改的期限：{'、'.join(f'#{i}' for i in recomputed)}")
    else:
        click.echo(f"{result.year} 年日程与已载入的内容相同，未作改动")


def _check_file(file: Path) -> None:
    if not file.exists():
        fail(f"找不到文件：{file} (file not found)")
    if file.is_dir():
        fail(f"{file} 是文件夹，请给出日程 CSV 文件 (a folder, not a file)")


def _schedule_problem(exc: ScheduleFileError) -> str:
    """One line for a file-level problem (not text, no data); the header and then every bad line otherwise."""
    if len(exc.errors) == 1:
        return f"日程文件有误，未载入任何内容：{exc}"
    return f"日程文件有误，未载入任何内容（{len(exc.errors)} 处）：\n{exc}"


@calendar.command("show")
@click.option("--year", type=click.IntRange(1, 9998), required=True, help="年份，例如 2026")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@pass_settings
def show(settings: Settings, year: int, as_json: bool) -> None:
    """显示某年的放假日、调休上班日和数据来源（official | loaded | estimated）。"""
    cal = _calendar(settings)
    payload = _year_payload(cal, year)
    if payload["estimated"]:
        _warn_estimated([year])
    if as_json:
        echo_json(payload)
    else:
        _print_year(payload)


@calendar.command("due")
@click.option(
    "--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True, help="起算日 YYYY-MM-DD（不计入）"
)
@click.option("--days", type=click.IntRange(min=1, max=3650), required=True, help="工作日数 N")
@click.option("--json", "as_json", is_flag=True, help='以 JSON 输出：{"due": ..., "estimated": ...}')
@pass_settings
def due(settings: Settings, start: Any, days: int, as_json: bool) -> None:
    """计算起算日之后第 N 个工作日（期限为该日结束；起算日本身不计）。"""
    cal = _calendar(settings)
    first = start.date()
    result = cal.due_after_working_days(first, days)
    if result.estimated:
        _warn_estimated(_estimated_years(cal, first + timedelta(days=1), result.day))
    if as_json:
        echo_json({"due": result.day.isoformat(), "estimated": result.estimated})
    else:
        click.echo(f"{first.isoformat()} 之后第 {days} 个工作日：{_day_label(result.day)}（该日结束前）")


def _calendar(settings: Settings) -> WorkingCalendar:
    with transaction(settings.database_url) as session:
        return load_calendar(session)


def _year_payload(cal: WorkingCalendar, year: int) -> dict[str, Any]:
    schedule = cal.schedule(year)
    source = cal.source(year)
    first, last = official_years()
    return {
        "year": year,
        "source": source,
        "estimated": source == "estimated",
        "official_years": {"first": first, "last": last, "package_version": official_package_version()},
        "loaded_years": cal.loaded_years,
        "days_off": [{"date": d.isoformat(), "name": n} for d, n in sorted(schedule.days_off.items())],
        "workdays": [{"date": d.isoformat(), "name": n} for d, n in sorted(schedule.workdays.items())],
        "working_days": cal.working_days_between(date(year - 1, 12, 31), date(year, 12, 31)),
    }


def _print_year(payload: dict[str, Any]) -> None:
    click.echo(
        f"{payload['year']} 年工作日历 — 来源：{payload['source']}，{SOURCE_LABELS[payload['source']]}"
    )
    click.echo(coverage_line(payload))
    for title, key in (("放假", "days_off"), ("调休上班", "workdays")):
        click.echo(f"{title}（{len(payload[key])} 天）：")
        for item in payload[key]:
            click.echo(f"  {_day_label(date.fromisoformat(item['date']))}  {item['name']}")
    click.echo(f"全年工作日：{payload['working_days']} 天")


def coverage_line(payload: dict[str, Any]) -> str:
    """``官方日历覆盖年份：2004–2026（chinesecalendar 1.11.0）；已载入：2027`` — which years are exact."""
    official = payload["official_years"]
    version = f"（chinesecalendar {official['package_version']}）" if official["package_version"] else ""
    loaded = "、".join(str(y) for y in payload["loaded_years"]) or "无"
    return f"官方日历覆盖年份：{official['first']}–{official['last']}{version}；已载入：{loaded}"


def _day_label(day: date) -> str:
    return f"{day.isoformat()} 周{WEEKDAYS[day.weekday()]}"


def _estimated_years(cal: WorkingCalendar, first: date, last: date) -> list[int]:
    return [y for y in range(first.year, last.year + 1) if cal.source(y) == "estimated"]


def _warn_estimated(years: list[int]) -> None:
    listed = "、".join(str(y) for y in years)
    click.echo(
        f"警告：{listed} 年没有官方放假安排（chinese_calendar 未覆盖，也未载入国务院通知），"
        "结果按周末和法定节假日估算，不含调休，可能有误。"
        "通知发布后请用 `callback calendar load FILE` 载入。",
        err=True,
    )



COMMANDS = [calendar]
