"""Parsing a citizen's SMS reply to the survey (篇2 二; docs/architecture.md §SMS replies).

What people actually type is accepted: ``112111``, ``1 1 2 1 1 1``, ``1,1,2``, ``1、1、2``, full-width
``１１２``, Chinese numerals ``一一二一一一``, a word (满意 / 基本满意 / 不满意 / 一般 / 差 …, Simplified or
Traditional) for the overall rating, and a trailing comment that becomes the suggestion.  Fewer digits than
items is a partial answer.  Opt-out words (TD, 退订, STOP, 取消, 不要再发 …) opt out for good; see
OPT_OUT_PHRASES and WEAK_OPT_OUT_WORDS for the words that only count in context.

Nothing is ever guessed.  These are ``ambiguous`` (ask once more, score nothing):
- a key that is not valid on its item — 0, 4–9 anywhere, 3 on a yes/no item (``in_hall``, ``integrity``:
  only 1 and 2 exist there, and reading 3 as "no" would invent an integrity alert);
- more digits than items; text before the digits (``等了3天``); a number glued to a measure word or a
  short number glued to text (``2号窗口``, ``3天``, ``1满意``); digits in the comment of a partial answer;
- a comment that starts with a rating word contradicting the keys or the word (``111111 不满意``,
  ``满意，一般吧``);
- anything else: ``好的``, ``谢谢``, emoji, punctuation.
Whitespace-only text is ``empty``.

All matching is on ``_text.fold`` (NFKC, Traditional→Simplified, ASCII lowercase); a comment is cut from
the reply exactly as typed (full-width punctuation and Traditional characters kept).
"""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from survey._text import fold, fold_map
from survey.questionnaire import ITEMS, Answer, Item, interpret_key, overall_rating, rating_key
from survey.scale import Rating

Kind = Literal["answers", "overall", "opt_out", "ambiguous", "empty"]

TOO_MANY_KEYS = "too_many_keys"
INVALID_KEY = "invalid_key"
TEXT_BEFORE_DIGITS = "text_before_digits"
NUMBER_IN_TEXT = "number_in_text"
DIGITS_IN_COMMENT = "digits_in_comment"
CONFLICTING_WORDS = "conflicting_words"
UNRECOGNISED = "unrecognised"

# Chinese numerals.  4–9 and 0 are recognised only so that they make a reply ambiguous.
CN_DIGITS: dict[str, str] = dict(zip("一二三四五六七八九〇零壹贰貳叁參弍", "12345678900122332", strict=True))
SEPARATORS = " \t\r\n,、;.。/\\-|_·~"
# A number glued to one of these is a quantity (3天, 2号窗口, 100元), never an answer.
UNITS = "号天次个分点元块月日年时周岁楼层趟位人遍多号件项小"
# Leading words before the digits or the rating word that change nothing.
ANSWER_PREFIXES: tuple[str, ...] = (
    "我的回答是", "我的回答", "我的评价是", "我的评价", "回答", "回复", "答案", "答", "我选", "选择", "选",
    "评价", "评分",
)
WORD_PREFIXES: tuple[str, ...] = ("总的来说", "我觉得", "总体上", "总体", "整体", "总的", "全部", "都", "我", "还是")

RATING_WORDS: dict[str, Rating] = {
    **dict.fromkeys(("非常满意", "十分满意", "特别满意", "很满意", "挺满意", "比较满意", "满意", "好评"), Rating.S),
    **dict.fromkeys(
        ("基本满意", "基本上满意", "还算满意", "还可以", "还行", "一般般", "一般", "凑合", "还好", "马马虎虎", "过得去"),
        Rating.B,
    ),
    **dict.fromkeys(
        (
            "非常不满意", "十分不满意", "特别不满意", "很不满意", "不太满意", "不是很满意", "不怎么满意", "不满意",
            "差评", "非常差", "极差", "很差", "太差", "差",
        ),
        Rating.U,
    ),
}
# Longest first, so 不满意 wins over 满意 and 一般般 over 一般.
_RATING_WORDS_LONGEST = sorted(RATING_WORDS, key=len, reverse=True)

OPT_OUT_WORDS: tuple[str, ...] = ("退订", "不要发了", "别发了", "拉黑")
"""Opt out wherever they appear (Traditional folded first: 退訂, 別發了)."""
OPT_OUT_ASCII: tuple[str, ...] = ("td", "stop", "unsubscribe")
"""Opt out wherever they appear as a word of their own, any case and width (``ＴＤ``, ``111111td``)."""
# These opt out only when followed by the end, punctuation, a digit or one of the listed words, because
# the same characters start ordinary complaints: 不要再发生这种事, 不要再打官腔, 窗口拒收我的材料.
OPT_OUT_PHRASES: dict[str, tuple[str, ...]] = {
    "不要再发": ("短信", "信息", "消息", "了", "啦", "给我", "回访", "这", "过来", "来"),
    "别再发": ("短信", "信息", "消息", "了", "啦", "给我", "回访", "这", "过来", "来"),
    "不要再打": ("电话", "了", "啦", "给我", "扰", "过来", "来"),
    "别再打": ("电话", "了", "啦", "给我", "扰", "过来", "来"),
    "拒收": ("短信", "信息", "消息", "了", "啦"),
}
# 取消 opts out only when nothing else but these (and digits, punctuation) is in the reply:
# "取消", "请取消订阅" yes; "取消了我的预约" no (that is a comment, and ambiguous).
WEAK_OPT_OUT_WORDS: tuple[str, ...] = ("取消",)
OPT_OUT_FILLERS: tuple[str, ...] = (
    "谢谢", "麻烦", "一下", "订阅", "短信", "消息", "通知", "回访", "服务", "帮我", "我要", "要", "请",
    "吧", "了", "啊", "呀", "哦", "的", "嗯",
)
_OPT_OUT_RES = (
    re.compile(r"(?<![a-z])(?:" + "|".join(OPT_OUT_ASCII) + r")(?![a-z])"),
    re.compile("|".join(map(re.escape, OPT_OUT_WORDS))),
    *(re.compile(re.escape(w) + r"(?=$|[\W\d_]|" + "|".join(f) + ")") for w, f in OPT_OUT_PHRASES.items()),
)
_PARTICLES = set("的了吧啊呀哦呢嘛啦哈嗯")


@dataclass(frozen=True)
class SmsReply:
    """The reading of one SMS reply.

    ``keys``: the answer digits in item order (``answers``; also kept on ``opt_out`` if the reply answered
    too).  ``overall``: the rating of a word reply.  ``comment``: the text after the answer (the suggestion).
    ``reason``: why it is ambiguous.  ``expected``: how many items the reply was answering.
    """

    kind: Kind
    keys: tuple[str, ...] = ()
    overall: Rating | None = None
    comment: str = ""
    reason: str = ""
    expected: int = 0

    @property
    def partial(self) -> bool:
        """Some but not all items answered."""
        return 0 < len(self.keys) < self.expected

    @property
    def scored(self) -> bool:
        """Does this reply carry an answer that may be saved?"""
        return bool(self.keys) or self.overall is not None


@dataclass(frozen=True)
class _Text:
    """A reply as typed, its folded copy, and where each folded character came from."""

    original: str
    folded: str
    starts: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> "_Text":
        return cls(text, *fold_map(text))

    def after(self, pos: int) -> str:
        """The original text from folded position ``pos`` on (a character half-consumed — ㈠ folds
        to ``(一)`` — counts as consumed)."""
        if pos >= len(self.starts):
            return ""
        start = self.starts[pos]
        return self.original[start + (pos > 0 and self.starts[pos - 1] == start):]

    def without(self, spans: list[tuple[int, int]]) -> "_Text":
        """The original text with the folded spans blanked out."""
        chars = list(self.original)
        for start, end in spans:
            for i in range(self.starts[start], self.starts[end - 1] + 1):
                chars[i] = " "
        return _Text.of("".join(chars))


def _is_filler(ch: str) -> bool:
    """Punctuation, spaces, symbols (emoji included) and control characters."""
    return unicodedata.category(ch)[0] in "PZSC"


def _skip_fillers(text: str, pos: int = 0) -> int:
    while pos < len(text) and _is_filler(text[pos]):
        pos += 1
    return pos


def _skip_prefix(folded: str, pos: int, prefixes: tuple[str, ...], times: int = 1) -> int:
    """Skip up to ``times`` leading prefix words (each optionally followed by 是/为) and fillers."""
    for _ in range(times):
        pos = _skip_fillers(folded, pos)
        word = next((p for p in prefixes if folded.startswith(p, pos)), None)
        if word is None:
            break
        pos += len(word)
        pos += folded.startswith(("是", "为"), pos)
    return _skip_fillers(folded, pos)


def _clean_comment(text: str) -> str:
    comment = text[_skip_fillers(text):].strip()
    return "" if set(comment) <= _PARTICLES | set(SEPARATORS) else comment


# ---- opt-out -------------------------------------------------------------------------------------------

def _strong_opt_out_spans(folded: str) -> list[tuple[int, int]]:
    return [m.span() for pattern in _OPT_OUT_RES for m in pattern.finditer(folded)]


def _weak_opt_out_spans(folded: str) -> list[tuple[int, int]]:
    spans = [(m.start(), m.end()) for w in WEAK_OPT_OUT_WORDS for m in re.finditer(re.escape(w), folded)]
    rest = folded
    for word in (*WEAK_OPT_OUT_WORDS, *OPT_OUT_FILLERS):
        rest = rest.replace(word, "")
    leftover = [ch for ch in rest if not (_is_filler(ch) or "0" <= ch <= "9")]
    return spans if spans and not leftover else []


def _opt_out(text: _Text, items: Sequence[Item]) -> SmsReply | None:
    spans = _strong_opt_out_spans(text.folded) or _weak_opt_out_spans(text.folded)
    if not spans:
        return None
    rest = _parse(text.without(spans), items)
    if rest.kind not in ("answers", "overall"):
        return SmsReply("opt_out", expected=len(items))
    return replace(rest, kind="opt_out")


# ---- digits --------------------------------------------------------------------------------------------

_DIGIT_CLASS = "0-9" + "".join(CN_DIGITS)
_RUN_RE = re.compile(f"[{_DIGIT_CLASS}](?:[{re.escape(SEPARATORS)}]*[{_DIGIT_CLASS}])*")


def _glued_number(run: str, next_char: str) -> bool:
    """``3天``, ``2号窗口``, ``1满意``: a quantity or label in a sentence, not an answer."""
    if not next_char or _is_filler(next_char):
        return False
    digits = sum(ch in CN_DIGITS or "0" <= ch <= "9" for ch in run)
    return next_char in UNITS or (digits <= 2 and next_char.isalpha())


def _cn_words(run: str, next_char: str) -> bool:
    """一般, 一直, 三楼: one or two Chinese numerals glued to text are words, not answers."""
    cn = sum(ch in CN_DIGITS for ch in run)
    return 0 < cn < 3 and bool(next_char) and next_char.isalpha()


def _next_char(folded: str, run: re.Match[str]) -> str:
    return folded[run.end():run.end() + 1]


def _answer_run(folded: str, start: int) -> re.Match[str] | None:
    """The answer digits at ``start``.  A last space-separated group glued to text is left to the
    comment (``111111 2号窗口很好``); Chinese numeral words (一般, 三楼) are not answers."""
    run = _RUN_RE.match(folded, start)
    if run and _glued(run.group(), _next_char(folded, run)):
        cut = max(run.group().rfind(" "), run.group().rfind("\t"))
        shorter = _RUN_RE.match(folded[: start + cut], start) if cut > 0 else None
        run = shorter or run
    if run and _cn_words(run.group(), _next_char(folded, run)):
        return None
    return run


def _glued(run: str, next_char: str) -> bool:
    return _glued_number(run, next_char) or _cn_words(run, next_char)


def _digit_keys(run: str) -> tuple[str, ...]:
    return tuple(CN_DIGITS.get(ch, ch) for ch in run if ch not in SEPARATORS)


def _check_keys(keys: tuple[str, ...], items: Sequence[Item]) -> str:
    if len(keys) > len(items):
        return TOO_MANY_KEYS
    valid = all(key in item.valid_keys for key, item in zip(keys, items, strict=False))
    return "" if valid else INVALID_KEY


def _conflicts(comment: str, rating: Rating | None) -> bool:
    """Does the comment start with a rating word that contradicts ``rating`` (``111111 不满意``)?"""
    word = _leading_rating_word(fold(comment), 0)
    return word is not None and rating is not None and RATING_WORDS[word] != rating


def _keys_rating(keys: tuple[str, ...], items: Sequence[Item]) -> Rating | None:
    answers = (interpret_key(item, key) for item, key in zip(items, keys, strict=False))
    return overall_rating(a for a in answers if a is not None)


def _from_digits(text: _Text, run: re.Match[str], items: Sequence[Item]) -> SmsReply:
    n = len(items)
    keys = _digit_keys(run.group())
    comment = _clean_comment(text.after(run.end()))
    reason = _check_keys(keys, items)
    if not reason and len(keys) < n and re.search("[0-9]", text.folded[run.end():]):
        reason = DIGITS_IN_COMMENT
    if not reason and _conflicts(comment, _keys_rating(keys, items)):
        reason = CONFLICTING_WORDS
    if reason:
        return SmsReply("ambiguous", reason=reason, expected=n)
    return SmsReply("answers", keys=keys, comment=comment, expected=n)


# ---- words ---------------------------------------------------------------------------------------------

def _leading_rating_word(folded: str, pos: int) -> str | None:
    """The rating word at ``pos`` (after fillers), longest first; a lone 差 must not run into text."""
    pos = _skip_fillers(folded, pos)
    word = next((w for w in _RATING_WORDS_LONGEST if folded.startswith(w, pos)), None)
    after = folded[pos + len(word):pos + len(word) + 1] if word else ""
    if word and len(word) == 1 and after.isalpha():
        return None  # 差不多 is not 差
    return word


def _from_word(text: _Text, items: Sequence[Item]) -> SmsReply:
    n, folded = len(items), text.folded
    pos = _skip_prefix(folded, 0, ANSWER_PREFIXES + WORD_PREFIXES, times=3)
    word = _leading_rating_word(folded, pos)
    if word is None:
        reason = TEXT_BEFORE_DIGITS if re.search("[0-9]", folded) else UNRECOGNISED
        return SmsReply("ambiguous", reason=reason, expected=n)
    comment = _clean_comment(text.after(pos + len(word)))
    if re.match("[0-9]", fold(comment)):
        return SmsReply("ambiguous", reason=TEXT_BEFORE_DIGITS, expected=n)
    if _conflicts(comment, RATING_WORDS[word]):
        return SmsReply("ambiguous", reason=CONFLICTING_WORDS, expected=n)
    return SmsReply("overall", overall=RATING_WORDS[word], comment=comment, expected=n)


# ---- entry points --------------------------------------------------------------------------------------

def _parse(text: _Text, items: Sequence[Item]) -> SmsReply:
    """Answers or a word reply, without looking for opt-out words."""
    folded = text.folded
    if not folded.strip():
        return SmsReply("empty", expected=len(items))
    run = _answer_run(folded, _skip_prefix(folded, 0, ANSWER_PREFIXES))
    if run and _glued_number(run.group(), _next_char(folded, run)):
        return SmsReply("ambiguous", reason=NUMBER_IN_TEXT, expected=len(items))
    return _from_digits(text, run, items) if run else _from_word(text, items)


def _items_for(n_items: int, items: Sequence[Item] | None) -> Sequence[Item]:
    if items is not None:
        return items
    if not 1 <= n_items <= len(ITEMS):
        raise ValueError(f"n_items must be between 1 and {len(ITEMS)}, not {n_items}")
    return ITEMS[:n_items]


def parse_sms_reply(text: str | None, n_items: int = 6, items: Sequence[Item] | None = None) -> SmsReply:
    """Read an SMS reply answering the first ``n_items`` of ITEMS in order (or exactly ``items``).

    Never raises on any text.  Opt-out words win over everything else (an answer given in the same reply
    is kept in ``keys``/``overall``).
    """
    items = _items_for(n_items, items)
    reply = _Text.of(text or "")
    if not reply.folded.strip():
        return SmsReply("empty", expected=len(items))
    return _opt_out(reply, items) or _parse(reply, items)


def reply_answers(reply: SmsReply, items: Sequence[Item] | None = None) -> dict[str, Answer]:
    """Per-item answers carried by a reply, keyed by item code (empty when nothing may be scored).

    A word reply answers only the ``overall`` item.
    """
    items = ITEMS[: len(reply.keys)] if items is None else items
    answers = {item.code: interpret_key(item, key) for item, key in zip(items, reply.keys, strict=False)}
    if reply.overall is not None:
        answers["overall"] = interpret_key("overall", rating_key(reply.overall))
    return {code: answer for code, answer in answers.items() if answer is not None}
