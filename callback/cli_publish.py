"""`callback publish --week W [--hall CODE] --approved-by NAME [--json]` (DESIGN.md §2.6, §5; 篇2 六)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from callback.cli import echo_json, fail, main, pass_settings
from callback.config import Settings
from callback.db import transaction
from callback.halls import UnknownHall, get_hall
from callback.models import PublishedReport
from callback.publication import PublishRefused, publish_week


def now() -> datetime:
    """The CLI's clock (tests replace it)."""
    return datetime.now(UTC)


@main.command("publish")
@click.option("--week", required=True, help="要发布的 ISO 周，例如 2026-W45")
@click.option("--hall", "hall_code", default=None, help="中心代码（默认 DEFAULT_HALL）")
@click.option("--approved-by", "approved_by", required=True, help="审核人姓名（留档，不在公示页显示）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@pass_settings
def publish(settings: Settings, week: str, hall_code: str | None, approved_by: str, as_json: bool) -> None:
    """审核并发布一周的窗口回访结果（公示页和大厅公示屏显示最新版本；再次发布生成新版本）。"""
    code = hall_code or settings.default_hall
    try:
        with transaction(settings.database_url) as session:
            published = publish_week(session, get_hall(session, code), week, approved_by, now())
            summary = publication_summary(published)
    except (PublishRefused, UnknownHall) as exc:
        fail(f"未发布：{exc}")
    if as_json:
        echo_json(summary)
        return
    totals = summary["figures"]["totals"]
    score = "—" if totals["score"] is None else f"{totals['score']:.1f}"
    click.echo(f"已发布 {summary['hall_name']} {summary['week']} 第 {summary['version']} 版："
               f"{len(summary['figures']['windows'])} 个窗口，全中心得分 {score}，{totals['grade']}")


def publication_summary(published: PublishedReport) -> dict[str, Any]:
    return {
        "id": published.id,
        "hall": published.figures["hall"],
        "hall_name": published.figures["hall_name"],
        "week": published.week,
        "version": published.version,
        "approved_by": published.approved_by,
        "published_at": published.published_at.isoformat(timespec="seconds"),
        "figures": published.figures,
    }
