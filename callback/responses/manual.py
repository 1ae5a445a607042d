"""A callback a staff member made by hand (篇2 四: 中心管理办公室安排专人回访), recorded on the drawn callback it
answers: channel ``manual``, the same services as a call or an SMS reply (callback.responses.entry), and the
citizen's opt-out through callback.responses.optout.

Which callbacks may take it (`states.MANUAL_RESULT`): one still waiting for its call (``drawn``) or its SMS reply
(``sms``), or one the calls and the SMS did not reach (``unreachable``). Never during a call (the call's own flow
ends it), and never once it has ended otherwise — the citizen was reached, opted out, or the draw was replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import AuditEvent, Callback, Contact
from callback.rectification.services import get_for_callback
from callback.responses.entry import EntryError, HandEntry, record_entry
from callback.responses.optout import opt_out_number
from callback.responses.states import LIVE_CALL, MANUAL_RESULT, STATE_LABELS, flags_of
from callback.responses.transcript import add_event
from survey.privacy import mask_phone

CHANNEL = "manual"
HEADING = "人工回访录入"
OPT_OUT_NOTE = "申请人要求今后不再回访（已退订，所有中心）"


@dataclass(frozen=True)
class ManualResult:
    """What recording a staff call did. ``outcome`` is None when only an opt-out was recorded."""

    callback_id: int
    state: str
    outcome: str | None
    keys: str
    rectification_id: int | None
    integrity_alert: bool
    opted_out: bool
    phone: str  # masked

    def as_dict(self) -> dict[str, Any]:
        return {"callback_id": self.callback_id, "state": self.state, "state_label": STATE_LABELS[self.state],
                "outcome": self.outcome, "keys": self.keys, "rectification_id": self.rectification_id,
                "integrity_alert": self.integrity_alert, "opted_out": self.opted_out, "phone": self.phone}


def record_manual(
    session: Session, callback_id: int, entry: HandEntry | None, now: datetime, *, actor: str, opt_out: bool = False
) -> ManualResult:
    """Record a staff member's call on callback ``callback_id``: the answers (if any) are saved and the survey is
    finished (a rectification case opens if one is needed, 篇2 五); ``opt_out`` then opts the number out for good
    in every hall. `EntryError` (nothing changed) for a callback that may not take it. Does not commit."""
    if entry is None and not opt_out:
        raise EntryError("请填写答案（--answers），或登记退订（--opt-out）(nothing to record)")
    callback = _locked(session, callback_id)
    contact = _check(session, callback, callback_id)
    extra = f"；{OPT_OUT_NOTE}" if opt_out and entry is not None else ""
    outcome = None
    if entry is not None:
        outcome = record_entry(session, callback, entry, channel=CHANNEL, now=now, actor=actor, heading=HEADING,
                               extra=extra)
    if opt_out:
        _opt_out(session, callback, contact, now, actor, noted=entry is not None)
    _audit(session, callback, entry, now, actor, opt_out)
    case = get_for_callback(session, callback.id)
    return ManualResult(callback.id, callback.state, outcome, entry.keys if entry else "", case.id if case else None,
                        flags_of(callback).integrity_alert, opt_out, mask_phone(contact.phone))


def _locked(session: Session, callback_id: int) -> Callback | None:
    """The callback, locked: the dialer's claim (a conditional UPDATE from ``drawn``) waits for us or finds it
    finished."""
    query = select(Callback).where(Callback.id == callback_id).with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).first()


def staff_contact(session: Session, callback: Callback) -> tuple[str | None, Contact | None]:
    """Whether a staff member may call this callback's citizen, or record such a call (篇2 四): ``(None, contact)``,
    or why not — ``"onsite"`` (an on-site form has no number), ``"live"`` (an automatic call is in progress),
    ``"ended"`` (the callback is final) or ``"opted_out"`` — with no contact. The one rule for `record_manual`
    and the staff calls (callback.responses.staff_calls); each says the reason in its own words."""
    if callback.contact_id is None:
        return "onsite", None
    if callback.state in LIVE_CALL:
        return "live", None
    if callback.state not in MANUAL_RESULT:
        return "ended", None
    contact = session.get(Contact, callback.contact_id)
    if contact is None or contact.opted_out_at is not None:
        return "opted_out", None
    return None, contact


_REFUSED = {
    "onsite": "回访#{id} 是现场征求意见表，没有电话号码，不能录入电话回访结果 (an on-site form)",
    "live": "回访#{id} 正在通话中（{label}），请在通话结束后再录入 (a call is in progress)",
    "ended": "回访#{id} 已结束（{label}），不能再录入人工回访结果 (the callback has ended)",
    "opted_out": "回访#{id} 的号码已退订，不得再回访 (the number has opted out)",
}


def _check(session: Session, callback: Callback | None, callback_id: int) -> Contact:
    """The callback's contact, if a staff call may be recorded on it; else `EntryError`."""
    if callback is None:
        raise EntryError(f"找不到回访#{callback_id} (no such callback)")
    reason, contact = staff_contact(session, callback)
    if contact is None:
        label = STATE_LABELS.get(callback.state, callback.state)
        raise EntryError(_REFUSED[reason or "opted_out"].format(id=callback_id, label=label))
    return contact


def _opt_out(session: Session, callback: Callback, contact: Contact, now: datetime, actor: str, noted: bool) -> None:
    """The citizen asked on the staff call never to be called again: the number, in every hall, for good. A
    callback still waiting ends ``opted_out`` (optout closes it); a finished one keeps its ending."""
    opt_out_number(session, contact.phone, now, source=CHANNEL, actor=actor)
    if not noted:
        add_event(session, hall_id=callback.hall_id, callback_id=callback.id, kind="note", at=now,
                  text=f"{HEADING}：{OPT_OUT_NOTE}", data={"channel": CHANNEL, "opt_out": True})


def _audit(session: Session, callback: Callback, entry: HandEntry | None, now: datetime, actor: str,
           opt_out: bool) -> None:
    session.add(AuditEvent(hall_id=callback.hall_id, at=now, actor=actor, entity="callback", entity_id=callback.id,
                           action="manual_result", detail={"keys": entry.keys if entry else None,
                                                           "outcome": callback.outcome, "opt_out": opt_out}))
