"""`callback demo` (what `make demo` runs): the whole simulated week, with nothing personal left unmasked."""

from __future__ import annotations

import re

from click.testing import CliRunner

import callback.demo
from callback.cli import main


def test_demo_runs_the_whole_week_masked(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(callback.demo, "DEFAULT_INSTANCE", tmp_path)
    for name in ("SIMULATOR_CITIZENS", "SIMULATOR_STATE_DIR"):  # the demo sets these; undone after the test
        monkeypatch.setenv(name, "")
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "新增 72" in out and "第 75 行被拒绝" in out  # the bundled ledger, bad rows named by row number
    assert re.search(r"回访#\d+ +SF\d+ .*1\d\d\*\*\*\*\d{4}", out)  # the masked sample
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", out)  # no mobile number in clear, anywhere
    totals = re.search(r"合计 +抽取 +(\d+) +电话 +(\d+) +短信 +(\d+)", out)
    assert totals and int(totals[1]) == 20 and int(totals[2]) > 0 and int(totals[3]) > 0
    assert "【超期反馈】" in out and "超期督办" in out  # one case fed back late, escalated first
