"""The IVR prompt catalog: JSON files per language, editable without touching code
(README "The prompt catalog").

A catalog file (``ivr/prompts/zh-CN.json`` and its siblings) maps a prompt key to ``{"text": ...}`` (spoken with
``<Say>``) and optionally ``"audio": "https://..."`` (an uploaded recording played with ``<Play>``; the text is still
what the transcript shows). ``_meta`` may set ``voice``, ``say_language`` and ``speech_language`` for that language;
otherwise the Settings values (TTS_VOICE, TTS_LANGUAGE, SPEECH_LANGUAGE) apply.

``PROMPTS_DIR`` points at another directory of catalogs (a centre's own wording or recordings) and
``PROMPTS_LANGUAGE`` picks the language (default ``zh-CN``). A key missing from a translation falls back to zh-CN.
Files are re-read when they change, so an edit takes effect on the next call without a restart.
"""

from __future__ import annotations

import json
import os
import string
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUILTIN_DIR = Path(__file__).with_name("prompts")
DEFAULT_LANGUAGE = "zh-CN"
ITEM_CODES = ("attitude", "efficiency", "by_the_rules", "in_hall", "integrity", "overall")
REQUIRED_KEYS: tuple[str, ...] = (
    "intro", "intro_no_item", "invalid", "silence", "skipped",
    *(f"item.{code}" for code in ITEM_CODES),
    "suggestion", "record", "thanks", "opted_out", "no_consent", "goodbye",
)
PLACEHOLDERS = frozenset({"centre", "item"})


class CatalogError(ValueError):
    """A catalog file is missing, unreadable or malformed."""


@dataclass(frozen=True)
class Prompt:
    """One prompt ready to speak: ``text`` always (for the transcript), ``audio_url`` when a recording exists."""

    key: str
    text: str
    audio_url: str | None = None


@dataclass(frozen=True)
class Catalog:
    language: str
    entries: dict[str, dict[str, str]]
    meta: dict[str, Any] = field(default_factory=dict)

    def prompt(self, key: str, **values: str) -> Prompt:
        """The prompt ``key`` with ``{centre}``/``{item}`` filled in (KeyError for an unknown key)."""
        entry = self.entries[key]
        text = string.Formatter().vformat(entry.get("text", ""), (), _Blank(values))
        return Prompt(key=key, text=text, audio_url=entry.get("audio") or None)

    def voice(self, default: str) -> str:
        return str(self.meta.get("voice") or default)

    def say_language(self, default: str) -> str:
        return str(self.meta.get("say_language") or default)

    def speech_language(self, default: str) -> str:
        return str(self.meta.get("speech_language") or default)


class _Blank(dict):
    """Unknown placeholders render empty rather than crash a live call."""

    def __missing__(self, key: str) -> str:
        return ""


_cache: dict[tuple[str, str], tuple[tuple[str, ...], tuple[int, ...], Catalog]] = {}
_lock = threading.Lock()


def catalog_dir() -> Path:
    return Path(os.environ.get("PROMPTS_DIR") or BUILTIN_DIR)


def load_catalog(language: str | None = None, directory: str | Path | None = None) -> Catalog:
    """The catalog for ``language`` (PROMPTS_LANGUAGE, else zh-CN), merged over zh-CN; cached until a file changes.

    Runs on every webhook, so a cached catalog costs only a few ``stat`` calls: of its files and of the directory
    (whose mtime changes when a catalog file is added or removed).
    """
    language = language or os.environ.get("PROMPTS_LANGUAGE") or DEFAULT_LANGUAGE
    directory = str(directory or os.environ.get("PROMPTS_DIR") or BUILTIN_DIR)
    key = (directory, language)
    cached = _cache.get(key)
    if cached is not None and _stamp(cached[0]) == cached[1]:
        return cached[2]
    paths = _paths(Path(directory), language)
    watched = (directory, *map(str, paths))
    stamp = _stamp(watched)
    catalog = _build(language, paths)
    with _lock:
        _cache[key] = (watched, stamp, catalog)
    return catalog


def _paths(directory: Path, language: str) -> list[Path]:
    base = directory / f"{DEFAULT_LANGUAGE}.json"
    if not base.exists():
        base = BUILTIN_DIR / f"{DEFAULT_LANGUAGE}.json"  # a partial custom directory still has every prompt
    if language == DEFAULT_LANGUAGE:
        return [base]
    chosen = directory / f"{language}.json"
    if not chosen.exists():
        raise CatalogError(f"no prompt catalog for language {language!r} in {directory}")
    return [base, chosen]


def _stamp(paths: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(_mtime(p) for p in paths)


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogError(f"cannot read prompt catalog {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogError(f"prompt catalog {path} must be a JSON object")
    return data


def _build(language: str, paths: list[Path]) -> Catalog:
    entries: dict[str, dict[str, str]] = {}
    meta: dict[str, Any] = {}
    for path in paths:
        data = _read(path)
        meta = dict(data.pop("_meta", {}) or {})
        entries.update({k: _entry(path, k, v) for k, v in data.items()})
    return Catalog(language=language, entries=entries, meta=meta)


def _entry(path: Path, key: str, value: Any) -> dict[str, str]:
    if isinstance(value, str):
        return {"text": value}
    if not isinstance(value, dict) or not isinstance(value.get("text", ""), str):
        raise CatalogError(f"{path}: prompt {key!r} must be a string or an object with \"text\"")
    return {k: str(v) for k, v in value.items()}


def check_catalog(catalog: Catalog) -> list[str]:
    """Problems with a catalog: missing keys, empty text, unknown placeholders. Empty when it is usable."""
    problems = [f"missing prompt {key!r}" for key in REQUIRED_KEYS if key not in catalog.entries]
    for key, entry in catalog.entries.items():
        text = entry.get("text", "")
        if not text.strip():
            problems.append(f"prompt {key!r} has no text")
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
        problems += [f"prompt {key!r} uses unknown placeholder {{{n}}}" for n in sorted(names - PLACEHOLDERS)]
    return problems
