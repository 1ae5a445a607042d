"""`callback demo` (what `make demo` runs): the whole simulated week, with nothing personal left unmasked, told in
Chinese, ending with where the week is kept and what to try next."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import callback.cli.demo
from callback.cli import main


@pytest.fixture
def demo_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(callback.cli.demo, "DEFAULT_INSTANCE", tmp_path)
    for name in ("SIMULATOR_CITIZENS", "SIMULATOR_STATE_DIR"):  # the demo sets these; undone after the test
        monkeypatch.setenv(name, "")
    return tmp_path


def test_demo_runs_the_whole_week_masked(demo_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "新增 72" in out and "第 75 行被拒绝" in out  # the bundled ledger, bad rows named by row number
    assert re.search(r"回访#\d+ +SF\d+ .*1\d\d\*\*\*\*\d{4}", out)  # the masked sample
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", out)  # no mobile number in clear, anywhere
    totals = re.search(r"合计 +抽取 +(\d+)[ =]+电话 +(\d+) +短信 +(\d+)", out)
    assert totals and int(totals[1]) == 20 and int(totals[2]) > 0 and int(totals[3]) > 0
    assert "【超期反馈】" in out and "超期督办" in out  # one case fed back late, escalated first
    # the draw's exclusions in words, each reason with its count — never a Python dict
    excluded = re.search(r"排除：无可拨号码 (\d+) 件，已退订 \d+ 件，内部/禁拨号码 \d+ 件，已被抽过 \d+ 件，"
                         r"近期已联系 \d+ 件", out)
    assert excluded and int(excluded[1]) == 3 and "{'" not in out and "no_dialable_number" not in out
    # it ends with the database it wrote and the commands to try next, pointed at that database
    ending = out[out.index("演示结束"):]
    database = demo_env / "demo" / "demo.sqlite3"
    assert database.exists() and f"本次演示的数据库：{database}" in ending
    assert f"export DATABASE_URL=sqlite:///{database}" in ending
    assert "callback callbacks --week 2026-W48" in ending
    assert "callback report --week 2026-W48 --xlsx out.xlsx" in ending


def test_demo_into_a_given_database_names_it_without_asking_to_export(
    demo_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{demo_env / 'mine.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    ending = result.output[result.output.index("演示结束"):]
    assert f"DATABASE_URL 指向的数据库：{url}" in ending and "export" not in ending
    assert "callback report --week 2026-W48 --xlsx out.xlsx" in ending
