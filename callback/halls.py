"""Hall lookup shared by the CLI, the API and the worker."""

from __future__ import annotations

from sqlalchemy import func, insert, literal, select
from sqlalchemy.orm import Session

from callback.models import Contact, Hall


class UnknownHall(LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(f"未知的中心代码 {code!r} / unknown hall code {code!r}")
        self.code = code


def get_hall(session: Session, code: str) -> Hall:
    hall = session.scalar(select(Hall).where(Hall.code == code))
    if hall is None:
        raise UnknownHall(code)
    return hall


def ensure_hall(session: Session, code: str, name: str | None = None) -> Hall:
    """The hall with this code, created on first use (a ledger import may introduce a new hall)."""
    hall = session.scalar(select(Hall).where(Hall.code == code))
    if hall is None:
        hall = Hall(code=code, name=name or f"{code} 政务服务中心")
        session.add(hall)
        session.flush()
        carry_opt_outs(session, hall)
    return hall


def carry_opt_outs(session: Session, hall: Hall) -> int:
    """A new hall starts with every number opted out in another hall already opted out (an opted-out contact row,
    which its first ledger import reuses): an opt-out (key 9, TD/退订) holds in every hall, for good — also in
    halls that did not exist yet (ivr.sms_survey.opt_out_number marks the halls that do). Returns the count."""
    earlier = (
        select(literal(hall.id), Contact.phone, func.min(Contact.kind), func.min(Contact.opted_out_at),
               literal("other_hall"))
        .where(Contact.opted_out_at.is_not(None), Contact.hall_id != hall.id)
        .group_by(Contact.phone)
    )
    columns = ["hall_id", "phone", "kind", "opted_out_at", "opt_out_source"]
    result = session.execute(insert(Contact).from_select(columns, earlier))
    return result.rowcount or 0
