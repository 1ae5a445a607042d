"""What an evaluator's level cell means: words, stars or digits → 满意 S / 基本满意 B / 不满意 U.

Words are read the same way whatever the scale (survey.scale.rating_from_label, Simplified or Traditional):
非常满意/满意 → S, 基本满意 → B, 不满意/非常不满意 → U (docs/architecture.md §Ratings and points), and the codes
S/B/U. Only a digit needs to be told which scale it is on:

- ``5`` (the default): the provincial 好差评 system's five stars, 5 非常满意, 4 满意, 3 基本满意, 2 不满意,
  1 非常不满意 → S, S, B, U, U. "★★★★☆" and "4星"/"四星" are read as stars on every scale.
- ``3``: three keys as on our own survey, 1 满意, 2 基本满意, 3 不满意 → S, B, U.
- ``digits``: as configured, e.g. ``1=S,2=S,3=B,4=U`` (default ``1=S,2=B,3=U``).

好评/差评 alone are refused: 好评 covers both 满意 and 基本满意, and guessing would move a window's score.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from survey._text import fold
from survey.scale import Rating, rating_from_label


class Rejected(ValueError):
    """A record that cannot be imported; the message says why (Chinese first)."""


class Scale(StrEnum):
    FIVE = "5"
    THREE = "3"
    DIGITS = "digits"


STARS: Mapping[int, Rating] = MappingProxyType({5: Rating.S, 4: Rating.S, 3: Rating.B, 2: Rating.U, 1: Rating.U})
THREE_KEYS: Mapping[int, Rating] = MappingProxyType({1: Rating.S, 2: Rating.B, 3: Rating.U})
DEFAULT_DIGITS = "1=S,2=B,3=U"

_DIGITS = re.compile(r"(\d{1,2})(?:\.0+)?", re.ASCII)
_STAR_TEXT = re.compile(r"([1-5一二三四五])\s*(?:星|颗星|星级)")
_CN_NUMERALS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}
_STAR_GLYPHS = frozenset("★☆")
_SCALE_NAMES = {Scale.FIVE: "五级：1–5 星", Scale.THREE: "三级：1 满意、2 基本满意、3 不满意", Scale.DIGITS: "按 --digits"}
_PRAISE = {"好评": "满意或基本满意", "差评": "不满意"}


def parse_digit_map(spec: str) -> dict[int, Rating]:
    """``"1=S,2=B,3=U"`` (also ``1=满意，2=基本满意`` or ``；`` between pairs) → {1: S, 2: B, 3: U}.

    Raises ValueError with a message for people when a pair is malformed or a digit is given twice."""
    mapping: dict[int, Rating] = {}
    for pair in filter(None, (p.strip() for p in re.split(r"[,，;；\s]+", fold(spec)))):
        digit, sep, label = pair.partition("=")
        rating = rating_from_label(label) if sep else None
        if not _DIGITS.fullmatch(digit.strip()) or rating is None:
            raise ValueError(f"--digits 的“{pair}”无法识别，应写成 1=S,2=B,3=U（S 满意、B 基本满意、U 不满意）"
                             f" (expected pairs like 1=S,2=B,3=U)")
        if int(digit) in mapping:
            raise ValueError(f"--digits 中数字 {int(digit)} 出现了两次 (digit {int(digit)} given twice)")
        mapping[int(digit)] = rating
    if not mapping:
        raise ValueError("--digits 为空，应写成 1=S,2=B,3=U (empty digit mapping)")
    return mapping


@dataclass(frozen=True)
class Levels:
    """How to read a level cell; `Levels.from_options` builds it from the CLI's or the API's options."""

    scale: Scale = Scale.FIVE
    digits: Mapping[int, Rating] = field(default_factory=lambda: parse_digit_map(DEFAULT_DIGITS))

    @classmethod
    def from_options(cls, levels: str | None = None, digits: str | None = None) -> Levels:
        """``levels`` 5 | 3 | digits (default 5, or digits when a mapping is given); ``digits`` the mapping.
        Raises ValueError with a message for people."""
        if levels is None:
            levels = Scale.DIGITS if digits else Scale.FIVE
        try:
            scale = Scale(str(levels).strip().lower())
        except ValueError:
            raise ValueError(f"评价等级制式“{levels}”无法识别，应为 5、3 或 digits (levels must be 5, 3 or digits)")\
                from None
        if digits and scale is not Scale.DIGITS:
            raise ValueError("--digits 只能与 --levels digits 一起使用 (--digits needs --levels digits)")
        return cls(scale, parse_digit_map(digits or DEFAULT_DIGITS))

    @property
    def digit_map(self) -> Mapping[int, Rating]:
        return {Scale.FIVE: STARS, Scale.THREE: THREE_KEYS}.get(self.scale, self.digits)

    def describe(self) -> str:
        """The digit mapping in words, e.g. ``5=满意 4=满意 3=基本满意 2=不满意 1=不满意``."""
        return " ".join(f"{d}={r.label}" for d, r in sorted(self.digit_map.items(), reverse=self.scale is Scale.FIVE))

    def rating(self, value: object) -> Rating:
        """The rating of a level cell (text, or a number from XLSX). Raises Rejected saying why."""
        if value is None:
            raise Rejected("缺少评价结果 / missing level")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise Rejected("评价结果须为文字或数字 / the level must be text or a number")
        if isinstance(value, int | float):
            return self._digit(value, str(value))
        text = fold(value).strip()
        if not text:
            raise Rejected("缺少评价结果 / missing level")
        return self._text(text, value)

    def _text(self, text: str, value: str) -> Rating:
        if (m := _DIGITS.fullmatch(text)) is not None:
            return self._digit(int(m[1]), value)
        stars = _stars(text)
        if stars is not None:
            return STARS[stars]
        rating = rating_from_label(text)
        if rating is not None:
            return rating
        if text in _PRAISE:
            raise Rejected(f"评价结果“{value}”无法区分等级（{text}包括{_PRAISE[text]}），请导出满意度等级"
                           f" / “{value}” does not say which level")
        raise Rejected(f"无法识别的评价结果“{value[:20]}” / unknown level")

    def _digit(self, number: float, shown: str) -> Rating:
        rating = self.digit_map.get(int(number)) if float(number).is_integer() else None
        if rating is None:
            known = "、".join(str(d) for d in sorted(self.digit_map))
            raise Rejected(f"评价结果“{shown[:20]}”不在 {known} 之中（{_SCALE_NAMES[self.scale]}）"
                           f" / level {shown[:20]} is not one of {known} on scale {self.scale}")
        return rating


def _stars(text: str) -> int | None:
    """5 for "★★★★★", 4 for "★★★★☆" or "4星" / "四星"; None when the text is not stars."""
    if text and set(text) <= _STAR_GLYPHS:
        filled = text.count("★")
        return filled if 1 <= filled <= 5 else None
    m = _STAR_TEXT.fullmatch(text)
    if m is None:
        return None
    return _CN_NUMERALS.get(m[1]) or int(m[1])
