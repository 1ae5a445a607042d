"""The six items of 篇2 二 and what answers mean (docs/architecture.md §Keys, §Rectification triggers)."""

import pytest

from survey.complaints import ComplaintFlags, complaint_signals
from survey.questionnaire import (
    ALERT_REASONS,
    ITEMS,
    ITEMS_BY_CODE,
    interpret_key,
    is_alert,
    needs_rectification,
    overall_rating,
    rating_key,
)
from survey.scale import Rating, YesNo


def answers(keys: str, codes=None):
    items = [ITEMS_BY_CODE[c] for c in codes] if codes else ITEMS
    return [interpret_key(item, key) for item, key in zip(items, keys, strict=False)]


def test_items_in_order_with_kinds():
    assert [i.code for i in ITEMS] == ["attitude", "efficiency", "by_the_rules", "in_hall", "integrity", "overall"]
    assert [i.label for i in ITEMS] == ["服务态度", "办事效率", "按章办事", "体外循环", "廉洁自律", "总体评价"]
    assert [i.kind for i in ITEMS] == ["rating"] * 3 + ["yesno"] * 2 + ["rating"]
    assert [i.valid_keys for i in ITEMS] == [("1", "2", "3")] * 3 + [("1", "2")] * 2 + [("1", "2", "3")]


def test_key_one_is_good_on_every_item():
    for item in ITEMS:
        answer = interpret_key(item, "1")
        assert answer.good and not answer.alert


def test_yes_no_items_are_phrased_so_one_is_good():
    assert interpret_key("in_hall", "1").yes_no is YesNo.YES
    assert interpret_key("in_hall", "2").yes_no is YesNo.NO
    assert interpret_key("integrity", "1").yes_no is YesNo.NO
    assert interpret_key("integrity", "1").label == "没有"
    bad = interpret_key("integrity", "2")
    assert bad.yes_no is YesNo.YES and bad.alert and not bad.good
    assert not interpret_key("in_hall", "2").alert


@pytest.mark.parametrize(("key", "rating"), [("1", Rating.S), ("2", Rating.B), ("3", Rating.U)])
def test_rating_keys(key, rating):
    answer = interpret_key("attitude", key)
    assert answer.rating is rating and answer.yes_no is None
    assert rating_key(rating) == key


@pytest.mark.parametrize(("code", "key"), [("in_hall", "3"), ("integrity", "3"), ("attitude", "4"),
                                           ("overall", "0"), ("attitude", ""), ("attitude", "11"), ("attitude", "*")])
def test_invalid_keys_give_none(code, key):
    assert interpret_key(code, key) is None


def test_overall_item_wins():
    assert overall_rating(answers("331111")) is Rating.S


def test_without_overall_the_worst_rated_item():
    assert overall_rating(answers("121")) is Rating.B
    assert overall_rating(answers("1312")) is Rating.U


def test_yes_no_items_do_not_make_an_overall_rating():
    assert overall_rating(answers("22", ["in_hall", "integrity"])) is None
    assert overall_rating([]) is None


def test_overall_rating_accepts_a_mapping():
    by_code = {a.item: a for a in answers("12")}
    assert overall_rating(by_code) is Rating.B


def test_all_good_needs_no_rectification():
    assert needs_rectification(answers("111111")) == []
    assert needs_rectification(answers("111111"), complaint_signals("窗口态度很好，没有收钱")) == []


def test_each_bad_answer_is_a_reason_in_item_order():
    assert needs_rectification(answers("213111")) == ["attitude", "by_the_rules"]
    assert needs_rectification(answers("111112")) == ["overall"]
    assert needs_rectification(answers("111113")) == ["overall"]
    assert needs_rectification(answers("111211")) == ["in_hall"]


def test_integrity_yes_is_an_alert():
    reasons = needs_rectification(answers("111121"))
    assert reasons == ["integrity"]
    assert is_alert(reasons) and "integrity" in ALERT_REASONS
    assert not is_alert(needs_rectification(answers("333213")))


def test_complaint_in_suggestion():
    reasons = needs_rectification(answers("111111"), complaint_signals("让我去别的办公室办"))
    assert reasons == ["complaint"] and not is_alert(reasons)


def test_integrity_word_in_suggestion_is_an_alert_once():
    flags = ComplaintFlags(complaint=True, integrity=True, matched=("红包", "刁难"))
    assert needs_rectification(answers("111121"), flags) == ["integrity", "complaint"]
    assert needs_rectification(answers("1111"), flags) == ["integrity", "complaint"]


def test_partial_answers_only_judge_what_was_said():
    assert needs_rectification(answers("11")) == []
    assert needs_rectification(answers("12")) == ["efficiency"]
