"""The audit rows a feature service writes while a console page calls it, attributed to the console account.

Services (callback.halls, callback.draws, callback.rectification.alerts, …) write their own audit events naming
an ``actor``; they know nothing of the console. A page wraps the call in ``acting(session)``: the services get the
account's actor name (``张三 (console:zhangsan)``) and every audit event added meanwhile gets the account's id and
address, as the console's own ``audit()`` rows do — so the audit log shows one row per change, with who and from
where, whichever layer wrote it.

    with acting(db_session()) as actor:
        set_hall_name(session, hall.code, name, clock.now(), actor=actor)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.orm import Session

from callback.accounts.services import actor_of
from callback.models import AuditEvent
from callback.web.console.auth import client_ip


@contextmanager
def acting(session: Session) -> Iterator[str]:
    """Yields the logged-in account's actor name; audit events added inside carry its user id and address."""
    user_id, ip = current_user.id, client_ip()

    def stamp(s: Session, *_args: Any) -> None:
        for row in s.new:
            if isinstance(row, AuditEvent) and row.user_id is None:
                row.user_id, row.ip = user_id, (ip or None) and ip[:45]

    event.listen(session, "before_flush", stamp)
    try:
        yield actor_of(current_user.row)
        stamp(session)  # the events added after the service's last flush
    finally:
        event.remove(session, "before_flush", stamp)
