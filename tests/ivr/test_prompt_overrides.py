"""Prompt texts edited on the console (ivr.prompts override files): an edit is spoken from the next load on, over the
catalog's text (a recording stays), a zh-CN edit reaches a translation only where it falls back to zh-CN, a reset
brings the catalog's text back, and a text is checked like the catalog (check_text / check_catalog)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivr.prompts import (
    base_catalog,
    catalog_languages,
    check_catalog,
    check_text,
    clear_override,
    load_catalog,
    overrides,
    save_override,
)


@pytest.fixture(autouse=True)
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PROMPTS_OVERRIDE_DIR", str(tmp_path / "edits"))
    monkeypatch.delenv("PROMPTS_DIR", raising=False)
    return tmp_path


def test_an_edit_is_read_on_the_next_load_and_a_reset_undoes_it(folders: Path) -> None:
    default = load_catalog("zh-CN").prompt("thanks").text
    save_override("zh-CN", "thanks", "谢谢，再见。")
    assert load_catalog("zh-CN").prompt("thanks").text == "谢谢，再见。"
    save_override("zh-CN", "goodbye", "再会。")  # a second edit at once: both kept, the cache sees the new file
    assert load_catalog("zh-CN").prompt("goodbye").text == "再会。"
    assert overrides("zh-CN") == {"goodbye": "再会。", "thanks": "谢谢，再见。"}
    assert clear_override("zh-CN", "thanks") and not clear_override("zh-CN", "thanks")
    assert load_catalog("zh-CN").prompt("thanks").text == default
    assert base_catalog("zh-CN").prompt("goodbye").text != "再会。"  # the catalog's own text, for 恢复默认
    assert check_catalog(load_catalog("zh-CN")) == []


def test_a_zh_cn_edit_reaches_a_translation_only_where_it_falls_back(folders: Path, monkeypatch) -> None:  # noqa: ANN001
    custom = folders / "catalogs"
    custom.mkdir()
    (custom / "zh-CN.json").write_text(json.dumps({"thanks": "谢谢", "goodbye": {"text": "再见", "audio": "https://a/b.mp3"}},
                                                  ensure_ascii=False), encoding="utf-8")
    (custom / "zh-TW.json").write_text(json.dumps({"thanks": "謝謝"}, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("PROMPTS_DIR", str(custom))
    save_override("zh-CN", "thanks", "多谢")
    save_override("zh-CN", "goodbye", "回见")
    taiwan = load_catalog("zh-TW")
    assert taiwan.prompt("thanks").text == "謝謝"  # the translation's own text wins over a zh-CN edit
    assert taiwan.prompt("goodbye").text == "回见"  # falls back to zh-CN, edited
    assert taiwan.prompt("goodbye").audio_url == "https://a/b.mp3"  # the recording still plays
    save_override("zh-TW", "thanks", "感謝")
    assert load_catalog("zh-TW").prompt("thanks").text == "感謝"
    assert catalog_languages() == ["zh-CN", "zh-TW"]


@pytest.mark.parametrize(("text", "problem"), [
    ("您好，{centre}，{item}", None),
    ("您好，{name}", "未知的占位符 {name}"),
    ("您好，{}", "未知的占位符 {}"),
    ("您好，{centre.upper}", "未知的占位符 {centre.upper}"),
    ("您好，{centre", "花括号不成对"),
    ("  ", "没有文字"),
])
def test_a_text_is_checked_like_the_catalog(text: str, problem: str | None) -> None:
    found = check_text("intro", text)
    assert found == [] if problem is None else problem in found[0]
