"""`callback import-ledger` and `callback tokens create`."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from callback.cli import echo_json, fail, main, pass_settings
from callback.config import Settings
from callback.db import transaction
from callback.halls import ensure_hall, get_hall
from callback.ledger.headers import LedgerFileError
from callback.ledger.importer import ImportSummary, import_file
from callback.tokens import create_token

LARGE_FILE_BYTES = 2 * 1024 * 1024


@main.command("import-ledger")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--hall", "hall_code", help="中心代码 (default: DEFAULT_HALL)")
@click.option("--sheet", help="XLSX 工作表名 (default: the first sheet)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@pass_settings
def import_ledger(settings: Settings, file: Path, hall_code: str | None, sheet: str | None, as_json: bool) -> None:
    """导入受理台账 (CSV/XLSX) — import a case ledger; re-importing changes nothing."""
    try:
        with transaction(settings.database_url) as session:
            hall = ensure_hall(session, hall_code or settings.default_hall)
            with _progress(file, quiet=as_json) as tick:
                summary = import_file(session, hall, file, sheet=sheet, progress=tick)
    except LedgerFileError as exc:
        fail(f"无法导入 {file.name}: {exc}", 2)
    if as_json:
        echo_json(summary.as_json())
    else:
        _print_summary(file, summary)


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
        click.echo(f"  … 另有 {s.rejected_total - 20} 行被拒绝 (use --json for the full list)")


@main.group()
def tokens() -> None:
    """API 令牌 — per-hall API tokens for the ledger API."""


@tokens.command("create")
@click.option("--hall", "hall_code", required=True)
@click.option("--label", default=None)
@pass_settings
def tokens_create(settings: Settings, hall_code: str, label: str | None) -> None:
    """Create a token; it is shown once."""
    from callback.halls import UnknownHall

    try:
        with transaction(settings.database_url) as session:
            token = create_token(session, get_hall(session, hall_code), label)
    except UnknownHall as exc:
        fail(str(exc), 2)
    click.echo(token)
