"""`callback report` as a new user meets it: a malformed week or a missing folder is refused in one
line with exit status 2, and the printed counts of each row add up to the callbacks drawn."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

import callback.results.cli_report as cli_report
from callback.cli import main
from callback.results.report import weekly_report
from tests.callback.results.test_report import MARKET, REPORT_AT, TAX, WEEK, add_callback, build_week
from tests.factories import make_hall

COUNT_RE = re.compile(r"(电话|短信|人工|未联系上|退订|挂断未答|进行中) +(\d+)")


@pytest.fixture
def built(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    build_week(session)
    session.commit()
    monkeypatch.setattr(cli_report, "now", lambda: REPORT_AT)


def _report(database_url: str, *args: str):  # noqa: ANN202
    return CliRunner().invoke(main, ["report", *args], env={"DATABASE_URL": database_url, "DEFAULT_HALL": "DEMO"})


@pytest.mark.parametrize(
    ("week", "message"),
    [("banana", "周次格式应为 2026-W48"), ("2026-W60", "2026 年没有第 60 周"), ("2026-W00", "没有第 0 周"), ("", "周次格式")],
)
def test_a_malformed_week_is_refused_like_the_draw_refuses_it(built: None, database_url: str, week: str,
                                                               message: str) -> None:
    for args in (["--week", week], ["--week", week, "--json"]):
        result = _report(database_url, *args)
        assert result.exit_code == 2, result.output
        [line] = result.stderr.strip().splitlines()
        assert message in line and result.stdout == ""


def test_xlsx_into_a_missing_folder_is_one_line(built: None, database_url: str, tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "week.xlsx"
    result = _report(database_url, "--week", WEEK, "--xlsx", str(target))
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert "文件夹" in line and "不存在" in line and str(target.parent) in line
    assert not target.parent.exists() and "Traceback" not in result.output


def test_the_printed_counts_add_up_to_the_drawn(built: None, database_url: str) -> None:
    """市场监管 8 = 5 phone + 1 SMS + 1 unreachable + 1 opted out; 税务 4 = 1 + 1 + a hang-up + one still calling."""
    result = _report(database_url, "--week", WEEK)
    assert result.exit_code == 0, result.output
    title, onsite, *lines = result.output.splitlines()
    assert title == "示范政务服务中心 2026-W40（9月28日—10月4日） 回访评价结果"
    assert onsite == "现场征求意见表：本周 0 份，目标 5 份，尚缺 5 份"
    rows = {line.split()[0]: line for line in lines}
    assert set(rows) == {MARKET, TAX, "合计"}
    for line in rows.values():
        drawn = int(re.search(r"抽取 +(\d+)", line)[1])
        counts = {label: int(n) for label, n in COUNT_RE.findall(line)}
        assert len(counts) == 7, line
        assert sum(counts.values()) == drawn, line
    assert dict(COUNT_RE.findall(rows[TAX])).items() >= {"挂断未答": "1", "进行中": "1"}.items()
    assert int(re.search(r"抽取 +(\d+)", rows["合计"])[1]) == 12
    for line in rows.values():  # 整改 opened = on time + overdue + not yet due
        opened, on_time, overdue, pending = map(int, re.search(r"整改 (\d+)（按时 (\d+)，超期 (\d+)，未到期 (\d+)）", line).groups())
        assert opened == on_time + overdue + pending


def test_a_refused_call_is_not_counted_as_pending(session: Session, database_url: str) -> None:
    """Answered, never consented (`refused`): it ended without answers, like a hang-up — it is not in progress."""
    add_callback(session, TAX, state="refused")
    add_callback(session, TAX, state="drawn")
    session.commit()
    totals = weekly_report(session, make_hall(session), WEEK, REPORT_AT)["totals"]
    assert (totals["drawn"], totals["break_off"], totals["pending"]) == (2, 1, 1)
