"""SMS reply parsing (docs/architecture.md §SMS replies): the corpus, edge cases and properties."""

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from survey.questionnaire import ITEMS, ITEMS_BY_CODE
from survey.replies import (
    OPT_OUT_ASCII,
    OPT_OUT_PHRASES,
    OPT_OUT_WORDS,
    SmsReply,
    parse_sms_reply,
    reply_answers,
)
from survey.scale import Rating

CORPUS_PATH = Path(__file__).resolve().parents[2] / "survey" / "data" / "sms_replies.jsonl"
CORPUS = [json.loads(line) for line in CORPUS_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_corpus_is_large_and_covers_every_kind():
    assert len(CORPUS) >= 160
    assert {case["kind"] for case in CORPUS} == {"answers", "overall", "opt_out", "ambiguous", "empty"}
    assert len({case["text"] for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[case["text"] for case in CORPUS])
def test_corpus_reply(case):
    reply = parse_sms_reply(case["text"])
    assert reply.kind == case["kind"]
    assert "".join(reply.keys) == case["keys"]
    assert reply.overall == (Rating(case["overall"]) if case["overall"] else None)
    assert reply.comment == case["comment"]
    assert reply.reason == case["reason"]


def test_full_answer_is_not_partial_and_short_one_is():
    assert not parse_sms_reply("112111").partial
    assert parse_sms_reply("112").partial
    assert parse_sms_reply("112").expected == 6


def test_fewer_items_makes_extra_digits_too_many():
    assert parse_sms_reply("1121", n_items=3).reason == "too_many_keys"
    assert parse_sms_reply("112", n_items=3).keys == ("1", "1", "2")


def test_items_argument_sets_positions():
    yes_no_first = (ITEMS_BY_CODE["integrity"], ITEMS_BY_CODE["overall"])
    assert parse_sms_reply("3", items=yes_no_first).reason == "invalid_key"
    assert parse_sms_reply("23", items=yes_no_first).keys == ("2", "3")


@pytest.mark.parametrize("n", [0, 7, -1])
def test_n_items_out_of_range_is_a_programming_error(n):
    with pytest.raises(ValueError):
        parse_sms_reply("1", n_items=n)


def test_reply_answers_maps_keys_to_items():
    answers = reply_answers(parse_sms_reply("111121 有人要红包"))
    assert list(answers) == [item.code for item in ITEMS]
    assert answers["integrity"].alert and answers["integrity"].label == "有"
    assert answers["in_hall"].good


def test_reply_answers_word_reply_answers_overall_only():
    answers = reply_answers(parse_sms_reply("基本满意"))
    assert list(answers) == ["overall"]
    assert answers["overall"].rating is Rating.B and answers["overall"].key == "2"


@pytest.mark.parametrize("text", ["好的", "", "7", "1111111", "TD"])
def test_reply_answers_nothing_for_unscored_replies(text):
    reply = parse_sms_reply(text)
    assert reply_answers(reply) == {} and not reply.scored


def test_all_ones_never_raises_an_integrity_alert():
    for text in ("111111", "1 1 1 1 1 1", "１１１１１１", "一一一一一一"):
        assert not any(a.alert for a in reply_answers(parse_sms_reply(text)).values())


# ---- properties ---------------------------------------------------------------------------------------

def _check_invariants(reply: SmsReply, n_items: int) -> None:
    assert reply.kind in {"answers", "overall", "opt_out", "ambiguous", "empty"}
    assert len(reply.keys) <= n_items
    for key, item in zip(reply.keys, ITEMS, strict=False):
        assert key in item.valid_keys
    if reply.kind in ("ambiguous", "empty"):
        assert reply.keys == () and reply.overall is None
    if reply.kind == "answers":
        assert reply.keys


@given(st.text(max_size=80), st.integers(min_value=1, max_value=6))
def test_parser_never_raises_and_never_invents_keys(text, n_items):
    _check_invariants(parse_sms_reply(text, n_items=n_items), n_items)


_REPLYISH = st.text(alphabet="0123456789一二三四１２３ ,，、.;满意基本不差一般TDtd退订取消好的谢谢", max_size=20)


@given(_REPLYISH, st.integers(min_value=1, max_value=6))
def test_reply_like_text_never_invents_keys(text, n_items):
    _check_invariants(parse_sms_reply(text, n_items=n_items), n_items)


@given(st.lists(st.sampled_from("123"), min_size=1, max_size=6), st.sampled_from(["", " ", ",", "，", "、"]))
def test_valid_keys_round_trip(keys, sep):
    keys = [k if item.kind == "rating" or k != "3" else "2" for k, item in zip(keys, ITEMS, strict=False)]
    reply = parse_sms_reply(sep.join(keys))
    assert reply.kind == "answers" and list(reply.keys) == keys


def _no_ascii_letters(ch: str) -> bool:
    """Characters that cannot glue onto TD/STOP as letters: no ASCII letter after NFKC, no combining mark."""
    folded = unicodedata.normalize("NFKC", ch)
    return unicodedata.category(ch)[0] != "M" and not any(c.isascii() and c.isalpha() for c in folded)


_NEUTRAL = st.text(st.characters(exclude_categories=("Cs",)).filter(_no_ascii_letters), max_size=8)
_FILLER = st.lists(st.sampled_from([" ", "，", ",", "。", "!", "！", "请", "吧", "了", "谢谢", "1"]), max_size=4).map("".join)


def _width_and_case(word: str, data: st.DataObject) -> str:
    wide = data.draw(st.booleans())
    chars = [c.upper() if data.draw(st.booleans()) else c for c in word]
    return "".join(chr(ord(c) + 0xFEE0) if wide and c.isascii() else c for c in chars)


@given(st.data(), _NEUTRAL, _NEUTRAL)
def test_opt_out_words_anywhere_in_a_short_reply_opt_out(data, before, after):
    word = data.draw(st.sampled_from(OPT_OUT_WORDS + OPT_OUT_ASCII))
    word = _width_and_case(word, data)
    assert parse_sms_reply(before + word + after).kind == "opt_out"


@given(st.data(), _FILLER, _FILLER)
def test_cancel_alone_opts_out(data, before, after):
    word = data.draw(st.sampled_from(["取消", "取消订阅", "取消訂閱"]))
    assert parse_sms_reply(before + word + after).kind == "opt_out"


_END = st.lists(st.sampled_from([" ", "，", "。", "!", "1", "了"]), max_size=3).map("".join)


@given(st.data(), _NEUTRAL, _END)
def test_contextual_opt_out_phrases_opt_out_at_the_end_of_a_reply(data, before, after):
    word = data.draw(st.sampled_from([*OPT_OUT_PHRASES, "別再發", "不要再發", "不要再打電話"]))
    assert parse_sms_reply(before + word + after).kind == "opt_out"


@pytest.mark.parametrize("text", ["希望不要再发生这种事", "别再打官腔了", "窗口拒收我的材料", "取消了我的预约"])
def test_complaints_that_look_like_opt_outs_do_not_opt_out(text):
    assert parse_sms_reply(text).kind == "ambiguous"
    assert parse_sms_reply("111111 " + text).kind == "answers"
