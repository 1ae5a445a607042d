"""`callback draw` and `callback verify-draw` (篇2 三(一)). Phone numbers are masked in every output."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import click

from callback.clitools import actor_option, echo_json, fail, pass_settings
from callback.config import Settings
from callback.db import transaction
from callback.draws.services import (
    EXCLUSION_REASONS,
    DrawError,
    DrawResult,
    draw_weekly_sample,
    verify_draw,
)
from callback.halls.services import UnknownHall, get_hall
from callback.models import utcnow
from survey.weeks import week_of

REASON_LABELS = {
    "no_dialable_number": "无可拨号码",
    "opted_out": "已退订",
    "deny_listed": "内部/禁拨号码",
    "already_drawn": "已被抽过",
    "contacted_recently": "近期已联系",
}


@click.command("draw")
@click.option("--hall", "hall_code", help="中心代码（默认 DEFAULT_HALL）")
@click.option("--week", help="ISO 周，例如 2026-W48（默认本周）")
@click.option("--size", type=click.IntRange(min=1), default=20, show_default=True, help="抽取人数")
@click.option("--per-window", type=click.IntRange(min=1), help="改为每个窗口各抽 N 人")
@click.option("--seed", help="十六进制随机种子（默认由 secrets 生成）")
@click.option("--redraw", is_flag=True, help="作废本周已有抽样并重新抽取（须 --reason）")
@click.option("--reason", help="重新抽取的原因（留档）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（号码始终打码）")
@actor_option
@pass_settings
def draw(settings: Settings, hall_code: str | None, week: str | None, size: int, per_window: int | None,
         seed: str | None, redraw: bool, reason: str | None, as_json: bool, actor: str) -> None:
    """每周随机抽取回访对象（篇2 三(一)）：每个抽中的办件生成一条待回访记录。"""
    if redraw != (reason is not None):
        fail("重新抽取须同时给出 --redraw 和 --reason（原因会留档）")
    now = utcnow()
    try:
        with transaction(settings.database_url) as session:
            hall = get_hall(session, hall_code or settings.default_hall)
            week = week or week_of(now, ZoneInfo(hall.timezone or settings.timezone))
            result = draw_weekly_sample(session, hall, week, size=size, per_window=per_window, seed=seed, now=now,
                                        settings=settings, redraw_reason=reason, actor=actor)
            payload = result.to_json()
    except (UnknownHall, DrawError) as exc:
        fail(str(exc))
        return
    if result.short:
        click.echo(f"提示：符合条件的候选不足，已全部抽取（{len(result.sample)} 人）", err=True)
    if as_json:
        echo_json(payload)
    else:
        _print_draw(result, hall_code or settings.default_hall)


def _print_draw(result: DrawResult, hall_code: str) -> None:
    d = result.draw
    if not result.created:
        click.echo("本周已有抽样，以下为原结果（如需重抽：--redraw --reason 原因）")
    click.echo(f"{hall_code} {d.week} 抽样 #{d.id}：候选 {d.candidates} 件，抽中 {len(result.sample)} 件")
    excluded = "，".join(f"{REASON_LABELS.get(k, k)} {d.excluded.get(k, 0)}" for k in EXCLUSION_REASONS)
    click.echo(f"排除：{excluded}")
    click.echo(f"种子：{d.seed}")
    click.echo(f"指纹：{d.fingerprint}")
    if d.reason:
        click.echo(f"重抽原因：{d.reason}")
    for i, s in enumerate(result.sample, 1):
        click.echo(f"{i:>3}. {s.case_no}  {s.window}  {s.phone}")


@click.command("verify-draw")
@click.option("--week", required=True, help="ISO 周，例如 2026-W48")
@click.option("--hall", "hall_code", help="中心代码（默认 DEFAULT_HALL）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@pass_settings
def verify(settings: Settings, week: str, hall_code: str | None, as_json: bool) -> None:
    """按抽取时刻重新推导候选集并用存档种子重抽，核对样本是否一致；不一致时退出码为 1。"""
    try:
        with transaction(settings.database_url) as session:
            result = verify_draw(session, get_hall(session, hall_code or settings.default_hall), week)
    except (UnknownHall, DrawError) as exc:
        fail(str(exc))
        return
    if as_json:
        echo_json(result.to_json())
    if not result.ok:
        click.echo(f"核验失败：{result.message}", err=True)
        raise SystemExit(1)
    if not as_json:
        click.echo(f"{week} 抽样 #{result.draw_id} 核验通过：候选集指纹与样本均与存档一致")



COMMANDS = [draw, verify]
