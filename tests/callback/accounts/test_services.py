"""Account services on both backends: scrypt hashes, the checks a new account passes, the login throttle and the
audit trail it writes (callback.accounts.services)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callback.accounts.roles import Role
from callback.accounts.services import (
    AccountError,
    LoginOutcome,
    LoginPolicy,
    NewUser,
    authenticate,
    create_user,
    normalise_desk_phone,
    set_active,
    set_password,
    window_scope,
)
from callback.models import AuditEvent, Staff, User
from tests.factories import make_hall, make_window

AT = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
POLICY = LoginPolicy(max_failures=3, lock=timedelta(minutes=10), ip_max_failures=6)
PASSWORD = "a-good-pass-1"


def _new(username: str = "zhang", role: Role = Role.SUPERVISOR, **kw: object) -> NewUser:
    return NewUser(username=username, password=kw.pop("password", PASSWORD), role=role, **kw)  # type: ignore[arg-type]


@pytest.fixture
def hall(session: Session):  # noqa: ANN201
    hall = make_hall(session, "WF01")
    make_window(session, hall, "税务窗口")
    make_window(session, make_hall(session, "OTHER"), "外中心窗口")
    session.commit()
    return hall


def test_the_password_is_stored_only_as_a_scrypt_hash(session: Session, hall) -> None:  # noqa: ANN001
    user = create_user(session, hall, _new(), actor="tests", at=AT)
    session.commit()
    stored = session.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored.startswith("scrypt:") and PASSWORD not in stored
    other = create_user(session, hall, _new("li"), actor="tests", at=AT)
    assert other.password_hash != stored  # salted


def test_a_window_lead_belongs_to_a_window_of_their_hall(session: Session, hall) -> None:  # noqa: ANN001
    lead = create_user(session, hall, _new("lead", Role.WINDOW_LEAD, window="税务窗口"), actor="tests", at=AT)
    assert lead.window_id is not None and window_scope(lead) == lead.window_id
    supervisor = create_user(session, hall, _new(), actor="tests", at=AT)
    assert window_scope(supervisor) is None
    with pytest.raises(AccountError, match="本中心没有名为「外中心窗口」的窗口"):
        create_user(session, hall, _new("x1", Role.WINDOW_LEAD, window="外中心窗口"), actor="tests", at=AT)


def test_the_database_refuses_a_window_of_another_hall(session: Session, hall) -> None:  # noqa: ANN001
    lead = create_user(session, hall, _new("lead", Role.WINDOW_LEAD, window="税务窗口"), actor="tests", at=AT)
    session.commit()
    foreign = session.scalar(select(Staff.id).limit(1))
    assert foreign is None
    from callback.models import Window

    lead.window_id = session.scalar(select(Window.id).where(Window.name == "外中心窗口"))
    with pytest.raises(IntegrityError):
        session.commit()


def test_a_staff_account_may_name_its_staff_member(session: Session, hall) -> None:  # noqa: ANN001
    session.add(Staff(hall_id=hall.id, name="王五"))
    session.flush()
    staff = create_user(session, hall, _new("wang", Role.STAFF, window="税务窗口", staff="王五"), actor="t", at=AT)
    assert staff.staff_id is not None
    with pytest.raises(AccountError, match="工作人员"):
        create_user(session, hall, _new("zhao", Role.STAFF, window="税务窗口", staff="赵六"), actor="t", at=AT)


@pytest.mark.parametrize(("raw", "e164"), [("0536-8881234", "+865368881234"), ("13812345678", "+8613812345678"),
                                           ("+86 10 6552 9988", "+861065529988"), ("", None), (None, None)])
def test_desk_phones_are_stored_as_e164(raw: str | None, e164: str | None) -> None:
    assert normalise_desk_phone(raw) == e164


def test_the_creation_is_audited_without_the_password(session: Session, hall) -> None:  # noqa: ANN001
    user = create_user(session, hall, _new(), actor="张三 (cli:root)", at=AT)
    session.commit()
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "user_created"))
    assert (event.entity, event.entity_id, event.actor, event.hall_id, event.user_id) == (
        "user", user.id, "张三 (cli:root)", hall.id, None)
    assert PASSWORD not in str(event.detail) and event.detail["role"] == "supervisor"


def _login(session: Session, username: str, password: str, at: datetime, ip: str = "192.0.2.1"):  # noqa: ANN202
    result = authenticate(session, username, password, ip=ip, at=at, policy=POLICY)
    session.commit()
    return result


def test_a_right_password_logs_in_and_records_the_time(session: Session, hall) -> None:  # noqa: ANN001
    user = create_user(session, hall, _new(), actor="t", at=AT)
    result = _login(session, "ZHANG", PASSWORD, AT)  # usernames are case-insensitive
    assert result.ok and result.user is user and user.last_login_at == AT


def test_failures_in_a_row_lock_the_account_until_the_lock_ends(session: Session, hall) -> None:  # noqa: ANN001
    user = create_user(session, hall, _new(), actor="t", at=AT)
    outcomes = [_login(session, "zhang", "wrong", AT).outcome for _ in range(3)]
    assert outcomes == [LoginOutcome.BAD_CREDENTIALS] * 2 + [LoginOutcome.LOCKED]
    assert user.locked_until == AT + timedelta(minutes=10)
    during = _login(session, "zhang", PASSWORD, AT + timedelta(minutes=9))
    assert during.outcome is LoginOutcome.LOCKED and during.retry_after == user.locked_until
    assert _login(session, "zhang", PASSWORD, AT + timedelta(minutes=10, seconds=1)).ok
    assert user.failed_logins == 0 and user.locked_until is None


def test_an_unknown_user_and_a_disabled_one_fail_like_a_wrong_password(session: Session, hall) -> None:  # noqa: ANN001
    user = create_user(session, hall, _new(), actor="t", at=AT)
    set_active(session, user, False, actor="t", at=AT)
    assert _login(session, "zhang", PASSWORD, AT).outcome is LoginOutcome.BAD_CREDENTIALS
    assert _login(session, "nobody", PASSWORD, AT).outcome is LoginOutcome.BAD_CREDENTIALS
    reasons = [e.detail["reason"] for e in session.scalars(
        select(AuditEvent).where(AuditEvent.action == "login_failed").order_by(AuditEvent.id))]
    assert reasons == ["disabled", "unknown_user"]


def test_an_address_is_refused_after_its_failures_and_free_again_later(session: Session, hall) -> None:  # noqa: ANN001
    create_user(session, hall, _new(), actor="t", at=AT)
    for n in range(6):
        assert _login(session, f"guess{n}", "wrong", AT, ip="203.0.113.5").outcome is LoginOutcome.BAD_CREDENTIALS
    refused = _login(session, "zhang", PASSWORD, AT, ip="203.0.113.5")
    assert refused.outcome is LoginOutcome.ADDRESS_THROTTLED
    assert _login(session, "zhang", PASSWORD, AT, ip="198.51.100.1").ok  # another address
    assert _login(session, "zhang", PASSWORD, AT + timedelta(minutes=11), ip="203.0.113.5").ok


def test_set_password_unlocks_and_checks_the_new_one(session: Session, hall) -> None:  # noqa: ANN001
    user = create_user(session, hall, _new(), actor="t", at=AT)
    for _ in range(3):
        _login(session, "zhang", "wrong", AT)
    with pytest.raises(AccountError, match="密码须为 10–128 个字符"):
        set_password(session, user, "short", actor="t", at=AT)
    set_password(session, user, "another-pass-2", actor="t", at=AT)
    assert user.locked_until is None
    assert _login(session, "zhang", "another-pass-2", AT).ok


@pytest.mark.parametrize(("new", "message"), [
    (_new("a"), "用户名须为 2–40 个字母"),
    (_new("zhang san"), "用户名须为 2–40 个字母"),
    (_new(display_name="x" * 41), "姓名须为不超过 40 个字符"),
    (_new(display_name="张\n三"), "姓名须为不超过 40 个字符"),
    (_new(password="short"), "密码须为 10–128 个字符"),
    (_new(password="1111111111"), "密码过于简单"),
    (_new(language="fr"), "界面语言须为 zh-Hans、zh-Hant、en 之一"),
    (_new(role=Role.WINDOW_LEAD), "须指定窗口"),
    (_new(window="税务窗口"), "只有窗口负责人和窗口人员关联窗口"),
    (_new(desk_phone="12345"), "座机/手机号码无效"),
])
def test_a_bad_account_is_refused_in_one_line(session: Session, hall, new: NewUser, message: str) -> None:  # noqa: ANN001
    with pytest.raises(AccountError, match=message):
        create_user(session, hall, new, actor="t", at=AT)


def test_a_username_is_unique_whatever_its_case(session: Session, hall) -> None:  # noqa: ANN001
    create_user(session, hall, _new(), actor="t", at=AT)
    with pytest.raises(AccountError, match="用户名 Zhang 已被使用"):
        create_user(session, hall, _new("Zhang"), actor="t", at=AT)
