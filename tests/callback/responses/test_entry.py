"""Answers a staff member types in (callback.responses.entry): read as an SMS reply is (survey.replies), never
guessed — an unreadable entry is refused with one line saying why."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callback.responses.entry import EntryError, HandEntry, read_answers, read_item_cells, transcript_line
from survey.questionnaire import ITEMS


@pytest.mark.parametrize("typed", ["112111", "1 1 2 1 1 1", "1,1,2,1,1,1", "１１２１１１", "1、1、2、1、1、1", " 112111 "])
def test_the_ways_people_write_six_answers(typed: str) -> None:
    entry = read_answers(typed)
    assert entry.keys == "112111"
    assert entry.answers["by_the_rules"].label == "基本满意" and entry.answers["integrity"].label == "没有"
    assert entry.suggestion == "" and not entry.alert


def test_fewer_answers_are_a_partial_entry_and_a_word_answers_the_overall_item() -> None:
    assert read_answers("112").keys == "112---"
    word = read_answers("基本满意")
    assert word.keys == "-----2" and list(word.answers) == ["overall"]


def test_a_trailing_comment_and_the_suggestion_are_both_kept() -> None:
    entry = read_answers("111111 排队太久", suggestion="希望多开一个窗口")
    assert entry.keys == "111111"
    assert entry.suggestion == "排队太久\n希望多开一个窗口"


def test_an_integrity_yes_is_an_alert_and_key_1_never_is() -> None:
    assert read_answers("111121").alert
    assert not read_answers("111111").alert and not read_answers("333213").alert


@pytest.mark.parametrize(("typed", "why"), [
    ("12x", "无法识别"),
    ("1121113", "超过 6 项"),
    ("11211111", "超过 6 项"),
    ("112141", "无效选项"),
    ("111311", "无效选项"),  # 3 on a yes/no item is never read as "no"
    ("111131", "无效选项"),
    ("110111", "无效选项"),
    ("", "答案为空"),
    ("   ", "答案为空"),
    ("好的", "无法识别"),
    ("等了3天", "无法识别"),
    ("TD", "退订"),
])
def test_answers_that_cannot_be_read_without_guessing_are_refused_in_one_line(typed: str, why: str) -> None:
    with pytest.raises(EntryError, match=why) as refused:
        read_answers(typed)
    assert "\n" not in str(refused.value)


def test_a_refusal_never_echoes_a_number() -> None:
    with pytest.raises(EntryError) as refused:
        read_answers("我的电话13812345678")
    assert "13812345678" not in str(refused.value)


def test_one_column_per_item_takes_keys_or_the_choice_words() -> None:
    entry = read_item_cells({"attitude": "满意", "efficiency": "2", "by_the_rules": "不满意", "in_hall": "否",
                             "integrity": "没有", "overall": "基本满意"}, "态度还行")
    assert entry.keys == "123212" and entry.suggestion == "态度还行" and not entry.alert
    assert read_item_cells({"integrity": "有", "overall": ""}).keys == "----2-"
    assert read_item_cells({"integrity": "有"}).alert


@pytest.mark.parametrize(("cells", "why"), [
    ({"in_hall": "3"}, "体外循环"),
    ({"attitude": "很好很好"}, "服务态度"),
    ({"integrity": "满意"}, "廉洁自律"),
    ({}, "没有答案"),
])
def test_a_cell_that_is_not_one_of_the_items_choices_is_refused(cells: dict[str, str], why: str) -> None:
    with pytest.raises(EntryError, match=why):
        read_item_cells(cells)


def test_the_transcript_line_names_each_answer() -> None:
    entry = read_answers("111121 有人要红包")
    line = transcript_line("人工回访录入", entry)
    assert line.startswith("人工回访录入：服务态度：满意；")
    assert "廉洁自律：有" in line and "意见建议：有人要红包" in line
    assert transcript_line("x", HandEntry()) == "x："


keys = st.tuples(*(st.sampled_from(item.valid_keys) for item in ITEMS)).map("".join)


@given(keys, st.sampled_from(["", " ", ",", "、"]))
def test_any_valid_answers_read_back_as_typed(typed: str, separator: str) -> None:
    entry = read_answers(separator.join(typed))
    assert entry.keys == typed
    assert entry.alert == (typed[4] == "2")
