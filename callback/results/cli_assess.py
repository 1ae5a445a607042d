"""`callback assess --month 2026-11 [--hall CODE] [--json]`: the month's 篇3 figures per staff member."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from callback.clitools import echo_json, fail, pass_settings
from callback.config import Settings
from callback.display import pad
from callback.halls.cli import hall_transaction
from callback.results.assessment import (
    EVENT_LABELS,
    PARTIAL,
    monthly_assessment,
)
from survey.weeks import PeriodError, month_of, parse_month


def now() -> datetime:
    """The CLI's clock (tests replace it)."""
    return datetime.now(UTC)


def _current_month(tz: str) -> str:
    return month_of(now(), ZoneInfo(tz))


@click.command("assess")
@click.option("--month", default=None, help="考核月份 YYYY-MM，例如 2026-11（默认本月）")
@click.option("--hall", "hall_code", default=None, help="中心代码（默认 DEFAULT_HALL）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@pass_settings
def assess(settings: Settings, month: str | None, hall_code: str | None, as_json: bool) -> None:
    """月度考核数据（篇3）：按经办人统计本系统可计部分——超时（四7）、二次回访（五2）、办件量加分（七9），
    并列出仍需督查科补录的考核项。Monthly 篇3 assessment feed per staff member."""
    if month is not None:
        try:
            parse_month(month)
        except PeriodError as exc:
            fail(str(exc))
    with hall_transaction(settings, hall_code) as (session, hall):
        payload = monthly_assessment(session, hall, month or _current_month(hall.timezone), now())
    if as_json:
        echo_json(payload)
        return
    print_assessment(payload)


def _points(value: float) -> str:
    text = f"{abs(value):g}"
    return f"−{text}" if value < 0 else f"+{text}"


def event_text(event: dict[str, Any]) -> str:
    """``超时 2 次 −10``."""
    return f"{event['label']} {event['count']} 次 {_points(event['points'])}"


def print_assessment(payload: dict[str, Any]) -> None:
    click.echo(f"{payload['hall_name']} {payload['month']} 月度考核数据（{payload['scope']}）")
    for row in payload["staff"]:
        four, five, volume = row["section_four"], row["section_five"], row["volume"]
        events = "，".join(event_text(e) for e in row["events"]) or "无扣分事项"
        click.echo(
            f"{pad(row['name'], 16)} {pad('、'.join(row['windows']) or '—', 16)} "
            f"四 {four['score']:g}/{four['max']:g}  五 {five['score']:g}/{five['max']:g}  "
            f"办件量加分 {volume['bonus']:g}（非承诺件 {volume['accepted']}，承诺件 {volume['promised']}）  {events}"
        )
    if not payload["staff"]:
        click.echo("本中心没有登记经办人，本月也没有办件")
    summary = payload["summary"]["events"]
    click.echo("全中心合计：" + "，".join(f"{EVENT_LABELS[code]} {count} 次" for code, count in summary.items()))
    click.echo(f"说明：四、五两项分数仅为{PARTIAL}，不是月度考核总分；{payload['volume_note']}")
    click.echo("仍需补录（本系统没有的数据）：")
    for item in payload["inputs_needed"]:
        click.echo(f"  {item['clause']}：{item['description']}")  # the rule codes stay in --json



COMMANDS = [assess]
