"""`callback draw` / `callback verify-draw`: JSON shapes, masking, exit codes. Real clock, real DB."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from callback.cli import main
from callback.db import session_factory
from callback.models import Callback, Contact, Draw, utcnow
from tests.factories import make_case, make_hall

MASKED = re.compile(r"^1\d{2}\*{4}\d{4}$")


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CALL_HOURS", "00:00-24:00")
    monkeypatch.setenv("CALL_DAYS", "all")
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args))


@pytest.fixture
def ledger(database_url: str) -> list[str]:
    """A hall DEMO with 30 cases accepted and imported a little before now; returns their raw numbers."""
    now = utcnow()
    with session_factory(database_url)() as session:
        hall = make_hall(session, "DEMO")
        for i in range(30):
            case = make_case(session, hall, accepted_at=now - timedelta(minutes=30 - i))
            case.created_at = now - timedelta(minutes=30 - i)
        session.commit()
        return list(session.scalars(select(Contact.phone)))


def test_draw_json_shape_and_masked_phones(cli, ledger: list[str]) -> None:
    result = cli("draw", "--json", "--seed", "c0ffee")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert {"draw_id", "week", "seed", "fingerprint", "candidates", "excluded", "sample"} <= set(payload)
    assert payload["seed"] == "c0ffee" and payload["candidates"] == 30 and len(payload["sample"]) == 20
    assert set(payload["excluded"]) == {"no_dialable_number", "opted_out", "deny_listed", "already_drawn",
                                        "contacted_recently"}
    assert all(MASKED.match(row["phone"]) for row in payload["sample"])
    assert not any(number in result.output for number in ledger)
    assert re.match(r"^\d{4}-W\d{2}$", payload["week"])


def test_drawing_twice_returns_the_same_draw_and_redraw_needs_a_reason(cli, ledger, database_url: str) -> None:
    first = json.loads(cli("draw", "--json").stdout)
    again = json.loads(cli("draw", "--json", "--size", "5").stdout)
    assert again["draw_id"] == first["draw_id"] and again["sample"] == first["sample"]

    refused = cli("draw", "--redraw")
    assert refused.exit_code == 2 and "--reason" in refused.output
    redrawn = cli("draw", "--redraw", "--reason", "台账补录后重抽", "--json")
    assert redrawn.exit_code == 0, redrawn.output
    assert json.loads(redrawn.stdout)["draw_id"] != first["draw_id"]
    with session_factory(database_url)() as session:
        assert session.scalar(select(Draw.reason).where(Draw.superseded_at.is_(None))) == "台账补录后重抽"


def test_text_output_is_chinese_and_masked(cli, ledger) -> None:
    result = cli("draw", "--size", "3")
    assert result.exit_code == 0, result.output
    assert "候选 30 件，抽中 3 件" in result.output and "种子：" in result.output
    assert not any(number in result.output for number in ledger)


def test_fewer_candidates_than_asked_is_said(cli, ledger) -> None:
    result = cli("draw", "--size", "50", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["short"] is True and "已全部抽取" in result.stderr


def test_verify_draw_ok_then_tampered(cli, ledger, database_url: str) -> None:
    week = json.loads(cli("draw", "--json").stdout)["week"]
    ok = cli("verify-draw", "--week", week, "--json")
    assert ok.exit_code == 0 and json.loads(ok.stdout) == {"ok": True}
    assert "核验通过" in cli("verify-draw", "--week", week).output

    with session_factory(database_url)() as session:
        callback = session.scalar(select(Callback).limit(1))
        session.delete(callback)
        session.commit()
    bad = cli("verify-draw", "--week", week, "--json")
    assert bad.exit_code == 1
    assert json.loads(bad.stdout) == {"ok": False, "reason": "callbacks_mismatch"}
    assert "核验失败" in bad.stderr


def test_unknown_hall_and_bad_week_fail_cleanly(cli, ledger) -> None:
    missing = cli("draw", "--hall", "NOPE")
    assert missing.exit_code == 2 and "NOPE" in missing.output
    bad_week = cli("verify-draw", "--week", "2026-48")
    assert bad_week.exit_code == 2 and "2026-W48" in bad_week.output
    no_draw = cli("verify-draw", "--week", "2026-W01", "--json")
    assert no_draw.exit_code == 1 and json.loads(no_draw.stdout)["reason"] == "no_draw"
