"""Drawn callbacks made the way the product makes them: a generated ledger through `callback import-ledger`, then
the week's draw (`draw_weekly_sample`) with calling hours open all day, so every callback is due now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from callback.config import Settings
from callback.db import session_factory
from callback.draws.services import draw_weekly_sample
from callback.models import Hall
from capacity.ledger_files import callable_ledger
from capacity.processes import BIN, run_sampled
from survey.weeks import week_of

TZ = ZoneInfo("Asia/Shanghai")
OPEN_ALL_DAY = {"call_hours": "00:00-24:00", "call_days": "all", "sms_hours": "00:00-24:00"}
OPEN_ALL_DAY_ENV = {"CALL_HOURS": "00:00-24:00", "CALL_DAYS": "all", "SMS_HOURS": "00:00-24:00"}


def drawn_callbacks(url: str, hall_code: str, count: int, out_dir: Path) -> int:
    """Import a ledger of ``count`` cases (one mobile number each, accepted an hour ago) into hall ``hall_code``
    and draw all of them for the current week; returns the draw's size."""
    now = datetime.now(UTC)
    accepted = (now - timedelta(hours=1)).astimezone(TZ).strftime("%Y-%m-%d %H:%M")
    ledger = callable_ledger(out_dir / f"ledger-{hall_code.lower()}.csv", count, accepted)
    run_sampled([str(BIN / "callback"), "import-ledger", str(ledger), "--hall", hall_code, "--json"],
                {"DATABASE_URL": url})
    settings = Settings(database_url=url, **OPEN_ALL_DAY)
    with session_factory(url).begin() as session:
        hall = session.scalar(select(Hall).where(Hall.code == hall_code))
        now = datetime.now(UTC)
        result = draw_weekly_sample(session, hall, week_of(now, TZ), size=count, now=now, settings=settings)
        return len(result.sample)
