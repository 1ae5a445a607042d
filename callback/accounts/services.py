"""Console accounts: creating and changing users, checking a login with its throttle, and the audit trail of both
(issue 14 §1; the table is callback/models/accounts.py).

Like every feature service, these take a session, the time and who acts, and never commit: the caller (the CLI's
transaction, the console's request) owns the transaction.

* Passwords are stored as werkzeug scrypt hashes only (memory-hard, salted); never logged, never an argument.
* A login is refused, without looking at the password, while the account is locked or the address has failed
  too often lately; ``policy.max_failures`` wrong passwords in a row lock the account for ``policy.lock``. Every
  attempt is an audit event (``login``, ``login_failed``, ``login_refused``, ``account_locked``) carrying the
  address; the per-address count reads those events, so it holds across processes with no other store.
* An unknown username fails exactly like a wrong password (same message, same hashing time), and the name typed is
  not recorded (it may be a password typed into the wrong field).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from callback.accounts.roles import LANGUAGES, N_, WINDOW_ROLES, Role
from callback.config import Settings
from callback.models import AuditEvent, Hall, Staff, User, Window
from callback.models.accounts import DEFAULT_LANGUAGE

HASH_METHOD = "scrypt"
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,39}")
PASSWORD_MIN = 10
PASSWORD_MAX = 128
NAME_MAX = 40
ENTITY = "user"


@cache
def _dummy_hash() -> str:
    """Checked against when the username is unknown, so that case takes as long as a wrong password (made on
    first use: every `callback` command imports this module)."""
    return generate_password_hash("not-a-real-password", method=HASH_METHOD)


class AccountError(ValueError):
    """Input an account cannot be created or changed with. ``str()`` is one line, Chinese first (the CLI prints
    it); ``message_id`` and ``params`` let the console show it in the user's language."""

    def __init__(self, message_id: str, **params: Any) -> None:
        super().__init__(message_id % params if params else message_id)
        self.message_id = message_id
        self.params = params


@dataclass(frozen=True)
class LoginPolicy:
    """The login throttle (Settings LOGIN_*): failures in a row before an account locks, for how long, and
    failures from one address within that time before the address is refused."""

    max_failures: int = 5
    lock: timedelta = timedelta(minutes=15)
    ip_max_failures: int = 20

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginPolicy:
        return cls(settings.login_max_failures, timedelta(minutes=settings.login_lock_minutes),
                   settings.login_ip_max_failures)


class LoginOutcome(StrEnum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"  # unknown user, wrong password or a disabled account: one message
    LOCKED = "locked"  # the account is locked (too many failures)
    ADDRESS_THROTTLED = "address_throttled"  # too many failures from this address


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    user: User | None = None
    retry_after: datetime | None = None  # when a locked or throttled login may be tried again

    @property
    def ok(self) -> bool:
        return self.outcome is LoginOutcome.OK


# --- the audit trail ------------------------------------------------------------------------------------------------


def actor_of(user: User) -> str:
    """How a console user is named in ``audit_events.actor``: ``张三 (console:zhangsan)``."""
    return f"{user.display_name} (console:{user.username})"


def record_audit(session: Session, *, action: str, entity: str, entity_id: int | None, at: datetime,
                 actor: str, hall_id: int | None, user_id: int | None = None, ip: str | None = None,
                 detail: dict[str, Any] | None = None) -> AuditEvent:
    """Add one audit event (not committed). The console's ``audit()`` helper fills in who and where."""
    event = AuditEvent(hall_id=hall_id, at=at, actor=actor[:100], entity=entity, entity_id=entity_id,
                       action=action, detail=detail or {}, user_id=user_id, ip=(ip or None) and ip[:45])
    session.add(event)
    return event


def _audit_user(session: Session, user: User, action: str, at: datetime, actor: str, *, by: User | None,
                ip: str | None = None, **detail: Any) -> None:
    """An event about ``user``; ``by`` is the console account that acted (None from the command line)."""
    record_audit(session, action=action, entity=ENTITY, entity_id=user.id, at=at, actor=actor,
                 hall_id=user.hall_id, user_id=by.id if by is not None else None, ip=ip,
                 detail={"username": user.username, **detail})


# --- creating and changing users ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewUser:
    """What ``create_user`` needs besides the hall: window and staff by name, as an administrator types them."""

    username: str
    password: str
    role: Role
    display_name: str | None = None
    window: str | None = None
    staff: str | None = None
    desk_phone: str | None = None
    language: str = DEFAULT_LANGUAGE


def create_user(session: Session, hall: Hall, new: NewUser, *, actor: str, at: datetime,
                by: User | None = None, ip: str | None = None) -> User:
    """A new active account in ``hall``; AccountError for a taken or malformed username, a weak password, a
    window lead or staff account without a window of this hall, a bad phone number or language. Audited
    (``user_created``)."""
    username = check_username(session, new.username)
    window_id, staff_id = _placement(session, hall, new)
    user = User(hall_id=hall.id, username=username, password_hash=hash_password(new.password),
                display_name=check_display_name(new.display_name or username), role=new.role.value,
                window_id=window_id, staff_id=staff_id, desk_phone=normalise_desk_phone(new.desk_phone),
                language=check_language(new.language), active=True, failed_logins=0, created_at=at, updated_at=at)
    session.add(user)
    session.flush()
    _audit_user(session, user, "user_created", at, actor, by=by, ip=ip, role=user.role,
                window_id=window_id)
    return user


def check_username(session: Session, username: str) -> str:
    name = username.strip()
    if not USERNAME.fullmatch(name):
        raise AccountError(N_("用户名须为 2–40 个字母、数字或 . _ -，以字母或数字开头 (username: 2–40 of A-Z a-z 0-9 . _ -)"))
    if session.scalar(select(User.id).where(func.lower(User.username) == name.lower())) is not None:
        raise AccountError(N_("用户名 %(name)s 已被使用 (username taken)"), name=name)
    return name


def check_display_name(name: str) -> str:
    text = name.strip()
    if not text or len(text) > NAME_MAX or not text.isprintable():
        raise AccountError(N_("姓名须为不超过 %(max)d 个字符的一行文字 (display name: one line, at most %(max)d)"), max=NAME_MAX)
    return text


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise AccountError(N_("界面语言须为 %(choices)s 之一 (language)"), choices="、".join(LANGUAGES))
    return language


def check_password(password: str) -> str:
    if len(password) < PASSWORD_MIN or len(password) > PASSWORD_MAX:
        raise AccountError(N_("密码须为 %(min)d–%(max)d 个字符 (password: %(min)d–%(max)d characters)"), min=PASSWORD_MIN,
                           max=PASSWORD_MAX)
    if len(set(password)) < 4:
        raise AccountError(N_("密码过于简单，请至少使用 4 个不同的字符 (password too simple)"))
    return password


def hash_password(password: str) -> str:
    """The scrypt hash stored for ``password`` (after the length and variety checks)."""
    return generate_password_hash(check_password(password), method=HASH_METHOD)


def normalise_desk_phone(raw: str | None) -> str | None:
    """A desk phone as E.164 (+8653612345678); mainland numbers may be written without +86. None when empty."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise AccountError(N_("座机/手机号码无效，请含区号填写，例如 0536-1234567 (invalid desk phone)"))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _placement(session: Session, hall: Hall, new: NewUser) -> tuple[int | None, int | None]:
    """The window (and staff row) a window lead or staff account belongs to; other roles belong to none."""
    if new.role not in WINDOW_ROLES:
        if new.window or new.staff:
            raise AccountError(N_("只有窗口负责人和窗口人员关联窗口 (only window leads and staff have a window)"))
        return None, None
    if not new.window:
        raise AccountError(N_("窗口负责人和窗口人员须指定窗口 (a window is required for this role)"))
    window = session.scalar(select(Window).where(Window.hall_id == hall.id, Window.name == new.window.strip()))
    if window is None:
        raise AccountError(N_("本中心没有名为「%(name)s」的窗口 (unknown window)"), name=new.window.strip())
    return window.id, _staff_id(session, hall, new)


def _staff_id(session: Session, hall: Hall, new: NewUser) -> int | None:
    if not new.staff:
        return None
    staff = session.scalar(select(Staff).where(Staff.hall_id == hall.id, Staff.name == new.staff.strip()))
    if staff is None:
        raise AccountError(N_("本中心没有名为「%(name)s」的工作人员 (unknown staff member)"), name=new.staff.strip())
    return staff.id


def set_password(session: Session, user: User, password: str, *, actor: str, at: datetime,
                 by: User | None = None, ip: str | None = None) -> None:
    """Replace the password (AccountError if too weak); unlocks the account. The console's sessions of this
    user end, since a session is bound to the hash (callback.web.console.auth)."""
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.updated_at = at
    _audit_user(session, user, "password_set", at, actor, by=by, ip=ip)


def set_active(session: Session, user: User, active: bool, *, actor: str, at: datetime,
               by: User | None = None, ip: str | None = None) -> bool:
    """Disable or enable an account (a disabled one cannot log in; its open sessions end at their next request).
    Returns whether anything changed; audited (``user_disabled`` / ``user_enabled``) when it did."""
    if user.active == active:
        return False
    user.active = active
    user.updated_at = at
    _audit_user(session, user, "user_enabled" if active else "user_disabled", at, actor, by=by, ip=ip)
    return True


def set_language(session: Session, user: User, language: str, *, at: datetime, by: User | None = None,
                 ip: str | None = None) -> bool:
    """The language the console speaks to ``user`` (AccountError for an unknown one); whether it changed."""
    if check_language(language) == user.language:
        return False
    previous, user.language, user.updated_at = user.language, language, at
    actor = actor_of(by) if by is not None else "system"
    _audit_user(session, user, "language_set", at, actor, by=by, ip=ip, old=previous, new=language)
    return True


def check_own_password(user: User, password: str) -> bool:
    """Whether ``password`` is the user's current one (a password change asks for it first)."""
    return check_password_hash(user.password_hash, password)


def get_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))


def list_users(session: Session, hall: Hall | None = None) -> list[User]:
    """Every account (of ``hall`` when given), by hall and username."""
    query = select(User).order_by(User.hall_id, User.username)
    if hall is not None:
        query = query.where(User.hall_id == hall.id)
    return list(session.scalars(query))


def window_scope(user: User) -> int | None:
    """The one window a user sees (window leads and staff), or None: the whole hall."""
    return user.window_id if Role(user.role) in WINDOW_ROLES else None


# --- logging in and out -------------------------------------------------------------------------------------------


def authenticate(session: Session, username: str, password: str, *, ip: str | None, at: datetime,
                 policy: LoginPolicy) -> LoginResult:
    """Check a login and apply the throttle; every attempt is audited. The caller commits either way (a failure
    must be counted)."""
    user = get_user(session, username) if username.strip() else None
    refused = _refusal(session, user, ip, at, policy)
    if refused is not None:
        _audit_attempt(session, user, "login_refused", at, ip, reason=refused.outcome.value)
        return refused
    if user is None:
        check_password_hash(_dummy_hash(), password)
        _audit_attempt(session, None, "login_failed", at, ip, reason="unknown_user")
        return LoginResult(LoginOutcome.BAD_CREDENTIALS)
    if not check_password_hash(user.password_hash, password) or not user.active:
        return _failed(session, user, at, ip, policy)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, at
    _audit_attempt(session, user, "login", at, ip)
    return LoginResult(LoginOutcome.OK, user)


def _refusal(session: Session, user: User | None, ip: str | None, at: datetime,
             policy: LoginPolicy) -> LoginResult | None:
    if user is not None and user.locked_until is not None and user.locked_until > at:
        return LoginResult(LoginOutcome.LOCKED, retry_after=user.locked_until)
    if ip and recent_address_failures(session, ip, at - policy.lock) >= policy.ip_max_failures:
        return LoginResult(LoginOutcome.ADDRESS_THROTTLED, retry_after=at + policy.lock)
    return None


def recent_address_failures(session: Session, ip: str, since: datetime) -> int:
    """Failed and refused logins from ``ip`` since ``since`` (the audit trail is the counter)."""
    return session.scalar(
        select(func.count()).select_from(AuditEvent)
        .where(AuditEvent.ip == ip, AuditEvent.at >= since,
               AuditEvent.action.in_(("login_failed", "login_refused")))
    ) or 0


def _failed(session: Session, user: User, at: datetime, ip: str | None, policy: LoginPolicy) -> LoginResult:
    reason = "wrong_password" if user.active else "disabled"
    user.failed_logins += 1
    _audit_attempt(session, user, "login_failed", at, ip, reason=reason, failures=user.failed_logins)
    if user.failed_logins < policy.max_failures:
        return LoginResult(LoginOutcome.BAD_CREDENTIALS)
    user.failed_logins, user.locked_until = 0, at + policy.lock
    _audit_attempt(session, user, "account_locked", at, ip, until=user.locked_until.isoformat())
    return LoginResult(LoginOutcome.LOCKED, retry_after=user.locked_until)


def _audit_attempt(session: Session, user: User | None, action: str, at: datetime, ip: str | None,
                   **detail: Any) -> None:
    if user is None:
        record_audit(session, action=action, entity=ENTITY, entity_id=None, at=at, actor="console:anonymous",
                     hall_id=None, ip=ip, detail=detail)
        return
    _audit_user(session, user, action, at, actor_of(user), by=user, ip=ip, **detail)


def record_logout(session: Session, user: User, *, at: datetime, ip: str | None, reason: str = "logout") -> None:
    """Audit the end of a session: ``logout`` (the user asked) or ``session_expired`` (idle too long)."""
    _audit_user(session, user, reason, at, actor_of(user), by=user, ip=ip)
