"""The telephony commands through click: run-week --simulate, callbacks, dial, call-me."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.cli import main
from callback.models import AuditEvent, Callback, Contact, Hall, Window
from callback.models.rectification import Rectification
from callback.web.app import create_app
from ivr.localserver import LocalServer
from ivr.simulator import citizens
from ivr.simulator.citizens import CitizenRegistry
from survey.weeks import week_of
from tests.factories import make_case, make_hall
from tests.ivr.ivr_support import make_callback

pytestmark = pytest.mark.slow

PHONES = {
    "+8613700000001": citizens.answers_all("1111111"),
    "+8613700000002": citizens.answers_all("1121111"),
    "+8613700000003": citizens.hangs_up_after(4, keys="1112"),
    "+8613700000004": citizens.no_answer(),
    "+8613700000005": citizens.opt_out(),
    "+865360000006": citizens.busy(),
}


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    citizens_file = tmp_path / "sim" / "citizens.json"
    values = {"DATABASE_URL": database_url, "SIMULATOR_CITIZENS": str(citizens_file),
              "TWILIO_AUTH_TOKEN": "cli-test-token", "TELEPHONY": "simulator"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def ledger(db: Session, env: dict[str, str]) -> str:
    """Six cases accepted an hour ago (this week's ledger), each number scripted in the citizens registry."""
    hall = make_hall(db)
    accepted = datetime.now(UTC) - timedelta(hours=1)
    for phone in PHONES:
        make_case(db, hall, phone=phone, kind="landline" if phone.startswith("+86536") else "mobile",
                  accepted_at=accepted)
    db.commit()
    registry = CitizenRegistry(Path(env["SIMULATOR_CITIZENS"]))
    registry.update(PHONES)
    return week_of(datetime.now(UTC), ZoneInfo("Asia/Shanghai"))


def test_run_week_simulated_calls_everyone_and_reports(db: Session, env: dict[str, str]) -> None:
    week = ledger(db, env)
    result = CliRunner().invoke(main, ["run-week", "--simulate", "--week", week, "--size", "20", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert len(report["callbacks"]) == 6
    assert report["summary"] == {"answered": 2, "partial": 1, "not_surveyed": 0, "unreached": 2, "opted_out": 1,
                                 "pending": 0}
    by_phone = {c["phone"]: c for c in report["callbacks"]}
    # three calls unanswered → the survey by SMS, never answered → unreachable when it expires
    assert by_phone["137****0004"]["state"] == "unreachable" and by_phone["137****0004"]["attempts_used"] == 3
    assert by_phone["137****0004"]["channel"] == "sms"
    assert by_phone["0536****0006"]["state"] == "unreachable"
    assert any(e["kind"] == "key" for e in report["sample_transcript"])
    for phone in PHONES:
        assert phone not in result.output and phone[3:] not in result.output
    assert db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "view_transcript")) == 1


def test_run_week_prints_the_outcome_table_and_a_transcript(db: Session, env: dict[str, str]) -> None:
    week = ledger(db, env)
    result = CliRunner().invoke(main, ["run-week", "--simulate", "--week", week])
    assert result.exit_code == 0, result.output
    assert "电话回访结果" in result.output and "示例通话记录" in result.output and "完成 2" in result.output
    assert "感谢您的配合" in result.output and "+86137" not in result.output


def test_callbacks_lists_the_week_masked_and_audits_transcript_views(db: Session, env: dict[str, str]) -> None:
    week = ledger(db, env)
    assert CliRunner().invoke(main, ["run-week", "--simulate", "--week", week, "--json"]).exit_code == 0
    before = db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "view_transcript"))
    result = CliRunner().invoke(main, ["callbacks", "--week", week, "--json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    assert listing["week"] == week and len(listing["callbacks"]) == 6
    complete = next(c for c in listing["callbacks"] if c["state"] == "complete")
    assert complete["answers"]["attitude"] == {"label": "服务态度", "key": "1", "value": "S", "meaning": "满意",
                                               "channel": "voice"}
    assert complete["attempts"][0]["status"] == "completed" and complete["transcript"]
    assert all("****" in c["phone"] for c in listing["callbacks"])
    after = db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "view_transcript"))
    assert after - before == 6
    text = CliRunner().invoke(main, ["callbacks", "--week", week, "--no-transcript"])
    assert text.exit_code == 0 and "部分完成" in text.output


def test_dial_places_what_is_due_like_the_beat_tick(db: Session, env: dict[str, str], monkeypatch) -> None:  # noqa: ANN001
    callback, _ = make_callback(db, state="drawn", attempt=False, next_action_at=datetime.now(UTC) - timedelta(1))
    phone = db.get(Contact, callback.contact_id).phone
    CitizenRegistry(Path(env["SIMULATOR_CITIZENS"])).set(phone, citizens.answers_all())
    app = create_app({"database_url": env["DATABASE_URL"], "twilio_auth_token": env["TWILIO_AUTH_TOKEN"]})
    with LocalServer(app) as server:
        monkeypatch.setenv("PUBLIC_BASE_URL", server.url)
        monkeypatch.setenv("CALL_HOURS", "00:00-24:00")
        monkeypatch.setenv("CALL_DAYS", "all")
        result = CliRunner().invoke(main, ["dial", "--json"])
    assert result.exit_code == 0, result.output
    assert [r["result"] for r in json.loads(result.output)] == ["placed"]
    db.expire_all()
    assert db.get(Callback, callback.id).outcome == "complete"
    again = CliRunner().invoke(main, ["dial", "--json"])
    assert json.loads(again.output) == []


def test_call_me_lets_a_person_answer_at_the_terminal(db: Session, env: dict[str, str]) -> None:
    keys = "\n".join(["*", "1", "1", "2", "7", "1", "1", "1", "1", "态度很好", "态度很好"]) + "\n"
    result = CliRunner().invoke(main, ["call-me", "--phone", "+8613911112222"], input=keys)
    assert result.exit_code == 0, result.output
    assert "电话响了" in result.output and "🔊 您好，这里是" in result.output
    assert "完成" in result.output and "服务态度=满意" in result.output and "办事效率=基本满意" in result.output
    callback = db.scalar(select(Callback).order_by(Callback.id.desc()))
    assert callback.suggestion == "态度很好" and callback.flags.get("demo") is True
    assert "+8613911112222" not in result.output


def weekly_report(week: str) -> dict:
    result = CliRunner().invoke(main, ["report", "--week", week, "--json"])
    assert result.exit_code == 0, result.output
    return {k: v for k, v in json.loads(result.output).items() if k != "generated_at"}


def test_call_me_plays_in_its_scratch_hall_and_leaves_the_real_hall_untouched(db: Session, env: dict[str, str]) -> None:
    week = ledger(db, env)
    assert CliRunner().invoke(main, ["run-week", "--simulate", "--week", week, "--json"]).exit_code == 0
    before = weekly_report(week)
    keys = "\n".join(["1", "2", "1", "1", "1", "1", "3", "态度不好", "态度不好"]) + "\n"  # → a rectification case
    result = CliRunner().invoke(main, ["call-me", "--phone", "+8613911113333"], input=keys)
    assert result.exit_code == 0, result.output
    assert "体验大厅" in result.output and "总体评价=不满意" in result.output
    assert weekly_report(week) == before
    db.expire_all()
    scratch = db.scalar(select(Hall).where(Hall.code == "CALLME"))
    assert scratch is not None and scratch.name == "体验大厅"
    played = db.scalar(select(Callback).order_by(Callback.id.desc()))
    assert played.hall_id == scratch.id and played.flags.get("demo") is True
    case = db.scalar(select(Rectification).where(Rectification.callback_id == played.id))
    assert case is not None and case.hall_id == scratch.id
    real = db.scalar(select(Hall).where(Hall.code == "DEMO"))
    assert db.scalar(select(Window).where(Window.hall_id == real.id, Window.name == "演示窗口")) is None


def test_call_me_into_a_named_hall_only_when_asked(db: Session, env: dict[str, str]) -> None:
    keys = "\n".join(["1"] * 7 + ["", ""]) + "\n"
    result = CliRunner().invoke(main, ["call-me", "--phone", "+8613911114444", "--hall", "WF09"], input=keys)
    assert result.exit_code == 0, result.output
    played = db.scalar(select(Callback).order_by(Callback.id.desc()))
    assert db.get(Hall, played.hall_id).code == "WF09"


def test_sms_feedback_with_no_server_running_prints_no_english_error(
    db: Session, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    week = ledger(db, env)
    assert CliRunner().invoke(main, ["run-week", "--simulate", "--week", week, "--json"]).exit_code == 0
    db.expire_all()
    case = db.scalars(select(Rectification).order_by(Rectification.id)).first()
    assert CliRunner().invoke(main, ["rectify", str(case.id), "--action", "已培训"]).exit_code == 0
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    monkeypatch.setenv("PUBLIC_BASE_URL", f"http://127.0.0.1:{dead}")
    monkeypatch.setenv("SMS_HOURS", "00:00-24:00")
    caplog.set_level(logging.DEBUG, logger="ivr.simulator")
    capfd.readouterr()
    result = CliRunner().invoke(main, ["feedback", str(case.id), "--text", "已整改，感谢监督"])
    for thread in threading.enumerate():  # the simulated network posts its status callbacks in the background
        if thread.name == "ivr-simulator":
            thread.join(20)
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("已反馈（短信）")
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    records = [r for r in caplog.records if r.name.startswith("ivr.simulator")]
    assert records, "the undelivered status callback leaves one quiet line in the log"
    # what Python prints on the terminal when logging is not set up: WARNING and above
    assert all(r.levelno < logging.WARNING for r in records)
    assert all(re.search(r"[\u4e00-\u9fff]", r.getMessage()) for r in records)
    assert not any(re.search(r"Error|unreachable|failed", r.getMessage()) for r in records)


@pytest.mark.parametrize("command", ["run-week", "callbacks", "call-me", "dial", "sms", "sms-status"])
def test_help_texts_are_chinese_first(command: str) -> None:
    cmd = main.commands[command]
    assert re.match(r"[\u4e00-\u9fff]", cmd.help or ""), cmd.help
    for option in cmd.params:
        if isinstance(option, click.Option):
            assert re.match(r"[\u4e00-\u9fff]", option.help or ""), (command, option.opts, option.help)
    assert CliRunner().invoke(main, [command, "--help"]).exit_code == 0
