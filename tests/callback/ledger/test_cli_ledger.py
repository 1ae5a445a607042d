"""`callback import-ledger`: the field rules a file shares with the API, and a path that is not a file
(docs/architecture.md §Privacy and security)."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from callback.cli import main
from callback.db import session_factory
from callback.models import Hall
from tests.callback.ledger.test_import_ledger import HEADER, ROWS, cases, write_csv


def run(database_url: str, *args: str):  # noqa: ANN201
    return CliRunner().invoke(main, list(args), env={"DATABASE_URL": database_url})


def import_json(database_url: str, path: Path) -> dict:
    result = run(database_url, "import-ledger", str(path), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_csv_row_over_a_field_limit_is_rejected_with_its_row(database_url: str, tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[1][4] = "窗" * 201  # 受理窗口
    rows[3][0] = "A" * 65  # 受理编号
    path = write_csv(tmp_path / "long.csv", rows, title=True)
    summary = import_json(database_url, path)
    # a title row, the header, then data: the second data row is line 4, the fourth line 6
    assert [(r["row"], r["reason"].split(" / ")[0]) for r in summary["rejected"]] == [
        (4, "窗口超过 200 个字符"), (6, "办件编号超过 64 个字符")]
    assert summary["imported"] == 3 and set(cases(database_url)) == {"A001", "A003", "A005"}


def test_a_long_item_kind_is_a_rejected_row_not_a_failed_import(database_url: str, tmp_path: Path) -> None:
    header = [*HEADER, "办件类型"]
    rows = [[*r, "承诺件" if i else "超长的办件类型" * 10] for i, r in enumerate(ROWS)]
    summary = import_json(database_url, write_csv(tmp_path / "kind.csv", rows, header=header))
    assert [r["row"] for r in summary["rejected"]] == [2] and summary["imported"] == 4


def test_an_xlsx_boolean_cell_is_rejected_not_stored_as_true(database_url: str, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append(ROWS[0])
    sheet.append([ROWS[1][0], ROWS[1][1], True, *ROWS[1][3:]])  # 申请人 TRUE
    path = tmp_path / "bool.xlsx"
    book.save(path)
    summary = import_json(database_url, path)
    assert [r["row"] for r in summary["rejected"]] == [3]
    assert "申请人须为文字或数字" in summary["rejected"][0]["reason"]
    assert set(cases(database_url)) == {"A001"}


@pytest.mark.parametrize("make", [lambda tmp: tmp / "nope" / "台账.csv", lambda tmp: tmp])
def test_a_missing_path_or_a_folder_is_one_line_and_exit_2(database_url: str, tmp_path: Path, make) -> None:
    path = make(tmp_path)
    result = run(database_url, "import-ledger", str(path))
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # fail(), not an exception's traceback
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0]
    assert "no such file" in lines[0] or "not a file" in lines[0]
    with session_factory(database_url)() as s:  # checked before anything touched the database
        assert s.scalar(select(func.count()).select_from(Hall)) == 0
