"""`callback calendar` as a new user meets it: a bad schedule file is refused in one line with exit
status 2, and `calendar show` says which years are official (the package's range) and which were loaded."""

from __future__ import annotations

import json
import re
import tomllib
import zipfile
from datetime import date
from pathlib import Path

import chinese_calendar
import pytest
from click.testing import CliRunner

from callback.calendar.services import official_years
from callback.cli import main

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_2027 = ROOT / "callback" / "data" / "calendar-2027.example.csv"
GOOD = "date,kind,name\n2027-01-01,holiday,元旦\n"


@pytest.fixture
def runner(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return CliRunner()


def _bad_file(folder: Path, kind: str) -> Path:
    """A schedule file a new user might really hand over (or a path that is not one)."""
    if kind == "missing":
        return folder / "missing.csv"
    if kind == "folder":
        return folder
    path = folder / f"{kind}.csv"
    if kind == "xlsx":
        with zipfile.ZipFile(path, "w") as book:
            book.writestr("[Content_Types].xml", "<Types/>")
        return path
    data = {
        "utf16": GOOD.encode("utf-16-le"), "utf16-bom": GOOD.encode("utf-16"), "binary": bytes(range(256)) * 8,
        "bad-encoding": b"date,kind,name\n\xff\xfe\xfd\n", "empty": b"",
    }[kind]
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "找不到文件"), ("folder", "是文件夹"), ("xlsx", "不是 CSV 文本文件"), ("utf16", "不是 CSV 文本文件"),
        ("utf16-bom", "不是 CSV 文本文件"), ("binary", "不是 CSV 文本文件"), ("bad-encoding", "无法识别文件编码"),
        ("empty", "没有任何日期行"),
    ],
)
def test_a_bad_schedule_file_is_one_line_and_loads_nothing(runner: CliRunner, tmp_path: Path, kind: str,
                                                           message: str) -> None:
    result = runner.invoke(main, ["calendar", "load", str(_bad_file(tmp_path, kind))])
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert message in line and "Traceback" not in result.output and result.stdout == ""
    shown = runner.invoke(main, ["calendar", "show", "--year", "2027", "--json"])
    assert json.loads(shown.stdout)["loaded_years"] == []


def test_many_bad_lines_are_still_each_reported(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("date,kind,name\n2027-01-01,holliday,元旦\n2027-01-02,off,元旦\n", encoding="utf-8")
    result = runner.invoke(main, ["calendar", "load", str(path)])
    assert result.exit_code == 2
    assert "（2 处）" in result.stderr and "第 2 行" in result.stderr and "第 3 行" in result.stderr


def test_official_years_is_the_range_the_package_accepts() -> None:
    first, last = official_years()
    assert first == 2004 and last >= 2026
    chinese_calendar.is_workday(date(first, 6, 1))
    chinese_calendar.is_workday(date(last, 6, 1))
    for outside in (first - 1, last + 1):
        with pytest.raises(NotImplementedError):
            chinese_calendar.is_workday(date(outside, 6, 1))


def test_show_says_which_years_are_official_and_which_were_loaded(runner: CliRunner) -> None:
    first, last = official_years()
    before = runner.invoke(main, ["calendar", "show", "--year", "2026"])
    assert f"官方日历覆盖年份：{first}–{last}（chinesecalendar " in before.stdout and "已载入：无" in before.stdout
    assert runner.invoke(main, ["calendar", "load", str(EXAMPLE_2027)]).exit_code == 0
    text = runner.invoke(main, ["calendar", "show", "--year", "2026"]).stdout
    assert re.search(rf"官方日历覆盖年份：{first}–{last}（chinesecalendar [\d.]+）；已载入：2027", text)
    payload = json.loads(runner.invoke(main, ["calendar", "show", "--year", "2027", "--json"]).stdout)
    assert payload["official_years"]["first"] == first and payload["official_years"]["last"] == last
    assert payload["official_years"]["package_version"] and payload["loaded_years"] == [2027]


def test_pyproject_requires_a_chinesecalendar_with_the_current_year() -> None:
    """1.11.0 is the first release with 2026 (1.10.0 stops at 2025, 1.9.x at 2024; checked in a scratch venv);
    no release had 2027 when this was pinned."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    [requirement] = [r for r in project["dependencies"] if r.startswith("chinesecalendar")]
    lower = re.search(r">=\s*([\d.]+)", requirement)
    assert lower is not None
    assert tuple(int(p) for p in lower[1].split(".")) >= (1, 11)
