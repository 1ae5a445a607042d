"""One call for a console page to write the audit trail (DESIGN §6: every view of personal data and every change
is audited): who (the logged-in account), from where (its address), when, what.

    audit("transcript_viewed", "callback", callback.id)
    audit("answer_corrected", "answer", answer.id, item="attitude", old="B", new="S", reason=form.reason.data)

The event joins the request's transaction: the view commits (a read-only page too, after auditing). Never put a
citizen's unmasked number or name in ``detail``; mask it (survey.privacy) or leave it out.
"""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from callback.accounts.services import actor_of, record_audit
from callback.db import db_session
from callback.models import AuditEvent
from callback.web.console import clock
from callback.web.console.auth import client_ip


def audit(action: str, entity: str, entity_id: int | None, **detail: Any) -> AuditEvent:
    """Add an audit event for the logged-in user's ``action`` on ``entity`` #``entity_id`` (not committed)."""
    user = current_user.row
    return record_audit(db_session(), action=action, entity=entity, entity_id=entity_id, at=clock.now(),
                        actor=actor_of(user), hall_id=user.hall_id, user_id=user.id, ip=client_ip(), detail=detail)
