"""Simulated citizens: who answers, what they press, say and text back.

A citizen is a small JSON-able script (`Citizen`), looked up per phone number in a registry file named by the
environment variable `SIMULATOR_CITIZENS`, so a Celery worker in another process sees the same script as the test
or demo that wrote it. The file maps E.164 numbers to specs:

    {
      "+8613800000001": {"behaviour": "answers_all", "keys": "1121111"},
      "+8613800000002": {"behaviour": "hangs_up_after", "n": 4},
      "+8613800000003": {"behaviour": "no_answer", "times": 2},
      "+8613800000004": {"behaviour": "replies_by_sms", "sms_replies": ["112111", "窗口态度很好"]}
    }

Behaviours (keys are pressed one per DTMF <Gather>, the consent key first; when the keys run out the last one is
pressed again):
- `answers_all`: presses `keys`; a speech-only <Gather> hears `speech` (SpeechResult, Confidence `confidence`);
  a <Record> gets `record_seconds` of speech.
- `speaks`: `answers_all` with the given `speech`.
- `hangs_up_after`: presses the first `n` keys (the consent key counts), then hangs up at the next prompt.
  So `hangs_up_after(4)` consents and answers items 1–3.
- `wrong_keys_then_valid`: before each key of `keys`, presses `wrong` `times` times (each at its own prompt).
- `silent`: answers and never presses or says anything.
- `no_answer` / `busy`: rings out (no-answer) or is busy; with `times` set, only the first `times` calls, then
  behaves as `answers_all`.
- `failed`: the call fails (number out of service).
- `voicemail`: an answering machine picks up (AnsweredBy=machine_start) and stays silent.
- `opt_out`: presses 9 at the first prompt (consent), then stays silent.
- `replies_by_sms`: never answers the phone; replies to SMS with `sms_replies`.
- `provider_error`: the first `times` attempts to place the call are refused with a transient ProviderError,
  then behaves as `answers_all` (for "a call that could not be placed does not use up an attempt").

A staff call's second leg (`<Dial>`, a supervisor bridged to the citizen) rings the number's script the same way:
busy, failed, no answer (`replies_by_sms` too), or answered — by a machine for `voicemail` — and then a conversation
of `talk_seconds` (90 by default).

Any behaviour may carry `sms_replies` (a list of turns: turn i answers the i-th message the citizen receives;
a turn is one text or a list of texts sent in a row) and `sms_status` (`delivered`, `undelivered` or `failed`).
`barge_in: true` presses during the prompt (Twilio stops speaking it).

Numbers without a script get a deterministic behaviour from a SHA-256 of the number (`default_citizen`): about
55% answer all (mostly 1s, some 2s and 3s, integrity alerts rare), 8% hang up mid-survey, 7% press a wrong key
first, 4% stay silent, 10% do not answer (half of them answer a later attempt), 5% busy, 4% voicemail,
2% opt out, 5% reply by SMS only. The same number always gets the same citizen, in every process.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

BEHAVIOURS = (
    "answers_all",
    "speaks",
    "hangs_up_after",
    "wrong_keys_then_valid",
    "silent",
    "no_answer",
    "busy",
    "failed",
    "voicemail",
    "opt_out",
    "replies_by_sms",
    "provider_error",
)
SMS_STATUSES = ("delivered", "undelivered", "failed")
DEFAULT_SPEECH = "窗口服务很好，没有其他意见"

SmsTurn = str | tuple[str, ...]


@dataclass(frozen=True)
class Citizen:
    """One simulated citizen's script. Build with the functions below; `to_json`/`from_json` for the registry."""

    behaviour: str = "answers_all"
    keys: str | tuple[str, ...] = "1111111"
    n: int = 0
    wrong: str = "7"
    times: int | None = None
    speech: str = DEFAULT_SPEECH
    confidence: float = 0.9
    record_seconds: int = 4
    talk_seconds: int = 90  # on a staff call bridged to them (<Dial>): how long they talk
    barge_in: bool = False
    sms_replies: tuple[SmsTurn, ...] = ()
    sms_status: str = "delivered"

    def __post_init__(self) -> None:
        if self.behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {self.behaviour!r}; one of {', '.join(BEHAVIOURS)}")
        if self.sms_status not in SMS_STATUSES:
            raise ValueError(f"sms_status must be one of {SMS_STATUSES}")
        if not self.keys:
            raise ValueError("keys must not be empty")

    def key_list(self) -> list[str]:
        """One entry per DTMF <Gather>: a string is one key per gather, a list gives whole entries ("12#")."""
        return list(self.keys)

    def to_json(self) -> dict[str, Any]:
        defaults = Citizen()
        spec = {k: v for k, v in asdict(self).items() if v != getattr(defaults, k) or k == "behaviour"}
        if "keys" in spec and isinstance(self.keys, tuple):
            spec["keys"] = list(self.keys)
        if "sms_replies" in spec:
            spec["sms_replies"] = [t if isinstance(t, str) else list(t) for t in self.sms_replies]
        return spec

    @classmethod
    def from_json(cls, spec: dict[str, Any] | str) -> Citizen:
        if isinstance(spec, str):
            return cls(behaviour=spec)
        known = {f.name for f in fields(cls)}
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"unknown citizen fields: {', '.join(sorted(unknown))}")
        values = dict(spec)
        if isinstance(values.get("keys"), list):
            values["keys"] = tuple(values["keys"])
        if "sms_replies" in values:
            values["sms_replies"] = tuple(
                t if isinstance(t, str) else tuple(t) for t in values["sms_replies"]
            )
        return cls(**values)


def _with(citizen: Citizen, **extra: Any) -> Citizen:
    if "sms_replies" in extra:
        extra["sms_replies"] = tuple(t if isinstance(t, str) else tuple(t) for t in extra["sms_replies"])
    return replace(citizen, **extra)


def answers_all(keys: str | Sequence[str] = "1111111", **extra: Any) -> Citizen:
    return _with(Citizen("answers_all", keys=_keys(keys)), **extra)


def speaks(
    text: str, confidence: float = 0.9, keys: str | Sequence[str] = "1111111", **extra: Any
) -> Citizen:
    return _with(Citizen("speaks", keys=_keys(keys), speech=text, confidence=confidence), **extra)


def hangs_up_after(n: int, keys: str | Sequence[str] = "1111111", **extra: Any) -> Citizen:
    return _with(Citizen("hangs_up_after", keys=_keys(keys), n=n), **extra)


def wrong_keys_then_valid(
    keys: str | Sequence[str] = "1111111", wrong: str = "7", times: int = 1, **extra: Any
) -> Citizen:
    return _with(Citizen("wrong_keys_then_valid", keys=_keys(keys), wrong=wrong, times=times), **extra)


def silent(**extra: Any) -> Citizen:
    return _with(Citizen("silent"), **extra)


def no_answer(times: int | None = None, **extra: Any) -> Citizen:
    return _with(Citizen("no_answer", times=times), **extra)


def busy(times: int | None = None, **extra: Any) -> Citizen:
    return _with(Citizen("busy", times=times), **extra)


def failed(**extra: Any) -> Citizen:
    return _with(Citizen("failed"), **extra)


def voicemail(**extra: Any) -> Citizen:
    return _with(Citizen("voicemail"), **extra)


def opt_out(**extra: Any) -> Citizen:
    return _with(Citizen("opt_out"), **extra)


def replies_by_sms(*turns: str | Sequence[str], **extra: Any) -> Citizen:
    return _with(Citizen("replies_by_sms"), sms_replies=turns, **extra)


def provider_error(times: int = 1, **extra: Any) -> Citizen:
    return _with(Citizen("provider_error", times=times), **extra)


def _keys(keys: str | Sequence[str]) -> str | tuple[str, ...]:
    return keys if isinstance(keys, str) else tuple(keys)


# -- the deterministic default mix ------------------------------------------------------------------------------

_MIX: list[tuple[int, str]] = [
    (55, "answers_all"),
    (63, "hangs_up_after"),
    (70, "wrong_keys_then_valid"),
    (74, "silent"),
    (84, "no_answer"),
    (89, "busy"),
    (93, "voicemail"),
    (95, "opt_out"),
    (100, "replies_by_sms"),
]


def _rating(byte: int) -> str:
    """A 1/2/3 rating, mostly satisfied (about 75% / 18% / 7%)."""
    return "1" if byte < 192 else "2" if byte < 238 else "3"


def _default_keys(digest: bytes) -> str:
    """Consent, three ratings, 體外循環 (1 yes, rarely 2), 廉潔自律 (1 nobody asked; 2 is very rare), overall."""
    ratings = [_rating(b) for b in digest[4:7]]
    outside = "2" if digest[7] < 13 else "1"
    integrity = "2" if digest[8] < 3 else "1"
    overall = max(ratings)
    return "1" + "".join(ratings) + outside + integrity + overall


def default_citizen(phone: str) -> Citizen:
    """The unscripted citizen behind `phone`: the same number always gives the same behaviour (see module doc)."""
    digest = hashlib.sha256(phone.encode()).digest()
    roll = int.from_bytes(digest[:2], "big") % 100
    behaviour = next(name for limit, name in _MIX if roll < limit)
    keys = _default_keys(digest)
    barge_in = digest[9] < 64
    if behaviour in ("answers_all", "wrong_keys_then_valid"):
        return Citizen(behaviour, keys=keys, barge_in=barge_in)
    if behaviour == "hangs_up_after":
        return Citizen(behaviour, keys=keys, n=1 + digest[10] % 5)
    if behaviour == "no_answer":
        return Citizen(behaviour, keys=keys, times=(1 + digest[11] % 2) if digest[12] < 128 else None)
    if behaviour == "replies_by_sms":
        return Citizen(behaviour, sms_replies=(keys[1:],))
    return Citizen(behaviour, keys=keys)


# -- the registry -----------------------------------------------------------------------------------------------


@dataclass
class CitizenRegistry:
    """Phone → Citizen, in a JSON file shared by every process (read on each lookup, written atomically)."""

    path: Path
    _lock_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")

    def get(self, phone: str) -> Citizen:
        return self.scripted(phone) or default_citizen(phone)

    def scripted(self, phone: str) -> Citizen | None:
        spec = self._read().get(phone)
        return None if spec is None else Citizen.from_json(spec)

    def all(self) -> dict[str, Citizen]:
        return {phone: Citizen.from_json(spec) for phone, spec in self._read().items()}

    def set(self, phone: str, citizen: Citizen) -> None:
        with self._locked():
            data = self._read()
            data[phone] = citizen.to_json()
            self._write(data)

    def update(self, scripts: dict[str, Citizen]) -> None:
        with self._locked():
            data = self._read()
            data.update({phone: c.to_json() for phone, c in scripts.items()})
            self._write(data)

    def clear(self) -> None:
        with self._locked():
            self._write({})

    def _read(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except FileNotFoundError:
            return {}

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".citizens-")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, indent=2, sort_keys=True)
        os.replace(tmp, self.path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def as_citizen(behaviour: Citizen | dict[str, Any] | str) -> Citizen:
    """Accept a Citizen, a registry spec dict, or a bare behaviour name ("silent")."""
    return behaviour if isinstance(behaviour, Citizen) else Citizen.from_json(behaviour)
