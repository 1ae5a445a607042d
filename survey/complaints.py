"""Complaint and integrity signals in a citizen's free-text suggestion (篇2 二, 篇2 五).

Keyword lists are data (Simplified; Traditional text is folded to Simplified before matching).

Negation: an occurrence directly preceded by a negator (``没有收钱``, ``沒人刁難``, ``从不推诿``,
``未收红包``, ``没要好处费``) does not count.  Only the characters right before the keyword are looked at, so a longer
negation (``没有任何人收钱``) still counts as a signal: a false alarm a supervisor can dismiss costs
less than a missed integrity report.  Other occurrences of the same keyword in the text still count.
"""

from dataclasses import dataclass

from survey._text import fold

COMPLAINT_WORDS: tuple[str, ...] = (
    "投诉", "举报", "刁难", "态度差", "态度不好", "态度恶劣", "态度很差", "态度太差",
    "让我去别的办公室", "去别的办公室", "去别的地方办", "到大厅外", "推诿", "踢皮球", "不给办",
    "门难进", "脸难看", "话难听", "事难办", "不耐烦", "不作为", "敷衍",
)
INTEGRITY_WORDS: tuple[str, ...] = (
    "收钱", "吃拿卡要", "红包", "要好处", "好处费", "送礼", "收礼", "请吃饭", "回扣",
    "索要", "索贿", "行贿", "受贿", "塞钱", "乱收费",
)
NEGATORS: tuple[str, ...] = (
    "没有人", "没人", "无人", "从没", "从不", "不曾", "没有", "没", "未", "无", "不", "别",
    # "did not take / ask for" before the object: 没收红包, 未收红包, 没要好处费, 拒收红包
    "没有收", "没收", "未收", "不收", "拒收", "没有要", "没要", "未要", "不要", "没拿", "不拿",
)


@dataclass(frozen=True)
class ComplaintFlags:
    """``matched``: the keywords found (Simplified), in order of first appearance."""

    complaint: bool
    integrity: bool
    matched: tuple[str, ...]

    @property
    def any(self) -> bool:
        return self.complaint or self.integrity


NO_FLAGS = ComplaintFlags(False, False, ())


def _negated(text: str, start: int) -> bool:
    return text[:start].endswith(NEGATORS)


def _occurs_unnegated(text: str, word: str) -> int | None:
    """Position of the first occurrence of ``word`` not directly preceded by a negator."""
    start = text.find(word)
    while start != -1:
        if not _negated(text, start):
            return start
        start = text.find(word, start + 1)
    return None


def _found(text: str, words: tuple[str, ...]) -> list[tuple[int, str]]:
    hits = ((_occurs_unnegated(text, w), w) for w in words)
    return [(pos, w) for pos, w in hits if pos is not None]


def _outermost(hits: list[tuple[int, str]]) -> tuple[str, ...]:
    """Keywords in order, dropping one that lies inside a longer match (去别的办公室 in 让我去别的办公室)."""
    kept: list[str] = []
    end = -1
    for pos, word in sorted(hits, key=lambda h: (h[0], -len(h[1]))):
        if pos + len(word) > end:
            kept.append(word)
            end = pos + len(word)
    return tuple(kept)


def complaint_signals(text: str | None) -> ComplaintFlags:
    """Does the suggestion complain (→ rectification) or report an integrity problem (→ alert)?"""
    folded = fold(text or "")
    complaints = _found(folded, COMPLAINT_WORDS)
    integrity = _found(folded, INTEGRITY_WORDS)
    return ComplaintFlags(bool(complaints), bool(integrity), _outermost(complaints + integrity))
