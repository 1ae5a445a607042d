"""The retention services one rule at a time: the keyed hash, what is due, merging a number that came back and
went again, a provider that cannot delete a recording."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.models import AuditEvent, Callback, Case, Contact
from callback.retention.services import (
    cases_due,
    contacts_due,
    hash_contact,
    is_hashed,
    keyed_hash,
    phone_hash,
    purge,
    restore_returning_numbers,
)
from callback.telephony import DeleteRecording, MockProvider, ProviderError
from tests.factories import make_case, make_hall

KEY = b"test-key"
NOW = datetime(2028, 1, 10, 2, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=400)
RECENT = NOW - timedelta(days=10)


def test_the_hash_is_keyed_stable_and_fits_a_phone_column() -> None:
    first = phone_hash(KEY, "+8613800000001")
    assert first == phone_hash(KEY, "+8613800000001") != phone_hash(b"other", "+8613800000001")
    assert keyed_hash(KEY, "+8613800000001", "name") != first  # a name never hashes like a number
    assert len(first) == 32 and is_hashed(first) and not is_hashed("+8613800000001") and not is_hashed(None)


def _old_case(session: Session, phone: str, accepted: datetime = OLD) -> Case:
    case = make_case(session, make_hall(session), phone=phone, accepted_at=accepted)
    session.get(Contact, case.contact_id).created_at = accepted
    session.flush()
    return case


def test_a_number_with_a_recent_case_keeps_its_contact(session: Session) -> None:
    old = _old_case(session, "+8613800000001")
    _old_case(session, "+8613800000001", accepted=RECENT)  # the same number came back this month
    gone = _old_case(session, "+8613800000002")
    cutoff = NOW - timedelta(days=365)

    assert old.id in cases_due(session, cutoff)
    assert contacts_due(session, cutoff) == [gone.contact_id]


def test_an_open_callback_keeps_its_case_and_contact(session: Session) -> None:
    case = _old_case(session, "+8613800000003")
    session.add(Callback(hall_id=case.hall_id, case_id=case.id, contact_id=case.contact_id, window_id=case.window_id,
                         week="2026-W46", state="sms", token="open-one"))
    session.flush()
    cutoff = NOW - timedelta(days=365)
    assert cases_due(session, cutoff) == [] and contacts_due(session, cutoff) == []


def test_a_number_that_came_back_and_went_again_is_merged_into_its_hashed_row(session: Session) -> None:
    first = _old_case(session, "+8613800000004")
    contact = session.get(Contact, first.contact_id)
    contact.opted_out_at, contact.opt_out_source = OLD, "sms"
    assert hash_contact(session, contact, KEY) == "hashed"
    again = _old_case(session, "+8613800000004", accepted=OLD + timedelta(days=5))  # a new raw row of the number
    second = session.get(Contact, again.contact_id)
    second.last_contacted_at = OLD + timedelta(days=6)
    session.flush()

    assert hash_contact(session, second, KEY) == "merged"

    session.expire_all()
    rows = session.scalars(select(Contact).where(Contact.hall_id == first.hall_id)).all()
    assert [(c.id, c.opted_out_at, c.last_contacted_at) for c in rows] == [(contact.id, OLD, OLD + timedelta(days=6))]
    assert session.get(Case, again.id).contact_id == contact.id


def test_a_returning_number_gets_its_old_row_back_with_its_last_contact(session: Session) -> None:
    old = _old_case(session, "+8613800000005")
    contact = session.get(Contact, old.contact_id)
    contact.last_contacted_at = RECENT - timedelta(days=1)  # contacted recently: the cooldown must still hold
    hash_contact(session, contact, KEY)
    new = _old_case(session, "+8613800000005", accepted=RECENT)
    untouched = _old_case(session, "+8613800000006", accepted=RECENT)

    assert restore_returning_numbers(session, old.hall_id, KEY, RECENT - timedelta(days=2), NOW) == 1

    session.expire_all()
    back = session.get(Contact, contact.id)
    assert (back.phone, back.last_contacted_at) == ("+8613800000005", RECENT - timedelta(days=1))
    assert session.get(Case, new.id).contact_id == contact.id
    assert session.get(Contact, untouched.contact_id).phone == "+8613800000006"
    assert session.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == contact.id)).all() == [
        "number_returned"]
    assert restore_returning_numbers(session, old.hall_id, KEY, RECENT - timedelta(days=2), NOW) == 0


def test_a_recording_the_provider_cannot_delete_is_kept_and_tried_again(session: Session, database_url: str) -> None:
    case = _old_case(session, "+8613800000007")
    callback = Callback(hall_id=case.hall_id, case_id=case.id, contact_id=case.contact_id, window_id=case.window_id,
                        week="2026-W46", state="complete", token="rec-one", finished_at=OLD,
                        recording_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1")
    session.add(callback)
    session.commit()
    down = MockProvider(_refuse)
    settings = Settings(database_url=database_url)

    report = purge(session, down, settings, NOW)

    assert report.recordings == 0 and [f["callback_id"] for f in report.recording_failures] == [callback.id]
    assert session.scalar(select(Callback.recording_url)) is not None
    report = purge(session, MockProvider(), settings, NOW)
    assert report.recordings == 1 and session.scalar(select(Callback.recording_url)) is None


def _refuse(request: object) -> None:
    if isinstance(request, DeleteRecording):
        raise ProviderError("Twilio unreachable", transient=True)
