"""`callback evaluator import FILE`: evaluator (评价器) and 好差评 exports into the hall's presses."""

from __future__ import annotations

from pathlib import Path

import click

from callback.clitools import echo_json, fail, pass_settings
from callback.config import Settings
from callback.db import transaction
from callback.evaluator.levels import DEFAULT_DIGITS, Levels
from callback.evaluator.services import import_file
from callback.halls.services import ensure_hall
from callback.ledger.headers import LedgerFileError
from callback.ledger.importer import ImportSummary

SHOWN_REJECTIONS = 20


@click.group()
def evaluator() -> None:
    """电子评价器数据：导入评价器或好差评系统导出的评价记录 [electronic evaluator presses]。"""


@evaluator.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--hall", "hall_code", help="中心代码（默认 DEFAULT_HALL）[hall code]")
@click.option("--sheet", help="XLSX 工作表名（默认第一个工作表）[worksheet]")
@click.option("--levels", type=click.Choice(["5", "3", "digits"]), default=None,
              help="数字评价的含义：5＝好差评五星（5 非常满意…1 非常不满意，默认）；3＝1 满意、2 基本满意、3 不满意；"
                   "digits＝按 --digits [what a digit means]")
@click.option("--digits", "digit_map", metavar="1=S,2=B,3=U",
              help=f"数字与等级的对应（S 满意、B 基本满意、U 不满意；默认 {DEFAULT_DIGITS}）[digit → rating]")
@click.option("--json", "as_json", is_flag=True, help="以一个 JSON 对象输出 [machine-readable]")
@pass_settings
def import_evaluator(settings: Settings, file: Path, hall_code: str | None, sheet: str | None, levels: str | None,
                     digit_map: str | None, as_json: bool) -> None:
    """导入评价记录（CSV/XLSX）；重复导入不会产生重复记录 [import evaluator presses; re-import adds nothing]。"""
    try:
        scheme = Levels.from_options(levels, digit_map)
    except ValueError as exc:
        fail(str(exc), 2)
    _require_file(file)
    try:
        with transaction(settings.database_url) as session:
            hall = ensure_hall(session, hall_code or settings.default_hall)
            summary = import_file(session, hall, file, levels=scheme, sheet=sheet)
    except LedgerFileError as exc:
        fail(f"无法导入 {file.name}: {exc}", 2)
    except OSError as exc:  # the file went away or became unreadable while it was read
        fail(f"无法读取 {file}：{exc.strerror or exc} (cannot read the file)", 2)
    if as_json:
        echo_json(summary.as_json())
    else:
        print_summary(file.name, summary)


def _require_file(file: Path) -> None:
    """A missing path or a folder: one line and exit 2, before anything touches the database."""
    if not file.exists():
        fail(f"找不到文件 {file} (no such file)", 2)
    if not file.is_file():
        fail(f"{file} 不是文件 (not a file)", 2)


def print_summary(name: str, s: ImportSummary) -> None:
    """The import in one line, then the first rejected rows with their numbers and reasons."""
    click.echo(f"{name}: 评价记录共 {s.rows} 行 — 新增 {s.imported}, 更新 {s.updated}, 未变 {s.unchanged}, "
               f"拒绝 {s.rejected_total}")
    for r in s.rejected[:SHOWN_REJECTIONS]:
        click.echo(f"  第 {r['row']} 行: {r['reason']}")
    if s.rejected_total > SHOWN_REJECTIONS:
        click.echo(f"  … 另有 {s.rejected_total - SHOWN_REJECTIONS} 行被拒绝（完整列表请用 --json）")


COMMANDS = [evaluator]
