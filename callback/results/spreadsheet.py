"""Cells we export never become formulas (docs/architecture.md §Privacy and security).

A window, staff or hall name comes from a ledger or an operator, so it may start with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return — what a spreadsheet program reads as a formula (``=HYPERLINK(...)``, ``=cmd|...``).
Every XLSX and CSV writer puts its rows through this module:

- XLSX: `append_row` appends the values and marks every such text cell as a string (``data_type "s"``) with
  Excel's quote prefix, so the text is shown exactly as it is, and stays text if someone edits the cell.
  openpyxl would otherwise store any string starting with ``=`` as a formula.
- CSV: `csv_cell` / `csv_row` put a ``'`` before such text (CSV has no types; this is OWASP's advice).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value: object) -> bool:
    """Text a spreadsheet program could take for a formula (numbers, even negative ones, are safe)."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def csv_cell(value: Any) -> Any:
    """A value for a CSV cell: risky text gets a leading ``'``; everything else is unchanged."""
    return "'" + value if looks_like_formula(value) else value


def csv_row(values: Iterable[Any]) -> list[Any]:
    return [csv_cell(v) for v in values]


def append_row(sheet: Any, values: Iterable[Any]) -> None:
    """Append a row to an openpyxl worksheet; no text in it is ever stored as a formula."""
    values = list(values)
    sheet.append(values)
    for cell, value in zip(sheet[sheet.max_row], values, strict=False):
        if looks_like_formula(value):
            cell.data_type = "s"
            cell.quotePrefix = True
