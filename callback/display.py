"""Text laid out for people: terminal tables and spreadsheet columns, where a CJK character takes two columns."""

from __future__ import annotations

import unicodedata
from typing import Any


def display_width(value: Any) -> int:
    """Columns the text takes in a terminal or a spreadsheet cell (CJK wide and full-width characters count 2)."""
    text = "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(value: Any, width: int) -> str:
    """Left-justify for a terminal, counting CJK characters as two columns."""
    text = str(value)
    return text + " " * max(width - display_width(text), 0)
