"""`callback report [--week W | --month M] [--hall CODE] [--json] [--xlsx FILE]` (篇2 六; 篇1 红旗窗口)."""

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
from callback.results.report import monthly_report, period_title, red_flag_note, weekly_report, write_xlsx
from survey.weeks import PeriodError, parse_month, parse_week, week_of

# The human line's counts, in the order of a callback's life; together they are exactly the drawn callbacks.
COUNT_LABELS = (
    ("reached_phone", "电话"), ("reached_sms", "短信"), ("reached_manual", "人工"), ("unreachable", "未联系上"),
    ("opted_out", "退订"), ("break_off", "挂断未答"), ("pending", "进行中"),
)
MONTH_COUNT_LABELS = (("reached_phone", "电话"), ("reached_sms", "短信"), ("reached_manual", "人工"), ("onsite", "现场"))


def now() -> datetime:
    """The CLI's clock (tests replace it)."""
    return datetime.now(UTC)


def _current_week(tz: str) -> str:
    return week_of(now(), ZoneInfo(tz))


@click.command("report")
@click.option("--week", default=None, help="ISO 周，例如 2026-W48（默认本周）")
@click.option("--month", default=None, help="月份，例如 2026-11：当月各窗口得分和月度红旗窗口")
@click.option("--hall", "hall_code", default=None, help="中心代码（默认 DEFAULT_HALL）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@click.option("--xlsx", "xlsx", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="另存为 Excel 工作簿（窗口汇总、分项统计、整改情况、整改明细）")
@pass_settings
def report(settings: Settings, week: str | None, month: str | None, hall_code: str | None, as_json: bool,
           xlsx: Path | None) -> None:
    """按窗口统计回访评价结果：一周（抽取、接通、现场问卷、得分、等级和整改情况）或一个月（得分、等级和红旗窗口）。
    得分结合回访问卷和评价器，计分规则见 README“计分”。"""
    if week is not None and month is not None:
        fail("--week 与 --month 只能选一个 (choose one period)")
    week, month = _checked_week(week), _checked_month(month)
    if xlsx is not None:
        _check_folder(xlsx)
    with hall_transaction(settings, hall_code) as (session, hall):
        if month is not None:
            payload = monthly_report(session, hall, month, now())
        else:
            payload = weekly_report(session, hall, week or _current_week(hall.timezone), now())
    if xlsx is not None:
        try:
            write_xlsx(payload, xlsx)
        except OSError as exc:
            fail(f"无法保存 Excel {xlsx}：{exc.strerror or exc} (cannot write the file)")
    if as_json:
        echo_json(payload)
        return
    if month is not None:
        print_month(payload)
    else:
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


def _checked_month(month: str | None) -> str | None:
    if month is None:
        return None
    try:
        year, number = parse_month(month)
    except PeriodError as exc:
        fail(str(exc))
    return f"{year}-{number:02d}"


def _check_folder(path: Path) -> None:
    folder = path.parent
    if not folder.is_dir():
        fail(f"无法保存 Excel：文件夹 {folder} 不存在 (folder not found)")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _scores(row: dict[str, Any]) -> str:
    """``样本 12 得分 83.0 合格（问卷 2 份 80.0；评价器 10 次 86.0：满意 8/基本满意 1/不满意 1）满意 10，区间 …``"""
    questionnaire, evaluator = row["sources"]["questionnaire"], row["sources"]["evaluator"]
    return (
        f"样本 {row['n']:>2} 得分 {_num(row['score'])} {row['grade']}"
        f"（问卷 {questionnaire['n']} 份 {_num(questionnaire['score'])}；评价器 {evaluator['n']} 次 "
        f"{_num(evaluator['score'])}：满意 {evaluator['S']}/基本满意 {evaluator['B']}/不满意 {evaluator['U']}）  "
        f"满意 {row['satisfied']}，满意率区间 {_pct(row['ci_low'])}–{_pct(row['ci_high'])}"
    )


def print_report(payload: dict[str, Any]) -> None:
    click.echo(f"{payload['hall_name']} {period_title(payload)} 回访评价结果")
    onsite = payload["onsite"]
    click.echo(f"现场征求意见表：本周 {onsite['forms']} 份，目标 {onsite['target']} 份"
               + (f"，尚缺 {onsite['missing']} 份" if onsite["missing"] else ""))
    if not payload["windows"]:
        click.echo("本周没有回访记录")
        return
    for row in [*payload["windows"], payload["totals"]]:
        rect = row["rectifications"]
        counts = "  ".join(f"{label} {row[key]:>2}" for key, label in COUNT_LABELS)
        click.echo(
            f"{pad(row['window'], 14)} 抽取 {row['drawn']:>2} = {counts}  现场 {row['onsite']:>2}  {_scores(row)}  "
            f"整改 {rect['opened']}（按时 {rect['on_time']}，超期 {rect['overdue']}，未到期 {rect['pending']}）"
        )


def print_month(payload: dict[str, Any]) -> None:
    click.echo(f"{payload['hall_name']} {period_title(payload)} 回访评价结果（{payload['from']} 至 {payload['to']}）")
    if not payload["windows"]:
        click.echo("本月没有回访问卷或评价器数据")
        return
    for row in [*payload["windows"], payload["totals"]]:
        counts = "  ".join(f"{label} {row[key]:>2}" for key, label in MONTH_COUNT_LABELS)
        click.echo(f"{pad(row['window'], 14)} {counts}  {_scores(row)}")
    flags = payload["red_flags"]
    chosen = "、".join(f"{r['window']}（第{r['place']}名，{r['score']:.1f}）" for r in flags["windows"]) or "无"
    click.echo(f"红旗窗口：{chosen}")
    for note in red_flag_note(flags):
        click.echo(note)
    click.echo(f"规则：{flags['rule']}")


COMMANDS = [report]
