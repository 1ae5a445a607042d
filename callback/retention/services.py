"""Purging what is kept no longer than needed (个人信息保护法 第六条 最小必要, 第十九条 保存期限;
docs/architecture.md §Privacy and security).

* **Recordings** of callbacks that ended more than ``RETENTION_RECORDINGS_DAYS`` ago (default 90) are deleted at
  the provider (the Provider port's ``delete_recording``) and then locally: ``callbacks.recording_url`` and the
  URL in the transcript's recording line. One audit row per recording says it was deleted.
* **Numbers and names** of finished callbacks and of cases older than ``RETENTION_PERSONAL_DAYS`` (default 365)
  are replaced by a keyed hash, ``hmac`` + 28 hex digits of HMAC-SHA256 (``RETENTION_KEY``, else ``SECRET_KEY``):
  a case's applicant and raw phone, the contact's number; numbers in the free text around them — the spoken or
  texted suggestion, the SMS bodies, a rectification's action and feedback — are masked (`survey.privacy`). A
  contact is purged only when every case and callback of it is; a case only when its callbacks have all ended
  before the cut-off. An on-site form has no case: its suggestion is masked once it ended before
  the cut-off (`_mask_onsite_suggestions`).

What still works afterwards, and why:

* **Opt-outs and "contacted recently"** live on the contact row, which stays (only its number changes): every
  old callback and case still points at it. The same number always gives the same hash, so when the ledger
  brings the number back for a new case, the next draw finds the hashed row of that hall and gives it the number
  again (`restore_returning_numbers`): the new case joins the old contact, its opt-out and last contact included,
  and the number is never called if it opted out. A number hashed while a second row of it exists in the hall is
  merged into the existing hashed row (`merge_contact`): contacts stay unique per hall and number.
* **Reports, the board and verify-draw** never read a number or a name (the draw's fingerprint is over case ids
  and case numbers), so they are the same after a purge.
* **Audit rows** are kept; they hold ids and counts, never the data.

The key must never change once a purge has run (a changed key would no longer find purged opt-outs): rotate
``SECRET_KEY`` only after setting ``RETENTION_KEY`` to its old value.

A provider deletion cannot be rolled back, so, like the dialer, `purge` commits: once per recording (after the
provider confirmed), and once for the personal data. Running it again is always safe.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, not_, or_, select, update
from sqlalchemy.orm import Session

from callback.config import ConfigError, Settings
from callback.models import AuditEvent, Callback, Case, Contact, Message, TranscriptEvent
from callback.models.rectification import Rectification, RectificationEvent
from callback.telephony import Provider, ProviderError
from survey.privacy import mask_text

HASH_PREFIX = "hmac"
HASH_HEX = 28  # 112 bits: the prefix and the digits fill contacts.phone (VARCHAR(32))
_AFTER_PREFIX = "hmad"  # the first string after every "hmac…": a range on the (hall_id, phone) unique index
CHUNK = 1000


# --- the policy and the hash --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionPolicy:
    recordings_days: int
    personal_days: int
    key: bytes = field(repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        if settings.retention_recordings_days < 1 or settings.retention_personal_days < 1:
            raise ConfigError("保存期限须为正整数天 (RETENTION_RECORDINGS_DAYS / RETENTION_PERSONAL_DAYS ≥ 1)")
        key = settings.retention_key or settings.secret_key
        return cls(settings.retention_recordings_days, settings.retention_personal_days, key.encode())

    def recordings_cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.recordings_days)

    def personal_cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.personal_days)


def keyed_hash(key: bytes, value: str, purpose: str) -> str:
    """``hmac`` + 28 hex digits: the same value always gives the same text, which says nothing without the key."""
    digest = hmac.new(key, f"{purpose}\x1f{value}".encode(), hashlib.sha256).hexdigest()
    return HASH_PREFIX + digest[:HASH_HEX]


def phone_hash(key: bytes, phone: str) -> str:
    """What a contact's number (E.164, as contacts store it) becomes when it is purged."""
    return keyed_hash(key, phone, "phone")


def is_hashed(value: str | None) -> bool:
    digits = (value or "")[len(HASH_PREFIX):]
    return bool(value) and value.startswith(HASH_PREFIX) and len(digits) == HASH_HEX and _is_hex(digits)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def _unhashed(column: Any) -> Any:
    return and_(column.is_not(None), not_(column.startswith(HASH_PREFIX)))


# --- what is due --------------------------------------------------------------------------------------------


def _unfinished_callback(link: Any, cutoff: datetime) -> Any:
    """A callback (of the case or contact ``link`` names) that has not ended, or ended after the cut-off."""
    return exists().where(link, or_(Callback.finished_at.is_(None), Callback.finished_at >= cutoff))


def recordings_due(session: Session, cutoff: datetime) -> list[tuple[int, int, str]]:
    """(callback id, hall id, recording URL) of recordings whose callback ended before ``cutoff``."""
    ended = Callback.finished_at.is_not(None) & (Callback.finished_at < cutoff)
    never_ended = Callback.finished_at.is_(None) & (Callback.created_at < cutoff)
    query = (select(Callback.id, Callback.hall_id, Callback.recording_url)
             .where(Callback.recording_url.is_not(None), or_(ended, never_ended)).order_by(Callback.id))
    return [(cid, hall, url) for cid, hall, url in session.execute(query)]


def cases_due(session: Session, cutoff: datetime) -> list[int]:
    """Cases accepted (and completed) before ``cutoff`` that still hold a name or a number, and whose callbacks
    have all ended before it."""
    query = select(Case.id).where(
        Case.accepted_at < cutoff, or_(Case.completed_at.is_(None), Case.completed_at < cutoff),
        or_(_unhashed(Case.applicant), _unhashed(Case.phone_raw)),
        ~_unfinished_callback(Callback.case_id == Case.id, cutoff),
    ).order_by(Case.id)
    return list(session.scalars(query))


def contacts_due(session: Session, cutoff: datetime) -> list[int]:
    """Contacts with a number nothing has touched since ``cutoff``: created, contacted and opted out before it,
    every case of it accepted and completed before it, every callback of it ended before it."""
    recent_case = exists().where(Case.contact_id == Contact.id,
                                 or_(Case.accepted_at >= cutoff, Case.completed_at >= cutoff))
    query = select(Contact.id).where(
        _unhashed(Contact.phone), Contact.created_at < cutoff,
        or_(Contact.last_contacted_at.is_(None), Contact.last_contacted_at < cutoff),
        or_(Contact.opted_out_at.is_(None), Contact.opted_out_at < cutoff),
        ~recent_case, ~_unfinished_callback(Callback.contact_id == Contact.id, cutoff),
    ).order_by(Contact.id)
    return list(session.scalars(query))


# --- recordings -----------------------------------------------------------------------------------------------


def delete_recording(session: Session, provider: Provider, callback_id: int, hall_id: int, url: str,
                     now: datetime, actor: str) -> str | None:
    """Delete one recording at the provider, then here; commits. Returns the provider's error, if any (the
    recording is then kept here, to be tried again on the next run)."""
    try:
        provider.delete_recording(url)
    except ProviderError as exc:
        session.rollback()
        return str(exc)[:200]
    session.execute(update(Callback).where(Callback.id == callback_id, Callback.recording_url == url)
                    .values(recording_url=None).execution_options(synchronize_session=False))
    lines = select(TranscriptEvent).where(TranscriptEvent.callback_id == callback_id,
                                          TranscriptEvent.kind == "recording")
    for line in session.scalars(lines):
        line.data = {k: v for k, v in (line.data or {}).items() if k != "url"} | {"deleted": now.date().isoformat()}
    session.add(AuditEvent(hall_id=hall_id, at=now, actor=actor, entity="callback", entity_id=callback_id,
                           action="recording_deleted", detail={}))
    session.commit()
    return None


# --- numbers and names ----------------------------------------------------------------------------------------


@dataclass
class Pseudonymised:
    cases: int = 0
    contacts: int = 0
    merged: int = 0
    suggestions: int = 0  # free texts whose numbers were masked: suggestions, SMS bodies, rectification feedback
    by_hall: Counter[int] = field(default_factory=Counter)


def pseudonymise(session: Session, key: bytes, case_ids: Sequence[int], contact_ids: Sequence[int]) -> Pseudonymised:
    """Replace the names and numbers of these cases and contacts by keyed hashes, and mask numbers in their
    callbacks' suggestions. Does not commit."""
    done = Pseudonymised()
    for chunk in _chunks(case_ids):
        for case in session.scalars(select(Case).where(Case.id.in_(chunk))):
            _hash_case(case, key)
            done.cases += 1
            done.by_hall[case.hall_id] += 1
        done.suggestions += _mask_free_text(session, chunk)
    for chunk in _chunks(contact_ids):
        for contact in list(session.scalars(select(Contact).where(Contact.id.in_(chunk)))):
            done.merged += hash_contact(session, contact, key) == "merged"
            done.contacts += 1
    session.flush()
    return done


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start:start + CHUNK])


def _hash_case(case: Case, key: bytes) -> None:
    if case.applicant and not is_hashed(case.applicant):
        case.applicant = keyed_hash(key, case.applicant, "name")
    if case.phone_raw and not is_hashed(case.phone_raw):
        case.phone_raw = keyed_hash(key, case.phone_raw, "phone")


def _mask_free_text(session: Session, case_ids: list[int]) -> int:
    """Numbers (phone, ID card, bank card) in what the citizen said or texted and in what was texted or fed back to
    them, masked for good. Returns how many texts changed."""
    return _mask_callbacks(session, select(Callback.id).where(Callback.case_id.in_(case_ids)))


def _mask_onsite_suggestions(session: Session, cutoff: datetime) -> int:
    """On-site forms (no case, no number) that ended before ``cutoff``: the numbers written in them."""
    return _mask_callbacks(session, select(Callback.id).where(Callback.case_id.is_(None),
                                                              Callback.finished_at < cutoff))


def _mask_callbacks(session: Session, callbacks: Any) -> int:
    """The callbacks' own free text, and the audit rows about them, which are kept without the data."""
    cases = select(Rectification.id).where(Rectification.callback_id.in_(callbacks))
    rows = [*session.scalars(select(Callback).where(Callback.id.in_(callbacks), Callback.suggestion.is_not(None))),
            *session.scalars(select(Message).where(Message.callback_id.in_(callbacks))),
            *session.scalars(select(Rectification).where(Rectification.id.in_(cases)))]
    audits = [*session.scalars(select(RectificationEvent).where(RectificationEvent.rectification_id.in_(cases))),
              *session.scalars(select(AuditEvent).where(AuditEvent.entity == "callback",
                                                        AuditEvent.entity_id.in_(callbacks)))]
    return (sum(_mask_fields(row, ("suggestion", "body", "action", "feedback")) for row in rows)
            + sum(_mask_detail(row) for row in audits))


def _mask_detail(row: RectificationEvent | AuditEvent) -> int:
    detail = row.detail or {}
    masked = {k: mask_text(v) if isinstance(v, str) else v for k, v in detail.items()}
    if masked == detail:
        return 0
    row.detail = masked
    return 1


def _mask_fields(row: Any, names: tuple[str, ...]) -> int:
    changed = 0
    for name in names:
        text = getattr(row, name, None)
        if text and mask_text(text) != text:
            setattr(row, name, mask_text(text))
            changed += 1
    return changed


def hash_contact(session: Session, contact: Contact, key: bytes) -> str:
    """The contact's number becomes its keyed hash ("hashed"); if the hall already has a row with that hash (the
    number came back and went again), this row is merged into it ("merged")."""
    hashed = phone_hash(key, contact.phone)
    twin = session.scalar(select(Contact).where(Contact.hall_id == contact.hall_id, Contact.phone == hashed))
    if twin is None:
        contact.phone = hashed
        return "hashed"
    merge_contact(session, keep=twin, drop=contact)
    return "merged"


def merge_contact(session: Session, *, keep: Contact, drop: Contact) -> None:
    """Move ``drop``'s cases and callbacks to ``keep`` (same hall and number) and delete ``drop``: the earlier
    opt-out and the later last contact survive."""
    for model in (Case, Callback):
        session.execute(update(model).where(model.contact_id == drop.id).values(contact_id=keep.id)
                        .execution_options(synchronize_session=False))
    if drop.opted_out_at is not None and (keep.opted_out_at is None or drop.opted_out_at < keep.opted_out_at):
        keep.opted_out_at, keep.opt_out_source = drop.opted_out_at, drop.opt_out_source
    if drop.last_contacted_at is not None:
        keep.last_contacted_at = max(filter(None, (keep.last_contacted_at, drop.last_contacted_at)))
    session.delete(drop)
    session.flush()


def hall_has_hashed_numbers(session: Session, hall_id: int) -> bool:
    """One step down the (hall_id, phone) unique index: has a purge hashed any number of this hall?"""
    query = select(Contact.id).where(Contact.hall_id == hall_id, Contact.phone >= HASH_PREFIX,
                                     Contact.phone < _AFTER_PREFIX).limit(1)
    return session.scalar(query) is not None


def restore_returning_numbers(session: Session, hall_id: int, key: bytes, accepted_since: datetime,
                              now: datetime) -> int:
    """Numbers of the hall's cases accepted since ``accepted_since`` that a purge had hashed (the ledger brought
    them back): the new contact row is merged into the hashed one, which gets the number again — so its opt-out
    and last contact hold for the new case. Run by the weekly draw before it derives its candidates. Returns how
    many came back. Does not commit."""
    if not hall_has_hashed_numbers(session, hall_id):
        return 0
    recent = select(Case.contact_id).where(Case.hall_id == hall_id, Case.accepted_at >= accepted_since)
    raw = {phone_hash(key, c.phone): c for c in session.scalars(
        select(Contact).where(Contact.id.in_(recent), _unhashed(Contact.phone)))}
    returned = 0
    for chunk in _chunks(list(raw)):
        for twin in list(session.scalars(select(Contact).where(Contact.hall_id == hall_id, Contact.phone.in_(chunk)))):
            back = raw[twin.phone]
            number, kind = back.phone, back.kind
            merge_contact(session, keep=twin, drop=back)
            twin.phone, twin.kind = number, kind
            session.add(AuditEvent(hall_id=hall_id, at=now, actor="system", entity="contact", entity_id=twin.id,
                                   action="number_returned", detail={}))
            returned += 1
    session.flush()
    return returned


# --- the purge ------------------------------------------------------------------------------------------------


@dataclass
class PurgeReport:
    dry_run: bool
    recordings_cutoff: datetime
    personal_cutoff: datetime
    recordings: int = 0
    recording_failures: list[dict[str, Any]] = field(default_factory=list)
    cases: int = 0
    contacts: int = 0
    merged: int = 0
    suggestions: int = 0  # free texts whose numbers were masked: suggestions, SMS bodies, rectification feedback

    def as_json(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "recordings_cutoff": self.recordings_cutoff.isoformat(),
                "personal_cutoff": self.personal_cutoff.isoformat(), "recordings": self.recordings,
                "recording_failures": self.recording_failures, "cases": self.cases, "contacts": self.contacts,
                "merged": self.merged, "suggestions": self.suggestions}


def purge(session: Session, provider: Provider | None, settings: Settings, now: datetime, *,
          dry_run: bool = False, actor: str = "system") -> PurgeReport:
    """Delete the recordings and pseudonymise the personal data whose retention period is over (module doc).
    ``dry_run`` only counts, changes nothing and asks nothing of the provider. Commits (module doc)."""
    policy = RetentionPolicy.from_settings(settings)
    report = PurgeReport(dry_run, policy.recordings_cutoff(now), policy.personal_cutoff(now))
    recordings = recordings_due(session, report.recordings_cutoff)
    case_ids, contact_ids = cases_due(session, report.personal_cutoff), contacts_due(session, report.personal_cutoff)
    if dry_run:
        session.rollback()
        report.recordings, report.cases, report.contacts = len(recordings), len(case_ids), len(contact_ids)
        return report
    if provider is None:
        raise ValueError("purge needs the provider that holds the recordings (None only with dry_run)")
    _delete_recordings(session, provider, recordings, now, actor, report)
    done = pseudonymise(session, policy.key, case_ids, contact_ids)
    done.suggestions += _mask_onsite_suggestions(session, report.personal_cutoff)
    report.cases, report.contacts, report.merged = done.cases, done.contacts, done.merged
    report.suggestions = done.suggestions
    for hall_id, cases in sorted(done.by_hall.items()):
        session.add(AuditEvent(hall_id=hall_id, at=now, actor=actor, entity="retention", action="personal_data_purged",
                               detail={"cases": cases, "retention_days": policy.personal_days}))
    session.add(AuditEvent(hall_id=None, at=now, actor=actor, entity="retention", action="purge",
                           detail={k: v for k, v in report.as_json().items() if k != "recording_failures"}))
    session.commit()
    return report


def _delete_recordings(session: Session, provider: Provider, due: list[tuple[int, int, str]], now: datetime,
                       actor: str, report: PurgeReport) -> None:
    session.rollback()  # the queries' transaction: each deletion commits on its own
    for callback_id, hall_id, url in due:
        error = delete_recording(session, provider, callback_id, hall_id, url, now, actor)
        if error is None:
            report.recordings += 1
        else:
            report.recording_failures.append({"callback_id": callback_id, "error": error})
