"""Item points, source scores, the window score, grades and 红旗窗口 (篇2 六, 篇1; README "Scoring / 计分").

Every expected figure is computed by hand in the comment beside it.
"""

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from survey.questionnaire import ITEMS, interpret_key
from survey.scale import Rating
from survey.scoring import (
    GradeThresholds,
    ResponseScore,
    SourceWeights,
    evaluator_score,
    grade_for,
    item_points,
    questionnaire_score,
    rank_windows,
    red_flag_windows,
    round1,
    score_response,
    wilson_interval,
    window_score,
)


def answers(keys: str) -> list:
    """The keys pressed for the six items in questionnaire order; ``-`` leaves an item unanswered."""
    return [interpret_key(item, key) for item, key in zip(ITEMS, keys, strict=False) if key != "-"]


def response(keys: str) -> ResponseScore:
    scored = score_response(answers(keys))
    assert scored is not None
    return scored


# --- item points -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "key", "points"),
    [
        ("attitude", "1", 100), ("attitude", "2", 60), ("attitude", "3", 0),
        ("efficiency", "2", 60), ("by_the_rules", "3", 0), ("overall", "2", 60),
        ("in_hall", "1", 100),  # 是: all done in the hall — nothing wrong
        ("in_hall", "2", 0),  # 否: taken outside the hall (体外循环)
        ("integrity", "1", 100),  # 没有: nobody asked for anything
        ("integrity", "2", 0),  # 有: 吃拿卡要报
    ],
)
def test_item_points(code: str, key: str, points: int) -> None:
    assert item_points(interpret_key(code, key)) == points


def test_yes_no_points_follow_what_was_wrong_not_the_literal_answer() -> None:
    in_hall_yes, integrity_yes = interpret_key("in_hall", "1"), interpret_key("integrity", "2")
    assert (in_hall_yes.yes_no.value, integrity_yes.yes_no.value) == ("Y", "Y")
    assert (item_points(in_hall_yes), item_points(integrity_yes)) == (100, 0)


# --- a response --------------------------------------------------------------------------------------------


def test_the_design_example_332111_scores_60() -> None:
    # 服务态度 3 → 0, 办事效率 3 → 0, 按章办事 2 → 60, 体外循环 是 → 100, 廉洁 没有 → 100, 总体 1 → 100
    scored = response("332111")
    assert scored.score == Fraction(0 + 0 + 60 + 100 + 100 + 100, 6) == 60
    assert scored.items == 6
    assert scored.satisfied  # its overall item is 满意: satisfied means the overall rating, nothing else


def test_a_reported_bribe_scores_below_100() -> None:
    # 111121: five items at 100, 廉洁自律 有 → 0: 500 / 6 = 83.33…
    scored = response("111121")
    assert scored.score == Fraction(500, 6) < 100
    assert response("111111").score == 100


def test_a_trip_outside_the_hall_scores_below_100() -> None:
    assert response("111211").score == Fraction(500, 6)


def test_unanswered_items_are_left_out_not_counted_as_satisfied() -> None:
    assert response("33").score == 0  # hung up after two 不满意: (0 + 0) / 2
    assert response("1").score == 100
    partial = response("3-1")  # 服务态度 不满意, 办事效率 unanswered, 按章办事 满意: (0 + 100) / 2
    assert (partial.score, partial.items) == (50, 2)
    assert score_response([]) is None


def test_satisfied_is_the_overall_rating_else_the_worst_rated_item() -> None:
    assert not response("111112").satisfied  # overall 基本满意
    assert not response("12").satisfied  # no overall item: the worst rated item answered is 基本满意
    assert response("11").satisfied
    assert not response("---11").satisfied  # only yes/no items: no rating at all, so not satisfied


# --- sources and the window: the worked example of README "Scoring / 计分" -----------------------------------

TWO_RESPONSES = [response("111111"), response("332111")]  # 100; (0 + 0 + 60 + 100 + 100 + 100) / 6 = 60
TEN_PRESSES = "S" * 8 + "BU"  # (8·100 + 60 + 0) / 10 = 86


def test_the_worked_example() -> None:
    assert [r.score for r in TWO_RESPONSES] == [100, 60]
    score = window_score(TWO_RESPONSES, TEN_PRESSES)
    assert (score.questionnaire.n, score.questionnaire.score) == (2, 80.0)  # (100 + 60) / 2
    assert (score.evaluator.n, score.evaluator.score) == (10, 86.0)
    assert score.evaluator.ratings == {"S": 8, "B": 1, "U": 1}
    assert score.score == 83.0  # 0.5 · 80.0 + 0.5 · 86.0
    assert (score.n, score.grade) == (12, "合格")  # 2 responses + 10 presses; 70 ≤ 83.0 < 85
    # satisfied: both responses' overall items are 满意, and 8 S presses → 10 of 12
    assert score.satisfied == 10 and (score.ci_low, score.ci_high) == wilson_interval(10, 12)


def test_a_source_without_data_drops_out() -> None:
    only_calls = window_score(TWO_RESPONSES)
    assert (only_calls.score, only_calls.n, only_calls.evaluator.score) == (80.0, 2, None)
    only_presses = window_score([], TEN_PRESSES)
    assert (only_presses.score, only_presses.n, only_presses.grade) == (86.0, 10, "良好")


def test_weights_are_data() -> None:
    # (1·80.0 + 3·86.0) / 4 = 84.5 → 合格; all weight on the evaluator → 86.0 → 良好
    assert window_score(TWO_RESPONSES, TEN_PRESSES, SourceWeights(0.25, 0.75)).score == 84.5
    evaluator_only = window_score(TWO_RESPONSES, TEN_PRESSES, SourceWeights(0, 1))
    assert (evaluator_only.score, evaluator_only.grade, evaluator_only.n) == (86.0, "良好", 12)
    with pytest.raises(ValueError):
        SourceWeights(0, 0)
    with pytest.raises(ValueError):
        SourceWeights(-1, 2)


def test_rounding_is_per_source_then_once_more() -> None:
    """Responses 93.33… and 60: questionnaire 76.666… shown 76.7; with 86.0 the window is (76.7 + 86.0) / 2 =
    81.35 → 81.4 — computed from the figures as shown (from the exact 76.666… it would have been 81.3)."""
    calls = [response("111112"), response("332111")]  # (5·100 + 60) / 6 = 93.33…; 60
    score = window_score(calls, TEN_PRESSES)
    assert score.questionnaire.score == 76.7
    assert score.score == 81.4


def test_source_scores_by_hand() -> None:
    assert questionnaire_score([response("111111"), response("332111"), response("1")]).score == 86.7  # 260 / 3
    assert questionnaire_score([]).score is None
    presses = evaluator_score("SSB")  # (200 + 60) / 3 = 86.66…
    assert (presses.n, presses.score, presses.satisfied) == (3, 86.7, 2)
    assert evaluator_score([Rating.U]).score == 0.0


def test_n_counts_responses_and_presses_for_the_grade() -> None:
    assert window_score(TWO_RESPONSES[:1], "SSS").grade == "样本不足"  # 1 + 3 = 4
    assert window_score(TWO_RESPONSES[:1], "SSSS").grade == "优秀"  # 1 + 4 = 5, score 100.0


def test_an_empty_window() -> None:
    score = window_score([])
    assert (score.n, score.score, score.ci_low, score.ci_high, score.grade) == (0, None, None, None, "样本不足")
    assert score.satisfied_share is None


# --- rounding, grades, the interval --------------------------------------------------------------------------


def test_round1_is_half_up_and_exact() -> None:
    assert round1(94.95) == 95.0 and round1(84.85) == 84.9 and round1(0.05) == 0.1
    assert round1(Fraction(1605, 20)) == 80.3  # 80.25
    assert round1(Fraction(230, 3)) == 76.7 and round1(Fraction(100, 3)) == 33.3
    assert round1(100) == 100.0


def test_grade_boundaries_are_inclusive() -> None:
    assert grade_for(95.0, 5) == "优秀" and grade_for(94.9, 5) == "良好"
    assert grade_for(85.0, 5) == "良好" and grade_for(84.9, 5) == "合格"
    assert grade_for(70.0, 5) == "合格" and grade_for(69.9, 5) == "不合格"
    assert grade_for(100.0, 4) == "样本不足" and grade_for(None, 50) == "样本不足"


def test_thresholds_are_parameters() -> None:
    strict = GradeThresholds(excellent=99, good=90, passing=80, min_n=20)
    assert window_score([], "S" * 19 + "B", thresholds=strict).grade == "良好"  # 1960 / 20 = 98
    assert window_score([], "S" * 10, thresholds=strict).grade == "样本不足"
    assert window_score([], "S" * 2, thresholds=GradeThresholds(min_n=1)).grade == "优秀"


def test_wilson_known_values() -> None:
    # 9 of 10: the textbook Wilson 95% interval is (0.5958, 0.9821)
    low, high = wilson_interval(9, 10)
    assert low == pytest.approx(0.59585, abs=1e-5) and high == pytest.approx(0.98212, abs=1e-5)
    z = 1.959964
    half = z * math.sqrt(0.25 / 100 + z * z / 40000) / (1 + z * z / 100)
    assert wilson_interval(50, 100) == pytest.approx((0.5 - half, 0.5 + half))
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize(("s", "n"), [(-1, 5), (6, 5), (0, -1)])
def test_wilson_rejects_impossible_counts(s: int, n: int) -> None:
    with pytest.raises(ValueError):
        wilson_interval(s, n)


# --- 红旗窗口 (篇1) ----------------------------------------------------------------------------------------


def test_red_flags_tie_at_third_place_and_too_few() -> None:
    """A 98.0, B 95.5, C and D 92.0 (tied 3rd), E 90.0; F has 100.0 from 4 answers (样本不足), G 不合格."""
    month = [("A", 98.0, "优秀"), ("B", 95.5, "优秀"), ("C", 92.0, "良好"), ("D", 92.0, "良好"),
             ("E", 90.0, "良好"), ("F", 100.0, "样本不足"), ("G", 40.0, "不合格")]
    flags = red_flag_windows(month)
    assert [(r.window, r.place) for r in flags.windows] == [("A", 1), ("B", 2), ("C", 3), ("D", 3)]
    assert flags.tied == (92.0,) and flags.too_few == ("F",)


def test_a_tie_at_first_place_pushes_the_next_to_third() -> None:
    ranked = rank_windows([("A", 96.0, "优秀"), ("B", 96.0, "优秀"), ("C", 91.0, "良好"), ("D", 90.0, "良好")])
    assert [(r.window, r.place) for r in ranked] == [("A", 1), ("B", 1), ("C", 3), ("D", 4)]
    assert [r.window for r in red_flag_windows([(r.window, r.score, r.grade) for r in ranked]).windows] == ["A", "B", "C"]


def test_fewer_graded_windows_than_places() -> None:
    flags = red_flag_windows([("A", 88.0, "良好"), ("B", None, "样本不足"), ("C", 99.0, "样本不足")])
    assert [r.window for r in flags.windows] == ["A"] and flags.too_few == ("B", "C") and flags.tied == ()


# --- invariants --------------------------------------------------------------------------------------------

KEYS = st.text(alphabet="123-", max_size=6).filter(lambda k: k.strip("-"))


def _valid(keys: str) -> str:
    """Keys valid on every item: yes/no items take 1 or 2 only."""
    return "".join("2" if k == "3" and item.kind == "yesno" else k for item, k in zip(ITEMS, keys, strict=False))


@given(st.lists(KEYS.map(_valid), max_size=8), st.text(alphabet="SBU", max_size=30))
def test_scores_stay_between_the_sources_and_counts_add_up(keys: list[str], presses: str) -> None:
    responses = [response(k) for k in keys]
    score = window_score(responses, presses)
    assert score.n == len(responses) + len(presses)
    assert score.satisfied <= score.n
    shown = [s.score for s in score.sources if s.score is not None]
    if shown:
        assert min(shown) <= score.score <= max(shown)
        assert 0.0 <= score.score <= 100.0
    else:
        assert score.score is None


@given(st.lists(st.tuples(st.text(min_size=1, max_size=3), st.integers(0, 1000), st.booleans()), max_size=12))
def test_red_flags_are_the_graded_windows_at_places_one_to_three(rows: list) -> None:
    month = [(name, tenths / 10, "良好" if graded else "样本不足") for name, tenths, graded in rows]
    flags = red_flag_windows(month)
    graded = [score for _, score, grade in month if grade != "样本不足"]
    for chosen in flags.windows:
        assert sum(1 for s in graded if s > chosen.score) < 3  # fewer than three windows did better
    assert len(flags.windows) == sum(1 for s in graded if sum(1 for t in graded if t > s) < 3)
