"""What every `callback` command shares: the settings object, JSON output, the one-line user error, the audit
actor, the telephony provider. Feature packages define their commands with these and
list them in ``COMMANDS``; `callback.cli` registers them (the one place the command line is composed)."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

from callback.config import Settings

if TYPE_CHECKING:
    from callback.telephony import Provider

PROVIDER_FACTORY = "provider_factory"
pass_settings = click.make_pass_decorator(Settings)


def echo_json(payload: Any) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def fail(message: str, code: int = 2) -> NoReturn:
    """A user error: one clear line on stderr and exit status 2 (never a traceback)."""
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
    """Who a CLI action is recorded as in the audit trail: the person named by ``--actor`` (else
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


def provider_for(settings: Settings) -> Provider:
    """The telephony provider for a command that sends something (an SMS feedback, …): the composition root
    (`callback.cli.main`) puts the factory of the configured adapter in the click context."""
    return click.get_current_context().meta[PROVIDER_FACTORY](settings)
