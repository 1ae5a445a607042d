"""Whole-number webhook parameters: our own query values (``?a=`` attempt, ``?n=`` tries, ``?r=`` repeats, ``?m=``
message) and Twilio's counters (``SequenceNumber``, ``CallDuration``, ``RecordingDuration``).

A signed request can still carry a value we never wrote (a forged URL signed with a leaked token, a proxy that
rewrote it). Anything but 1–18 ASCII digits is refused with 400 before it reaches a query: Python's ``int()``
also reads full-width and other Unicode digits, refuses numbers past 4,300 digits with ValueError, and a number past
2**63 would overflow a PostgreSQL integer — each a 500 rather than a clear refusal (docs/architecture.md
§Privacy and security).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import abort

MAX_DIGITS = 18  # every such number is below 2**63: no database integer overflows on it


def int_param(values: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    """The parameter as an int, `default` when absent or empty; aborts with 400 on anything but 1–18 ASCII
    digits."""
    raw = values.get(name)
    if raw is None or raw == "":
        return default
    if len(raw) > MAX_DIGITS or not (raw.isascii() and raw.isdigit()):
        abort(400, f"parameter {name!r} must be a whole number of at most {MAX_DIGITS} digits")
    return int(raw)
