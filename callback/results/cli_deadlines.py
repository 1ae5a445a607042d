"""`callback deadlines`: what the beat's ``rectification-deadlines`` does, by hand — and the weeks whose
publication is due or late (篇2 五 3 working days; 篇2 六 within a week).

It lives with the results because it reads both the rectification cases and the publications (the results
package already builds on callback.rectification; the other way round would be an import circle).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from callback.clitools import actor_option, echo_json, pass_settings, provider_for
from callback.config import Settings
from callback.db import transaction
from callback.halls.cli import hall_transaction
from callback.rectification.alerts import deliver_alerts, mailer_from_settings
from callback.rectification.services import run_deadlines
from callback.results.deadlines import STATUS_LABELS, publication_deadlines


def now() -> datetime:
    """The CLI's clock (tests replace it)."""
    return datetime.now(UTC)


@click.command("deadlines")
@click.option("--hall", "hall_code", default=None, help="通报期限只看该中心（默认 DEFAULT_HALL）[hall code]")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 [machine-readable]")
@actor_option
@pass_settings
def deadlines(settings: Settings, hall_code: str | None, as_json: bool, actor: str) -> None:
    """检查期限：整改期限按现行日历重算，到期前一个工作日提醒、超期上报，安排到期的二次回访，
    发送给督查人员的提醒（短信、邮件，各发一次）；并列出待通报和逾期未通报的周（篇2 六：一周内通报）
    [rectification deadlines, alerts, and publication deadlines]。"""
    at = now()
    with transaction(settings.database_url) as session:
        run = run_deadlines(session, at, actor=actor, settings=settings)
    with transaction(settings.database_url) as session:
        sent = deliver_alerts(session, at, settings=settings, provider=provider_for(settings),
                              mailer=mailer_from_settings(settings))
    with hall_transaction(settings, hall_code) as (session, hall):
        weeks = [w.as_json() for w in publication_deadlines(session, hall, at)]
        code = hall.code
    payload = {
        "reminded": run.reminded, "escalated": run.escalated, "recomputed": run.recomputed,
        "revisits": run.revisits,
        "alerts": {"queued": run.alerts, "emailed": sent.emailed, "texted": sent.texted, "texts": sent.texts,
                   "waiting_for_sms_hours": sent.waiting, "failed": sent.failed},
        "publication": {"hall": code, "weeks": weeks},
    }
    if as_json:
        echo_json(payload)
    else:
        _print(payload)


def _print(payload: dict[str, Any]) -> None:
    alerts = payload["alerts"]
    click.echo(f"整改：已提醒 {len(payload['reminded'])} 件，已上报超期 {len(payload['escalated'])} 件，"
               f"已安排二次回访 {len(payload['revisits'])} 件，按现行日历重算期限 {len(payload['recomputed'])} 件")
    click.echo(f"督查提醒：新增 {len(alerts['queued'])} 条，已发邮件 {len(alerts['emailed'])} 条，"
               f"已发短信 {alerts['texts']} 条" + (f"，{len(alerts['waiting_for_sms_hours'])} 条待短信时段发送"
                                               if alerts["waiting_for_sms_hours"] else "")
               + (f"，{len(alerts['failed'])} 条发送失败" if alerts["failed"] else ""))
    weeks = payload["publication"]["weeks"]
    if not weeks:
        click.echo(f"通报（{payload['publication']['hall']}）：没有待通报的回访周")
        return
    click.echo(f"通报（{payload['publication']['hall']}）：{len(weeks)} 周尚未通报")
    for week in weeks:
        by = week["publish_by"][:10]
        late = f"，已逾期 {week['days_late']} 天" if week["status"] == "late" else ""
        click.echo(f"  {week['week']}  {STATUS_LABELS[week['status']]}（应于 {by} 前通报{late}）")


COMMANDS = [deadlines]
