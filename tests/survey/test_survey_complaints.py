"""Complaint and integrity words in suggestions (篇2 二, 五)."""

import pytest

from survey.complaints import COMPLAINT_WORDS, INTEGRITY_WORDS, complaint_signals


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("我要投诉", ("投诉",)), ("我要投訴", ("投诉",)), ("工作人员刁难我", ("刁难",)), ("態度差", ("态度差",)),
        ("让我去别的办公室办", ("让我去别的办公室",)), ("讓我去別的辦公室", ("让我去别的办公室",)),
        ("叫我去别的地方办", ("去别的地方办",)), ("互相推诿", ("推诿",)), ("互相推諉", ("推诿",)),
        ("就是不给办", ("不给办",)), ("就是不給辦", ("不给办",)), ("门难进、脸难看", ("门难进", "脸难看")),
    ],
)
def test_complaints(text, matched):
    flags = complaint_signals(text)
    assert flags.complaint and not flags.integrity and flags.matched == matched


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("他收钱了", "收钱"), ("他收錢了", "收钱"), ("吃拿卡要", "吃拿卡要"), ("要我给红包", "红包"),
        ("要我給紅包", "红包"), ("暗示要好处", "要好处"), ("暗示要好處", "要好处"), ("让我送礼", "送礼"),
        ("让我送禮", "送礼"), ("让我请吃饭", "请吃饭"), ("讓我請吃飯", "请吃饭"), ("拿回扣", "回扣"),
    ],
)
def test_integrity(text, word):
    flags = complaint_signals(text)
    assert flags.integrity and not flags.complaint and flags.matched == (word,)


@pytest.mark.parametrize(
    "text",
    ["没有收钱", "沒有收錢", "没收红包", "未收红包", "无人刁难", "没人刁难", "从不推诿", "工作人员不刁难人",
     "不投诉", "窗口态度很好", "办事效率高", "", None, "没有人收钱，谢谢"],
)
def test_negated_or_clean_text_raises_nothing(text):
    flags = complaint_signals(text)
    assert not flags.any and flags.matched == ()


def test_a_negated_occurrence_does_not_hide_a_later_one():
    assert complaint_signals("上次没有收钱，这次收钱了").integrity


def test_negation_is_only_directly_before():
    # documented limitation: a longer negation still raises the flag (a false alarm is dismissible)
    assert complaint_signals("没有任何人收钱").integrity


def test_both_kinds_in_order_of_appearance_without_nested_duplicates():
    flags = complaint_signals("态度很差，让我去别的办公室，还要红包")
    assert flags.complaint and flags.integrity
    assert flags.matched == ("态度很差", "让我去别的办公室", "红包")


def test_word_lists_are_simplified_and_disjoint():
    assert not set(COMPLAINT_WORDS) & set(INTEGRITY_WORDS)
    for word in COMPLAINT_WORDS + INTEGRITY_WORDS:
        assert complaint_signals(word).matched == (word,)
