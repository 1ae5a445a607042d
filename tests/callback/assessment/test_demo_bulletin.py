"""`make demo` ends with November's 篇3 bulletin for the demo staff, written next to the demo database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

import callback.cli.demo
from callback.cli import main


def test_the_demo_writes_the_month_bulletin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(callback.cli.demo, "DEFAULT_INSTANCE", tmp_path)
    for name in ("SIMULATOR_CITIZENS", "SIMULATOR_STATE_DIR"):
        monkeypatch.setenv(name, "")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    out = result.output[result.output.index("月度考核简报 2026-11"):]
    xlsx, html = tmp_path / "demo" / "考核简报-2026-11.xlsx", tmp_path / "demo" / "考核简报-2026-11.html"
    assert str(xlsx) in out and str(html) in out and "待审批" in out
    # 张伟's sample entry: 一1 late but self-recorded, −1 (篇3 一1)
    assert re.search(r"张伟 .*一14 .*一1（自觉录入）×1 −1", out)
    page = html.read_text(encoding="utf-8")
    assert "待审批" in page and "红旗窗口" in page
    names = [row[0] for row in load_workbook(xlsx)["月度考核"].iter_rows(min_row=4, values_only=True) if row[1]]
    assert {"张伟", "王芳", "李娜", "陈静", "赵敏"} <= set(names)
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", page)
