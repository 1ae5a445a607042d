"""篇3 (五) 服务对象评议, (四)7 and the monthly score, with hand-computed numbers."""

import pytest

from survey.assessment import (
    RULES,
    RULES_BY_CODE,
    annual_score,
    bars_annual_award,
    monthly_score,
    rule_for_rating,
    section_five_score,
    section_loss,
    section_score,
    volume_bonus,
)
from survey.scale import Rating


def test_every_rule_names_its_seed_clause():
    assert len({r.code for r in RULES}) == len(RULES)
    for rule in RULES:
        assert rule.clause.startswith("篇3 ") and rule.points < 0 and rule.description
    assert {r.section for r in RULES} == {"四", "五"}


def test_no_events_full_fifteen():
    assert section_five_score([]) == 15.0
    assert section_five_score({}) == 15.0


def test_evaluator_basic_half_point_each():  # 五1: 15 − 3×0.5
    assert section_five_score(["evaluator_basic"] * 3) == 13.5


def test_evaluator_unsatisfied_one_point_each():  # 五1: 15 − 2×1
    assert section_five_score({"evaluator_unsatisfied": 2}) == 13.0


def test_revisit_still_unsatisfied_two_each():  # 五2: 15 − 2×2
    assert section_five_score({"revisit_still_unsatisfied": 2}) == 11.0


@pytest.mark.parametrize(("count", "expected"), [(1, 15.0), (2, 15.0), (3, 14.0), (5, 14.0), (6, 13.0), (8, 13.0)])
def test_revisit_then_satisfied_one_per_three(count, expected):  # 五2: 累计三次扣1分
    assert section_five_score({"revisit_then_satisfied": count}) == expected


def test_exposure_ten_and_no_annual_award():  # 五3
    assert section_five_score(["exposure"]) == 5.0
    assert bars_annual_award(["exposure"])
    assert not bars_annual_award(["evaluator_unsatisfied", "above_district_unsatisfied"])
    assert not bars_annual_award({"exposure": 0})


def test_district_callbacks():  # 五4: 15 − 0.5 − 2×1
    assert section_five_score({"district_basic": 1, "district_unsatisfied": 2}) == 12.5


def test_above_district_callbacks():  # 五4: 15 − 2 − 4
    assert section_five_score({"above_district_basic": 1, "above_district_unsatisfied": 1}) == 9.0


def test_mixed_month():
    # 15 − 0.5×3 (evaluator B) − 1 (evaluator U) − 2 (revisit still U) − 1 (4 revisits → one group of 3) − 0.5
    events = ["evaluator_basic"] * 3 + ["evaluator_unsatisfied", "revisit_still_unsatisfied", "district_basic"]
    events += ["revisit_then_satisfied"] * 4
    assert section_five_score(events) == 9.0
    assert section_loss(events, "五") == 6.0


def test_section_floored_at_zero():
    assert section_five_score({"exposure": 1, "above_district_unsatisfied": 2}) == 0.0  # 15 − 10 − 8 < 0
    assert section_loss({"exposure": 3}, "五") == 15.0


def test_overdue_is_section_four_not_five():  # 四7: 20 − 2×5
    assert section_five_score({"overdue": 2}) == 15.0
    assert section_score({"overdue": 2}, "四") == 10.0
    assert section_score({"overdue": 5}, "四") == 0.0


@pytest.mark.parametrize("events", [["no_such_rule"], {"evaluator_basic": -1}])
def test_bad_events_are_rejected(events):
    with pytest.raises(ValueError):
        section_five_score(events)


@pytest.mark.parametrize(
    ("source", "rating", "code"),
    [
        ("evaluator", Rating.S, None), ("evaluator", Rating.B, "evaluator_basic"),
        ("evaluator", Rating.U, "evaluator_unsatisfied"), ("district", Rating.B, "district_basic"),
        ("district", Rating.U, "district_unsatisfied"), ("above_district", Rating.S, None),
        ("above_district", Rating.B, "above_district_basic"), ("above_district", Rating.U, "above_district_unsatisfied"),
    ],
)
def test_rule_for_rating(source, rating, code):
    assert rule_for_rating(source, rating) == code
    if code:
        assert code in RULES_BY_CODE


def test_rule_for_rating_unknown_source():
    with pytest.raises(ValueError):
        rule_for_rating("city", Rating.U)


def test_monthly_score_base_and_bonus_cap():
    assert monthly_score() == 100.0
    assert monthly_score(deductions=7.5, bonus=3) == 95.5
    assert monthly_score(deductions=2, bonus=25) == 118.0  # bonus capped at 20
    assert monthly_score(bonus=20) == 120.0
    assert monthly_score(deductions=150) == 0.0
    assert monthly_score(base=100, deductions=0.1, bonus=0.2) == 100.1  # no float noise


def test_monthly_score_rejects_negative_amounts():
    with pytest.raises(ValueError):
        monthly_score(deductions=-1)
    with pytest.raises(ValueError):
        monthly_score(bonus=-1)


def test_section_losses_feed_monthly_score():
    events = {"evaluator_basic": 2, "overdue": 1}
    deductions = section_loss(events, "五") + section_loss(events, "四")  # 1 + 5
    assert monthly_score(deductions=deductions, bonus=2) == 96.0


def test_annual_score_is_mean_of_months():
    assert annual_score([100, 99.5, 98]) == 99.17  # 297.5 / 3 = 99.1666…
    assert annual_score([]) is None


def test_volume_bonus():  # 七9
    assert volume_bonus(accepted=35) == 0.6  # three whole tens × 0.2
    assert volume_bonus(promised=12) == 1.0
    assert volume_bonus(online=4) == 0.8
    assert volume_bonus(online=30) == 2.0  # online part capped at 2
    assert volume_bonus(issued=99) == 0.9
    assert volume_bonus(accepted=35, promised=12, online=4, issued=99) == 3.3
    assert volume_bonus(promised=100) == 5.0  # item capped at 5
    with pytest.raises(ValueError):
        volume_bonus(accepted=-10)


def test_rule_points_apply_per_and_sign():
    from survey.assessment import rule_points

    assert [rule_points("revisit_then_satisfied", n) for n in (0, 2, 3, 4, 6)] == [0.0, 0.0, -1.0, -1.0, -2.0]
    assert rule_points("overdue", 2) == -10.0 and rule_points("evaluator_basic", 3) == -1.5  # 篇3 四7, 五1
