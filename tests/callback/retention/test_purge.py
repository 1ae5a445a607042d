"""`callback purge` on a finished week (个人信息保护法 最小必要; docs/architecture.md §Privacy and security): recordings
go at the provider and here, numbers and names become keyed hashes, and nothing anyone reads changes — the
week's report, the public board, a fresh publication, verify-draw — while an opted-out number stays opted out
when the ledger brings it back."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callback.draws.services import draw_weekly_sample, verify_draw
from callback.models import AuditEvent, Callback, Contact, Hall, TranscriptEvent
from callback.models.rectification import Rectification
from callback.results.publication import public_figures, publish_week
from callback.retention import cli as retention_cli
from callback.retention.services import is_hashed
from callback.web.app import create_app
from ivr.simulator import SimulatorProvider
from survey.weeks import week_of
from tests.callback.retention.week_support import (
    NAME,
    OPTED_OUT,
    PHONES,
    REPORT_AT,
    SPOKEN_NUMBER,
    TZ,
    WEEK,
    case_of,
    cli,
    every_row,
    report,
    run_finished_week,
    text_dump,
)
from tests.factories import make_case

pytestmark = pytest.mark.slow

PURGE_AT = REPORT_AT + timedelta(days=400)  # past both retention periods (90 and 365 days)
BETWEEN = REPORT_AT + timedelta(days=120)  # past the recordings' 90 days only


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    def set_to(moment):  # noqa: ANN001, ANN202
        monkeypatch.setattr(retention_cli, "now", lambda: moment)
    return set_to


@pytest.fixture
def week(db: Session, week_env: dict[str, str]) -> Hall:
    return run_finished_week(db, week_env)


@pytest.fixture
def simulator(week_env: dict[str, str]) -> SimulatorProvider:
    sim = Path(week_env["SIMULATOR_CITIZENS"]).parent
    return SimulatorProvider(auth_token="x", state_dir=sim, citizens_file=sim / "citizens.json")


def board(database_url: str) -> tuple[str, str]:
    client: FlaskClient = create_app({"database_url": database_url, "default_hall": "DEMO"}).test_client()
    pages = client.get("/board"), client.get(f"/board/{WEEK}")
    assert [p.status_code for p in pages] == [200, 200]
    return pages[0].get_data(as_text=True), pages[1].get_data(as_text=True)


def purge(*extra: str) -> dict:
    return json.loads(cli("purge", "--json", *extra))


def recordings(db: Session) -> list[str]:
    db.expire_all()
    return list(db.scalars(select(Callback.recording_url).where(Callback.recording_url.is_not(None))))


def test_dry_run_counts_and_changes_nothing(db: Session, week: Hall, clock, simulator: SimulatorProvider) -> None:
    before = every_row(db)
    clock(PURGE_AT)

    counted = purge("--dry-run")

    assert counted["dry_run"] is True
    assert counted["recordings"] == len(recordings(db)) >= 2
    assert counted["cases"] == len(PHONES) and counted["contacts"] == len(PHONES)
    assert every_row(db) == before and simulator.deleted_recordings() == []
    assert "试运行" in cli("purge", "--dry-run")


def test_recordings_go_first_at_the_provider_then_here(db: Session, week: Hall, clock,
                                                       simulator: SimulatorProvider) -> None:
    urls = recordings(db)
    assert len(urls) >= 2 and all(simulator.fetch_recording(url).data for url in urls)
    clock(BETWEEN)

    done = purge()

    assert (done["recordings"], done["cases"], done["contacts"]) == (len(urls), 0, 0)
    assert sorted(d["url"] for d in simulator.deleted_recordings()) == sorted(urls)
    assert all(d["existed"] for d in simulator.deleted_recordings())
    assert recordings(db) == []
    lines = db.scalars(select(TranscriptEvent).where(TranscriptEvent.kind == "recording")).all()
    assert lines and all("url" not in line.data and line.data["deleted"] for line in lines)
    audited = db.scalars(select(AuditEvent).where(AuditEvent.action == "recording_deleted")).all()
    assert len(audited) == len(urls) and all(a.detail == {} for a in audited)
    assert case_of(db, OPTED_OUT).applicant == NAME  # personal data keeps its own, longer period
    assert purge()["recordings"] == 0  # nothing left to do


def test_purge_keeps_the_report_the_board_and_the_draw(db: Session, week: Hall, clock, database_url: str) -> None:
    case = db.scalars(select(Rectification).order_by(Rectification.id)).first()
    cli("rectify", str(case.id), "--action", "已约谈窗口人员")
    cli("feedback", str(case.id), "--text", f"已按您留的电话{SPOKEN_NUMBER}回复", "--via", "phone")
    # the 二次回访 the feedback placed went unanswered the same week: every callback of the week has ended
    db.execute(update(Callback).where(Callback.revisit_of_id.is_not(None))
               .values(state="unreachable", finished_at=REPORT_AT, next_action_at=None))
    db.commit()
    report_before, board_before = report(db, week), board(database_url)
    figures_before = public_figures(report_before)
    audits_before = db.scalars(select(AuditEvent.id)).all()
    verified_before = verify_draw(db, db.get(Hall, week.id), WEEK)
    assert all(phone in text_dump(db) for phone in PHONES) and NAME in text_dump(db)
    clock(PURGE_AT)

    done = purge()

    assert (done["cases"], done["contacts"]) == (len(PHONES), len(PHONES)) and done["suggestions"] == 3  # said; fed back; the audit of it
    dump = text_dump(db)
    for secret in [*PHONES, *(p.removeprefix("+86") for p in PHONES), NAME, SPOKEN_NUMBER]:
        assert secret not in dump, secret
    assert all(is_hashed(c.phone) for c in db.scalars(select(Contact)))
    assert report(db, week) == report_before and board(database_url) == board_before
    republished = publish_week(db, db.get(Hall, week.id), WEEK, "李科长", PURGE_AT)
    assert republished.figures | {"as_of": None} == figures_before | {"as_of": None}
    db.rollback()
    assert verify_draw(db, db.get(Hall, week.id), WEEK) == verified_before
    assert set(audits_before) <= set(db.scalars(select(AuditEvent.id)))  # audit rows are kept
    assert purge() | {"dry_run": False} == done | {"recordings": 0, "cases": 0, "contacts": 0, "suggestions": 0,
                                                   "recording_failures": [], "merged": 0}


def test_an_opted_out_number_is_never_called_again_after_a_purge(db: Session, week: Hall, clock,
                                                                 week_env: dict[str, str]) -> None:
    opted = db.scalars(select(Contact).where(Contact.phone == OPTED_OUT)).one()
    assert opted.opted_out_at is not None
    clock(PURGE_AT)
    purge()
    db.expire_all()
    assert db.scalars(select(Contact).where(Contact.phone == OPTED_OUT)).all() == []

    # a year later the ledger brings the number back, for a new case, with a new number beside it
    hall = db.get(Hall, week.id)
    new_case = make_case(db, hall, phone=OPTED_OUT, accepted_at=PURGE_AT - timedelta(days=1))
    fresh = make_case(db, hall, phone="+8613700000099", accepted_at=PURGE_AT - timedelta(days=1))
    db.commit()
    result = draw_weekly_sample(db, hall, week_of(PURGE_AT, TZ), now=PURGE_AT, settings=_settings(week_env))
    db.commit()

    db.expire_all()
    assert [c.case_id for c in result.sample] == [fresh.id]
    assert result.draw.excluded["opted_out"] == 1
    back = db.scalars(select(Contact).where(Contact.hall_id == hall.id, Contact.phone == OPTED_OUT)).one()
    assert back.id == opted.id and back.opted_out_at == opted.opted_out_at  # the old row, its opt-out kept
    assert db.get(type(new_case), new_case.id).contact_id == opted.id
    assert not db.scalars(select(Callback).where(Callback.case_id == new_case.id)).all()
    assert verify_draw(db, hall, week_of(PURGE_AT, TZ)).ok


def _settings(env: dict[str, str]):  # noqa: ANN202
    from callback.config import Settings

    return Settings.from_env()
