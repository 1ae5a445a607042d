"""The `callback` command line (click). Area commands live in their own modules and attach to `main`."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import click

from callback.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from callback.models import Hall

COMMAND_MODULES = (
    "callback.cli_ledger",
    "callback.cli_calendar",
    "callback.cli_draw",
    "callback.cli_rectify",
    "callback.cli_report",
    "callback.cli_publish",
    "callback.cli_assess",
    "ivr.cli",
    "callback.demo",
    "ivr.sms_cli",
)


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """政务服务中心电话回访与满意度调查 — callback and survey service."""
    ctx.obj = Settings.from_env()


pass_settings = click.make_pass_decorator(Settings)


def echo_json(payload: Any) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


@contextmanager
def hall_transaction(settings: Settings, hall_code: str | None) -> Iterator[tuple[Session, Hall]]:
    """A transaction and the hall a command is about (DEFAULT_HALL unless given); an unknown hall exits 2."""
    from callback.db import transaction
    from callback.halls import UnknownHall, get_hall

    with transaction(settings.database_url) as session:
        try:
            hall = get_hall(session, hall_code or settings.default_hall)
        except UnknownHall as exc:
            fail(str(exc))
        yield session, hall


@main.command("init-db")
@pass_settings
def init_db(settings: Settings) -> None:
    """Create or upgrade the schema (idempotent)."""
    from callback.migrate import upgrade_to_head

    upgrade_to_head(settings.database_url)
    click.echo("数据库已就绪 (schema up to date)")


def _load_command_modules() -> None:
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


_load_command_modules()
