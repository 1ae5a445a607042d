"""`callback publish (--week W | --month M) [--hall CODE] --approved-by NAME [--force] [--json]` (篇2 六; 篇1)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from callback.clitools import echo_json, fail, pass_settings
from callback.config import Settings
from callback.db import transaction
from callback.halls.services import UnknownHall, get_hall
from callback.models import PublishedReport
from callback.models.publication import WEEK
from callback.results.publication import (
    IncompleteWeek,
    PublishRefused,
    UnfinishedMonth,
    WeekCompleteness,
    publish_month,
    publish_week,
    week_completeness,
)


def now() -> datetime:
    """The CLI's clock (tests replace it)."""
    return datetime.now(UTC)


@click.command("publish")
@click.option("--week", default=None, help="要发布的 ISO 周，例如 2026-W45")
@click.option("--month", default=None, help="要发布的月份，例如 2026-11（各窗口月度得分和红旗窗口）")
@click.option("--hall", "hall_code", default=None, help="中心代码（默认 DEFAULT_HALL）")
@click.option("--approved-by", "approved_by", required=True, help="审核人姓名（留档，不在公示页显示）")
@click.option("--force", is_flag=True,
              help="本周尚未完成（仍有回访进行中、短信未回复或整改未反馈）或本月尚未结束时仍然发布 [publish anyway]")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@pass_settings
def publish(settings: Settings, week: str | None, month: str | None, hall_code: str | None, approved_by: str,
            force: bool, as_json: bool) -> None:
    """审核并发布一周或一个月的窗口回访评价结果（公示页和大厅公示屏显示最新版本；再次发布生成新版本）。
    本周尚未完成或本月尚未结束时不发布，除非加 --force。"""
    if (week is None) == (month is None):
        fail("未发布：请指定 --week 或 --month 之一 (give exactly one period)")
    if month is not None:
        _publish_month(settings, month, hall_code, approved_by, force, as_json)
        return
    code = hall_code or settings.default_hall
    try:
        with transaction(settings.database_url) as session:
            hall = get_hall(session, code)
            published = publish_week(session, hall, week, approved_by, now(), require_complete=not force)
            progress = week_completeness(session, hall, week)
            summary = publication_summary(published) | {"incomplete": progress.reasons()}
    except IncompleteWeek as exc:
        fail(f"未发布：{exc}。确认仍要发布请加 --force")
    except (PublishRefused, UnknownHall) as exc:
        fail(f"未发布：{exc}")
    _warn_incomplete(progress)
    if as_json:
        echo_json(summary)
        return
    _echo_published(summary)


def _publish_month(settings: Settings, month: str, hall_code: str | None, approved_by: str, force: bool,
                   as_json: bool) -> None:
    try:
        with transaction(settings.database_url) as session:
            hall = get_hall(session, hall_code or settings.default_hall)
            published = publish_month(session, hall, month, approved_by, now(), require_complete=not force)
            summary = publication_summary(published)
    except UnfinishedMonth as exc:
        fail(f"未发布：{exc}。确认仍要发布请加 --force")
    except (PublishRefused, UnknownHall) as exc:
        fail(f"未发布：{exc}")
    if as_json:
        echo_json(summary)
        return
    _echo_published(summary)
    flags = summary["figures"]["red_flags"]["windows"]
    click.echo(f"红旗窗口：{'、'.join(r['window'] for r in flags) or '无'}")


def _echo_published(summary: dict[str, Any]) -> None:
    totals = summary["figures"]["totals"]
    score = "—" if totals["score"] is None else f"{totals['score']:.1f}"
    click.echo(f"已发布 {summary['hall_name']} {summary['period']} 第 {summary['version']} 版："
               f"{len(summary['figures']['windows'])} 个窗口，全中心得分 {score}，{totals['grade']}")


def _warn_incomplete(progress: WeekCompleteness) -> None:
    if not progress.complete:
        click.echo(f"警告：{progress.week} 尚未完成（{'；'.join(progress.reasons())}），已按 --force 发布；"
                   "完成后可再次发布，公示页显示最新版本", err=True)


def publication_summary(published: PublishedReport) -> dict[str, Any]:
    return {
        "id": published.id,
        "hall": published.figures["hall"],
        "hall_name": published.figures["hall_name"],
        "kind": published.kind,
        "period": published.period,
        **({"week": published.period} if published.kind == WEEK else {"month": published.period}),
        "version": published.version,
        "approved_by": published.approved_by,
        "published_at": published.published_at.isoformat(timespec="seconds"),
        "figures": published.figures,
    }



COMMANDS = [publish]
