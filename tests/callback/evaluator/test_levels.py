"""What a level cell means: words on every scale, stars, digits per scale (README "Electronic evaluator")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callback.evaluator.levels import DEFAULT_DIGITS, Levels, Rejected, Scale, parse_digit_map
from survey.scale import Rating

S, B, U = Rating.S, Rating.B, Rating.U


@pytest.mark.parametrize(("label", "rating"), [
    ("非常满意", S), ("满意", S), ("基本满意", B), ("不满意", U), ("非常不满意", U),
    ("非常滿意", S), ("滿意", S), ("基本滿意", B), ("不滿意", U), ("非常不滿意", U),  # Traditional
    (" 满意 ", S), ("S", S), ("b", B), ("Ｕ", U),
])
@pytest.mark.parametrize("scale", ["5", "3", "digits"])
def test_words_mean_the_same_on_every_scale(label: str, rating: Rating, scale: str) -> None:
    assert Levels.from_options(scale).rating(label) is rating


@pytest.mark.parametrize(("cell", "rating"), [
    ("5", S), ("4", S), ("3", B), ("2", U), ("1", U), (5, S), (4.0, S), ("３", B), ("5.0", S),
    ("★★★★★", S), ("★★★★☆", S), ("★★★☆☆", B), ("★★☆☆☆", U), ("★", U), ("5星", S), ("三星", B), ("一星", U),
])
def test_five_level_digits_are_the_good_and_bad_review_stars(cell: object, rating: Rating) -> None:
    assert Levels().rating(cell) is rating  # the default scale is 5


@pytest.mark.parametrize(("cell", "rating"), [("1", S), ("2", B), ("3", U), (1, S), (3.0, U)])
def test_three_level_digits_are_our_keypad(cell: object, rating: Rating) -> None:
    assert Levels.from_options("3").rating(cell) is rating


def test_configured_digits() -> None:
    levels = Levels.from_options(digits="1=S,2=S,3=B，4=U")
    assert levels.scale is Scale.DIGITS
    assert [levels.rating(str(d)) for d in (1, 2, 3, 4)] == [S, S, B, U]
    assert Levels.from_options("digits").digit_map == parse_digit_map(DEFAULT_DIGITS) == {1: S, 2: B, 3: U}
    assert parse_digit_map("1=满意；2=基本满意 3=不满意") == {1: S, 2: B, 3: U}


@pytest.mark.parametrize(("scale", "cell"), [("5", "6"), ("5", "0"), ("3", "4"), ("3", "5"), ("5", 2.5),
                                             ("digits", "4")])
def test_a_digit_off_the_scale_is_rejected_naming_the_scale(scale: str, cell: object) -> None:
    with pytest.raises(Rejected, match="不在"):
        Levels.from_options(scale).rating(cell)


@pytest.mark.parametrize(("cell", "reason"), [
    ("好评", "无法区分等级"), ("差评", "无法区分等级"), ("", "缺少评价结果"), (None, "缺少评价结果"),
    ("还行吧", "无法识别的评价结果"), (True, "须为文字或数字"), ({"a": 1}, "须为文字或数字"), ("★★★★★★", "无法识别"),
])
def test_what_cannot_be_read_is_rejected_with_a_reason(cell: object, reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        Levels().rating(cell)


@pytest.mark.parametrize(("levels", "digits", "message"), [
    ("7", None, "无法识别"), ("5", "1=S", "只能与 --levels digits"), (None, "1=X", "无法识别"),
    (None, "1=S,1=B", "两次"), ("digits", ",", "为空"),
])
def test_bad_options_are_refused_with_a_message(levels: str | None, digits: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Levels.from_options(levels, digits)


def test_describe_lists_the_digit_mapping() -> None:
    assert Levels().describe() == "5=满意 4=满意 3=基本满意 2=不满意 1=不满意"
    assert Levels.from_options("3").describe() == "1=满意 2=基本满意 3=不满意"


@given(st.one_of(st.text(max_size=12), st.integers(), st.floats(allow_nan=True), st.booleans(), st.none()))
def test_rating_never_raises_anything_but_a_rejection(cell: object) -> None:
    for levels in (Levels(), Levels.from_options("3")):
        try:
            assert levels.rating(cell) in (S, B, U)
        except Rejected:
            pass
