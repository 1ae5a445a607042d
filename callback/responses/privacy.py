"""The audited way to the citizen's own words (docs/architecture.md §Privacy and security).

Where raw text is kept: a citizen's suggestion (spoken, as recognised, or texted) is stored unmasked on
``callbacks.suggestion`` only, because a supervisor may have to act on it (call back the number the citizen gave,
pass on a complaint). Everything else that holds what a citizen said — transcript events, inbound SMS rows,
rectification excerpts — is masked when written (`survey.privacy.mask_text`), and every display masks again.
`reveal_suggestion` is the one door to the raw text; each use leaves an `AuditEvent` with the reason.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from callback.models import AuditEvent, Callback

REVEAL = "reveal"
MAX_REASON = 500


class RevealRefused(ValueError):
    """The raw text cannot be shown: no such callback, or no reason given. The message is for people."""


def reveal_suggestion(session: Session, callback_id: int, actor: str, reason: str) -> str:
    """The callback's suggestion exactly as the citizen gave it ("" if none), after recording who asked and why.

    The audit event (entity ``callback``, action ``reveal``) is added to the caller's transaction, which must be
    committed for the view to count: a caller that shows the text commits first.
    """
    reason, actor = (reason or "").strip(), (actor or "").strip()
    if not reason:
        raise RevealRefused("查看原文须填写理由（reason required）")
    if not actor:
        raise RevealRefused("查看原文须注明操作人（actor required）")
    callback = session.get(Callback, callback_id)
    if callback is None:
        raise RevealRefused(f"找不到回访#{callback_id}")
    session.add(AuditEvent(hall_id=callback.hall_id, actor=actor[:100], entity="callback", entity_id=callback.id,
                           action=REVEAL, detail={"field": "suggestion", "reason": reason[:MAX_REASON]}))
    session.flush()
    return callback.suggestion or ""
