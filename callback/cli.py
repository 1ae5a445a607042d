"""The `callback` command line (click). Area commands live in their own modules and attach to `main`."""

from __future__ import annotations

import importlib
import json
import os
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
    "callback.cli_hall",
    "ivr.cli",
    "callback.demo",
    "ivr.sms_cli",
)


class CallbackGroup(click.Group):
    """The `callback` group: a database that is not there yet, or cannot be reached, is a user error — one line
    on stderr and exit status 2, never a traceback (issue 11). This is the one place that turns them into words
    (the wording is `callback.db_problems.explain`)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from callback.db_problems import explain

            settings = ctx.find_object(Settings)
            message = explain(exc, settings.database_url if settings else os.environ.get("DATABASE_URL", ""))
            if message is None:
                raise
            fail(message)


@click.group(cls=CallbackGroup)
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


ACTOR_ENV = "CALLBACK_ACTOR"
MAX_ACTOR_NAME = 40  # the audit columns hold 100 characters: the name, " (cli:", the account and ")"


def os_account() -> str:
    """The operating-system account running the command ("unknown" where it cannot be told)."""
    import getpass

    try:
        return getpass.getuser()[:40] or "unknown"
    except (KeyError, OSError):
        return "unknown"


def resolve_actor(name: str | None = None) -> str:
    """Who a CLI action is recorded as in the audit trail (issue 11 §10): the person named by ``--actor`` (else
    ``$CALLBACK_ACTOR``) together with the account that ran the command — ``张三 (cli:root)`` — or the account
    alone, ``cli:root``, when nobody is named. A shared account no longer hides who acted. Raises ValueError
    for a name that is too long or holds control characters."""
    name = (os.environ.get(ACTOR_ENV, "") if name is None else name).strip()
    account = f"cli:{os_account()}"
    if not name:
        return account
    if len(name) > MAX_ACTOR_NAME or not name.isprintable():
        raise ValueError(f"操作人名称须为不超过 {MAX_ACTOR_NAME} 个字符的一行文字 "
                         f"(--actor/{ACTOR_ENV}: at most {MAX_ACTOR_NAME} printable characters)")
    return f"{name} ({account})"


def _actor_value(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str:
    try:
        return resolve_actor(value)
    except ValueError as exc:
        fail(str(exc))


def actor_option(command: Any) -> Any:
    """``--actor NAME`` for a command that writes audit rows; the command receives ``actor`` already resolved
    (resolve_actor), so every command records the same way."""
    return click.option(
        "--actor", "actor", default=None, metavar="NAME", callback=_actor_value,
        help=f"操作人姓名，与系统用户一并记入审计记录（默认 ${ACTOR_ENV}）[audit actor]",
    )(command)


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
    """建立或升级数据库结构（可重复运行）— create or upgrade the schema (idempotent); DATABASE_URL 指定数据库。"""
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
