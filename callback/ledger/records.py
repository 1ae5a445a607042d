"""One ledger record → a validated case row, or a rejection with a reason. Shared by file import and the API."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from callback.ledger.headers import FIELDS
from callback.ledger.values import Phone, cell_text, normalise_phone, parse_datetime

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")
DATE_FIELDS = ("accepted_at", "promised_at", "completed_at")
TEXT_FIELDS = ("item_name", "item_kind", "applicant", "staff")
LABELS = {f.name: f.label for f in FIELDS}

FIELD_LIMITS: dict[str, int] = {
    "case_no": 64, "phone": 64, "window": 200, "staff": 200, "applicant": 200, "item_name": 200, "item_kind": 50,
    "accepted_at": 64, "promised_at": 64, "completed_at": 64,
}
"""The most characters a ledger field may hold, for files and the API alike
(docs/architecture.md §Privacy and security); a longer value rejects its row. Within the columns' sizes
(item_kind is VARCHAR(50)); a phone cell may hold several numbers with notes (「手机：139…（本人），座机：010-…」),
so it gets 64."""
_MAX_CASE_NO, _MAX_PHONE, _MAX_NAME, _MAX_KIND, _MAX_DATE = (
    FIELD_LIMITS[f] for f in ("case_no", "phone", "window", "item_kind", "accepted_at"))
assert all(FIELD_LIMITS[f] == _MAX_NAME for f in ("staff", "applicant", "item_name"))
assert all(FIELD_LIMITS[f] == _MAX_DATE for f in DATE_FIELDS)
_MAX_NUMBER = 10**20  # a numeric cell beyond this is no case number, phone or date serial


class CaseRow(NamedTuple):
    """A validated ledger record. Times are aware UTC; `present` lists the fields the source carried."""

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

    Returns the UTC time and its ISO text (what the row hash is made of), "" for a blank cell.
    """
    dt = to_utc(parse_datetime(text))
    return dt, dt.isoformat() if dt is not None else ""


def _scalar(value: object, name: str) -> object:
    """A cell that is not text must be a number, a date/time (XLSX) or empty: never an object, an array or a
    boolean, which would otherwise be stored as their Python text ("{'a': 1}", "True")."""
    if value is None or isinstance(value, float | datetime | date | time):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and -_MAX_NUMBER < value < _MAX_NUMBER:
        return value
    raise Rejected(f"{LABELS[name]}须为文字或数字 / {name} must be a string or a number")


def _text(value: object, name: str) -> str:
    # records() already trims CSV text; only other cell types need converting
    return value if type(value) is str else cell_text(_scalar(value, name))


def _too_long(name: str) -> Rejected:
    limit = FIELD_LIMITS[name]
    return Rejected(f"{LABELS[name]}超过 {limit} 个字符 / {name} is longer than {limit} characters")


def _date(record: Mapping[str, object], name: str) -> tuple[datetime | None, str]:
    value = record.get(name)
    try:
        if type(value) is str:
            if len(value) > _MAX_DATE:  # before the cache: it must not keep long texts alive
                raise _too_long(name)
            return _text_to_utc(value)
        dt = to_utc(parse_datetime(_scalar(value, name)))
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
        present = _present_cache[keys] = present_fields(keys)
    return present


def present_fields(names: Iterable[str]) -> frozenset[str]:
    """The ledger fields among these record keys (a file's records all have its header's)."""
    return frozenset(name for name in names if name in LABELS)


def build_case_row(record: Mapping[str, object]) -> CaseRow:
    """Validate one record ({field: raw value}); raises Rejected with a reason the user can act on."""
    *fields, digest = _validated(record)
    return CaseRow(*fields, _present(record), digest)


def _phone(value: object) -> Phone:
    if type(value) is str:
        if len(value) > _MAX_PHONE:  # before normalise_phone: its cache must not keep long texts alive
            raise _too_long("phone")
        return normalise_phone(value)
    return normalise_phone(_scalar(value, "phone"))


def _validated(record: Mapping[str, object]) -> tuple:  # type: ignore[type-arg]
    get = record.get
    # Text cells (every CSV cell) skip the call: this runs for each row of a million-row import.
    case_no = value if (value := get("case_no")).__class__ is str else _text(value, "case_no")
    if not case_no:
        raise Rejected(f"缺少{LABELS['case_no']} / missing case_no")
    if "\n" in case_no or "\r" in case_no:  # an identifier on one line: a break means a broken export
        raise Rejected(f"{LABELS['case_no']}含换行 / case_no holds a line break")
    window = value if (value := get("window")).__class__ is str else _text(value, "window")
    if not window:
        raise Rejected(f"缺少{LABELS['window']} / missing window")
    accepted, accepted_iso = _date(record, "accepted_at")
    promised, promised_iso = _date(record, "promised_at")
    completed, completed_iso = _date(record, "completed_at")
    if accepted is None:
        raise Rejected(f"缺少{LABELS['accepted_at']} / missing accepted_at")
    value = get("phone")
    phone = normalise_phone(value) if value.__class__ is str and len(value) <= _MAX_PHONE else _phone(value)
    item_name = value if (value := get("item_name")).__class__ is str else _text(value, "item_name")
    item_kind = value if (value := get("item_kind")).__class__ is str else _text(value, "item_kind")
    applicant = value if (value := get("applicant")).__class__ is str else _text(value, "applicant")
    staff = value if (value := get("staff")).__class__ is str else _text(value, "staff")
    if (len(case_no) > _MAX_CASE_NO or len(window) > _MAX_NAME or len(item_name) > _MAX_NAME
            or len(item_kind) > _MAX_KIND or len(applicant) > _MAX_NAME or len(staff) > _MAX_NAME):
        raise _too_long(_longest_over_limit(case_no=case_no, window=window, item_name=item_name,
                                            item_kind=item_kind, applicant=applicant, staff=staff))
    # an absent column reads as None, a blank cell as "": both None
    item_name, item_kind, applicant, staff = item_name or None, item_kind or None, applicant or None, staff or None
    e164, kind, raw = phone
    hashed = "\x1f".join((case_no, window, e164 or raw, kind, accepted_iso, promised_iso, completed_iso,
                           item_name or "", item_kind or "", applicant or "", staff or ""))
    if "\x00" in hashed or "\x00" in raw:  # a text column cannot hold it (PostgreSQL refuses the whole COPY)
        raise Rejected("含空字符（NUL），文件可能已损坏 / holds a NUL character (a damaged file?)")
    try:
        digest = hashlib.blake2b(hashed.encode(), digest_size=16).hexdigest()
    except UnicodeEncodeError:  # a lone surrogate: no database column can store it
        raise Rejected("含无法存储的字符（孤立的代理字符）/ holds a lone surrogate character") from None
    return case_no, window, phone, accepted, promised, completed, item_name, item_kind, applicant, staff, digest


def _longest_over_limit(**values: str) -> str:
    """The first field (in record order) whose value is over its limit."""
    return next(name for name, value in values.items() if len(value) > FIELD_LIMITS[name])


