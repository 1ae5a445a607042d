"""One ledger record → a validated case row, or a rejection with a reason. Shared by file import and the API."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from callback.ledger.headers import FIELDS
from callback.ledger.values import Phone, cell_text, normalise_phone, parse_datetime

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")
DATE_FIELDS = ("accepted_at", "promised_at", "completed_at")
TEXT_FIELDS = ("item_name", "item_kind", "applicant", "staff")
LABELS = {f.name: f.label for f in FIELDS}


class CaseRow(NamedTuple):
    """A validated ledger record. Times are aware UTC; `present` lists the fields the source carried.

    A NamedTuple, so that chunks of rows cross process boundaries cheaply (the parallel import pickles them).
    """

    case_no: str
    window: str
    phone: Phone
    accepted_at: datetime
    promised_at: datetime | None
    completed_at: datetime | None
    item_name: str | None
    item_kind: str | None
    applicant: str | None
    staff: str | None
    present: frozenset[str]
    row_hash: str


class Rejected(ValueError):
    """A record that cannot be imported; the message says why (Chinese first)."""


_NO_DST_SINCE = datetime(1992, 1, 1)  # China last observed summer time in 1991
_CST = timedelta(hours=8)


def to_utc(local: datetime | None) -> datetime | None:
    """Ledger times are Asia/Shanghai wall time; storage is UTC.

    Since 1992 Shanghai is a fixed UTC+8, so the common case is a subtraction (zoneinfo costs ~20 µs a row).
    """
    if local is None:
        return None
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    if local >= _NO_DST_SINCE:
        return local.replace(tzinfo=UTC) - _CST
    return local.replace(tzinfo=BUSINESS_TZ).astimezone(UTC)


@lru_cache(maxsize=1 << 16)
def _text_to_utc(text: str) -> datetime | None:
    """Ledger times repeat a lot (minute resolution, a month per file): parse each distinct text once."""
    return to_utc(parse_datetime(text))


def _text(value: object) -> str:
    # records() already trims CSV text; only other cell types need converting
    return value if type(value) is str else cell_text(value)


def _required_text(record: Mapping[str, object], name: str) -> str:
    value = _text(record.get(name))
    if not value:
        raise Rejected(f"缺少{LABELS[name]} / missing {name}")
    return value


def _date(record: Mapping[str, object], name: str) -> datetime | None:
    value = record.get(name)
    try:
        return _text_to_utc(value) if isinstance(value, str) else to_utc(parse_datetime(value))
    except ValueError as exc:
        raise Rejected(f"{LABELS[name]}无法识别: {exc}") from None


def _optional_text(record: Mapping[str, object], name: str) -> str | None:
    return _text(record.get(name)) or None if name in record else None


def build_case_row(record: Mapping[str, object]) -> CaseRow:
    """Validate one record ({field: raw value}); raises Rejected with a reason the user can act on."""
    case_no = _required_text(record, "case_no")
    window = _required_text(record, "window")
    dates = {name: _date(record, name) for name in DATE_FIELDS}
    if dates["accepted_at"] is None:
        raise Rejected(f"缺少{LABELS['accepted_at']} / missing accepted_at")
    phone = normalise_phone(record.get("phone"))
    texts = {name: _optional_text(record, name) for name in TEXT_FIELDS}
    present = frozenset(k for k in record if k in LABELS)
    digest = _hash(case_no, window, phone, dates, texts)
    return CaseRow(case_no, window, phone, dates["accepted_at"], dates["promised_at"], dates["completed_at"],
                   texts["item_name"], texts["item_kind"], texts["applicant"], texts["staff"], present, digest)


def _hash(case_no: str, window: str, phone: Phone, dates: dict, texts: dict) -> str:
    parts = [case_no, window, phone.e164 or phone.raw, phone.kind]
    parts += [d.isoformat() if d else "" for d in dates.values()]
    parts += [t or "" for t in texts.values()]
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def copy_line(row: CaseRow) -> str:
    """The row in PostgreSQL COPY text format, in the staging table's column order (see importer)."""
    fields = (row.case_no, row.window, row.staff, row.phone.e164, row.phone.kind, row.phone.raw[:200] or None,
              row.accepted_at, row.promised_at, row.completed_at, row.item_name, row.item_kind, row.applicant,
              row.row_hash)
    return "\t".join(map(_copy_field, fields)) + "\n"
