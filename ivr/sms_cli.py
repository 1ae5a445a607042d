"""SMS survey commands (issue 5): `callback sms` runs what is due, `callback sms-status` lists the open SMS surveys.
Thin: each calls ivr/sms_survey.py. `sms_until_settled` is the simulated-week loop (`run-week --simulate`, demo)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.cli import echo_json, main, pass_settings
from callback.config import Settings
from callback.db import session_factory
from callback.models import Callback, Contact
from ivr.provider import Provider, wait_until_idle
from ivr.sms_survey import SmsResult, run_sms_due
from survey.privacy import mask_phone

RESULT_LABELS = {
    "sent": "已发送", "skipped": "无需处理", "deferred": "推迟到短信时段", "opted_out": "号码已退订",
    "error": "发送失败，稍后重试", "unreachable": "无法联系", "partial": "到期，保留部分答复", "complete": "完成",
}


@main.command("sms")
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


@main.command("sms-status")
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
    return list(session.scalars(select(Callback).where(Callback.state == "sms").order_by(Callback.id)))


def _describe(session: Session, callback: Callback, settings: Settings) -> dict[str, Any]:
    from ivr.flow import answered_items

    contact = session.get(Contact, callback.contact_id)
    zone = ZoneInfo(settings.timezone)
    nxt = callback.next_action_at.astimezone(zone).strftime("%m-%d %H:%M") if callback.next_action_at else None
    return {"id": callback.id, "phone": mask_phone(contact.phone if contact else None),
            "answered": answered_items(session, callback), "next_action_at": nxt,
            "expires_at": (callback.flags or {}).get("sms_expires_at")}


def sms_until_settled(
    session: Session, provider: Provider, settings: Settings, clock: Any, ids: Iterable[int] | None = None,
    echo: Callable[[str], None] | None = None, max_rounds: int = 8,
) -> int:
    """Simulated days: run what is due, let the simulated network deliver (statuses, replies), jump the clock to
    the next SMS action (a send moved into SMS hours, the reminder, the expiry) — until no SMS survey is open.
    Returns the rounds used. ``clock`` is an `ivr.localserver.SimClock` shared with the web app."""
    wanted = set(ids) if ids is not None else None
    for round_no in range(1, max_rounds + 1):
        results = [r for r in run_sms_due(session, provider, settings, clock.now())
                   if wanted is None or r.callback_id in wanted]
        wait_until_idle(provider, timeout=120)
        if echo and results:
            echo(_round_line(round_no, clock.now(), settings, results))
        session.expire_all()
        waiting = [c.next_action_at for c in _open(session)
                   if c.next_action_at is not None and (wanted is None or c.id in wanted)]
        if not waiting:
            return round_no
        clock.advance_to(min(waiting))
    return max_rounds


def _round_line(round_no: int, now: datetime, settings: Settings, results: list[SmsResult]) -> str:
    local = now.astimezone(ZoneInfo(settings.timezone)).strftime("%m-%d %H:%M")
    sent = sum(r.result == "sent" for r in results)
    ended = sum(r.result in ("unreachable", "partial", "opted_out") for r in results)
    return f"短信第 {round_no} 轮 {local}：发出 {sent} 条，结束 {ended} 条"
