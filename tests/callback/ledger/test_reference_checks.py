"""The hall-scoped foreign keys of cases and contacts (migration 0006).

A case's (hall_id, window_id) must name a window of its hall, its (hall_id, staff_id) and (hall_id, contact_id),
when set, a staff member and a contact of its hall; a contact's hall must exist. A referenced window, staff member,
contact or hall cannot be deleted, and their keys cannot change. Both backends refuse with an IntegrityError (on
PostgreSQL SQLSTATE 23503 naming the key), and a statement with one bad row is refused whole. On PostgreSQL a
delete waits for an uncommitted writer that refers to the row, so neither side of a concurrent import and delete
can leave a dangling reference.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Executable, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callback.db import get_engine, session_factory
from callback.models import Case, Contact, Hall, Staff, Window

PHONE = "+8613812345678"
WINDOW_KEY = "fk_cases_hall_window_windows"
STAFF_KEY = "fk_cases_hall_staff_staff"
CONTACT_KEY = "fk_cases_hall_contact_contacts"
HALL_KEY = "fk_contacts_hall_id_halls"
MISSING = 10**6

_seq = itertools.count(1)


@dataclass
class Halls:
    """Two halls, each with a window, a staff member and a contact; `case` is a case of hall `a` using all three."""

    a: int
    b: int
    window_a: int
    window_b: int
    staff_a: int
    staff_b: int
    contact_a: int
    contact_b: int
    case: int


def _case_row(hall_id: int, window_id: int, staff_id: int | None = None,
              contact_id: int | None = None) -> dict[str, Any]:
    now = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    return {"hall_id": hall_id, "case_no": f"RC{next(_seq):08d}", "window_id": window_id, "staff_id": staff_id,
            "contact_id": contact_id, "phone_raw": PHONE, "phone_kind": "mobile", "accepted_at": now,
            "row_hash": "0" * 64, "created_at": now, "updated_at": now}


def _add(session: Session, model: type, **values: Any) -> int:
    return session.scalar(insert(model).values(**values).returning(model.id))


def _two_halls(session: Session) -> Halls:
    ids = []
    for code, phone in (("RA", PHONE), ("RB", "+8613900000000")):
        hall = _add(session, Hall, code=code, name=f"{code} 政务服务中心")
        ids += [hall, _add(session, Window, hall_id=hall, name=f"{code} 综合受理窗口"),
                _add(session, Staff, hall_id=hall, name=f"{code} 李四"),
                _add(session, Contact, hall_id=hall, phone=phone, kind="mobile")]
    a, window_a, staff_a, contact_a, b, window_b, staff_b, contact_b = ids
    case = _add(session, Case, **_case_row(a, window_a, staff_a, contact_a))
    session.commit()
    return Halls(a, b, window_a, window_b, staff_a, staff_b, contact_a, contact_b, case)


@pytest.fixture
def halls(session: Session) -> Halls:
    return _two_halls(session)


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """PostgreSQL only: SQLite has one writer at a time, so there is no concurrent writer to wait for."""
    from tests.conftest import _empty_pg

    _empty_pg(pg_database)
    return pg_database


def _refused(session: Session, statement: Executable, *keys: str) -> None:
    """The statement fails with an IntegrityError: on PostgreSQL a foreign_key_violation (23503) of `key`, on
    SQLite its "FOREIGN KEY constraint failed"; the database's message does not hold the citizen's phone number.
    The transaction is rolled back."""
    with pytest.raises(IntegrityError) as refused:
        session.execute(statement)
    session.rollback()
    _is_key_violation(refused.value, *keys)


def _is_key_violation(error: IntegrityError, *keys: str) -> None:
    """A foreign key refused it: on PostgreSQL one of `keys`, named by the error."""
    orig = error.orig
    if hasattr(orig, "sqlstate"):  # psycopg
        assert orig.sqlstate == "23503" and orig.diag.constraint_name in keys, str(orig)
    else:
        assert "FOREIGN KEY constraint failed" in str(orig)
    assert PHONE[3:] not in str(orig)


def _count(session: Session, model: type) -> int:
    return len(session.scalars(select(model.id)).all())


def test_a_case_with_a_window_staff_and_contact_of_its_hall_is_accepted(session: Session, halls: Halls) -> None:
    case = session.get(Case, halls.case)
    assert (case.window.id, case.window.hall_id) == (halls.window_a, halls.a)
    assert (case.contact.id, case.contact.hall_id) == (halls.contact_a, halls.a)
    assert session.scalar(select(Window.name).join(Case.window).where(Case.id == halls.case)) == "RA 综合受理窗口"


def test_a_case_without_staff_or_contact_is_accepted(session: Session, halls: Halls) -> None:
    session.execute(insert(Case).values(**_case_row(halls.b, halls.window_b)))
    session.commit()
    assert _count(session, Case) == 2


@pytest.mark.parametrize(("window", "staff", "contact", "key"), [
    ("window_b", None, None, WINDOW_KEY),  # the other hall's window
    ("missing", None, None, WINDOW_KEY),
    ("window_a", "staff_b", None, STAFF_KEY),  # the other hall's staff member
    ("window_a", "missing", None, STAFF_KEY),
    ("window_a", None, "contact_b", CONTACT_KEY),  # the other hall's contact
    ("window_a", None, "missing", CONTACT_KEY),
])
def test_a_case_referring_outside_its_hall_is_refused(
    session: Session, halls: Halls, window: str, staff: str | None, contact: str | None, key: str
) -> None:
    ids = {**vars(halls), "missing": MISSING, None: None}
    _refused(session, insert(Case).values(**_case_row(halls.a, ids[window], ids[staff], ids[contact])), key)
    assert _count(session, Case) == 1


def test_a_statement_with_one_bad_row_is_refused_whole(session: Session, halls: Halls) -> None:
    rows = [_case_row(halls.a, halls.window_a), _case_row(halls.a, halls.window_b), _case_row(halls.b, halls.window_b)]
    _refused(session, insert(Case).values(rows), WINDOW_KEY)
    assert _count(session, Case) == 1


def test_a_copy_with_one_bad_row_is_refused_whole(pg_url: str) -> None:
    import psycopg

    with session_factory(pg_url)() as session:
        halls = _two_halls(session)
        raw = session.connection().connection.driver_connection
        columns = ("hall_id", "case_no", "window_id", "staff_id", "phone_kind", "accepted_at", "row_hash",
                   "created_at", "updated_at")
        rows = [_case_row(halls.a, halls.window_a), _case_row(halls.a, halls.window_a, halls.staff_b),
                _case_row(halls.b, halls.window_b)]
        with pytest.raises(psycopg.errors.ForeignKeyViolation, match=STAFF_KEY):
            with raw.cursor() as cur, cur.copy(f"COPY cases ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
        session.rollback()
        assert _count(session, Case) == 1


@pytest.mark.parametrize(("column", "value", "keys"), [
    ("window_id", "window_b", [WINDOW_KEY]),
    ("staff_id", "staff_b", [STAFF_KEY]),
    ("contact_id", "contact_b", [CONTACT_KEY]),
    ("hall_id", "b", [WINDOW_KEY, STAFF_KEY, CONTACT_KEY]),  # its window, staff and contact are not of that hall
])
def test_updating_a_case_to_refer_outside_its_hall_is_refused(
    session: Session, halls: Halls, column: str, value: str, keys: list[str]
) -> None:
    _refused(session, update(Case).where(Case.id == halls.case).values({column: getattr(halls, value)}), *keys)
    case = session.get(Case, halls.case)
    assert (case.hall_id, case.window_id, case.staff_id, case.contact_id) == (
        halls.a, halls.window_a, halls.staff_a, halls.contact_a)


def test_an_upsert_that_moves_a_case_to_another_halls_window_is_refused(session: Session, halls: Halls) -> None:
    """INSERT … ON CONFLICT DO UPDATE: the updated row is checked too."""
    row = {**_case_row(halls.a, halls.window_b), "case_no": session.get(Case, halls.case).case_no}
    columns = ("hall_id", "case_no", "window_id", "phone_kind", "accepted_at", "row_hash", "created_at", "updated_at")
    statement = text(f"INSERT INTO cases ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)}) "
                     "ON CONFLICT (hall_id, case_no) DO UPDATE SET window_id = excluded.window_id")
    _refused(session, statement.bindparams(**{c: row[c] for c in columns}), WINDOW_KEY)
    assert session.get(Case, halls.case).window_id == halls.window_a


@pytest.mark.parametrize(("model", "referenced", "unreferenced", "key"), [
    (Window, "window_a", "window_b", WINDOW_KEY),
    (Staff, "staff_a", "staff_b", STAFF_KEY),
    (Contact, "contact_a", "contact_b", CONTACT_KEY),
])
def test_a_referenced_window_staff_member_or_contact_cannot_be_deleted(
    session: Session, halls: Halls, model: type, referenced: str, unreferenced: str, key: str
) -> None:
    _refused(session, delete(model).where(model.id == getattr(halls, referenced)), key)
    assert session.get(model, getattr(halls, referenced)) is not None
    session.execute(delete(model).where(model.id == getattr(halls, unreferenced)))
    session.commit()
    assert session.get(model, getattr(halls, unreferenced)) is None


def test_a_contact_of_a_missing_hall_is_refused(session: Session, halls: Halls) -> None:
    _refused(session, insert(Contact).values(hall_id=MISSING, phone="+8613900000000", kind="mobile"), HALL_KEY)
    assert _count(session, Contact) == 2


def test_a_hall_with_contacts_cannot_be_deleted(session: Session) -> None:
    """Bare halls: nothing but the contact refers to them, so its key alone refuses."""
    kept, gone = (_add(session, Hall, code=code, name="大厅") for code in ("H1", "H2"))
    session.execute(insert(Contact).values(hall_id=kept, phone=PHONE, kind="mobile"))
    session.commit()
    _refused(session, delete(Hall).where(Hall.id == kept), HALL_KEY)
    session.execute(delete(Hall).where(Hall.id == gone))
    session.commit()
    assert session.scalars(select(Hall.id)).all() == [kept]


@pytest.mark.parametrize(("model", "row", "column", "value", "keys"), [
    (Window, "window_a", "id", MISSING, [WINDOW_KEY]),
    (Window, "window_a", "hall_id", "b", [WINDOW_KEY]),
    (Staff, "staff_a", "id", MISSING, [STAFF_KEY]),
    (Staff, "staff_a", "hall_id", "b", [STAFF_KEY]),
    (Contact, "contact_a", "id", MISSING, [CONTACT_KEY]),
    (Contact, "contact_a", "hall_id", "b", [CONTACT_KEY]),
    (Hall, "a", "id", MISSING, [HALL_KEY, "fk_windows_hall_id_halls", "fk_staff_hall_id_halls"]),
])
def test_the_key_of_a_referenced_row_cannot_change(
    session: Session, halls: Halls, model: type, row: str, column: str, value: Any, keys: list[str]
) -> None:
    value = getattr(halls, value) if isinstance(value, str) else value
    row_id = getattr(halls, row)
    _refused(session, update(model).where(model.id == row_id).values({column: value}), *keys)
    assert session.get(model, row_id) is not None


# --- PostgreSQL: concurrent writers -------------------------------------------------------------------------


def _blocked_then_refused(url: str, first: Executable, second: Executable, key: str) -> None:
    """`first` runs and stays uncommitted; `second`, in another thread and connection, must wait for it (a
    regression that lets it through without waiting fails here), and fail on `key` once `first` commits."""
    engine = get_engine(url)
    outcome: list[BaseException | str] = []

    def run_second() -> None:
        try:
            with engine.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '20s'"))
                conn.execute(second)
            outcome.append("committed")
        except BaseException as exc:  # noqa: BLE001  reported to the test thread
            outcome.append(exc)

    # the watcher in autocommit: pg_stat_activity is a snapshot taken once per transaction
    with engine.connect() as holder, engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
        holder.execute(first)
        pid = holder.execute(text("SELECT pg_backend_pid()")).scalar()
        thread = threading.Thread(target=run_second, daemon=True)
        thread.start()
        blocked = text("SELECT EXISTS (SELECT FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid)))")
        deadline = time.monotonic() + 15
        while thread.is_alive() and not watcher.execute(blocked, {"pid": pid}).scalar():
            assert time.monotonic() < deadline, "the second writer neither waited nor finished"
            time.sleep(0.05)
        assert thread.is_alive(), f"the second writer did not wait for the first: {outcome}"
        holder.commit()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], IntegrityError), outcome
    _is_key_violation(outcome[0], key)


def test_deleting_a_window_waits_for_an_uncommitted_case_then_fails(pg_url: str) -> None:
    with session_factory(pg_url)() as session:
        halls = _two_halls(session)
    _blocked_then_refused(pg_url, insert(Case).values(**_case_row(halls.b, halls.window_b)),
                          delete(Window).where(Window.id == halls.window_b), WINDOW_KEY)
    with session_factory(pg_url)() as session:
        assert session.get(Window, halls.window_b) is not None
        assert session.scalars(select(Case.window_id).order_by(Case.id)).all() == [halls.window_a, halls.window_b]


def test_a_case_waits_for_an_uncommitted_delete_of_its_window_then_fails(pg_url: str) -> None:
    with session_factory(pg_url)() as session:
        halls = _two_halls(session)
    _blocked_then_refused(pg_url, delete(Window).where(Window.id == halls.window_b),
                          insert(Case).values(**_case_row(halls.b, halls.window_b)), WINDOW_KEY)
    with session_factory(pg_url)() as session:
        assert session.get(Window, halls.window_b) is None
        assert _count(session, Case) == 1


def test_deleting_a_contact_waits_for_an_uncommitted_case_then_fails(pg_url: str) -> None:
    with session_factory(pg_url)() as session:
        halls = _two_halls(session)
    _blocked_then_refused(pg_url,
                          insert(Case).values(**_case_row(halls.b, halls.window_b, contact_id=halls.contact_b)),
                          delete(Contact).where(Contact.id == halls.contact_b), CONTACT_KEY)
    with session_factory(pg_url)() as session:
        assert session.scalars(select(Case.contact_id).order_by(Case.id)).all() == [halls.contact_a, halls.contact_b]


def test_deleting_a_hall_waits_for_an_uncommitted_contact_then_fails(pg_url: str) -> None:
    with session_factory(pg_url)() as session:
        hall = _add(session, Hall, code="H1", name="大厅")
        session.commit()
    _blocked_then_refused(pg_url, insert(Contact).values(hall_id=hall, phone=PHONE, kind="mobile"),
                          delete(Hall).where(Hall.id == hall), HALL_KEY)
    with session_factory(pg_url)() as session:
        assert session.scalars(select(Contact.hall_id)).all() == [hall]
