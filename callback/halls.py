"""Hall lookup shared by the CLI, the API and the worker."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import Hall


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
    return hall
