"""`callback import-ledger` and `callback tokens create | list | revoke`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from callback.clitools import actor_option, echo_json, fail, pass_settings
from callback.config import Settings
from callback.db import transaction
from callback.halls.services import UnknownHall, ensure_hall, get_hall
from callback.halls.tokens import (
    DEFAULT_EXPIRY_DAYS,
    MAX_EXPIRY_DAYS,
    TokenInfo,
    UnknownToken,
    create_token,
    list_tokens,
    revoke_token,
)
from callback.ledger.headers import LedgerFileError
from callback.ledger.importer import ImportSummary, import_file
from callback.models import utcnow

LARGE_FILE_BYTES = 2 * 1024 * 1024
MAX_LABEL = 200


@click.command("import-ledger")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--hall", "hall_code", help="中心代码（默认 DEFAULT_HALL）[hall code]")
@click.option("--sheet", help="XLSX 工作表名（默认第一个工作表）[worksheet]")
@click.option("--json", "as_json", is_flag=True, help="以一个 JSON 对象输出 [machine-readable]")
@pass_settings
def import_ledger(settings: Settings, file: Path, hall_code: str | None, sheet: str | None, as_json: bool) -> None:
    """导入受理台账（CSV/XLSX）；重复导入不会产生重复记录 [import a case ledger]。"""
    _require_file(file)
    try:
        with transaction(settings.database_url) as session:
            hall = ensure_hall(session, hall_code or settings.default_hall)
            with _progress(file, quiet=as_json) as tick:
                summary = import_file(session, hall, file, sheet=sheet, progress=tick)
    except LedgerFileError as exc:
        fail(f"无法导入 {file.name}: {exc}", 2)
    except OSError as exc:  # the file went away or became unreadable while it was read
        fail(f"无法读取 {file}：{exc.strerror or exc} (cannot read the file)", 2)
    if as_json:
        echo_json(summary.as_json())
    else:
        _print_summary(file, summary)


def _require_file(file: Path) -> None:
    """A missing path or a folder is a user error: one line and exit 2, before anything touches the database."""
    if not file.exists():
        fail(f"找不到文件 {file} (no such file)", 2)
    if not file.is_file():
        fail(f"{file} 不是文件 (not a file)", 2)


class _progress:
    """A rich progress bar on stderr for large files; a no-op otherwise."""

    def __init__(self, file: Path, quiet: bool) -> None:
        size = file.stat().st_size if file.exists() else 0
        self.bar = None if quiet or size < LARGE_FILE_BYTES else Progress(
            TextColumn("导入中 importing"), BarColumn(), TextColumn("{task.completed:,} 行"), TimeElapsedColumn(),
            console=Console(stderr=True), transient=True)

    def __enter__(self):  # noqa: ANN204
        if self.bar is None:
            return None
        self.bar.start()
        task = self.bar.add_task("import", total=None)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _print_summary(file: Path, s: ImportSummary) -> None:
    click.echo(f"{file.name}: 共 {s.rows} 行 — 新增 {s.imported}, 更新 {s.updated}, 未变 {s.unchanged}, "
               f"拒绝 {s.rejected_total}")
    for r in s.rejected[:20]:
        click.echo(f"  第 {r['row']} 行: {r['reason']}")
    if s.rejected_total > 20:
        click.echo(f"  … 另有 {s.rejected_total - 20} 行被拒绝（完整列表请用 --json）")


# --- tokens -------------------------------------------------------------------------------------------------------


@click.group()
def tokens() -> None:
    """台账接口令牌：创建、列出、吊销 [API tokens for the ledger API]。"""


@tokens.command("create")
@click.option("--hall", "hall_code", required=True, help="中心代码 [hall code]")
@click.option("--label", default=None, help="用途说明，如对接的系统名称 [label]")
@click.option("--expires-days", type=click.IntRange(1, MAX_EXPIRY_DAYS), default=DEFAULT_EXPIRY_DAYS,
              show_default=True, help="有效天数 [days until it expires]")
@actor_option
@pass_settings
def tokens_create(settings: Settings, hall_code: str, label: str | None, expires_days: int, actor: str) -> None:
    """创建令牌：令牌只显示这一次（标准输出），库中只存其 SHA-256 [create a token; shown once]。"""
    if label is not None and len(label) > MAX_LABEL:
        fail(f"用途说明不能超过 {MAX_LABEL} 个字符 (label too long)", 2)
    try:
        with transaction(settings.database_url) as session:
            hall = get_hall(session, hall_code)
            row, token = create_token(session, hall, label, expires_days=expires_days, actor=actor)
            token_id, expires = row.id, _local(row.expires_at, settings)
    except UnknownHall as exc:
        fail(str(exc), 2)
    click.echo(token)
    click.echo(f"令牌 #{token_id}（{hall_code}）有效期至 {expires}；只显示这一次，请妥善保存", err=True)


@tokens.command("list")
@click.option("--hall", "hall_code", default=None, help="只列出某中心的令牌 [one hall only]")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 [machine-readable]")
@pass_settings
def tokens_list(settings: Settings, hall_code: str | None, as_json: bool) -> None:
    """列出令牌：编号、中心、创建时间、最近使用、到期时间、是否吊销；从不显示令牌本身 [list tokens]。"""
    now = utcnow()
    try:
        with transaction(settings.database_url) as session:
            hall = get_hall(session, hall_code) if hall_code else None
            found = list_tokens(session, hall)
    except UnknownHall as exc:
        fail(str(exc), 2)
    rows = [_token_json(t, now, settings) for t in found]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("没有 API 令牌（callback tokens create --hall 代码 可创建）")
    for row in rows:
        click.echo(_token_line(row))


STATE_LABELS = {"active": "有效", "expired": "已过期", "revoked": "已吊销"}


def _local(at: datetime | None, settings: Settings) -> str | None:
    return at.astimezone(ZoneInfo(settings.timezone)).isoformat(sep=" ", timespec="minutes") if at else None


def _token_json(t: TokenInfo, now: datetime, settings: Settings) -> dict[str, object]:
    state = t.state(now)
    return {"id": t.id, "hall": t.hall, "label": t.label, "created_at": _local(t.created_at, settings),
            "last_used_at": _local(t.last_used_at, settings), "expires_at": _local(t.expires_at, settings),
            "revoked_at": _local(t.revoked_at, settings), "state": state, "state_label": STATE_LABELS[state]}


def _token_line(row: dict[str, object]) -> str:
    return (f"#{row['id']:<4} {row['hall']:<8} {row['state_label']:<4} 创建 {str(row['created_at'])[:16]}  "
            f"最近使用 {str(row['last_used_at'] or '从未')[:16]}  到期 {str(row['expires_at'])[:16]}"
            + (f"  吊销 {str(row['revoked_at'])[:16]}" if row["revoked_at"] else "")
            + (f"  {row['label']}" if row["label"] else ""))


@tokens.command("revoke")
@click.argument("token_id", metavar="ID", type=click.IntRange(1, 2**31 - 1))
@actor_option
@pass_settings
def tokens_revoke(settings: Settings, token_id: int, actor: str) -> None:
    """吊销令牌（立即失效，不可恢复）；ID 见 callback tokens list [revoke a token]。"""
    try:
        with transaction(settings.database_url) as session:
            token, revoked_now = revoke_token(session, token_id, actor=actor)
            when = _local(token.revoked_at, settings)
    except UnknownToken as exc:
        fail(str(exc), 2)
    if revoked_now:
        click.echo(f"令牌 #{token_id} 已吊销（{when}），使用它的请求将被拒绝 (401)")
    else:
        click.echo(f"令牌 #{token_id} 早已于 {when} 吊销")



COMMANDS = [import_ledger, tokens]
