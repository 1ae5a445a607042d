"""`callback users create|list|disable|enable|set-password`: console accounts from the command line (the first
supervisor or administrator is created here; later ones may be made on the console's users page).

A password is never a command-line argument (it would sit in the shell history and the process list): it is read
twice at a hidden prompt, or from standard input when that is not a terminal (first line; a second line, when
given, must repeat it) — ``printf '%s\\n' "$PW" | callback users create …``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select

from callback.accounts.roles import LANGUAGES, ROLE_LABELS, parse_role
from callback.accounts.services import (
    AccountError,
    NewUser,
    create_user,
    get_user,
    list_users,
    set_active,
    set_password,
)
from callback.clitools import actor_option, echo_json, fail, pass_settings
from callback.config import Settings
from callback.db import transaction
from callback.halls.cli import hall_transaction
from callback.halls.services import UnknownHall, get_hall
from callback.models import Hall, User, Window
from survey.privacy import mask_phone

ROLE_HELP = "角色：" + "、".join(f"{role.value}（{label}）" for role, label in ROLE_LABELS.items())


def now() -> datetime:
    """The CLI's clock (tests replace it)."""
    return datetime.now(UTC)


def read_password(prompt: str = "密码 (password)") -> str:
    """The new password, twice at a hidden prompt, or from standard input when it is not a terminal."""
    if sys.stdin is not None and not sys.stdin.isatty():
        lines = sys.stdin.read().splitlines()
        if not lines or not lines[0]:
            fail("未从标准输入读到密码 (no password on standard input)")
        if len(lines) > 1 and lines[1] != lines[0]:
            fail("两次输入的密码不一致 (the passwords differ)")
        return lines[0]
    return click.prompt(prompt, hide_input=True, confirmation_prompt="再次输入密码 (again)")


@click.group("users")
def users() -> None:
    """监督工作台账号：新建、列出、停用、启用、重设密码。Console accounts."""


@users.command("create")
@click.option("--username", required=True, help="登录用户名（字母、数字、. _ -）")
@click.option("--role", "role_name", required=True, help=ROLE_HELP)
@click.option("--hall", "hall_code", default=None, help="中心代码（默认 DEFAULT_HALL）")
@click.option("--window", default=None, help="窗口名称（窗口负责人、窗口人员必填）")
@click.option("--staff", default=None, help="工作人员姓名（窗口人员账号对应的人员，可选）")
@click.option("--name", "display_name", default=None, help="显示的姓名（默认同用户名）")
@click.option("--phone", default=None, help="座机或手机，专人回访时先呼叫此号（打码显示）")
@click.option("--language", default="zh-Hans", show_default=True, help="界面语言：" + "、".join(LANGUAGES))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@actor_option
@pass_settings
def create(settings: Settings, username: str, role_name: str, hall_code: str | None, window: str | None,
           staff: str | None, display_name: str | None, phone: str | None, language: str, as_json: bool,
           actor: str) -> None:
    """新建账号；密码从隐藏提示（输入两次）或标准输入读取。Create a console account."""
    try:
        role = parse_role(role_name)
    except ValueError as exc:
        fail(str(exc))
    _known_hall(settings, hall_code)
    password = read_password()
    new = NewUser(username=username, password=password, role=role, display_name=display_name, window=window,
                  staff=staff, desk_phone=phone, language=language)
    try:
        with hall_transaction(settings, hall_code) as (session, hall):
            payload = user_summary(create_user(session, hall, new, actor=actor, at=now()), hall)
    except AccountError as exc:
        fail(f"未新建账号：{exc}")
    if as_json:
        echo_json(payload)
    else:
        click.echo(f"已新建账号 {payload['username']}（{payload['display_name']}，{payload['role_label']}，"
                   f"{payload['hall']}）；登录：callback serve 后打开 /console/")


def _known_hall(settings: Settings, hall_code: str | None) -> None:
    """Refuse an unknown hall before asking for a password."""
    with transaction(settings.database_url) as session:
        try:
            get_hall(session, hall_code or settings.default_hall)
        except UnknownHall as exc:
            fail(f"{exc}；请先用 callback hall set CODE --name 名称 建立中心，或导入受理台账")


@users.command("list")
@click.option("--hall", "hall_code", default=None, help="只列出该中心的账号（默认全部）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@pass_settings
def list_command(settings: Settings, hall_code: str | None, as_json: bool) -> None:
    """列出账号（电话打码）。List console accounts (phones masked)."""
    with transaction(settings.database_url) as session:
        hall = None
        if hall_code:
            try:
                hall = get_hall(session, hall_code)
            except UnknownHall as exc:
                fail(str(exc))
        halls = {h.id: h for h in session.scalars(select(Hall))}
        rows = [user_summary(u, halls[u.hall_id], _window_name(session, u)) for u in list_users(session, hall)]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(_line(row, ZoneInfo(settings.timezone)))
    if not rows:
        click.echo("还没有账号：用 callback users create --role supervisor --username 用户名 新建")


@users.command("disable")
@click.argument("username")
@actor_option
@pass_settings
def disable(settings: Settings, username: str, actor: str) -> None:
    """停用账号（不能再登录，已登录的会话随即失效）。Disable an account."""
    _set_active(settings, username, False, actor)


@users.command("enable")
@click.argument("username")
@actor_option
@pass_settings
def enable(settings: Settings, username: str, actor: str) -> None:
    """重新启用已停用的账号。Enable a disabled account."""
    _set_active(settings, username, True, actor)


def _set_active(settings: Settings, username: str, active: bool, actor: str) -> None:
    with transaction(settings.database_url) as session:
        user = _existing(session, username)
        changed = set_active(session, user, active, actor=actor, at=now())
    word = "启用" if active else "停用"
    click.echo(f"已{word}账号 {user.username}" if changed else f"账号 {user.username} 已是{word}状态，未作改动")


@users.command("set-password")
@click.argument("username")
@actor_option
@pass_settings
def set_password_command(settings: Settings, username: str, actor: str) -> None:
    """重设密码（并解除锁定）；密码从隐藏提示或标准输入读取。Set a new password."""
    with transaction(settings.database_url) as session:
        _existing(session, username)
    password = read_password("新密码 (new password)")
    try:
        with transaction(settings.database_url) as session:
            user = _existing(session, username)
            set_password(session, user, password, actor=actor, at=now())
    except AccountError as exc:
        fail(f"未修改密码：{exc}")
    click.echo(f"已重设账号 {user.username} 的密码；该账号已登录的会话随即失效")


def _existing(session: Any, username: str) -> User:
    user = get_user(session, username)
    if user is None:
        fail(f"没有用户名为 {username} 的账号 (unknown user)")
    return user


def _window_name(session: Any, user: User) -> str | None:
    return session.get(Window, user.window_id).name if user.window_id else None


def user_summary(user: User, hall: Hall, window: str | None = None) -> dict[str, Any]:
    """An account as the CLI shows it: the desk phone masked, never the hash."""
    return {
        "username": user.username, "display_name": user.display_name, "role": user.role,
        "role_label": ROLE_LABELS.get(user.role, user.role), "hall": hall.code, "window": window,
        "desk_phone": mask_phone(user.desk_phone) if user.desk_phone else None, "language": user.language,
        "active": user.active, "locked_until": user.locked_until, "last_login_at": user.last_login_at,
    }


def _line(row: dict[str, Any], tz: ZoneInfo) -> str:
    state = "启用" if row["active"] else "已停用"
    window = f"  窗口 {row['window']}" if row["window"] else ""
    last = row["last_login_at"].astimezone(tz).strftime("%Y-%m-%d %H:%M") if row["last_login_at"] else "从未登录"
    return (f"{row['username']}  {row['display_name']}  {row['role_label']}  {row['hall']}{window}  "
            f"电话 {row['desk_phone'] or '—'}  {state}  最近登录 {last}")


COMMANDS = [users]
