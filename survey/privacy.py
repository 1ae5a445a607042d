"""Masking of personal data (个人信息保护法; docs/architecture.md §Privacy and security): the one place the rules
live.

Public API:
    mask_phone(value) -> str             a phone field: "139****5678", "0771****4567", "400****5678", "****4567"
    mask_name(name) -> str               "张*", "欧**": the first character, one "*" for each other one
    mask_id_card(value) -> str           "110101********1234" (18 digits, last may be X), "110101*****1234" (15)
    mask_bank_card(value) -> str         "6222********1234": first four and last four, the middle starred
    mask_text(text, names=()) -> str     every number above found in free text masked, and the given names

The rules, one for each kind of number:
- **Mobile** (11 digits, 1[3-9]…; a +86 / 0086 / 86 prefix is dropped): first three, ``****``, last four.
- **400/800 service numbers** (10 digits): the same shape, ``400****5678``.
- **Landline with area code** (0 + 9–11 digits; E.164 +86 landlines get their 0 back): the area code
  (``010``/``02x``: three characters, others four), ``****``, the last four.
- **Resident ID card** (18 characters, the last may be X/x; or the old 15 digits), recognised by its shape:
  region code 1–9…, then a birth date: the first six (the region), one ``*`` per hidden digit, the last four.
- **Bank card** (16–19 digits that are not an ID number): the first four, the middle starred, the last four.
- **Anything else of 7 or more digits** (a local number, a foreign one, a mangled one): ``****`` and the last four.
  Shorter runs (``45 分钟``, an SMS reply ``1 1 2 1 1 1``) are left alone.

In free text a number may be spaced or dashed (``138 1234 5678``, ``0771-1234567``), written in full-width digits
(``１３９…``) or in Chinese numerals as speech recognisers write them (``一三九…``, ``幺``); the masks are written with
ASCII digits. Every mask keeps at most six digits in a row, so no seven-digit run of the original survives, and
masking a masked text changes nothing: a digit group touching ``*`` is taken as part of a mask and is never joined
with its neighbours.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

STARS = "****"
MIN_DIGITS = 7  # a run this long is masked whatever it is
_MAX_JOIN = 23  # "0086" + a 19-digit card: no number is longer, so joining groups stops here

_MOBILE = re.compile(r"1[3-9]\d{9}")
_SERVICE = re.compile(r"[48]00\d{7}")
_LANDLINE = re.compile(r"0[1-9]\d{8,10}")
_DATE = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
_ID18 = re.compile(rf"[1-9]\d{{5}}(?:19|20)\d{{2}}{_DATE}\d{{3}}[\dX]")
_ID15 = re.compile(rf"[1-9]\d{{5}}\d{{2}}{_DATE}\d{{3}}")
_BANK = re.compile(r"\d{16,19}")

_CN_NUMERALS = {"〇": "0", "零": "0", "一": "1", "幺": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6",
                "七": "7", "八": "8", "九": "9"}
# One class for every way of writing a digit, so a group of digits is always maximal: a mask never ends next to
# a digit of the original (that would make the next pass read the mask's last four as part of a longer number).
_DIGIT = "0-9０-９" + "".join(_CN_NUMERALS)
_SEP = r"[ \t\u3000\-－‐‑–—]{1,3}"
# A run: digit groups joined by short separator stretches; a + before it (not right after a digit), an X/x after
# it (an ID card's check digit, unless a word goes on).
_RUN = re.compile(
    rf"(?:(?<![{_DIGIT}])(?P<plus>[+＋]))?[{_DIGIT}]+(?:{_SEP}[{_DIGIT}]+)*(?:(?:{_SEP})?(?P<x>[XxＸｘ])(?![A-Za-z]))?"
)
_GROUP = re.compile(f"[{_DIGIT}]+")


# ---------------------------------------------------------------------------------------------- single values


def _digits(text: str) -> str:
    """The digits of ``text`` in ASCII (full-width ones included), everything else dropped."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if "0" <= ch <= "9")


def _keep_last_four(digits: str) -> str:
    return STARS + digits[-4:] if len(digits) >= MIN_DIGITS else STARS


def _mask_national(digits: str) -> str | None:
    """A Chinese number written nationally (landlines with their leading 0), or None if it is not one."""
    if _MOBILE.fullmatch(digits) or _SERVICE.fullmatch(digits):
        return f"{digits[:3]}{STARS}{digits[-4:]}"
    if _LANDLINE.fullmatch(digits):
        area = digits[:3] if digits[1] in "12" else digits[:4]
        return f"{area}{STARS}{digits[-4:]}"
    return None


def _mask_international(digits: str) -> str | None:
    """After +86 / 0086 the national number comes without the landline's leading 0."""
    if digits.startswith("0086"):
        digits = digits[2:]
    if not digits.startswith("86"):
        return None
    national = digits[2:]
    return _mask_national(national) or (_mask_national("0" + national) if national[:1] != "0" else None)


def mask_phone(value: str | None) -> str:
    """Mask a phone field (E.164 "+8613912345678", or a raw ledger cell) for display and logs.

    Mobiles ``139****5678``, 400/800 numbers ``400****5678``, landlines ``0771****4567`` / ``010****5678``;
    anything else of 7+ digits ``****`` and its last four; shorter ``****``; empty or None ``""``.
    """
    if not value:
        return ""
    digits = _digits(value)
    plus = value.lstrip()[:1] in ("+", "＋")
    masked = _mask_international(digits) if plus or digits.startswith("0086") else None
    if masked is None and digits.startswith("86") and _MOBILE.fullmatch(digits[2:]):
        masked = _mask_national(digits[2:])
    return masked or _mask_national(digits) or _keep_last_four(digits)


def mask_name(name: str | None) -> str:
    """``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``: the first character kept, each other one starred."""
    name = (name or "").strip()
    return name[:1] + "*" * (len(name) - 1) if len(name) > 1 else "*" * len(name)


def mask_id_card(value: str) -> str:
    """A resident ID number: the region (first six), the birth date and order starred, the last four.
    ``110101199003071234`` → ``110101********1234``; 15-digit ``110101900307123`` → ``110101*****7123``."""
    chars = _digits(value) + ("X" if value.rstrip()[-1:] in ("X", "x", "Ｘ", "ｘ") else "")
    if len(chars) < 11:
        return _keep_last_four(chars)
    return chars[:6] + "*" * (len(chars) - 10) + chars[-4:]


def mask_bank_card(value: str) -> str:
    """A bank card number: ``6222021234561234`` → ``6222********1234`` (first four, last four)."""
    digits = _digits(value)
    if len(digits) < 12:
        return _keep_last_four(digits)
    return digits[:4] + "*" * (len(digits) - 8) + digits[-4:]


def _classify(digits: str, plus: bool) -> str | None:
    """The mask of a whole number of a known kind, or None. ``digits`` may end in X (an ID's check digit)."""
    if digits.endswith("X"):
        return mask_id_card(digits) if _ID18.fullmatch(digits) else None
    if plus or digits.startswith("0086") or (digits.startswith("86") and _MOBILE.fullmatch(digits[2:])):
        masked = _mask_international(digits)
        if masked is not None or plus:
            return masked
    if _ID18.fullmatch(digits) or _ID15.fullmatch(digits):
        return mask_id_card(digits)
    if _BANK.fullmatch(digits):
        return mask_bank_card(digits)
    return _mask_national(digits)


# ---------------------------------------------------------------------------------------------- free text


@dataclass(frozen=True)
class _Group:
    start: int
    end: int
    digits: str


@dataclass(frozen=True)
class _Run:
    groups: tuple[_Group, ...]
    plus_at: int | None  # index of a leading "+"
    x_end: int | None  # end of a trailing X/x

    def joined(self, i: int, j: int) -> str:
        return "".join(g.digits for g in self.groups[i:j])


def _to_ascii(chunk: str) -> str:
    return "".join(_CN_NUMERALS.get(ch) or unicodedata.normalize("NFKC", ch) for ch in chunk)


def _runs(text: str) -> Iterable[_Run]:
    for match in _RUN.finditer(text):
        groups = tuple(_Group(match.start() + g.start(), match.start() + g.end(), _to_ascii(g.group()))
                       for g in _GROUP.finditer(match.group()))
        plus_at = match.start("plus") if match.group("plus") else None
        x_end = match.end("x") if match.group("x") else None
        if not _is_date(text, groups):
            yield from _unsealed(text, _Run(groups, plus_at, x_end))


def _is_date(text: str, groups: tuple[_Group, ...]) -> bool:
    """``2026-11-24`` (perhaps with the hour after it) is a date, not a number to hide. At most ten digits in a
    4-2-2(-2) shape starting 19/20: no phone, ID or card number can take it."""
    if len(groups) not in (3, 4) or (len(groups) == 4 and len(groups[3].digits) > 2):
        return False
    year, month, day = (g.digits for g in groups[:3])
    dashes = text[groups[0].end:groups[1].start] in ("-", "－") and text[groups[1].end:groups[2].start] in ("-", "－")
    return (dashes and len(year) == 4 and year[:2] in ("19", "20") and len(month) <= 2 and len(day) <= 2
            and 1 <= int(month) <= 12 and 1 <= int(day) <= 31)


def _unsealed(text: str, run: _Run) -> Iterable[_Run]:
    """A group touching "*" belongs to a mask (ours, or the citizen's own stars): it is never joined with its
    neighbours, so masking a masked text changes nothing. It is still masked on its own if it is long."""
    groups = list(run.groups)
    head = tail = None
    if groups and groups[0].start > 0 and text[groups[0].start - 1] == "*":
        head = groups.pop(0)
    end = run.x_end if run.x_end is not None else (groups[-1].end if groups else 0)
    if groups and end < len(text) and text[end] == "*":
        tail = groups.pop()
    if head is not None:
        yield _Run((head,), None, run.x_end if not groups and tail is None else None)
    if groups:
        yield _Run(tuple(groups), run.plus_at if head is None else None, run.x_end if tail is None else None)
    if tail is not None:
        yield _Run((tail,), None, run.x_end)


def _span(run: _Run, i: int, j: int, with_x: bool) -> tuple[int, int]:
    start = run.plus_at if i == 0 and run.plus_at is not None else run.groups[i].start
    end = run.x_end if with_x and run.x_end is not None else run.groups[j - 1].end
    return start, end


def _longest_known(run: _Run, i: int) -> tuple[int, str, bool] | None:
    """The longest number of a known kind that starts at group ``i``: (end group, mask, uses the X)."""
    j, size = i, 0
    while j < len(run.groups) and size + len(run.groups[j].digits) <= _MAX_JOIN:
        size += len(run.groups[j].digits)
        j += 1
    for end in range(j, i, -1):
        digits, plus = run.joined(i, end), i == 0 and run.plus_at is not None
        if end == len(run.groups) and run.x_end is not None and (masked := _classify(digits + "X", plus)):
            return end, masked, True
        if masked := _classify(digits, plus):
            return end, masked, False
    return None


def _masks(run: _Run) -> Iterable[tuple[int, int, str]]:
    """(start, end, mask) for every number in the run: known kinds left to right, longest first; what is left
    between them is masked by the last-four rule when it holds 7 digits or more."""
    i, loose = 0, []
    while i < len(run.groups):
        found = _longest_known(run, i)
        if found is None:
            loose.append(i)
            i += 1
            continue
        yield from _loose(run, loose)
        loose = []
        end, masked, with_x = found
        yield (*_span(run, i, end, with_x), masked)
        i = end
    yield from _loose(run, loose)


def _loose(run: _Run, indexes: list[int]) -> Iterable[tuple[int, int, str]]:
    if indexes:
        digits = run.joined(indexes[0], indexes[-1] + 1)
        if len(digits) >= MIN_DIGITS:
            yield (*_span(run, indexes[0], indexes[-1] + 1, False), _keep_last_four(digits))


def mask_text(text: str | None, names: Iterable[str] = ()) -> str:
    """Free text (what a citizen said or texted, a provider's error) with every phone, ID card and bank card
    number masked, and every given name (two characters or more) masked by `mask_name`. Idempotent.

    >>> mask_text("我的电话是13912345678，身份证110101199003071234")
    '我的电话是139****5678，身份证110101********1234'
    """
    text = text or ""
    spans = [span for run in _runs(text) for span in _masks(run)]
    out, at = [], 0
    for start, end, masked in spans:
        out += [text[at:start], masked]
        at = end
    out.append(text[at:])
    return _mask_names("".join(out), names)


def _mask_names(text: str, names: Iterable[str]) -> str:
    for name in sorted({n.strip() for n in names if n and len(n.strip()) > 1}, key=len, reverse=True):
        text = text.replace(name, mask_name(name))
    return text
