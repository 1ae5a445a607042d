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
def _text_to_utc(text: str) -> tuple[datetime | None, str]:
    """Ledger times repeat a lot (minute resolution, a month per file): parse each distinct text once.

    Returns the UTC time and its ISO text (what the row hash and the COPY line carry), "" for a blank cell.
    """
    dt = to_utc(parse_datetime(text))
    return dt, dt.isoformat() if dt is not None else ""


def _text(value: object) -> str:
    # records() already trims CSV text; only other cell types need converting
    return value if type(value) is str else cell_text(value)


def _date(record: Mapping[str, object], name: str) -> tuple[datetime | None, str]:
    value = record.get(name)
    try:
        if type(value) is str:
            return _text_to_utc(value)
        dt = to_utc(parse_datetime(value))
    except ValueError as exc:
        raise Rejected(f"{LABELS[name]}无法识别: {exc}") from None
    return dt, dt.isoformat() if dt is not None else ""


_present_cache: dict[frozenset[str], frozenset[str]] = {}


def _present(record: Mapping[str, object]) -> frozenset[str]:
    """The ledger fields a record carries; one shared frozenset per key set (rows of a file share it)."""
    keys = frozenset(record)
    present = _present_cache.get(keys)
    if present is None:
        if len(_present_cache) > 256:  # API callers may send any keys; keep the cache bounded
            _present_cache.clear()
        present = _present_cache[keys] = frozenset(k for k in keys if k in LABELS)
    return present


def build_case_row(record: Mapping[str, object]) -> CaseRow:
    """Validate one record ({field: raw value}); raises Rejected with a reason the user can act on."""
    return build_case_row_and_line(record)[0]


def build_case_row_and_line(record: Mapping[str, object]) -> tuple[CaseRow, str]:
    """build_case_row, plus the row as a PostgreSQL COPY text line (see copy_line): the hot path of a file
    import, so that dates are formatted once and the line is rendered on the worker's core."""
    get = record.get
    case_no = _text(get("case_no"))
    if not case_no:
        raise Rejected(f"缺少{LABELS['case_no']} / missing case_no")
    window = _text(get("window"))
    if not window:
        raise Rejected(f"缺少{LABELS['window']} / missing window")
    accepted, accepted_iso = _date(record, "accepted_at")
    promised, promised_iso = _date(record, "promised_at")
    completed, completed_iso = _date(record, "completed_at")
    if accepted is None:
        raise Rejected(f"缺少{LABELS['accepted_at']} / missing accepted_at")
    phone = normalise_phone(get("phone"))
    item_name = (_text(get("item_name")) or None) if "item_name" in record else None
    item_kind = (_text(get("item_kind")) or None) if "item_kind" in record else None
    applicant = (_text(get("applicant")) or None) if "applicant" in record else None
    staff = (_text(get("staff")) or None) if "staff" in record else None
    e164, kind, raw = phone
    digest = hashlib.blake2b("\x1f".join((
        case_no, window, e164 or raw, kind, accepted_iso, promised_iso, completed_iso,
        item_name or "", item_kind or "", applicant or "", staff or "")).encode(), digest_size=16).hexdigest()
    row = CaseRow(case_no, window, phone, accepted, promised, completed, item_name, item_kind, applicant, staff,
                  _present(record), digest)
    raw = raw[:200] or None
    texts = (case_no, window, staff, e164, kind, raw, item_name, item_kind, applicant)
    joined = "".join(t for t in texts if t)
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
        case_no, window, staff, e164, kind, raw, item_name, item_kind, applicant = (
            t.translate(_COPY_ESCAPES) if t else t for t in texts)
    line = "\t".join((
        case_no, window, staff or "\\N", e164 or "\\N", kind, raw or "\\N", accepted_iso, promised_iso or "\\N",
        completed_iso or "\\N", item_name or "\\N", item_kind or "\\N", applicant or "\\N", digest)) + "\n"
    return row, line


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
