"""The `callback` command line (click): the one place its commands are composed.

Each feature package defines its commands next to its services (``callback/<feature>/cli.py``) and lists them in
``COMMANDS``; the commands that need the telephony adapters or the web app (serve, dial, run-week, sms, demo) live
in this package, above ``ivr``. Every module is imported by name here, so a typo fails at once.
"""

from __future__ import annotations

import os
from typing import Any

import click

from callback.accounts import cli as accounts_cli
from callback.assessment import cli as assessment_cli
from callback.calendar import cli as calendar_cli
from callback.cli import calls, demo, sms
from callback.clitools import PROVIDER_FACTORY, fail, pass_settings
from callback.config import ConfigError, Settings
from callback.draws import cli as draws_cli
from callback.evaluator import cli as evaluator_cli
from callback.halls import cli as halls_cli
from callback.ledger import cli as ledger_cli
from callback.rectification import cli as rectification_cli
from callback.rectification.services import recompute_deadlines
from callback.responses import cli as responses_cli
from callback.results import cli_deadlines, cli_publish, cli_report
from callback.retention import cli as retention_cli
from ivr.provider import get_provider


class CallbackGroup(click.Group):
    """The `callback` group: a database that is not there yet or cannot be reached, and settings production
    refuses, are user errors — one line on stderr and exit status 2, never a traceback. This is the one place
    that turns them into words (the database wording is `callback.db_problems.explain`)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            fail(str(exc))
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
    ctx.meta[PROVIDER_FACTORY] = get_provider
    ctx.meta[calendar_cli.AFTER_LOAD] = recompute_deadlines  # a loaded schedule moves open cases' deadlines


@main.command("init-db")
@pass_settings
def init_db(settings: Settings) -> None:
    """建立或升级数据库结构（可重复运行）— create or upgrade the schema (idempotent); DATABASE_URL 指定数据库。"""
    from callback.migrate import upgrade_to_head

    upgrade_to_head(settings.database_url)
    click.echo("数据库已就绪 (schema up to date)")


FEATURES = (
    ledger_cli, evaluator_cli, halls_cli, calendar_cli, draws_cli, rectification_cli, cli_report, cli_publish,
    assessment_cli, cli_deadlines, retention_cli, calls, sms, demo,
    responses_cli, accounts_cli,
)
for _feature in FEATURES:
    for _command in _feature.COMMANDS:
        main.add_command(_command)
