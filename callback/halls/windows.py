"""What each window of a hall does (篇3 七9 rewards the case volume of 综合受理 and 出件 windows only): the role
is set by the hall's administration, `callback hall window-role`, and audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import AuditEvent, Hall, Window
from callback.models.ledger import WINDOW_ROLES


class WindowRoleError(ValueError):
    """An unknown window or role; the message is for people."""


def window_roles(session: Session, hall: Hall) -> list[dict[str, Any]]:
    """Every window of the hall with its role key and label, by name."""
    windows = session.scalars(select(Window).where(Window.hall_id == hall.id))
    return [{"window": w.name, "role": w.role, "label": WINDOW_ROLES[w.role]}
            for w in sorted(windows, key=lambda w: w.name)]


def set_window_role(session: Session, hall: Hall, name: str, role: str, now: datetime, *,
                    actor: str) -> tuple[Window, str]:
    """Set the role of the hall's window ``name`` (a key of ``WINDOW_ROLES``); returns the window and its previous
    role. A change is written to the audit trail. The caller commits."""
    if role not in WINDOW_ROLES:
        choices = "、".join(f"{key}（{label}）" for key, label in WINDOW_ROLES.items())
        raise WindowRoleError(f"未知的窗口类型 {role!r}，可选：{choices}")
    window = session.scalar(select(Window).where(Window.hall_id == hall.id, Window.name == name.strip()))
    if window is None:
        raise WindowRoleError(f"本中心没有名为「{name}」的窗口（unknown window）")
    previous = window.role
    if previous != role:
        window.role = role
        session.add(AuditEvent(hall_id=hall.id, at=now, actor=actor, entity="window", entity_id=window.id,
                               action="window_role_set", detail={"from": previous, "to": role}))
        session.flush()
    return window, previous
