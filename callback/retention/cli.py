"""`callback purge [--dry-run] [--json]`: recordings and personal data past their retention period
(callback.retention.services; the daily beat task ``worker.tasks.purge`` runs the same)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click

from callback.clitools import actor_option, echo_json, pass_settings, provider_for
from callback.config import Settings
from callback.db import session_factory
from callback.retention.services import PurgeReport, purge


def now() -> datetime:
    """The command's clock (tests replace it)."""
    return datetime.now(UTC)


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="只统计将清除的内容，不作任何改动 [count only, change nothing]")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 [machine-readable]")
@actor_option
@pass_settings
def purge_command(settings: Settings, dry_run: bool, as_json: bool, actor: str) -> None:
    """按保存期限清除录音和个人信息（个人信息保护法 最小必要）：录音在服务商处和本地删除
    (RETENTION_RECORDINGS_DAYS，默认 90 天)；已结束回访和办件中的号码、姓名替换为带密钥的摘要
    (RETENTION_PERSONAL_DAYS，默认 365 天)，退订和“近期已联系”照常有效，报表不变，审计记录保留。"""
    provider = None if dry_run else provider_for(settings)
    with session_factory(settings.database_url)() as session:
        report = purge(session, provider, settings, now(), dry_run=dry_run, actor=actor)
    if as_json:
        echo_json(report.as_json())
    else:
        _print(report, ZoneInfo(settings.timezone))


def _print(report: PurgeReport, tz: ZoneInfo) -> None:
    verb = "将" if report.dry_run else "已"
    if report.dry_run:
        click.echo("试运行：以下为将清除的内容，未作任何改动 (dry run: nothing changed)")
    click.echo(f"录音：{verb}删除 {report.recordings} 段（{_day(report.recordings_cutoff, tz)} 之前结束的回访）")
    for failure in report.recording_failures:
        click.echo(f"  回访#{failure['callback_id']} 的录音未能删除，下次再试：{failure['error']}")
    merged = f"，其中 {report.merged} 个并入已清除的同一号码" if report.merged else ""
    click.echo(f"个人信息：{verb}替换办件 {report.cases} 件的姓名和号码、号码 {report.contacts} 个{merged}"
               f"（{_day(report.personal_cutoff, tz)} 之前）；意见建议、短信和整改反馈中的号码脱敏 {report.suggestions} 处")


def _day(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).date().isoformat()


COMMANDS = (purge_command,)
