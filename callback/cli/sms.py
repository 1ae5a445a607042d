"""SMS survey commands: `callback sms` runs what is due, `callback sms-status` lists the open SMS surveys.
Thin: each calls ivr/sms_survey.py. """

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy.orm import Session

from callback.clitools import echo_json, pass_settings
from callback.config import Settings
from callback.db import session_factory
from callback.models import Callback, Contact
from ivr.provider import wait_until_idle
from ivr.simweek import open_sms_callbacks
from ivr.sms_survey import run_sms_due
from survey.privacy import mask_phone

RESULT_LABELS = {
    "sent": "已发送", "skipped": "无需处理", "deferred": "推迟到短信时段", "opted_out": "号码已退订",
    "error": "发送失败，稍后重试", "unreachable": "无法联系", "partial": "到期，保留部分答复", "complete": "完成",
}


@click.command("sms")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 [machine-readable]")
@pass_settings
def sms(settings: Settings, as_json: bool) -> None:
    """发送到期的短信回访和提醒，结束超时的短信回访（与 worker 定时任务相同）[everything SMS that is due now]。"""
    from ivr.provider import get_provider

    provider = get_provider(settings)
    with session_factory(settings.database_url)() as session:
        results = run_sms_due(session, provider, settings, datetime.now(UTC))
    wait_until_idle(provider, timeout=120)
    if as_json:
        echo_json([r.as_dict() for r in results])
        return
    for r in results:
        click.echo(f"回访#{r.callback_id}  {RESULT_LABELS.get(r.result, r.result)}  {r.detail}".rstrip())
    click.echo(f"共处理 {len(results)} 条短信回访")


@click.command("sms-status")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 [machine-readable]")
@pass_settings
def sms_status(settings: Settings, as_json: bool) -> None:
    """列出进行中的短信回访（号码已脱敏）[the SMS surveys still open]。"""
    with session_factory(settings.database_url)() as session:
        rows = [_describe(session, c, settings) for c in _open(session)]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"回访#{row['id']}  {row['phone']}  已答 {row['answered']} 项  下一步 {row['next_action_at'] or '-'}")
    click.echo(f"进行中的短信回访 {len(rows)} 条")


def _open(session: Session) -> list[Callback]:
    return open_sms_callbacks(session)


def _describe(session: Session, callback: Callback, settings: Settings) -> dict[str, Any]:
    from callback.responses.answers import answered_items

    contact = session.get(Contact, callback.contact_id)
    zone = ZoneInfo(settings.timezone)
    nxt = callback.next_action_at.astimezone(zone).strftime("%m-%d %H:%M") if callback.next_action_at else None
    return {"id": callback.id, "phone": mask_phone(contact.phone if contact else None),
            "answered": answered_items(session, callback), "next_action_at": nxt,
            "expires_at": (callback.flags or {}).get("sms_expires_at")}



COMMANDS = [sms, sms_status]
