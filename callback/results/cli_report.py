"""`callback report --week W [--hall CODE] [--json] [--xlsx FILE]` (篇2 六)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from callback.clitools import echo_json, fail, pass_settings
from callback.config import Settings
from callback.display import pad
from callback.halls.cli import hall_transaction
from callback.results.report import weekly_report, write_xlsx
from survey.weeks import PeriodError, parse_week, week_of

# The human line's counts, in the order of a callback's life; together they are exactly the drawn callbacks.
COUNT_LABELS = (
    ("reached_phone", "电话"), ("reached_sms", "短信"), ("reached_manual", "人工"), ("unreachable", "未联系上"),
    ("opted_out", "退订"), ("break_off", "挂断未答"), ("pending", "进行中"),
)


def now() -> datetime:
    """The CLI's clock (tests replace it)."""
    return datetime.now(UTC)


def _current_week(tz: str) -> str:
    return week_of(now(), ZoneInfo(tz))


@click.command("report")
@click.option("--week", default=None, help="ISO 周，例如 2026-W48（默认本周）")
@click.option("--hall", "hall_code", default=None, help="中心代码（默认 DEFAULT_HALL）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@click.option("--xlsx", "xlsx", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="另存为 Excel 工作簿（窗口汇总、分项统计、整改情况、整改明细）")
@pass_settings
def report(settings: Settings, week: str | None, hall_code: str | None, as_json: bool, xlsx: Path | None) -> None:
    """按窗口统计一周回访结果：抽取、接通、评价、得分、95% 区间、等级和整改情况。"""
    week = _checked_week(week)
    if xlsx is not None:
        _check_folder(xlsx)
    with hall_transaction(settings, hall_code) as (session, hall):
        payload = weekly_report(session, hall, week or _current_week(hall.timezone), now())
    if xlsx is not None:
        try:
            write_xlsx(payload, xlsx)
        except OSError as exc:
            fail(f"无法保存 Excel {xlsx}：{exc.strerror or exc} (cannot write the file)")
    if as_json:
        echo_json(payload)
        return
    print_report(payload)
    if xlsx is not None:
        click.echo(f"已保存 Excel：{xlsx}")


def _checked_week(week: str | None) -> str | None:
    """The week as ``2026-W48``, refused (exit 2) like the draw refuses it: the draw's own ISO-week rule."""
    if week is None:
        return None
    try:
        year, number = parse_week(week)
    except PeriodError as exc:
        fail(str(exc))
    return f"{year}-W{number:02d}"


def _check_folder(path: Path) -> None:
    folder = path.parent
    if not folder.is_dir():
        fail(f"无法保存 Excel：文件夹 {folder} 不存在 (folder not found)")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def print_report(payload: dict[str, Any]) -> None:
    click.echo(f"{payload['hall_name']} {payload['week']} 电话回访结果")
    if not payload["windows"]:
        click.echo("本周没有回访记录")
        return
    for row in [*payload["windows"], payload["totals"]]:
        score = "—" if row["score"] is None else f"{row['score']:.1f}"
        rect = row["rectifications"]
        counts = "  ".join(f"{label} {row[key]:>2}" for key, label in COUNT_LABELS)
        click.echo(
            f"{pad(row['window'], 14)} 抽取 {row['drawn']:>2} = {counts}  评价 {row['n']:>2} "
            f"(满意 {row['satisfied']} / 基本满意 {row['basic']} / 不满意 {row['unsatisfied']})  "
            f"得分 {score}  满意率区间 {_pct(row['ci_low'])}–{_pct(row['ci_high'])}  {row['grade']}  "
            f"整改 {rect['opened']}（按时 {rect['on_time']}，超期 {rect['overdue']}，未到期 {rect['pending']}）"
        )



COMMANDS = [report]
