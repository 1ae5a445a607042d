"""`callback record` (a staff member's own call, 篇2 四) and `callback onsite add | import | list` (on-site forms,
篇2 三(二)): what they store, what they print (never a number unmasked), and user errors — one line on stderr,
exit status 2, nothing stored."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import callback.responses.cli as responses_cli
from callback.cli import main
from callback.clitools import os_account
from callback.config import Settings
from callback.draws.services import draw_weekly_sample
from callback.models import Answer, AuditEvent, Callback, Contact, Hall
from callback.models.rectification import Rectification
from tests.factories import make_case, make_hall, make_window

SH = ZoneInfo("Asia/Shanghai")
DRAWN_AT = datetime(2026, 11, 23, 9, 0, tzinfo=SH)
NOW = datetime(2026, 11, 27, 16, 0, tzinfo=SH)
PHONE = "+8613812345678"
WINDOW = "市场监管窗口"


def run(database_url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setattr(responses_cli, "now", lambda: NOW)
    env = {"DATABASE_URL": database_url, "DEFAULT_HALL": "DEMO", "TELEPHONY": "simulator", "CALLBACK_ACTOR": ""}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def refused(result: Result, why: str) -> None:
    """A user error: exit 2 and exactly one line on stderr, saying why."""
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert why in line, line
    assert result.stdout == ""


@pytest.fixture
def hall(session: Session) -> Hall:
    hall = make_hall(session)
    make_window(session, hall, WINDOW)
    session.commit()
    return hall


@pytest.fixture
def drawn(session: Session, hall: Hall) -> int:
    """The id of the one callback of a real draw (the case of PHONE)."""
    accepted = DRAWN_AT - timedelta(days=5)
    case = make_case(session, hall, make_window(session, hall, WINDOW), phone=PHONE, accepted_at=accepted)
    case.created_at = accepted
    result = draw_weekly_sample(session, hall, "2026-W48", now=DRAWN_AT, settings=Settings())
    session.commit()
    return result.sample[0].callback_id


def stored(session: Session) -> tuple[int, int, int]:
    """(answers, audit rows, rectification cases) in the database."""
    session.expire_all()
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Answer, AuditEvent, Rectification))


# --- callback record -----------------------------------------------------------------------------------------------


def test_record_a_staff_call_with_an_integrity_yes(session: Session, database_url: str, drawn: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(database_url, monkeypatch, "record", str(drawn), "--answers", "1 1 1 1 2 1", "--actor", "王五")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"回访#{drawn} 已录入人工回访结果：完成（答案 111121）"
    assert "廉洁自律问题：已即时提醒督查科" in lines and any(line.startswith("已开整改#") for line in lines)
    session.expire_all()
    callback = session.get(Callback, drawn)
    assert (callback.state, callback.channel) == ("complete", "manual")
    case = session.scalar(select(Rectification).where(Rectification.callback_id == drawn))
    assert case.reasons == ["integrity"] and case.integrity
    actors = set(session.scalars(select(AuditEvent.actor).where(AuditEvent.entity == "callback",
                                                                AuditEvent.entity_id == drawn)))
    assert actors == {f"王五 (cli:{os_account()})"}


def test_record_with_opt_out_prints_the_number_masked(session: Session, database_url: str, drawn: int,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(database_url, monkeypatch, "record", str(drawn), "--answers", "111111", "--opt-out",
                 "--suggestion", "以后别打了，我的手机13812345678", "--actor", "王五")
    assert result.exit_code == 0, result.output
    assert "号码 138****5678 已退订" in result.stdout and "13812345678" not in result.output
    session.expire_all()
    assert session.scalar(select(Contact).where(Contact.phone == PHONE)).opted_out_at is not None


def test_record_json(session: Session, database_url: str, drawn: int, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(database_url, monkeypatch, "record", str(drawn), "--answers", "满意", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["state"], data["outcome"], data["keys"], data["phone"]) == ("partial", "partial", "-----1",
                                                                             "138****5678")


@pytest.mark.parametrize(("answers", "why"), [
    ("12x", "无法识别答案"), ("1121113", "超过 6 项"), ("11211111", "超过 6 项"), ("112141", "无效选项"), ("", "答案为空"),
])
def test_bad_answers_are_refused_in_one_line_and_nothing_is_stored(session: Session, database_url: str, drawn: int,
                                                                   monkeypatch: pytest.MonkeyPatch, answers: str,
                                                                   why: str) -> None:
    before = stored(session)
    refused(run(database_url, monkeypatch, "record", str(drawn), "--answers", answers, "--opt-out"), why)
    assert stored(session) == before
    session.expire_all()
    assert session.get(Callback, drawn).state == "drawn"
    assert session.scalar(select(Contact).where(Contact.phone == PHONE)).opted_out_at is None


def test_a_callback_in_a_final_state_is_refused(session: Session, database_url: str, drawn: int,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(database_url, monkeypatch, "record", str(drawn), "--answers", "111111").exit_code == 0
    before = stored(session)
    refused(run(database_url, monkeypatch, "record", str(drawn), "--answers", "333213"), "已结束（完成）")
    assert stored(session) == before
    refused(run(database_url, monkeypatch, "record", "999999", "--answers", "111111"), "找不到回访#999999")
    refused(run(database_url, monkeypatch, "record", str(drawn)), "--opt-out")


# --- callback onsite -----------------------------------------------------------------------------------------------


def test_onsite_add_prints_the_form_and_the_weeks_tally(session: Session, database_url: str, hall: Hall,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(database_url, monkeypatch, "onsite", "add", "--window", WINDOW, "--answers", "112111",
                 "--date", "2026-11-24", "--suggestion", "希望增加自助填表机", "--actor", "王五")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].endswith(f"已录入：{WINDOW} 2026-11-24（2026-W48）完成（答案 112111）")
    assert lines[-1] == "2026-W48 现场征求意见表 1/5 份，还差 4 份"
    session.expire_all()
    callback = session.scalar(select(Callback))
    assert (callback.channel, callback.contact_id, callback.suggestion) == ("onsite", None, "希望增加自助填表机")


def test_onsite_add_json_counts_the_week(database_url: str, hall: Hall, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(2):
        result = run(database_url, monkeypatch, "onsite", "add", "--window", WINDOW, "--answers", "111111", "--json")
    data = json.loads(result.stdout)
    assert (data["week"], data["date"], data["week_count"], data["target"]) == ("2026-W48", "2026-11-27", 2, 5)


@pytest.mark.parametrize(("args", "why"), [
    (("--answers", "111111", "--opt-out"), "退订不适用"),
    (("--answers", "12x"), "无法识别答案"),
    (("--answers", "1111111"), "超过 6 项"),
    (("--answers", "111111", "--date", "下周"), "日期"),
    (("--answers", "111111", "--date", "2026-11-30"), "晚于今天"),
    (("--answers", "111121", "--hall", "NOPE"), "NOPE"),
])
def test_onsite_add_refusals_store_nothing(session: Session, database_url: str, hall: Hall,
                                           monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], why: str) -> None:
    refused(run(database_url, monkeypatch, "onsite", "add", "--window", WINDOW, *args), why)
    assert stored(session) == (0, 0, 0) and session.scalar(select(func.count()).select_from(Callback)) == 0


def test_onsite_add_to_an_unknown_window_names_the_windows(session: Session, database_url: str, hall: Hall,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    refused(run(database_url, monkeypatch, "onsite", "add", "--window", "不存在", "--answers", "111111"),
            f"本中心的窗口：{WINDOW}")


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_onsite_import_lists_bad_rows_on_stderr_and_keeps_the_good(session: Session, database_url: str, hall: Hall,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    path = _csv(tmp_path / "w48.csv", [["窗口", "日期", "答案", "意见建议"], [WINDOW, "2026-11-23", "111111", ""],
                                       [WINDOW, "2026-11-24", "12x", ""], [WINDOW, "2026-11-25", "332213", "态度差"]])
    result = run(database_url, monkeypatch, "onsite", "import", str(path), "--actor", "王五")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "已导入 2 份现场征求意见表，拒绝 1 行"
    assert result.stdout.splitlines()[-1] == "2026-W48 现场征求意见表 2/5 份，还差 3 份"
    [line] = result.stderr.splitlines()
    assert line.startswith("  第 3 行：无法识别答案")
    again = run(database_url, monkeypatch, "onsite", "import", str(path), "--json")
    data = json.loads(again.stdout)
    assert data["added"] == [] and data["skipped_rows"] == [2, 4] and data["rejected"][0]["row"] == 3


def test_onsite_import_of_a_file_it_cannot_use_exits_2(session: Session, database_url: str, hall: Hall,
                                                       monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    refused(run(database_url, monkeypatch, "onsite", "import", str(tmp_path / "none.csv")), "找不到文件")
    path = _csv(tmp_path / "wrong.csv", [["窗口", "答案"], [WINDOW, "111111"]])
    refused(run(database_url, monkeypatch, "onsite", "import", str(path)), "未找到表头行")
    assert session.scalar(select(func.count()).select_from(Callback)) == 0


def test_onsite_list_shows_the_week_against_the_target(session: Session, database_url: str, hall: Hall,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for answers, day in (("111111", "2026-11-23"), ("111121", "2026-11-24")):
        assert run(database_url, monkeypatch, "onsite", "add", "--window", WINDOW, "--answers", answers,
                   "--date", day).exit_code == 0
    result = run(database_url, monkeypatch, "onsite", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "2026-W48 现场征求意见表 2/5 份，还差 3 份"
    assert "2026-11-24" in lines[2] and "111121" in lines[2] and "整改#" in lines[2]
    assert lines[-1] == f"  按窗口：{WINDOW} 2"
    data = json.loads(run(database_url, monkeypatch, "onsite", "list", "--week", "2026-W47", "--json").stdout)
    assert (data["count"], data["missing"], data["forms"]) == (0, 5, [])
    refused(run(database_url, monkeypatch, "onsite", "list", "--week", "2026-48"), "2026-48")


def test_the_weeks_callbacks_listing_leaves_forms_out(session: Session, database_url: str, drawn: int,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(database_url, monkeypatch, "onsite", "add", "--window", WINDOW, "--answers", "111111").exit_code == 0
    result = run(database_url, monkeypatch, "callbacks", "--week", "2026-W48", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [row["id"] for row in data["callbacks"]] == [drawn] and sum(data["summary"].values()) == 1
