"""Halls: a hall created after a number opted out starts with that number opted out (README, Privacy)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.halls.services import ensure_hall
from callback.ledger.importer import import_file
from callback.models import Contact
from callback.responses.optout import opt_out_number
from tests.callback.ledger.test_import_ledger import ROWS, write_csv
from tests.factories import make_case, make_hall

NOW = datetime(2026, 11, 4, 2, 0, tzinfo=UTC)


def contact_of(session: Session, hall_id: int, phone: str) -> Contact | None:
    return session.scalar(select(Contact).where(Contact.hall_id == hall_id, Contact.phone == phone))


def test_a_hall_created_after_an_opt_out_imports_the_number_already_opted_out(session: Session,
                                                                               tmp_path: Path) -> None:
    west = make_hall(session, code="WEST", name="西区政务服务中心")
    make_case(session, west, phone="+8613800138000")
    assert opt_out_number(session, "+8613800138000", NOW, source="ivr_key9")
    session.commit()

    east = ensure_hall(session, "EAST")  # did not exist when the citizen opted out
    import_file(session, east, write_csv(tmp_path / "east.csv", ROWS[:2]), now=NOW)  # A001 has 138 0013 8000
    session.commit()

    opted = contact_of(session, east.id, "+8613800138000")
    assert opted is not None and opted.opted_out_at is not None and opted.opt_out_source == "other_hall"
    other = contact_of(session, east.id, "+8613912345678")  # A002's number never opted out
    assert other is not None and other.opted_out_at is None


def test_an_existing_hall_is_not_touched_again(session: Session) -> None:
    west = make_hall(session, code="WEST", name="西区政务服务中心")
    make_case(session, west, phone="+8613800138000")
    opt_out_number(session, "+8613800138000", NOW)
    session.commit()
    again = ensure_hall(session, "WEST")
    assert again.id == west.id
    assert len(session.scalars(select(Contact).where(Contact.phone == "+8613800138000")).all()) == 1
