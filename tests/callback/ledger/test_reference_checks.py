"""The hall-scoped references that migration 0003 checks with triggers instead of foreign keys.

A case's (hall_id, window_id) must name a window of its hall, its (hall_id, staff_id) and (hall_id, contact_id),
when set, a staff member and a contact of its hall; a contact's hall must exist; a referenced window, staff member,
contact or hall cannot be deleted, and their keys cannot change. PostgreSQL checks once per statement (so a statement with one bad row fails whole), SQLite row by
row; both raise an IntegrityError. On PostgreSQL a delete also waits for the uncommitted writers of the referencing
table, so neither side of a concurrent import and delete can leave a dangling reference.
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
WINDOW_RULE = "is not a window of that hall"
STAFF_RULE = "is not a staff member of that hall"
CONTACT_RULE = "is not a contact of that hall"
HALL_RULE = "hall .*does not exist"

_seq = itertools.count(1)


@dataclass
class Halls:
    """Two halls, each with a window and a staff member; `case` is a case of hall `a` using both."""

    a: int
    b: int
    window_a: int
    window_b: int
    staff_a: int
    staff_b: int
    case: int


def _case_row(hall_id: int, window_id: int, staff_id: int | None = None) -> dict[str, Any]:
    now = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    return {"hall_id": hall_id, "case_no": f"RC{next(_seq):08d}", "window_id": window_id, "staff_id": staff_id,
            "phone_raw": PHONE, "phone_kind": "mobile", "accepted_at": now, "row_hash": "0" * 64,
            "created_at": now, "updated_at": now}


def _add(session: Session, model: type, **values: Any) -> int:
    return session.scalar(insert(model).values(**values).returning(model.id))


def _two_halls(session: Session) -> Halls:
    ids = []
    for code in ("RA", "RB"):
        hall = _add(session, Hall, code=code, name=f"{code} 政务服务中心")
        ids += [hall, _add(session, Window, hall_id=hall, name=f"{code} 综合受理窗口"),
                _add(session, Staff, hall_id=hall, name=f"{code} 李四")]
    a, window_a, staff_a, b, window_b, staff_b = ids
    case = session.scalar(insert(Case).values(**_case_row(a, window_a, staff_a)).returning(Case.id))
    session.commit()
    return Halls(a, b, window_a, window_b, staff_a, staff_b, case)


@pytest.fixture
def halls(session: Session) -> Halls:
    return _two_halls(session)


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """PostgreSQL only: the statement-level checks and the locks are PostgreSQL's."""
    from tests.conftest import _empty_pg

    _empty_pg(pg_database)
    return pg_database


def _refused(session: Session, statement: Executable, rule: str) -> None:
    """The statement fails with an IntegrityError naming `rule` (SQLSTATE 23503 on PostgreSQL), without the
    citizen's phone number in the database's message; the transaction is rolled back."""
    with pytest.raises(IntegrityError, match=rule) as refused:
        session.execute(statement)
    session.rollback()
    database_message = str(refused.value.orig)
    assert PHONE[3:] not in database_message
    assert getattr(refused.value.orig, "sqlstate", "23503") == "23503"


def _count(session: Session, model: type) -> int:
    return len(session.scalars(select(model.id)).all())


def test_a_case_with_a_window_and_staff_of_its_hall_is_accepted(session: Session, halls: Halls) -> None:
    case = session.get(Case, halls.case)
    assert (case.window.id, case.window.hall_id) == (halls.window_a, halls.a)
    assert session.scalar(select(Window.name).join(Case.window).where(Case.id == halls.case)) == "RA 综合受理窗口"


def test_a_case_without_staff_is_accepted(session: Session, halls: Halls) -> None:
    session.execute(insert(Case).values(**_case_row(halls.b, halls.window_b)))
    session.commit()
    assert _count(session, Case) == 2


@pytest.mark.parametrize(("window", "staff", "rule"), [
    ("window_b", None, WINDOW_RULE),  # the other hall's window
    ("missing", None, WINDOW_RULE),
    ("window_a", "staff_b", STAFF_RULE),  # the other hall's staff member
    ("window_a", "missing", STAFF_RULE),
])
def test_a_case_referring_outside_its_hall_is_refused(
    session: Session, halls: Halls, window: str, staff: str | None, rule: str
) -> None:
    ids = {**vars(halls), "missing": 10**6, None: None}
    _refused(session, insert(Case).values(**_case_row(halls.a, ids[window], ids[staff])), rule)
    assert _count(session, Case) == 1


def test_a_statement_with_one_bad_row_is_refused_whole(session: Session, halls: Halls) -> None:
    rows = [_case_row(halls.a, halls.window_a), _case_row(halls.a, halls.window_b), _case_row(halls.b, halls.window_b)]
    _refused(session, insert(Case).values(rows), WINDOW_RULE)
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
        with pytest.raises(psycopg.errors.ForeignKeyViolation, match=STAFF_RULE):
            with raw.cursor() as cur, cur.copy(f"COPY cases ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
        session.rollback()
        assert _count(session, Case) == 1


@pytest.mark.parametrize(("column", "value", "rule"), [
    ("window_id", "window_b", WINDOW_RULE),
    ("staff_id", "staff_b", STAFF_RULE),
    ("hall_id", "b", "is not a (window|staff member) of that hall"),  # to a hall its window and staff are not of
])
def test_updating_a_case_to_refer_outside_its_hall_is_refused(
    session: Session, halls: Halls, column: str, value: str, rule: str
) -> None:
    _refused(session, update(Case).where(Case.id == halls.case).values({column: getattr(halls, value)}), rule)
    assert (session.get(Case, halls.case).window_id, session.get(Case, halls.case).staff_id) == (halls.window_a, halls.staff_a)


def test_an_upsert_that_moves_a_case_to_another_halls_window_is_refused(session: Session, halls: Halls) -> None:
    """The import's merge: INSERT … ON CONFLICT DO UPDATE, whose updated rows are checked too."""
    row = {**_case_row(halls.a, halls.window_b), "case_no": session.get(Case, halls.case).case_no}
    columns = ("hall_id", "case_no", "window_id", "phone_kind", "accepted_at", "row_hash", "created_at", "updated_at")
    statement = text(f"INSERT INTO cases ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)}) "
                     "ON CONFLICT (hall_id, case_no) DO UPDATE SET window_id = excluded.window_id")
    _refused(session, statement.bindparams(**{c: row[c] for c in columns}), WINDOW_RULE)
    assert session.get(Case, halls.case).window_id == halls.window_a


@pytest.mark.parametrize(("model", "referenced", "unreferenced", "rule"), [
    (Window, "window_a", "window_b", "still the window of cases"),
    (Staff, "staff_a", "staff_b", "still the staff of cases"),
])
def test_a_referenced_window_or_staff_member_cannot_be_deleted(
    session: Session, halls: Halls, model: type, referenced: str, unreferenced: str, rule: str
) -> None:
    _refused(session, delete(model).where(model.id == getattr(halls, referenced)), rule)
    assert session.get(model, getattr(halls, referenced)) is not None
    session.execute(delete(model).where(model.id == getattr(halls, unreferenced)))
    session.commit()
    assert session.get(model, getattr(halls, unreferenced)) is None


def test_a_contact_of_a_missing_hall_is_refused(session: Session, halls: Halls) -> None:
    _refused(session, insert(Contact).values(hall_id=10**6, phone=PHONE, kind="mobile"), HALL_RULE)
    session.execute(insert(Contact).values(hall_id=halls.a, phone=PHONE, kind="mobile"))
    session.commit()
    contact = session.scalar(select(Contact.id))
    _refused(session, update(Contact).where(Contact.id == contact).values(hall_id=10**6), "cannot change")
    assert _count(session, Contact) == 1


def test_a_case_with_a_contact_of_another_hall_or_none_is_refused(session: Session, halls: Halls) -> None:
    own, other = (_add(session, Contact, hall_id=hall, phone=PHONE, kind="mobile") for hall in (halls.a, halls.b))
    session.commit()
    _refused(session, insert(Case).values(**_case_row(halls.a, halls.window_a), contact_id=other), CONTACT_RULE)
    _refused(session, insert(Case).values(**_case_row(halls.a, halls.window_a), contact_id=10**6), CONTACT_RULE)
    _refused(session, update(Case).where(Case.id == halls.case).values(contact_id=other), CONTACT_RULE)
    session.execute(insert(Case).values(**_case_row(halls.a, halls.window_a), contact_id=own))
    session.execute(update(Case).where(Case.id == halls.case).values(contact_id=own))
    session.commit()
    assert session.scalars(select(Case.contact_id)).all() == [own, own]


def test_a_contact_of_cases_cannot_be_deleted(session: Session, halls: Halls) -> None:
    used, unused = (_add(session, Contact, hall_id=halls.a, phone=phone, kind="mobile")
                    for phone in (PHONE, "+8613900000000"))
    session.execute(update(Case).where(Case.id == halls.case).values(contact_id=used))
    session.commit()
    _refused(session, delete(Contact).where(Contact.id == used), "still the contact of cases")
    session.execute(delete(Contact).where(Contact.id == unused))
    session.commit()
    assert session.scalars(select(Contact.id)).all() == [used]


def test_a_hall_with_contacts_cannot_be_deleted(session: Session) -> None:
    """Bare halls: nothing but the contact refers to them, so the trigger alone refuses."""
    kept, gone = (_add(session, Hall, code=code, name="大厅") for code in ("H1", "H2"))
    session.execute(insert(Contact).values(hall_id=kept, phone=PHONE, kind="mobile"))
    session.commit()
    _refused(session, delete(Hall).where(Hall.id == kept), "still has contacts")
    session.execute(delete(Hall).where(Hall.id == gone))
    session.commit()
    assert session.scalars(select(Hall.id)).all() == [kept]


@pytest.mark.parametrize(("model", "row", "column", "value"), [
    (Window, "window_a", "id", 10**6),
    (Window, "window_a", "hall_id", "b"),
    (Staff, "staff_a", "id", 10**6),
    (Staff, "staff_a", "hall_id", "b"),
    (Hall, "a", "id", 10**6),
    (Contact, "contact", "id", 10**6),
    (Contact, "contact", "hall_id", "b"),
])
def test_the_key_of_a_referenced_row_cannot_change(
    session: Session, halls: Halls, model: type, row: str, column: str, value: Any
) -> None:
    contact = _add(session, Contact, hall_id=halls.a, phone=PHONE, kind="mobile")
    session.commit()
    value = getattr(halls, value) if isinstance(value, str) else value
    row_id = contact if row == "contact" else getattr(halls, row)
    _refused(session, update(model).where(model.id == row_id).values({column: value}), "cannot change")
    assert session.get(model, row_id) is not None


# --- PostgreSQL: concurrent writers -------------------------------------------------------------------------


def _blocked_then_refused(url: str, first: Executable, second: Executable, rule: str) -> None:
    """`first` runs and stays uncommitted; `second`, in another thread and connection, must wait for it (a
    regression that lets it through without waiting fails here), and fail with `rule` once `first` commits."""
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
    assert rule in str(outcome[0].orig)


def test_deleting_a_window_waits_for_an_uncommitted_case_then_fails(pg_url: str) -> None:
    with session_factory(pg_url)() as session:
        halls = _two_halls(session)
    _blocked_then_refused(pg_url, insert(Case).values(**_case_row(halls.b, halls.window_b)),
                          delete(Window).where(Window.id == halls.window_b), "still the window of cases")
    with session_factory(pg_url)() as session:
        assert session.get(Window, halls.window_b) is not None
        assert session.scalars(select(Case.window_id).order_by(Case.id)).all() == [halls.window_a, halls.window_b]


def test_a_case_waits_for_an_uncommitted_delete_of_its_window_then_fails(pg_url: str) -> None:
    with session_factory(pg_url)() as session:
        halls = _two_halls(session)
    _blocked_then_refused(pg_url, delete(Window).where(Window.id == halls.window_b),
                          insert(Case).values(**_case_row(halls.b, halls.window_b)), WINDOW_RULE)
    with session_factory(pg_url)() as session:
        assert session.get(Window, halls.window_b) is None
        assert _count(session, Case) == 1


def test_deleting_a_contact_waits_for_an_uncommitted_case_then_fails(pg_url: str) -> None:
    with session_factory(pg_url)() as session:
        halls = _two_halls(session)
        contact = _add(session, Contact, hall_id=halls.b, phone=PHONE, kind="mobile")
        session.commit()
    _blocked_then_refused(pg_url, insert(Case).values(**_case_row(halls.b, halls.window_b), contact_id=contact),
                          delete(Contact).where(Contact.id == contact), "still the contact of cases")
    with session_factory(pg_url)() as session:
        assert session.scalars(select(Case.contact_id).where(Case.contact_id.is_not(None))).all() == [contact]


def test_deleting_a_hall_waits_for_an_uncommitted_contact_then_fails(pg_url: str) -> None:
    with session_factory(pg_url)() as session:
        hall = _add(session, Hall, code="H1", name="大厅")
        session.commit()
    _blocked_then_refused(pg_url, insert(Contact).values(hall_id=hall, phone=PHONE, kind="mobile"),
                          delete(Hall).where(Hall.id == hall), "still has contacts")
    with session_factory(pg_url)() as session:
        assert session.scalars(select(Contact.hall_id)).all() == [hall]
