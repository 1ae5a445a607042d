"""The simulated telephone network's records on disk, shared by every process using the same directory:

    calls/CA….json     one simulated call: status, answered_by, duration, owner process, and its log
    recordings/RE….wav the audio a <Record> produced (a generated tone of the recorded length)
    deletions.jsonl    every recording deleted through the REST API (sid, url, whether it was still there)
    outbox.jsonl       every SMS sent to a citizen (by the REST API or a TwiML <Message>)
    inbox.jsonl        every SMS a citizen sent back
    counters.json      per number: calls placed, messages received (drives `times` and SMS reply turns)

Files are written atomically (temporary file + rename) or appended under an exclusive lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import math
import os
import sys
import tempfile
import wave
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SAMPLE_RATE = 8000  # Twilio recordings are 8 kHz, 16-bit mono


def tone_wav(seconds: int, seed: int = 0) -> bytes:
    """A small valid WAV of `seconds`: a quiet voice-band tone in short "syllables", so players show a waveform.
    One second holds whole cycles of both tone and envelope, so it is computed once and repeated."""
    pitch = 180 + seed % 120
    second = array(
        "h",
        (
            int(
                3000
                * (0.5 + 0.5 * math.sin(2 * math.pi * 3 * i / SAMPLE_RATE))
                * math.sin(2 * math.pi * pitch * i / SAMPLE_RATE)
            )
            for i in range(SAMPLE_RATE)
        ),
    )
    if sys.byteorder == "big":
        second.byteswap()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(second.tobytes() * max(0, seconds))
    return buffer.getvalue()


class StateStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        for sub in ("calls", "recordings"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- calls ----------------------------------------------------------------------------------------------
    def save_call(self, sid: str, record: dict[str, Any]) -> None:
        self._write_json(self.root / "calls" / f"{sid}.json", record)

    def load_call(self, sid: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.root / "calls" / f"{sid}.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def call_sids(self) -> list[str]:
        return sorted(p.stem for p in (self.root / "calls").glob("CA*.json"))

    # -- recordings -----------------------------------------------------------------------------------------
    def save_recording(self, sid: str, data: bytes) -> None:
        path = self.root / "recordings" / f"{sid}.wav"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def load_recording(self, sid: str) -> bytes | None:
        try:
            return (self.root / "recordings" / f"{sid}.wav").read_bytes()
        except FileNotFoundError:
            return None

    def delete_recording(self, sid: str) -> bool:
        """Remove the recording's audio; False when there was none (already deleted, or never made)."""
        try:
            (self.root / "recordings" / f"{sid}.wav").unlink()
        except FileNotFoundError:
            return False
        return True

    # -- SMS ------------------------------------------------------------------------------------------------
    def append(self, name: str, entry: dict[str, Any]) -> None:
        with self.locked(), open(self.root / name, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def read_lines(self, name: str) -> list[dict[str, Any]]:
        try:
            text = (self.root / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    # -- counters -------------------------------------------------------------------------------------------
    def bump(self, counter: str, phone: str) -> int:
        """Increment and return the per-number counter (1 on first use), atomically across processes."""
        with self.locked():
            path = self.root / "counters.json"
            data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
            value = data.setdefault(counter, {}).get(phone, 0) + 1
            data[counter][phone] = value
            self._write_json(path, data)
            return value

    def _write_json(self, path: Path, data: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False)
        os.replace(tmp, path)
