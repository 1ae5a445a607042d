"""Text folding shared by the reply parser and the complaint detector.

Matching is done on a *folded* copy of the text: NFKC (full-width letters, digits and punctuation become
their ASCII forms), Traditional characters that occur in our keyword lists mapped to Simplified, and
ASCII letters lowercased (after NFKC that covers full-width ``ＴＤ``).  Text shown back to people
(a comment) is cut from the original, never from the folded copy.
"""

import unicodedata

# Only the Traditional characters our word lists need; a full converter would be a dependency.
_TRAD = (
    "滿满還还較较評评訂订發发別别請请謝谢覆复復复選选價价總总體体來来說说訴诉舉举報报難难態态"
    "惡恶讓让辦办諉诿給给門门進进臉脸話话聽听煩烦為为錢钱紅红處处禮礼飯饭賄贿亂乱費费沒没"
    "無无從从閱阅這这個个們们務务對对極极錯错夠够應应簡简單单時时間间長长號号級级電电閒闲"
    "騷骚擾扰麼么嗎吗兩两幾几撥拨覺觉竅窍賂赂遲迟雜杂卻却節节顧顾"
)
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
TRAD_TO_SIMP = str.maketrans(_TRAD[0::2] + _UPPER, _TRAD[1::2] + _UPPER.lower())


def nfkc(text: str) -> str:
    """Unicode NFKC: full-width ``１２ＴＤ，`` becomes ``12TD,``."""
    return unicodedata.normalize("NFKC", text)


def fold_map(text: str) -> tuple[str, tuple[int, ...]]:
    """Fold character by character; also return, for each folded character, its index in ``text``.

    Per-character NFKC differs from whole-string NFKC only for combining sequences, which none of
    our words contain.  The map lets a comment be cut from the text exactly as it was typed.
    """
    pieces = [nfkc(ch).translate(TRAD_TO_SIMP) for ch in text]
    starts = tuple(i for i, piece in enumerate(pieces) for _ in piece)
    return "".join(pieces), starts


def fold(text: str) -> str:
    """NFKC, Traditional→Simplified for our vocabulary, ASCII lowercase (see ``fold_map``)."""
    return fold_map(text)[0]
