"""Window score, Wilson interval and grade (篇2 六; docs/architecture.md §Window score and grades)."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from survey.scale import Rating
from survey.scoring import GradeThresholds, grade_for, round1, wilson_interval, window_score


def test_wilson_known_values():
    # 9 of 10: the textbook Wilson 95% interval is (0.5958, 0.9821)
    low, high = wilson_interval(9, 10)
    assert low == pytest.approx(0.59585, abs=1e-5) and high == pytest.approx(0.98212, abs=1e-5)
    # 50 of 100: centred on 0.5, half-width z*sqrt(.25/100+z²/40000)/(1+z²/100)
    z = 1.959964
    half = z * math.sqrt(0.25 / 100 + z * z / 40000) / (1 + z * z / 100)
    assert wilson_interval(50, 100) == pytest.approx((0.5 - half, 0.5 + half))


def test_wilson_ends_are_exact():
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(10, 10)[0] == pytest.approx(0.72247, abs=1e-5)


def test_wilson_no_data_is_none():
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize(("s", "n"), [(-1, 5), (6, 5), (0, -1)])
def test_wilson_rejects_impossible_counts(s, n):
    with pytest.raises(ValueError):
        wilson_interval(s, n)


@given(st.integers(0, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_contains_the_observed_share(pair):
    s, n = pair
    interval = wilson_interval(s, n)
    if n == 0:
        assert interval is None
    else:
        assert 0.0 <= interval[0] <= s / n <= interval[1] <= 1.0


def test_window_score_counts_and_mean():
    score = window_score([Rating.S] * 8 + [Rating.B, Rating.U])
    assert (score.n, score.s, score.b, score.u) == (10, 8, 1, 1)
    assert score.score == 86.0  # (800 + 60 + 0) / 10
    assert score.grade == "良好"
    assert (score.ci_low, score.ci_high) == wilson_interval(8, 10)
    assert score.satisfied_share == 0.8


def test_window_score_accepts_codes():
    assert window_score("SSSBU").score == window_score([Rating.S] * 3 + [Rating.B, Rating.U]).score == 72.0


def test_score_rounds_half_up_to_one_decimal():
    # 2 S, 1 B: 260/3 = 86.666… → 86.7 ; 1 S 5 B: 400/6 = 66.666… → 66.7
    assert window_score("SSB").score == 86.7
    assert window_score("SBBBBB").score == 66.7
    assert round1(94.95) == 95.0 and round1(84.85) == 84.9 and round1(0.05) == 0.1


@pytest.mark.parametrize(
    ("ratings", "grade"),
    [
        ("S" * 20, "优秀"),
        ("S" * 17 + "SSB", "优秀"),  # 1960/20 = 98
        ("S" * 7 + "BBB", "良好"),  # 880/10 = 88
        ("S" * 5 + "BBBBB", "合格"),  # 800/10 = 80
        ("S" * 6 + "UUUU", "不合格"),  # 600/10 = 60
        ("SSSS", "样本不足"),
        ("", "样本不足"),
    ],
)
def test_grades(ratings, grade):
    assert window_score(ratings).grade == grade


def test_grade_boundaries_are_inclusive():
    assert grade_for(95.0, 5) == "优秀" and grade_for(94.9, 5) == "良好"
    assert grade_for(85.0, 5) == "良好" and grade_for(84.9, 5) == "合格"
    assert grade_for(70.0, 5) == "合格" and grade_for(69.9, 5) == "不合格"
    assert grade_for(100.0, 4) == "样本不足"


def test_thresholds_are_parameters():
    strict = GradeThresholds(excellent=99, good=90, passing=80, min_n=20)
    assert window_score("S" * 19 + "B", strict).grade == "良好"  # 98
    assert window_score("S" * 10, strict).grade == "样本不足"
    assert window_score("S" * 10, GradeThresholds(min_n=1)).grade == "优秀"


def test_empty_window():
    score = window_score([])
    assert (score.n, score.score, score.ci_low, score.ci_high) == (0, None, None, None)
    assert score.satisfied_share is None


@given(st.lists(st.sampled_from(list(Rating)), max_size=60))
def test_score_is_between_0_and_100_and_counts_add_up(ratings):
    score = window_score(ratings)
    assert score.s + score.b + score.u == score.n == len(ratings)
    if ratings:
        assert 0.0 <= score.score <= 100.0
