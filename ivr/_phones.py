"""Phone numbers as the telephony layer sees them: E.164 strings, masked before they reach a log or an error."""

from __future__ import annotations

import re

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_PHONE_LIKE = re.compile(r"\+?\d(?:[ -]?\d){6,14}")  # spaced or dashed too: "+86 138 1234 5678"


def is_e164(number: str) -> bool:
    """The shape Twilio accepts for `To` (error 21211 otherwise)."""
    return bool(E164.match(number or ""))


def mask(number: str) -> str:
    """ "+8613812345678" → "138****5678": country code dropped, the middle hidden, the last four kept."""
    digits = re.sub(r"\D", "", number or "")
    if digits.startswith("86") and len(digits) > 11:
        digits = digits[2:]
    if len(digits) <= 4:
        return "****"
    return f"{digits[:3]}****{digits[-4:]}"


def scrub(text: str) -> str:
    """Mask every phone-like run of digits in a provider's message (Twilio errors quote the number)."""
    return _PHONE_LIKE.sub(lambda m: mask(m.group(0)), text or "")
