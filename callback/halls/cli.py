"""`callback hall set|show|list`: name a hall (the IVR, SMS and board say it) and see its windows and staff;
`callback hall alerts add|list|remove`: the supervisors who receive its alerts; and `hall_transaction`, the hall
a command of any feature is about."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click
from sqlalchemy.orm import Session

from callback.clitools import actor_option, echo_json, fail, pass_settings
from callback.config import Settings
from callback.db import transaction
from callback.halls.services import (
    HallNameError,
    UnknownHall,
    get_hall,
    hall_overview,
    list_halls,
    set_hall_name,
)
from callback.halls.windows import WindowRoleError, set_window_role, window_roles
from callback.models import Hall
from callback.models.ledger import WINDOW_ROLES
from callback.rectification.alerts import (
    AlertConfigError,
    add_recipient,
    list_recipients,
    recipient_summary,
    remove_recipient,
)


def now() -> datetime:
    """The CLI's clock (tests replace it)."""
    return datetime.now(UTC)


@contextmanager
def hall_transaction(settings: Settings, hall_code: str | None) -> Iterator[tuple[Session, Hall]]:
    """A transaction and the hall a command is about (DEFAULT_HALL unless given); an unknown hall exits 2."""
    with transaction(settings.database_url) as session:
        try:
            hall = get_hall(session, hall_code or settings.default_hall)
        except UnknownHall as exc:
            fail(str(exc))
        yield session, hall


@click.group("hall")
def hall() -> None:
    """政务服务中心：设置名称（语音回访、短信和公示屏使用），查看窗口和经办人。"""


@hall.command("set")
@click.argument("code")
@click.option("--name", required=True, help="中心名称，例如 潍坊高新区政务服务中心（来电问候、短信签名和公示屏显示）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@actor_option
@pass_settings
def set_name(settings: Settings, code: str, name: str, as_json: bool, actor: str) -> None:
    """设置中心名称；中心代码尚不存在时新建该中心。Name a hall (created if new)."""
    try:
        with transaction(settings.database_url) as session:
            result = set_hall_name(session, code, name, now(), actor=actor)
            payload = {"code": result.hall.code, "name": result.hall.name, "previous_name": result.previous,
                       "created": result.created, "changed": result.changed}
    except HallNameError as exc:
        fail(f"未设置：{exc}")
    if as_json:
        echo_json(payload)
    elif payload["created"]:
        click.echo(f"已新建中心 {payload['code']}：{payload['name']}")
    elif payload["changed"]:
        click.echo(f"已将 {payload['code']} 的名称由「{payload['previous_name']}」改为「{payload['name']}」"
                   "（语音回访问候、短信签名和公示屏即时使用新名称）")
    else:
        click.echo(f"{payload['code']} 的名称已是「{payload['name']}」，未作改动")


@hall.command("show")
@click.argument("code", required=False)
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@pass_settings
def show(settings: Settings, code: str | None, as_json: bool) -> None:
    """显示中心名称、窗口和各窗口经办人（默认 DEFAULT_HALL）。Show a hall, its windows and staff."""
    with hall_transaction(settings, code) as (session, found):
        payload = hall_overview(session, found)
    if as_json:
        echo_json(payload)
    else:
        print_hall(payload)


@hall.command("list")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@pass_settings
def list_command(settings: Settings, as_json: bool) -> None:
    """列出所有中心（代码和名称）。List every hall."""
    with transaction(settings.database_url) as session:
        rows = [{"code": h.code, "name": h.name} for h in list_halls(session)]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['code']}  {row['name']}")
    if not rows:
        click.echo("还没有任何中心：用 callback hall set CODE --name 名称 新建，或导入台账")


def print_hall(payload: dict[str, Any]) -> None:
    windows = payload["windows"]
    click.echo(f"{payload['code']}  {payload['name']}（时区 {payload['timezone']}）")
    click.echo(f"窗口 {len(windows)} 个，经办人 {payload['staff_count']} 人（一人可在多个窗口办件）")
    for window in windows:
        click.echo(f"  {window['name']}：{'、'.join(window['staff']) or '—'}")
    if payload["unassigned_staff"]:
        click.echo(f"  （未登记窗口）：{'、'.join(payload['unassigned_staff'])}")


@hall.command("window-role")
@click.argument("window", required=False)
@click.option("--role", type=click.Choice(list(WINDOW_ROLES)), default=None,
              help="comprehensive（综合受理）、issuing（出件）或 other（其他）")
@click.option("--hall", "hall_code", default=None, help="中心代码（默认 DEFAULT_HALL）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@actor_option
@pass_settings
def window_role(settings: Settings, window: str | None, role: str | None, hall_code: str | None, as_json: bool,
                actor: str) -> None:
    """设置窗口类型（篇3 七9 只对综合受理、出件窗口计办件量加分）；不带参数时列出各窗口的类型。
    Set a window's role (comprehensive | issuing | other), or list them."""
    if (window is None) != (role is None):
        fail("请同时给出窗口名称和 --role（不带参数则列出各窗口类型）")
    try:
        with hall_transaction(settings, hall_code) as (session, found):
            if window is not None and role is not None:
                changed, previous = set_window_role(session, found, window, role, now(), actor=actor)
                payload: Any = {"window": changed.name, "role": role, "label": WINDOW_ROLES[role],
                                "previous": previous}
            else:
                payload = window_roles(session, found)
    except WindowRoleError as exc:
        fail(f"未设置：{exc}")
    if as_json:
        echo_json(payload)
    elif isinstance(payload, dict):
        click.echo(f"{payload['window']}：{WINDOW_ROLES[payload['previous']]} → {payload['label']}")
    else:
        for row in payload:
            click.echo(f"{row['window']}：{row['label']}（{row['role']}）")


# --- alert recipients (callback.rectification.alerts) ---------------------------------------------------------


@hall.group("alerts")
def alerts() -> None:
    """督查提醒的接收人：廉洁问题反映即时提醒，整改明日到期、超期未反馈每个工作日提醒（短信、邮件）。
    Supervisors who receive the hall's alerts."""


KINDS_HELP = "提醒类型，逗号分隔：integrity（廉洁问题）、due_tomorrow（明日到期）、overdue（超期）；默认全部"


@alerts.command("add")
@click.option("--name", required=True, help="姓名（同名则更新）[name; the same name updates]")
@click.option("--mobile", default=None, help="手机号，接收短信提醒 [mobile for SMS]")
@click.option("--email", default=None, help="电子邮箱，接收邮件提醒 [e-mail address]")
@click.option("--kinds", default=None, help=KINDS_HELP)
@click.option("--hall", "hall_code", default=None, help="中心代码（默认 DEFAULT_HALL）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@actor_option
@pass_settings
def alerts_add(settings: Settings, name: str, mobile: str | None, email: str | None, kinds: str | None,
               hall_code: str | None, as_json: bool, actor: str) -> None:
    """添加（或更新）一位提醒接收人。Add or update an alert recipient."""
    try:
        with hall_transaction(settings, hall_code) as (session, found):
            row, created = add_recipient(session, found, name=name, mobile=mobile, email=email, kinds=kinds,
                                         actor=actor)
            payload = recipient_summary(row) | {"created": created}
    except AlertConfigError as exc:
        fail(f"未保存：{exc}")
    if as_json:
        echo_json(payload)
    else:
        click.echo(f"已{'添加' if created else '更新'}提醒接收人 {_recipient_line(payload)}")


@alerts.command("list")
@click.option("--hall", "hall_code", default=None, help="中心代码（默认 DEFAULT_HALL）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@pass_settings
def alerts_list(settings: Settings, hall_code: str | None, as_json: bool) -> None:
    """列出提醒接收人（手机号打码）。List alert recipients (mobiles masked)."""
    with hall_transaction(settings, hall_code) as (session, found):
        rows = [recipient_summary(r) for r in list_recipients(session, found)]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(_recipient_line(row))
    if not rows:
        click.echo("还没有提醒接收人：提醒只写入日志。用 callback hall alerts add --name 姓名 --mobile 手机号 --email 邮箱 添加")


@alerts.command("remove")
@click.argument("recipient")
@click.option("--hall", "hall_code", default=None, help="中心代码（默认 DEFAULT_HALL）")
@actor_option
@pass_settings
def alerts_remove(settings: Settings, recipient: str, hall_code: str | None, actor: str) -> None:
    """删除提醒接收人（姓名或编号）。Remove an alert recipient (name or id)."""
    try:
        with hall_transaction(settings, hall_code) as (session, found):
            row = remove_recipient(session, found, recipient, actor=actor)
            name = row.name
    except AlertConfigError as exc:
        fail(str(exc))
    click.echo(f"已删除提醒接收人 {name}")


ALERT_KIND_LABELS = {"integrity": "廉洁问题", "due_tomorrow": "明日到期", "overdue": "超期"}


def _recipient_line(row: dict[str, Any]) -> str:
    kinds = "、".join(ALERT_KIND_LABELS.get(k, k) for k in row["kinds"])
    return f"#{row['id']} {row['name']}  短信 {row['mobile'] or '—'}  邮件 {row['email'] or '—'}  提醒：{kinds}"


COMMANDS = [hall]
