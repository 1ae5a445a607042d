"""Rating scale (docs/architecture.md §Ratings and points)."""

import pytest

from survey.scale import POINTS, Rating, YesNo, rating_from_label, worst


def test_codes_labels_and_points():
    assert [r.value for r in Rating] == ["S", "B", "U"]
    assert [r.label for r in Rating] == ["满意", "基本满意", "不满意"]
    assert [r.points for r in Rating] == [100, 60, 0]
    assert POINTS[Rating.B] == 60


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("非常满意", Rating.S), ("满意", Rating.S), ("基本满意", Rating.B), ("不满意", Rating.U),
        ("非常不满意", Rating.U), ("非常滿意", Rating.S), ("滿意", Rating.S), ("基本滿意", Rating.B),
        ("不滿意", Rating.U), ("非常不滿意", Rating.U), (" 满意 ", Rating.S), ("S", Rating.S), ("u", Rating.U),
    ],
)
def test_five_level_evaluator_labels(label, expected):
    assert rating_from_label(label) is expected


@pytest.mark.parametrize("label", ["", "好", "一般", "满", "X", "非常"])
def test_unknown_labels_are_not_guessed(label):
    assert rating_from_label(label) is None


def test_worst():
    assert worst([Rating.S, Rating.U, Rating.B]) is Rating.U
    assert worst([Rating.S, Rating.B, Rating.S]) is Rating.B
    assert worst([Rating.S]) is Rating.S
    assert worst([]) is None


def test_yes_no():
    assert YesNo.YES.value == "Y" and YesNo.NO.label == "否"
