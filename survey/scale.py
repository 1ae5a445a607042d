"""The three-level rating scale (篇2 六) and the answers to yes/no questions.

docs/architecture.md §Ratings and points: 滿意 S, 基本滿意 B, 不滿意 U; per response S=100, B=60, U=0.  Five-level
evaluator (評價器) data maps 非常滿意/滿意 → S, 基本滿意 → B, 不滿意/非常不滿意 → U.
"""

from collections.abc import Iterable
from enum import StrEnum

from survey._text import fold


class Rating(StrEnum):
    """满意 / 基本满意 / 不满意; the value is the stored code."""

    S = "S"
    B = "B"
    U = "U"

    @property
    def label(self) -> str:
        """Simplified Chinese label, e.g. ``基本满意``."""
        return _LABELS[self]

    @property
    def points(self) -> int:
        """Points of one response: 100, 60 or 0."""
        return POINTS[self]


_LABELS = {Rating.S: "满意", Rating.B: "基本满意", Rating.U: "不满意"}
POINTS: dict[Rating, int] = {Rating.S: 100, Rating.B: 60, Rating.U: 0}
# Worse ratings sort later: used to pick "the worst rated item answered".
_SEVERITY = {Rating.S: 0, Rating.B: 1, Rating.U: 2}


class YesNo(StrEnum):
    """The literal answer to a yes/no question (是/有 = YES, 否/没有 = NO)."""

    YES = "Y"
    NO = "N"

    @property
    def label(self) -> str:
        return "是" if self is YesNo.YES else "否"


# Simplified forms; Traditional input is folded to these first (滿意 → 满意).
FIVE_LEVEL_LABELS: dict[str, Rating] = {
    "非常满意": Rating.S,
    "满意": Rating.S,
    "基本满意": Rating.B,
    "不满意": Rating.U,
    "非常不满意": Rating.U,
}


def rating_from_label(label: str) -> Rating | None:
    """Map a three- or five-level evaluator label (Simplified or Traditional) to a Rating.

    Also accepts the codes ``S``/``B``/``U``.  Unknown labels give None rather than a guess.
    """
    text = fold(label).strip()
    if text.upper() in Rating.__members__:
        return Rating(text.upper())
    return FIVE_LEVEL_LABELS.get(text)


def worst(ratings: Iterable[Rating]) -> Rating | None:
    """The worst of the given ratings (U worse than B worse than S); None if there are none."""
    return max(ratings, key=_SEVERITY.__getitem__, default=None)
