"""The weekly publication (篇2 六): one whitelist of public figures, versions, refusals, the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import callback.results.cli_publish as cli_publish
from callback.cli import main
from callback.db import session_factory
from callback.models import PublishedReport
from callback.rectification.services import give_feedback, open_for_callback, rectify
from callback.results.publication import (
    IncompleteWeek,
    PublishRefused,
    WeekCompleteness,
    latest_published,
    public_figures,
    publish_week,
    published_weeks,
    week_completeness,
)
from callback.results.report import weekly_report
from tests.callback.results.test_report import (
    ALL_GOOD,
    MARKET,
    OPENED_TAX,
    REPORT_AT,
    TAX,
    WEEK,
    add_callback,
    build_week,
)
from tests.factories import make_hall

PUBLIC_ROW_KEYS = {"window", "n", "score", "grade", "satisfied", "ci_low", "ci_high", "sources"}
PUBLIC_SOURCE_KEYS = {"questionnaire": {"n", "score", "satisfied"}, "evaluator": {"n", "score", "S", "B", "U"}}
PUBLIC_KEYS = {"week", "from", "to", "hall", "hall_name", "as_of", "windows", "totals"}
LATER = datetime(2026, 10, 13, 2, 0, tzinfo=UTC)


def _stored(database_url: str, published_id: int) -> PublishedReport:
    """The row as a fresh session reads it back (the figures have been through the JSON column)."""
    with session_factory(database_url)() as fresh:
        row = fresh.get(PublishedReport, published_id)
        assert row is not None
        return row


def test_publish_stores_exactly_the_public_fields(session: Session, database_url: str) -> None:
    hall = build_week(session)
    published = publish_week(session, hall, WEEK, "张主任", REPORT_AT)
    session.commit()
    stored = _stored(database_url, published.id)
    assert (stored.kind, stored.period, stored.version, stored.approved_by, stored.published_at) == ("week", WEEK, 1, "张主任", REPORT_AT)
    figures = stored.figures
    assert set(figures) == PUBLIC_KEYS
    for row in [*figures["windows"], figures["totals"]]:
        assert set(row) == PUBLIC_ROW_KEYS
        assert {source: set(keys) for source, keys in row["sources"].items()} == PUBLIC_SOURCE_KEYS
    assert (figures["week"], figures["hall"], figures["as_of"]) == (WEEK, "DEMO", "2026-10-12T12:00:00+08:00")
    assert (figures["from"], figures["to"]) == ("2026-09-28", "2026-10-04")


def test_published_figures_equal_the_weekly_report(session: Session, database_url: str) -> None:
    hall = build_week(session)
    published = publish_week(session, hall, WEEK, "张主任", REPORT_AT)
    session.commit()
    report = weekly_report(session, hall, WEEK, REPORT_AT)
    figures = _stored(database_url, published.id).figures
    assert [w["window"] for w in figures["windows"]] == [MARKET, TAX]
    for row, full in zip(figures["windows"], report["windows"], strict=True):
        assert row == {key: full[key] for key in PUBLIC_ROW_KEYS}
    assert figures["totals"] == {key: report["totals"][key] for key in PUBLIC_ROW_KEYS}
    assert (figures["windows"][0]["n"], figures["windows"][0]["score"], figures["windows"][0]["grade"]) == (6, 86.7, "良好")


def test_public_figures_drop_everything_else() -> None:
    sources = {source: {key: 1 for key in keys} | {"staff": "王五"} for source, keys in PUBLIC_SOURCE_KEYS.items()}
    row = {key: 1 for key in PUBLIC_ROW_KEYS} | {"sources": sources, "drawn": 9, "items": {}, "rectifications": {},
                                               "onsite": 2, "staff": "王五"}
    report = {"week": WEEK, "from": "a", "to": "b", "hall": "DEMO", "hall_name": "示范", "generated_at": "t",
              "windows": [row], "totals": row, "cases": [{"id": 1}], "applicants": ["张三"], "onsite": {}}
    figures = public_figures(report)
    assert set(figures) == PUBLIC_KEYS
    assert set(figures["windows"][0]) == PUBLIC_ROW_KEYS and set(figures["totals"]) == PUBLIC_ROW_KEYS
    assert {source: set(keys) for source, keys in figures["totals"]["sources"].items()} == PUBLIC_SOURCE_KEYS
    assert "王五" not in json.dumps(figures, ensure_ascii=False)


def test_publishing_again_adds_a_version_and_the_latest_wins(session: Session) -> None:
    hall = build_week(session)
    first = publish_week(session, hall, WEEK, "张主任", REPORT_AT)
    for _ in range(3):  # a corrected week: three more answers for the tax window
        add_callback(session, TAX, ALL_GOOD)
    second = publish_week(session, hall, WEEK, "李科长", LATER)
    assert (first.version, second.version) == (1, 2)
    assert first.figures["windows"][1]["n"] == 2 and second.figures["windows"][1]["n"] == 5
    assert latest_published(session, hall, WEEK) is second
    assert latest_published(session, hall) is second
    assert second.figures["as_of"] == "2026-10-13T10:00:00+08:00"


def test_latest_week_is_the_newest_iso_week(session: Session) -> None:
    hall = build_week(session)  # also has one callback in 2026-W41
    later = publish_week(session, hall, "2026-W41", "张主任", REPORT_AT)
    earlier = publish_week(session, hall, WEEK, "张主任", LATER)  # published after, but an older week
    assert latest_published(session, hall) is later
    assert latest_published(session, hall, WEEK) is earlier
    assert latest_published(session, hall, "2026-W39") is None
    assert published_weeks(session, hall) == ["2026-W41", WEEK]
    other = make_hall(session, "H2", "另一个中心")
    assert latest_published(session, other) is None and published_weeks(session, other) == []


def test_versions_are_per_week(session: Session) -> None:
    hall = build_week(session)
    publish_week(session, hall, WEEK, "张主任", REPORT_AT)
    assert publish_week(session, hall, "2026-W41", "张主任", REPORT_AT).version == 1


@pytest.mark.parametrize("approver", ["", "   ", None])
def test_an_approver_is_required(session: Session, approver: str | None) -> None:
    hall = build_week(session)
    with pytest.raises(PublishRefused, match="审核人"):
        publish_week(session, hall, WEEK, approver, REPORT_AT)  # type: ignore[arg-type]
    assert session.scalar(select(func.count()).select_from(PublishedReport)) == 0


def test_the_approver_is_stored_trimmed(session: Session) -> None:
    hall = build_week(session)
    assert publish_week(session, hall, WEEK, "  张主任 ", REPORT_AT).approved_by == "张主任"


def test_a_week_without_drawn_callbacks_is_refused(session: Session) -> None:
    hall = build_week(session)
    with pytest.raises(PublishRefused, match="没有抽取的回访对象"):
        publish_week(session, hall, "2026-W01", "张主任", REPORT_AT)
    assert latest_published(session, hall) is None


@pytest.mark.parametrize("week", ["2026-45", "2026W45", "2026-W1", "2025-W53", "2026-W00", ""])
def test_a_malformed_week_is_refused(session: Session, week: str) -> None:
    hall = build_week(session)  # 2025 has 52 ISO weeks (2026 has 53)
    with pytest.raises(PublishRefused):
        publish_week(session, hall, week, "张主任", REPORT_AT)


# --- CLI ---------------------------------------------------------------------------------------------------


def _invoke(database_url: str, *args: str):  # noqa: ANN202
    env = {"DATABASE_URL": database_url, "DEFAULT_HALL": "DEMO"}
    return CliRunner().invoke(main, ["publish", *args], env=env)


def test_cli_publish_json_and_versions(session: Session, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    build_week(session)
    session.commit()
    monkeypatch.setattr(cli_publish, "now", lambda: REPORT_AT)
    result = _invoke(database_url, "--week", WEEK, "--approved-by", "张主任", "--force", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (payload["week"], payload["version"], payload["hall"], payload["approved_by"]) == (WEEK, 1, "DEMO", "张主任")
    assert set(payload["figures"]) == PUBLIC_KEYS
    assert payload["figures"]["totals"]["score"] == 87.9
    assert (payload["kind"], payload["period"]) == ("week", WEEK)

    again = _invoke(database_url, "--week", WEEK, "--approved-by", "张主任", "--force")
    assert again.exit_code == 0, again.output
    assert "2026-W40 第 2 版" in again.output and "2 个窗口" in again.output and "87.9" in again.output
    with session_factory(database_url)() as fresh:
        hall = make_hall(fresh)
        latest = latest_published(fresh, hall, WEEK)
        assert latest is not None and latest.version == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--week", WEEK, "--approved-by", " "], "审核人"),
        (["--week", "2026-W01", "--approved-by", "张主任"], "没有抽取的回访对象"),
        (["--week", "2026-W99", "--approved-by", "张主任"], "没有第 99 周"),
        (["--week", WEEK, "--approved-by", "张主任", "--hall", "NOPE"], "未知的中心代码"),
    ],
)
def test_cli_refused_publish_exits_2(session: Session, database_url: str, args: list[str], message: str) -> None:
    build_week(session)
    session.commit()
    result = _invoke(database_url, *args, "--json")
    assert result.exit_code == 2
    assert "未发布" in result.output and message in result.output
    with session_factory(database_url)() as fresh:
        assert fresh.scalar(select(func.count()).select_from(PublishedReport)) == 0


# --- an incomplete week -------------------------------------------------------------------------


def _complete_week(session: Session) -> None:
    """Six finished callbacks, one case fed back: nothing left to do."""
    for _ in range(5):
        add_callback(session, TAX, ALL_GOOD)
    unhappy = add_callback(session, TAX, ALL_GOOD | {"overall": "B"})
    add_callback(session, TAX, state="refused")
    add_callback(session, TAX, state="unreachable")
    case = open_for_callback(session, unhappy, OPENED_TAX)
    rectify(session, case, "已整改", LATER, actor="a")
    give_feedback(session, case, "已告知", LATER, actor="a", via="phone")
    session.commit()


def test_week_completeness_counts_what_is_still_open(session: Session) -> None:
    """build_week leaves one tax callback on the phone and two cases without feedback (one overdue, one not
    yet due); an SMS survey still waiting counts too. A 二次回访 and another week's callback do not."""
    hall = build_week(session)
    assert week_completeness(session, hall, WEEK) == WeekCompleteness(WEEK, calling=1, sms_pending=0,
                                                                      open_rectifications=2)
    first = add_callback(session, TAX, state="sms", channel="sms")
    add_callback(session, TAX, state="drawn", revisit_of=first)
    add_callback(session, TAX, state="drawn", week="2026-W41")
    progress = week_completeness(session, hall, WEEK)
    assert (progress.calling, progress.sms_pending, progress.complete) == (1, 1, False)
    assert progress.reasons() == ["1 个回访仍在电话回访中（待拨或通话中）", "1 个短信回访尚未结束", "2 个整改尚未反馈"]


def test_a_finished_week_is_complete(session: Session) -> None:
    _complete_week(session)
    progress = week_completeness(session, make_hall(session), WEEK)
    assert progress.complete and progress.reasons() == []


def test_publish_week_can_require_a_complete_week(session: Session) -> None:
    hall = build_week(session)
    with pytest.raises(IncompleteWeek) as refused:
        publish_week(session, hall, WEEK, "张主任", REPORT_AT, require_complete=True)
    assert refused.value.progress.open_rectifications == 2 and "尚未完成" in str(refused.value)
    assert latest_published(session, hall, WEEK) is None
    session.rollback()
    _complete_week(session)
    assert publish_week(session, make_hall(session), WEEK, "张主任", REPORT_AT, require_complete=True).version == 1


def test_cli_refuses_an_incomplete_week_without_force(session: Session, database_url: str) -> None:
    build_week(session)
    session.commit()
    result = _invoke(database_url, "--week", WEEK, "--approved-by", "张主任")
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("未发布：2026-W40 尚未完成") and "1 个回访仍在电话回访中" in line
    assert "2 个整改尚未反馈" in line and "--force" in line
    with session_factory(database_url)() as fresh:
        assert fresh.scalar(select(func.count()).select_from(PublishedReport)) == 0


def test_cli_publishes_an_incomplete_week_with_force_and_warns(session: Session, database_url: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    build_week(session)
    session.commit()
    monkeypatch.setattr(cli_publish, "now", lambda: REPORT_AT)
    result = _invoke(database_url, "--week", WEEK, "--approved-by", "张主任", "--force", "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("警告：2026-W40 尚未完成") and "已按 --force 发布" in result.stderr
    assert json.loads(result.stdout)["incomplete"] == [
        "1 个回访仍在电话回访中（待拨或通话中）", "2 个整改尚未反馈"]


def test_cli_publishes_a_complete_week_without_force_or_warning(session: Session, database_url: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _complete_week(session)
    monkeypatch.setattr(cli_publish, "now", lambda: REPORT_AT)
    result = _invoke(database_url, "--week", WEEK, "--approved-by", "张主任", "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr == "" and json.loads(result.stdout)["incomplete"] == []


# --- migration 0007: a publication is a week or a month ----------------------------------------------------


def test_a_published_week_survives_migration_0007(empty_database_url: str) -> None:
    """A database at 0006 with a published week upgrades: the row keeps its week as ``period``, ``kind`` is week,
    and versions stay unique per (hall, period)."""
    from alembic import command
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from callback.db import get_engine
    from callback.migrate import alembic_config, upgrade_to_head

    command.upgrade(alembic_config(empty_database_url), "0006")
    insert = ("INSERT INTO published_reports (hall_id, {col}, version, figures, approved_by, published_at) "
              "VALUES (1, '2026-W45', {version}, '{{}}', 'a', '2026-11-09 02:00:00')")
    with get_engine(empty_database_url).begin() as conn:
        conn.execute(text("INSERT INTO halls (id, code, name, timezone, created_at) "
                          "VALUES (1, 'H', 'h', 'UTC', '2026-11-02 01:00:00')"))
        conn.execute(text(insert.format(col="week", version=1)))
    upgrade_to_head(empty_database_url)
    with get_engine(empty_database_url).connect() as conn:
        assert conn.execute(text("SELECT kind, period, version FROM published_reports")).all() == [
            ("week", "2026-W45", 1)]
        with pytest.raises(IntegrityError):
            conn.execute(text(insert.format(col="period", version=1)))


# --- months (篇1 红旗窗口) --------------------------------------------------------------------------------


def _month(session: Session) -> tuple:
    from tests.callback.results.test_month_report import MONTH, build_month
    from tests.callback.results.test_month_report import REPORT_AT as MONTH_DONE

    hall, presses = build_month(session)
    return hall, presses, MONTH, MONTH_DONE


def test_publish_a_month_with_its_red_flags(session: Session, database_url: str) -> None:
    from callback.models.publication import MONTH as MONTH_KIND
    from callback.results.publication import publish_month

    hall, presses, month, done = _month(session)
    published = publish_month(session, hall, month, "张主任", done, presses=presses, require_complete=True)
    session.commit()
    stored = _stored(database_url, published.id)
    assert (stored.kind, stored.period, stored.version) == ("month", month, 1)
    figures = stored.figures
    assert set(figures) == {"month", "from", "to", "hall", "hall_name", "as_of", "windows", "totals", "red_flags"}
    assert all(set(row) == PUBLIC_ROW_KEYS for row in [*figures["windows"], figures["totals"]])
    flags = figures["red_flags"]
    assert [(r["window"], r["place"]) for r in flags["windows"]] == [
        ("公安窗口", 1), ("税务窗口", 2), ("人社窗口", 3), ("社保窗口", 3)]
    assert flags["tied"] == [{"score": 92.0, "place": 3, "windows": ["人社窗口", "社保窗口"]}]
    assert flags["too_few"] == ["不动产窗口"] and flags["rule"].startswith("月度红旗窗口")
    again = publish_month(session, hall, month, "李科长", done, presses=presses)
    assert again.version == 2
    assert latest_published(session, hall, kind=MONTH_KIND) is again
    assert latest_published(session, hall) is None  # a month is not a week
    assert published_weeks(session, hall, kind=MONTH_KIND) == [month] and published_weeks(session, hall) == []


def test_month_publication_refusals(session: Session) -> None:
    from callback.results.publication import UnfinishedMonth, publish_month

    hall, presses, month, done = _month(session)
    with pytest.raises(PublishRefused, match="月份格式不正确"):
        publish_month(session, hall, "2026-13", "张主任", done)
    with pytest.raises(PublishRefused, match="没有回访问卷或评价器数据"):
        publish_month(session, hall, "2026-01", "张主任", done)
    with pytest.raises(PublishRefused, match="审核人"):
        publish_month(session, hall, month, " ", done)
    during = datetime(2026, 10, 31, 15, 0, tzinfo=UTC)  # 10-31 23:00 Shanghai: the month is not over
    with pytest.raises(UnfinishedMonth, match="尚未结束"):
        publish_month(session, hall, month, "张主任", during, require_complete=True)
    assert publish_month(session, hall, month, "张主任", during, presses=presses).version == 1


def test_cli_publish_month(session: Session, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, month, done = _month(session)
    session.commit()
    monkeypatch.setattr(cli_publish, "now", lambda: done)
    result = _invoke(database_url, "--month", month, "--approved-by", "张主任", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (payload["kind"], payload["month"], payload["version"]) == ("month", month, 1)
    assert [r["window"] for r in payload["figures"]["red_flags"]["windows"]] == ["公安窗口", "税务窗口"]
    text = _invoke(database_url, "--month", month, "--approved-by", "张主任")
    assert text.exit_code == 0 and "2026-10 第 2 版" in text.output and "红旗窗口：公安窗口、税务窗口" in text.output


@pytest.mark.parametrize(("args", "message"), [
    (["--approved-by", "张主任"], "请指定 --week 或 --month"),
    (["--week", WEEK, "--month", "2026-10", "--approved-by", "张主任"], "请指定 --week 或 --month"),
    (["--month", "2026-10", "--approved-by", "张主任"], "尚未结束"),
    (["--month", "2026-1x", "--approved-by", "张主任"], "月份格式不正确"),
])
def test_cli_publish_month_refusals(session: Session, database_url: str, monkeypatch: pytest.MonkeyPatch,
                                    args: list[str], message: str) -> None:
    _month(session)
    session.commit()
    monkeypatch.setattr(cli_publish, "now", lambda: datetime(2026, 10, 20, 2, 0, tzinfo=UTC))
    result = _invoke(database_url, *args)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("未发布") and message in line
    with session_factory(database_url)() as fresh:
        assert fresh.scalar(select(func.count()).select_from(PublishedReport)) == 0
