"""Ledger cell values as they really come: phone numbers, dates and times, plain text.

Public API:
    normalise_phone(raw, *, area_code=None) -> Phone   E.164 + mobile/landline/invalid/missing
    parse_datetime(value) -> datetime | None            naive Asia/Shanghai wall time; ValueError on garbage
    cell_text(value) -> str                             a cell as trimmed text (case numbers, names, windows)

Correctness of phone numbers comes from `phonenumbers` (region CN). It parses ~30k numbers a second, too slow
for million-row ledgers, so the common case — one plain 11-digit mobile, perhaps with separators or a +86
prefix — is recognised with phonenumbers' own CN mobile pattern without calling its parser (see
tests/callback/ledger/test_values.py for the property test that both agree). Masking for display is
`survey.privacy.mask_phone`; a `Phone` masks itself in ``repr`` with it.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Literal, NamedTuple

import phonenumbers

from survey.privacy import mask_phone

PhoneKind = Literal["mobile", "landline", "invalid", "missing"]

# ---------------------------------------------------------------------------------------------------- phones

# phonenumbers' own pattern for CN mobiles, so the fast path cannot drift from it when the library is updated.
# A plain ^1[3-9]\d{9}$ would accept unallocated ranges (140…, 154…, 192… in older plans) that it rejects.
_CN_MOBILE = re.compile(
    phonenumbers.PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern, re.ASCII
)
_FULLWIDTH_DIGITS = {0xFF10 + i: str(i) for i in range(10)}
_FAST_TABLE = str.maketrans({**_FULLWIDTH_DIGITS, 0xFF0B: "+"} | dict.fromkeys(map(ord, " \t-.()\u3000－（）"), None))
_HARD_SEPARATOR = re.compile(r"[^0-9+\s\-.()]+")  # anything else (/、，;或 letters) separates numbers
_DIGIT_RUN = re.compile(r"\+?[0-9]+")
_MAX_TOKENS_PER_NUMBER = 6  # "+86 (0771) 123 4567" is five
_CN = 86


class Phone(NamedTuple):
    """A normalised phone cell. `e164` is set exactly when `kind` is "mobile" or "landline"."""

    e164: str | None
    kind: PhoneKind
    raw: str

    @property
    def dialable(self) -> bool:
        return self.e164 is not None

    @property
    def masked(self) -> str:
        return mask_phone(self.e164 or self.raw)

    def __repr__(self) -> str:  # never leak the number into logs or tracebacks
        return f"Phone(masked={self.masked!r}, kind={self.kind!r})"


def normalise_phone(raw: object, *, area_code: str | None = None) -> Phone:
    """Normalise a ledger phone cell to E.164. Never raises.

    Accepts spaces, dashes, dots, parentheses, +86/0086/86 prefixes, full-width digits, landlines with area
    code, and several numbers in one cell ("138…/0771-…", "138…、139…"): the first mobile wins, else the first
    valid landline. `area_code` (e.g. "771") completes local landlines written without one.
    A cell with no digits is "missing"; digits that form no valid CN number are "invalid".
    """
    text = _raw_text(raw)
    if len(text) == 11 and _CN_MOBILE.fullmatch(text):  # the bulk of real cells: nothing to clean
        return Phone("+86" + text, "mobile", text)
    mobile = _fast_mobile(text)
    if mobile is not None:
        return Phone("+86" + mobile, "mobile", text)
    return _slow_phone(text, area_code)


def _raw_text(raw: object) -> str:
    if raw.__class__ is str:
        return raw  # type: ignore[return-value]
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))  # a spreadsheet that stored 13800138000 as a number
    return str(raw)


def _fast_mobile(text: str) -> str | None:
    """The 11-digit national number if `text` is one plain CN mobile, else None (meaning: ask phonenumbers)."""
    s = text.translate(_FAST_TABLE)
    if len(s) == 14 and s.startswith("+86"):
        s = s[3:]
    elif len(s) == 15 and s.startswith("0086"):
        s = s[4:]
    elif len(s) == 13 and s.startswith("86"):
        s = s[2:]
    return s if len(s) == 11 and _CN_MOBILE.fullmatch(s) else None


@lru_cache(maxsize=1 << 14)
def _slow_phone(text: str, area_code: str | None) -> Phone:
    """Cells that need phonenumbers (~30 µs each); the same landline or placeholder often recurs in a ledger."""
    landline: str | None = None
    saw_digits = False
    for candidates in _number_candidates(unicodedata.normalize("NFKC", text)):
        saw_digits = True
        for e164, kind in _valid_numbers(candidates, area_code):
            if kind == "mobile":
                return Phone(e164, "mobile", text)
            landline = landline or e164
    if landline is not None:
        return Phone(landline, "landline", text)
    return Phone(None, "invalid" if saw_digits else "missing", text)


def _number_candidates(text: str) -> list[list[str]]:
    """Digit runs grouped by hard separators; each group may hold one or more numbers split by spaces/dashes."""
    groups = (_DIGIT_RUN.findall(piece) for piece in _HARD_SEPARATOR.split(text[:500]))
    return [g for g in groups if g]


def _valid_numbers(tokens: list[str], area_code: str | None) -> list[tuple[str, PhoneKind]]:
    """Greedily join adjacent digit runs into the longest valid number, left to right.

    A group that reads as one mistyped mobile ("140 0109 5000") is one invalid number, not a hunting ground for a
    landline hidden inside it.
    """
    joined = _without_country_code("".join(tokens).lstrip("+"))
    if len(joined) == 11 and joined[0] == "1":
        hit = _classify(joined, area_code)
        return [hit] if hit is not None else []
    found: list[tuple[str, PhoneKind]] = []
    i = 0
    while i < len(tokens):
        for j in range(min(len(tokens), i + _MAX_TOKENS_PER_NUMBER), i, -1):
            hit = _classify("".join(tokens[i:j]), area_code)
            if hit is not None:
                found.append(hit)
                i = j
                break
        else:
            i += 1
    return found


def _without_country_code(digits: str) -> str:
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            return digits[len(prefix):]
    return digits


def _classify(candidate: str, area_code: str | None) -> tuple[str, PhoneKind] | None:
    digits = candidate.lstrip("+")
    if not 7 <= len(digits) <= 17:
        return None
    mobile = _fast_mobile(candidate)
    if mobile is not None:
        return "+86" + mobile, "mobile"
    if len(digits) == 11 and digits[0] == "1":
        # Mobile-shaped but not a mobile: a mistyped number. phonenumbers would read a carrier-selection prefix
        # into it ("14001095000" → 1400 + Beijing 95000); a ledger never writes numbers that way.
        return None
    hit = _phonenumbers_classify(candidate)
    if hit is None and area_code and len(digits) in (7, 8) and digits[0] not in "01+":
        hit = _phonenumbers_classify(f"0{area_code.lstrip('0')}{digits}")
    return hit


def _phonenumbers_classify(candidate: str) -> tuple[str, PhoneKind] | None:
    try:
        number = phonenumbers.parse(candidate, "CN")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != _CN or not phonenumbers.is_valid_number(number):
        return None
    kind: PhoneKind = "mobile" if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE else "landline"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), kind


# ---------------------------------------------------------------------------------------------------- dates

EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(2099, 12, 31, 23, 59, 59)
_SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")  # no DST since 1991; avoids needing tzdata
_EXCEL_EPOCH = datetime(1899, 12, 30)  # 1900 date system, serials ≥ 61 (after Excel's phantom 1900-02-29)
_BLANKS = frozenset({"", "-", "--", "—", "/", "无", "暂无", "null", "none", "n/a", "nan"})

_SEP_DATE = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?:(?:\s+|T)(.*))?", re.ASCII)
_CN_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号號]?\s*(.*)", re.ASCII)
_COMPACT = re.compile(r"(\d{4})(\d\d)(\d\d)(?:\s*(\d\d)(\d\d)(\d\d)?)?", re.ASCII)
_SERIAL = re.compile(r"\d{1,7}(?:\.\d+)?", re.ASCII)
_TIME = re.compile(r"(\d{1,2})(?::(\d{1,2}))?(?::(\d{1,2})(?:\.(\d{1,6}))?)?", re.ASCII)
_TIME_UNITS = str.maketrans({"时": ":", "時": ":", "点": ":", "點": ":", "分": ":", "秒": None})
_PM = ("下午", "晚上", "傍晚", "中午")
_AM = ("上午", "凌晨", "早上", "早晨")


def parse_datetime(value: object) -> datetime | None:
    """Parse a ledger date/time cell into naive Asia/Shanghai wall time (the importer converts to UTC).

    Blank cells (and placeholders such as "-", "无") give None. Accepted: datetime/date objects (openpyxl),
    Excel serial numbers (1900 system) as numbers or text, "2026-11-03 09:12[:30]", "2026/11/3 9:12",
    "2026.11.03", "2026年11月3日 9:12", "2026年11月3日9时12分", "20261103", ISO 8601 with offset, full-width
    digits, 上午/下午. Dates only give midnight. Anything else, or a date outside 1970–2099, raises
    ValueError with a Chinese and English message.
    """
    if isinstance(value, str):
        return _fast_text(value) or _parse_text(value)
    if isinstance(value, datetime):
        return _from_datetime(value)
    if isinstance(value, date):
        return _in_range(datetime(value.year, value.month, value.day), value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_serial(value, value)
    if value is None:
        return None
    raise _bad(value)


def _fast_text(value: str) -> datetime | None:
    """"YYYY-MM-DD HH:MM[:SS]", what the platform exports, via the C parser; None means "take the long way"."""
    if len(value) not in (16, 19) or value[4] != "-" or value[7] != "-" or value[10] != " " or value[13] != ":":
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt if dt.tzinfo is None and EARLIEST <= dt <= LATEST else None


def _bad(value: object, why_zh: str = "无法识别的日期时间", why_en: str = "unrecognised date/time") -> ValueError:
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return ValueError(f"{why_zh}：{shown} / {why_en}: {shown}")


def _in_range(dt: datetime, value: object) -> datetime:
    if not EARLIEST <= dt <= LATEST:
        raise _bad(value, "日期超出合理范围（1970–2099年）", "date outside 1970-2099")
    return dt


def _checked(value: object, *parts: int) -> datetime:
    try:
        dt = datetime(*parts)  # type: ignore[arg-type]
    except (ValueError, OverflowError):
        raise _bad(value) from None
    return _in_range(dt, value)


def _from_datetime(value: datetime, original: object = None) -> datetime:
    original = value if original is None else original
    local = value
    if value.tzinfo is not None and value.utcoffset() is not None:
        try:
            local = value.astimezone(_SHANGHAI)
        except OverflowError:
            raise _bad(original, "日期超出合理范围（1970–2099年）", "date outside 1970-2099") from None
    return _in_range(local.replace(tzinfo=None), original)


def _from_serial(serial: float, value: object) -> datetime:
    """Excel 1900-system serial: days since 1899-12-30, fraction = time of day, rounded to the second."""
    if not (math.isfinite(serial) and 61 <= serial < 2958466):
        raise _bad(value, "无法识别的日期（Excel 序列号超出范围）", "Excel date serial out of range")
    return _in_range(_EXCEL_EPOCH + timedelta(seconds=round(serial * 86400)), value)


def _parse_text(value: str) -> datetime | None:
    text = unicodedata.normalize("NFKC", value).strip()
    if text.lower() in _BLANKS:
        return None
    for pattern, builder in _TEXT_FORMATS:
        m = pattern.fullmatch(text)
        if m is not None:
            try:
                return builder(m, value)
            except ValueError as err:  # "2026-11-03T09:12:30+08:00" looks like a plain date at first
                return _parse_iso(text, value, err)
    return _parse_iso(text, value)


def _date_and_time(value: str, year: int, month: int, day: int, rest: str | None) -> datetime:
    hour, minute, second, micro = _parse_time(rest or "", value)
    return _checked(value, year, month, day, hour, minute, second, micro)


def _from_sep_date(m: re.Match[str], value: str) -> datetime:
    return _date_and_time(value, int(m[1]), int(m[3]), int(m[4]), m[5])


def _from_cn_date(m: re.Match[str], value: str) -> datetime:
    return _date_and_time(value, int(m[1]), int(m[2]), int(m[3]), m[4])


def _from_compact(m: re.Match[str], value: str) -> datetime:
    parts = [int(g) for g in m.groups() if g is not None]
    return _checked(value, *parts)


def _from_serial_text(m: re.Match[str], value: str) -> datetime:
    return _from_serial(float(m[0]), value)


_TEXT_FORMATS = (
    (_SEP_DATE, _from_sep_date),
    (_CN_DATE, _from_cn_date),
    (_COMPACT, _from_compact),
    (_SERIAL, _from_serial_text),
)


def _parse_time(rest: str, value: str) -> tuple[int, int, int, int]:
    """Hour, minute, second, microsecond of "9:12", "09:12:30.5", "9时12分", "下午3点", "3:12 PM" (or "")."""
    text = rest.strip()
    if not text:
        return 0, 0, 0, 0
    text, pm = _strip_meridiem(text)
    m = _TIME.fullmatch(text.translate(_TIME_UNITS).strip().rstrip(":"))
    if m is None:
        raise _bad(value)
    hour = int(m[1])
    if pm is not None and hour > 12:
        raise _bad(value)
    if pm is not None:
        hour = hour % 12 + (12 if pm else 0)
    return hour, int(m[2] or 0), int(m[3] or 0), int((m[4] or "0").ljust(6, "0"))


def _strip_meridiem(text: str) -> tuple[str, bool | None]:
    lowered = text.lower()
    for words, pm in ((_PM, True), (_AM, False)):
        for word in words:
            if text.startswith(word):
                return text[len(word):].strip(), pm
    if lowered.endswith(("am", "pm")):
        return text[:-2].strip(), lowered.endswith("pm")
    return text, None


def _parse_iso(text: str, value: str, earlier: ValueError | None = None) -> datetime:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise (earlier or _bad(value)) from None
    return _from_datetime(dt, value)


# ---------------------------------------------------------------------------------------------------- text

def cell_text(value: object) -> str:
    """A cell as trimmed text: integral floats lose their ".0" (numeric case numbers), Excel's ="0012" text
    guard is unwrapped, datetimes become ISO text, None becomes ""."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    text = str(value).strip()
    if len(text) >= 3 and text.startswith('="') and text.endswith('"'):
        return text[2:-1].strip()
    return text
