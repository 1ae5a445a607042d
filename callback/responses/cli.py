"""`callback record` (a staff member's own call, 篇2 四) and `callback onsite add | import | list` (on-site forms,
篇2 三(二)). Output never shows a citizen's number unmasked, nor the suggestion (it is behind the audited reveal)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy.orm import Session

from callback.clitools import actor_option, echo_json, fail, pass_settings
from callback.config import Settings
from callback.db import transaction
from callback.halls.services import UnknownHall, get_hall
from callback.models import Hall
from callback.responses import onsite as svc
from callback.responses.entry import EntryError, read_answers
from callback.responses.manual import ManualResult, record_manual
from callback.responses.states import OUTCOME_LABELS, STATE_LABELS
from survey.weeks import PeriodError, week_of


def now() -> datetime:
    """The CLI's clock (tests replace it)."""
    return datetime.now(UTC)


json_option = click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 [machine-readable]")
hall_option = click.option("--hall", "hall_code", default=None, help="中心代码（默认 DEFAULT_HALL）[hall code]")
answers_help = "六项答案，依次为服务态度、办事效率、按章办事、体外循环、廉洁自律、总体评价，如 112111 或 “1 1 2 1 1 1”"
suggestion_option = click.option("--suggestion", default=None, help="意见建议（申请人原话）[the citizen's suggestion]")


def _hall(session: Session, settings: Settings, code: str | None) -> Hall:
    try:
        return get_hall(session, code or settings.default_hall)
    except UnknownHall as exc:
        fail(str(exc))


# --- callback record ---------------------------------------------------------------------------------------------


@click.command("record")
@click.argument("callback_id", type=int)
@click.option("--answers", default=None, help=answers_help + " [answers]")
@suggestion_option
@click.option("--opt-out", "opt_out", is_flag=True,
              help="申请人要求今后不再回访：号码在所有中心退订 [opt the number out for good]")
@json_option
@actor_option
@pass_settings
def record(settings: Settings, callback_id: int, answers: str | None, suggestion: str | None, opt_out: bool,
           as_json: bool, actor: str) -> None:
    """录入工作人员人工电话回访的结果（篇2 四，渠道 manual）：适用于待呼叫、短信回访中或无法联系的回访；
    廉洁自律选“有”即时提醒督查科，需要时开整改（篇2 五）。Record a staff member's own call."""
    try:
        entry = read_answers(answers, suggestion) if answers is not None or suggestion else None
        with transaction(settings.database_url) as session:
            result = record_manual(session, callback_id, entry, now(), actor=actor, opt_out=opt_out)
    except EntryError as exc:
        fail(str(exc))
    if as_json:
        echo_json(result.as_dict())
        return
    for line in _manual_lines(result):
        click.echo(line)


def _manual_lines(result: ManualResult) -> list[str]:
    lines = []
    if result.outcome is not None:
        lines.append(f"回访#{result.callback_id} 已录入人工回访结果：{OUTCOME_LABELS[result.outcome]}"
                     f"（答案 {result.keys}）")
    lines += _case_lines(result.rectification_id, result.integrity_alert)
    if result.opted_out:
        lines.append(f"号码 {result.phone} 已退订：今后不再回访，所有中心的抽样都将排除该号码"
                     f"（回访#{result.callback_id}：{STATE_LABELS[result.state]}）")
    return lines


def _case_lines(rectification_id: int | None, integrity_alert: bool) -> list[str]:
    lines = []
    if integrity_alert:
        lines.append("廉洁自律问题：已即时提醒督查科")
    if rectification_id is not None:
        lines.append(f"已开整改#{rectification_id}（callback rectifications 查看）")
    return lines


# --- callback onsite ---------------------------------------------------------------------------------------------


@click.group("onsite")
def onsite() -> None:
    """现场征求意见表（篇2 三(二)：每周 5 份）：录入、导入、查看。On-site forms."""


@onsite.command("add")
@click.option("--window", "window_name", required=True, help="窗口名称 [window]")
@click.option("--answers", required=True, help=answers_help + " [answers]")
@suggestion_option
@click.option("--date", "day", default=None, help="填表日期，如 2026-11-20（默认今天）[the form's date]")
@click.option("--opt-out", "opt_out", is_flag=True, hidden=True)
@hall_option
@json_option
@actor_option
@pass_settings
def add(settings: Settings, window_name: str, answers: str, suggestion: str | None, day: str | None, opt_out: bool,
        hall_code: str | None, as_json: bool, actor: str) -> None:
    """录入一份现场征求意见表（渠道 onsite）：答案、廉洁提醒和整改规则与电话回访相同。Record one on-site form."""
    if opt_out:
        fail("现场征求意见表没有电话号码，退订不适用；申请人要求不再回访，请在其电话回访上登记"
             "（callback record ID --opt-out）(--opt-out does not apply to an on-site form)")
    try:
        form = svc.OnsiteForm(window_name, _date(day), read_answers(answers, suggestion))
        with transaction(settings.database_url) as session:
            hall = _hall(session, settings, hall_code)
            result = svc.add_form(session, hall, form, now(), actor=actor)
            week = svc.week_forms(session, hall, result.week)
    except EntryError as exc:
        fail(str(exc))
    if as_json:
        echo_json({**result.as_dict(), "week_count": week["count"], "target": week["target"]})
        return
    click.echo(f"现场征求意见表#{result.callback_id} 已录入：{result.window} {result.day.isoformat()}"
               f"（{result.week}）{OUTCOME_LABELS[result.outcome]}（答案 {result.keys}）")
    for line in _case_lines(result.rectification_id, result.integrity_alert):
        click.echo(line)
    click.echo(_tally(week))


def _date(text: str | None) -> date | None:
    return svc.read_day(text) if text is not None else None


def _tally(week: dict[str, Any]) -> str:
    missing = f"，还差 {week['missing']} 份" if week["missing"] else "，已达标"
    return f"{week['week']} 现场征求意见表 {week['count']}/{week['target']} 份{missing}"


@onsite.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@hall_option
@json_option
@actor_option
@pass_settings
def import_(settings: Settings, file: Path, hall_code: str | None, as_json: bool, actor: str) -> None:
    """导入一周的现场征求意见表（CSV/XLSX）：列 窗口、日期、答案（或各项一列：服务态度…总体评价）、意见建议；
    有问题的行按行号列出并跳过，其余照常导入；同一文件重复导入不会重复计数。Import a file of on-site forms."""
    if not file.is_file():
        fail(f"找不到文件 {file} (no such file)")
    try:
        with transaction(settings.database_url) as session:
            hall = _hall(session, settings, hall_code)
            report = svc.import_forms(session, hall, file, now(), actor=actor)
            weeks = {f.week for f in report.added}
            tallies = [svc.week_forms(session, hall, w) for w in sorted(weeks)]
    except EntryError as exc:
        fail(f"无法导入 {file.name}：{exc}")
    if as_json:
        echo_json({**report.as_dict(), "weeks": [{k: t[k] for k in ("week", "count", "target", "missing")}
                                                 for t in tallies]})
        return
    _print_import(report, tallies)


def _print_import(report: svc.ImportReport, tallies: list[dict[str, Any]]) -> None:
    click.echo(f"已导入 {len(report.added)} 份现场征求意见表，拒绝 {len(report.rejected)} 行"
               + (f"，{len(report.skipped)} 行此前已导入（跳过）" if report.skipped else ""))
    for form in report.added:
        if form.rectification_id is not None:
            alert = "，廉洁自律问题已即时提醒督查科" if form.integrity_alert else ""
            click.echo(f"  #{form.callback_id} {form.window} {form.day.isoformat()}：已开整改#{form.rectification_id}{alert}")
    for row, reason in report.rejected:
        click.echo(f"  第 {row} 行：{reason}", err=True)
    for tally in tallies:
        click.echo(_tally(tally))


@onsite.command("list")
@click.option("--week", default=None, help="ISO 周，如 2026-W47（默认本周）[ISO week]")
@hall_option
@json_option
@pass_settings
def list_(settings: Settings, week: str | None, hall_code: str | None, as_json: bool) -> None:
    """本周（或指定周）的现场征求意见表与每周 5 份的目标（篇2 三(二)）。The week's forms against the target."""
    with transaction(settings.database_url) as session:
        hall = _hall(session, settings, hall_code)
        week = week or week_of(now(), ZoneInfo(hall.timezone or settings.timezone))
        try:
            data = svc.week_forms(session, hall, week)
        except PeriodError as exc:
            fail(str(exc))
    if as_json:
        echo_json(data)
        return
    click.echo(_tally(data))
    for form in data["forms"]:
        case = f"  整改#{form['rectification_id']}" if form["rectification_id"] else ""
        click.echo(f"  #{form['callback_id']}  {form['date']}  {form['window']}  {form['keys']}  "
                   f"{STATE_LABELS.get(form['state'], form['state'])}{case}")
    if data["per_window"]:
        click.echo("  按窗口：" + "，".join(f"{name} {n}" for name, n in data["per_window"].items()))


COMMANDS = [record, onsite]
