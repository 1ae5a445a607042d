"""The audited way to the citizen's own words (docs/architecture.md §Privacy and security).

Where raw text is kept: a citizen's suggestion (spoken, as recognised, or texted) is stored unmasked on
``callbacks.suggestion`` only, because a supervisor may have to act on it (call back the number the citizen gave,
pass on a complaint). Everything else that holds what a citizen said — transcript events, inbound SMS rows,
rectification excerpts — is masked when written (`survey.privacy.mask_text`), and every display masks again.
`reveal_suggestion` is the one door to the raw text, `reveal_phone` the one to the citizen's whole number (a supervisor
who must act on it, issue 14 §3); each use leaves an `AuditEvent` with the reason.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from callback.models import AuditEvent, Callback, Contact
from callback.retention.services import is_hashed
from survey.privacy import mask_text

REVEAL = "reveal"
MAX_REASON = 500


class RevealRefused(ValueError):
    """The raw text cannot be shown: no such callback, or no reason given. The message is for people."""


def reveal_suggestion(session: Session, callback_id: int, actor: str, reason: str, *, user_id: int | None = None,
                      ip: str | None = None) -> str:
    """The callback's suggestion exactly as the citizen gave it ("" if none), after recording who asked and why.

    The audit event (entity ``callback``, action ``reveal``, field ``suggestion``) is added to the caller's
    transaction, which must be committed for the view to count: a caller that shows the text commits first.
    ``user_id`` and ``ip``: the console account that asked and its address (None from the command line).
    """
    callback = _audited(session, callback_id, actor, reason, "suggestion", user_id, ip)
    return callback.suggestion or ""


def reveal_phone(session: Session, callback_id: int, actor: str, reason: str, *, user_id: int | None = None,
                 ip: str | None = None) -> str:
    """The citizen's whole phone number (as stored, E.164: ``+8613812345678``), for a supervisor who must act on it
    (call back a complaint by hand, pass it on), after recording who asked and why — the same door, and the same
    audit event (field ``phone``), as `reveal_suggestion`. An on-site form has no number: `RevealRefused`."""
    callback = session.get(Callback, callback_id)
    contact = session.get(Contact, callback.contact_id) if callback and callback.contact_id is not None else None
    if callback is not None and contact is None:
        raise RevealRefused("此回访没有号码（现场问卷不留号码）(no number)")
    if contact is not None and is_hashed(contact.phone):
        raise RevealRefused("号码已过保存期限并已清除，无法查看 (the number was purged)")
    _audited(session, callback_id, actor, reason, "phone", user_id, ip)
    return contact.phone  # type: ignore[union-attr]


def _audited(session: Session, callback_id: int, actor: str, reason: str, field: str, user_id: int | None,
             ip: str | None) -> Callback:
    """The callback, once the reason and the actor are given and the audit event is added."""
    reason, actor = (reason or "").strip(), (actor or "").strip()
    if not reason:
        raise RevealRefused("查看原文须填写理由（reason required）")
    if not actor:
        raise RevealRefused("查看原文须注明操作人（actor required）")
    callback = session.get(Callback, callback_id)
    if callback is None:
        raise RevealRefused(f"找不到回访#{callback_id}")
    session.add(AuditEvent(hall_id=callback.hall_id, actor=actor[:100], entity="callback", entity_id=callback.id,
                           action=REVEAL, detail={"field": field, "reason": mask_text(reason)[:MAX_REASON]},
                           user_id=user_id, ip=(ip or None) and ip[:45]))
    session.flush()
    return callback
