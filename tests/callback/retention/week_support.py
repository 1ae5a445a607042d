"""A finished week to purge, back up and restore: `run-week --simulate` over a past week with citizens who answer,
record a suggestion, say a number in it, text back, opt out, and cannot be reached — then published."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from callback.cli import main
from callback.models import Base, Case, Hall
from callback.results.publication import publish_week
from callback.results.report import weekly_report
from ivr.simulator import citizens
from ivr.simulator.citizens import CitizenRegistry
from tests.factories import make_case, make_hall

TZ = ZoneInfo("Asia/Shanghai")
WEEK = "2026-W46"  # Monday 9 – Sunday 15 November 2026
ACCEPTED = datetime(2026, 11, 4, 10, 0, tzinfo=TZ)
REPORT_AT = datetime(2026, 11, 20, 10, 0, tzinfo=TZ)  # the moment every report in these tests is made for
UNSATISFIED, PLAIN, OPTED_OUT = "+8613700000031", "+8613700000032", "+8613700000033"
SAYS_NUMBER, TEXTS_BACK, LANDLINE = "+8613700000034", "+8613700000035", "+865360000036"
SPOKEN_NUMBER = "13912345678"
PHONES = {
    UNSATISFIED: citizens.answers_all("1111113"),  # overall 不满意: a rectification case, and a recording
    PLAIN: citizens.answers_all("1111111"),
    OPTED_OUT: citizens.opt_out(),
    SAYS_NUMBER: citizens.speaks(f"请回电话{SPOKEN_NUMBER}，窗口让我跑了三趟", keys="1332111"),
    TEXTS_BACK: citizens.no_answer(sms_replies=["112111 排队太久"]),
    LANDLINE: citizens.busy(),
}
NAME = "王小明"


@pytest.fixture
def week_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"DATABASE_URL": database_url, "SIMULATOR_CITIZENS": str(tmp_path / "sim" / "citizens.json"),
              "TWILIO_AUTH_TOKEN": "retention-test-token", "TELEPHONY": "simulator", "SECRET_KEY": "retention-key"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def run_finished_week(db: Session, env: dict[str, str]) -> Hall:
    """The ledger, the simulated week and its publication (approved at REPORT_AT)."""
    hall = make_hall(db)
    for phone in PHONES:
        case = make_case(db, hall, phone=phone, kind="landline" if phone == LANDLINE else "mobile",
                         accepted_at=ACCEPTED.astimezone(UTC))
        case.applicant = NAME
    db.commit()
    CitizenRegistry(Path(env["SIMULATOR_CITIZENS"])).update(PHONES)
    json.loads(cli("run-week", "--simulate", "--week", WEEK, "--json"))
    db.expire_all()
    publish_week(db, hall, WEEK, "张主任", REPORT_AT)
    db.commit()
    return hall


def report(db: Session, hall: Hall) -> dict[str, Any]:
    db.expire_all()
    return weekly_report(db, db.get(Hall, hall.id), WEEK, REPORT_AT)


def every_row(db: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, in id order: what "nothing changed" compares."""
    db.expire_all()
    out = {}
    for table in Base.metadata.sorted_tables:
        order = [c for c in table.primary_key.columns]
        out[table.name] = [tuple(row) for row in db.execute(select(table).order_by(*order))]
    return out


def text_dump(db: Session) -> str:
    """Every value of every table as text: where a number or a name must no longer appear."""
    return "\n".join(repr(row) for rows in every_row(db).values() for row in rows)


def case_of(db: Session, phone: str) -> Case:
    return db.scalars(select(Case).where(Case.phone_raw == phone)).one()


def table_counts(db: Session) -> dict[str, int]:
    return {t.name: db.execute(text(f'SELECT count(*) FROM "{t.name}"')).scalar_one()
            for t in Base.metadata.sorted_tables}
