"""The IVR prompt catalog: JSON files per language, editable without touching code
(README "The prompt catalog").

A catalog file (``ivr/prompts/zh-CN.json`` and its siblings) maps a prompt key to ``{"text": ...}`` (spoken with
``<Say>``) and optionally ``"audio": "https://..."`` (an uploaded recording played with ``<Play>``; the text is still
what the transcript shows). ``_meta`` may set ``voice``, ``say_language`` and ``speech_language`` for that language;
otherwise the Settings values (TTS_VOICE, TTS_LANGUAGE, SPEECH_LANGUAGE) apply.

``PROMPTS_DIR`` points at another directory of catalogs (a centre's own wording or recordings) and
``PROMPTS_LANGUAGE`` picks the language (default ``zh-CN``). A key missing from a translation falls back to zh-CN.
Files are re-read when they change, so an edit takes effect on the next call without a restart.

Texts edited on the console (管理员 → 语音提示) are kept apart from the catalogs, in override files of the same
shape (``<language>.json``, texts only) in ``PROMPTS_OVERRIDE_DIR`` (default ``<instance>/prompt-overrides``): each
overrides the text of its language's catalog entry (a recording named by ``audio`` still plays). ``save_override``
and ``clear_override`` write them; ``load_catalog`` merges them in and watches them like the catalogs.
"""

from __future__ import annotations

import fcntl
import json
import os
import string
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callback.config import DEFAULT_INSTANCE

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


_cache: dict[tuple[str, str, str], tuple[tuple[str, ...], tuple[int, ...], Catalog]] = {}
_lock = threading.Lock()


def catalog_dir() -> Path:
    return Path(os.environ.get("PROMPTS_DIR") or BUILTIN_DIR)


def override_dir() -> Path:
    """Where the console's edits are kept: ``PROMPTS_OVERRIDE_DIR``, else ``<instance>/prompt-overrides``."""
    return Path(os.environ.get("PROMPTS_OVERRIDE_DIR") or DEFAULT_INSTANCE / "prompt-overrides")


def load_catalog(language: str | None = None, directory: str | Path | None = None) -> Catalog:
    """The catalog for ``language`` (PROMPTS_LANGUAGE, else zh-CN), merged over zh-CN; cached until a file changes.

    Runs on every webhook, so a cached catalog costs only a few ``stat`` calls: of its files and of the directory
    (whose mtime changes when a catalog file is added or removed).
    """
    language = language or os.environ.get("PROMPTS_LANGUAGE") or DEFAULT_LANGUAGE
    directory = str(directory or os.environ.get("PROMPTS_DIR") or BUILTIN_DIR)
    overrides = override_dir()
    key = (directory, language, str(overrides))
    cached = _cache.get(key)
    if cached is not None and _stamp(cached[0]) == cached[1]:
        return cached[2]
    paths = _paths(Path(directory), language)
    edits = _override_paths(overrides, language)
    watched = (directory, *map(str, paths), str(overrides), *map(str, edits))
    stamp = _stamp(watched)
    catalog = _build(language, paths, edits)
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
    """A file's version: its mtime and inode (an override file is replaced, never rewritten in place, so two edits
    within the file system's timestamp resolution still differ); -1 when it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return -1
    return hash((st.st_mtime_ns, st.st_ino, st.st_size))


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogError(f"cannot read prompt catalog {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogError(f"prompt catalog {path} must be a JSON object")
    return data


def _build(language: str, paths: list[Path], edits: Sequence[Path] = ()) -> Catalog:
    """zh-CN, then the language's file over it; each layer's console edits over that layer (so an edit of zh-CN shows
    in a translation only where the translation falls back to zh-CN)."""
    entries: dict[str, dict[str, str]] = {}
    meta: dict[str, Any] = {}
    for layer, path in enumerate(paths):
        data = _read(path)
        meta = dict(data.pop("_meta", {}) or {})
        entries.update({k: _entry(path, k, v) for k, v in data.items()})
        if layer < len(edits):
            entries.update({k: {**entries.get(k, {}), "text": t} for k, t in overrides(edits[layer]).items()})
    return Catalog(language=language, entries=entries, meta=meta)


def _entry(path: Path, key: str, value: Any) -> dict[str, str]:
    if isinstance(value, str):
        return {"text": value}
    if not isinstance(value, dict) or not isinstance(value.get("text", ""), str):
        raise CatalogError(f"{path}: prompt {key!r} must be a string or an object with \"text\"")
    return {k: str(v) for k, v in value.items()}


# --- the console's edits ---------------------------------------------------------------------------------------------


def _override_paths(directory: Path, language: str) -> list[Path]:
    """The override files that apply to ``language``, in merge order (zh-CN's edits first, as its catalog is)."""
    languages = [DEFAULT_LANGUAGE] if language == DEFAULT_LANGUAGE else [DEFAULT_LANGUAGE, language]
    return [directory / f"{name}.json" for name in languages]


def overrides(path_or_language: Path | str) -> dict[str, str]:
    """The edited texts of one override file (a path, or a language in ``override_dir()``): {key: text}."""
    path = path_or_language if isinstance(path_or_language, Path) else override_dir() / f"{path_or_language}.json"
    if not path.exists():
        return {}
    data = _read(path)
    return {str(k): v for k, v in data.items() if isinstance(v, str) and not k.startswith("_")}


def catalog_languages(directory: str | Path | None = None) -> list[str]:
    """The languages with a catalog file (zh-CN first)."""
    folder = Path(directory or catalog_dir())
    names = {p.stem for p in folder.glob("*.json")} | {DEFAULT_LANGUAGE}
    return sorted(names, key=lambda n: (n != DEFAULT_LANGUAGE, n))


def base_catalog(language: str, directory: str | Path | None = None) -> Catalog:
    """The catalog of ``language`` as its files say, without the console's edits (what 恢复默认 goes back to)."""
    folder = Path(directory or os.environ.get("PROMPTS_DIR") or BUILTIN_DIR)
    return _build(language, _paths(folder, language))


def save_override(language: str, key: str, text: str) -> None:
    """Keep ``text`` as the edited text of prompt ``key`` in ``language``: the next call or text uses it. The file is
    replaced in one step (a webhook never reads half a file). Check the text first (``check_text``)."""
    with _editing():
        _write_overrides(language, overrides(language) | {key: text})


def clear_override(language: str, key: str) -> bool:
    """Drop the edit of ``key`` in ``language`` (the catalog's text applies again); False when there was none."""
    with _editing():
        current = overrides(language)
        if key not in current:
            return False
        del current[key]
        _write_overrides(language, current)
    return True


@contextmanager
def _editing() -> Iterator[None]:
    """One edit at a time (processes too): two administrators saving at once both keep their edit."""
    folder = override_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _write_overrides(language: str, texts: dict[str, str]) -> None:
    folder = override_dir()
    body = json.dumps(dict(sorted(texts.items())), ensure_ascii=False, indent=2) + "\n"
    fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{language}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(body)
    os.replace(temp, folder / f"{language}.json")


def check_text(key: str, text: str) -> list[str]:
    """Problems with one prompt text, Chinese first: empty, unbalanced braces, placeholders other than ``{centre}`` /
    ``{item}`` (a live call fills those two; anything else would be spoken empty or break the call)."""
    if not text.strip():
        return [f"提示 {key} 没有文字 (prompt {key!r} has no text)"]
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return [f"提示 {key} 的花括号不成对，占位符应写成 {{centre}} 或 {{item}} (prompt {key!r} has an unmatched brace)"]
    return [f"提示 {key} 使用了未知的占位符 {{{n}}}，只能使用 {{centre}}（中心名称）和 {{item}}（事项名称）"
            f" (prompt {key!r} uses unknown placeholder {{{n}}})" for n in sorted(names - PLACEHOLDERS)]


def check_catalog(catalog: Catalog) -> list[str]:
    """Problems with a catalog: missing keys, empty text, unknown placeholders. Empty when it is usable."""
    problems = [f"缺少提示 {key} (missing prompt {key!r})" for key in REQUIRED_KEYS if key not in catalog.entries]
    for key, entry in catalog.entries.items():
        problems += check_text(key, entry.get("text", ""))
    return problems
