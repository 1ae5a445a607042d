"""A staff member's month under 篇3 二, hand-computed from the clauses (the figures in the comments are the
seed's: 篇3 一1 "每次扣1分" …), never copied from the code's output."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from survey.assessment import (
    Entry,
    Policy,
    WindowRole,
    YearCarry,
    entry_for_rating,
    grade_for_minutes,
    is_promised,
    score_month,
    volume_entries,
)
from survey.assessment_rules import CLAUSES_BY_ID
from survey.scale import Rating

D = Decimal


def sections(**points: str) -> dict[str, Decimal]:
    full = {"一": "15", "二": "20", "三": "20", "四": "20", "五": "15", "六": "10"}
    return {sid: D(points.get(sid, full[sid])) for sid in full}


def test_an_empty_month_is_the_base_hundred() -> None:
    result = score_month([])
    assert result.sections == sections() and result.bonus == 0 and result.total == 100
    assert result.rules == () and result.award_bars == ()


# A month that touches every section and every bonus kind (each line: the clause's own figures).
FULL_MONTH = (
    Entry("一1", 2, grade="self_recorded"),  # 自觉录入 2 × −1 = −2
    Entry("一1", 1, grade="not_recorded"),  # 不进行指纹录入 −2
    Entry("一2"),  # −0.5
    Entry("一3", minutes=40),  # > 15 min: 空岗 −2
    Entry("一3", minutes=150),  # > 2 h: 旷工 −4                              一: 15 − 10.5 = 4.5
    Entry("二3", grade="serious"),  # 情节特别严重 −5
    Entry("二7", 2),  # 评价器 2 × −1                                           二: 20 − 7 = 13
    Entry("三2", grade="dress"),  # −1
    Entry("三2", grade="improper"),  # −2
    Entry("三7", points=D("2.5")),  # 视情节轻重 −2.5                            三: 20 − 5.5 = 14.5
    Entry("四2", grade="platform"), Entry("四2", grade="basic_data"), Entry("四2", grade="inaccurate"),  # 3 × −1
    Entry("四6", grade="refused"),  # −2
    Entry("四7"),  # 超时 −5                                                     四: 20 − 10 = 10
    Entry("五1", 3, grade="basic"),  # 3 × −0.5
    Entry("五1", grade="unsatisfied"),  # −1
    Entry("五2", grade="still_unsatisfied"),  # −2
    Entry("五2", 4, grade="then_satisfied"),  # 4 → one group of 3: −1
    Entry("五4", grade="district_basic"),  # −0.5
    Entry("五4", grade="above_unsatisfied"),  # −4                              五: 15 − 10 = 5
    Entry("六3", points=D(3)),  # 视其情节 −3                                    六: 10 − 3 = 7
    Entry("七1", 3),  # 3 full weeks × 2 = 6
    Entry("七3", grade="city"),  # 市级 2
    Entry("七4", 5),  # 5 × 0.5 = 2.5, capped at 2 a month
    Entry("七9", 35, grade="accepted"), Entry("七9", 12, grade="promised"), Entry("七9", 4, grade="online"),
    # 七9: 3 tens × 0.2 + 1 ten × 1 + 4 × 0.2 = 0.6 + 1 + 0.8 = 2.4               bonus: 6 + 2 + 2 + 2.4 = 12.4
)


def test_a_month_touching_every_section() -> None:
    result = score_month(FULL_MONTH)
    assert result.sections == sections(一="4.5", 二="13", 三="14.5", 四="10", 五="5", 六="7")
    assert result.bonus == D("12.4") and result.bonus_uncapped == D("12.4")
    assert result.total == D("54") + D("12.4")
    items = {item.clause: (item.uncapped, item.points) for item in result.bonus_items}
    assert items == {"七1": (6, 6), "七3": (2, 2), "七4": (D("2.5"), 2), "七9": (D("2.4"), D("2.4"))}


def test_applied_rules_carry_clause_grade_count_and_points() -> None:
    rules = {(r.clause, r.grade): (r.count, r.points) for r in score_month(FULL_MONTH).rules}
    assert rules[("一1", "self_recorded")] == (2, -2)
    assert rules[("一3", "off_post")] == (1, -2) and rules[("一3", "absent")] == (1, -4)
    assert rules[("五2", "then_satisfied")] == (4, -1)
    assert rules[("七4", "each")] == (5, D("2.5"))  # the rule's own points; the cap is on the bonus item
    assert rules[("七9", "online")] == (4, D("0.8"))
    order = [r.clause for r in score_month(FULL_MONTH).rules]
    assert order == sorted(order, key=lambda cid: (list("一二三四五六七").index(cid[0]), int(cid[1:])))


def test_the_json_the_issue_asks_for() -> None:
    payload = json.loads(json.dumps(score_month(FULL_MONTH, label="2026-11").to_json()))
    assert payload["sections"] == {"一": 4.5, "二": 13.0, "三": 14.5, "四": 10.0, "五": 5.0, "六": 7.0}
    assert (payload["bonus"], payload["total"], payload["month"]) == (12.4, 66.4, "2026-11")
    assert {"clause": "一1", "section": "一", "grade": "not_recorded", "label": "迟到、早退不进行指纹录入",
            "count": 1, "per_occurrence": -2.0, "points": -2.0} in payload["rules"]
    assert {"clause": "七4", "uncapped": 2.5, "points": 2.0, "cap": 2.0} in payload["bonus_items"]


def test_a_section_whose_deductions_exceed_its_points_floors_at_zero() -> None:
    entries = [Entry("一3", 4, grade="absent"), Entry("一1", grade="self_recorded")]  # 15 − 16 − 1 = −2 → 0
    result = score_month(entries)
    assert result.sections["一"] == 0 and result.total == 85
    assert result.section_loss("一") == 15
    unfloored = score_month(entries, policy=Policy(floor_sections=False))
    assert unfloored.sections["一"] == -2 and unfloored.total == 83


def test_the_floor_is_per_section_not_borrowed_from_others() -> None:
    # 五: 15 − 10 (五3) − 2 × 4 (区级以上不满意) = −3 → 0; 四 untouched stays 20.
    result = score_month([Entry("五3"), Entry("五4", 2, grade="above_unsatisfied")])
    assert result.sections["五"] == 0 and result.sections["四"] == 20 and result.total == 85


def test_a_bonus_over_twenty_is_capped() -> None:
    entries = [Entry("七3", 3, grade="national"), Entry("七8", 3), Entry("七1", 4)]  # 15 + 6 + 8 = 29
    result = score_month(entries)
    assert result.bonus_uncapped == 29 and result.bonus == 20 and result.total == 120


def test_volume_over_its_cap_and_online_over_its_own() -> None:
    entries = volume_entries(WindowRole.COMPREHENSIVE, {"承诺件": 40, "即办件": 50}, online=15)
    # 承诺件 4 tens × 1 = 4; other 5 tens × 0.2 = 1; online 15 × 0.2 = 3 → 2; 7 → capped at 5 (七9 该项最高加5分)
    (item,) = score_month(entries).bonus_items
    assert (item.uncapped, item.points) == (7, 5)


def test_issuing_window_volume_tenths() -> None:
    entries = volume_entries(WindowRole.ISSUING, {"承诺件": 17, "即办件": 42}, online=9)
    assert score_month(entries).bonus == D("0.5")  # 59 cases → 5 tens × 0.1; 网办件 not an 出件 rate


def test_volume_needs_a_volume_window() -> None:
    assert volume_entries(None, {"承诺件": 100}) == ()
    with pytest.raises(ValueError):
        volume_entries(WindowRole.COMPREHENSIVE, {"即办件": -1})


@pytest.mark.parametrize(("kind", "promised"), [("承诺件", True), (" 承諾件 ", True), ("即办件", False), (None, False)])
def test_promised_is_decided_by_the_case_type(kind: str | None, promised: bool) -> None:
    assert is_promised(kind) is promised


def test_gift_bonus_capped_two_a_month() -> None:  # 七4: 每次加0.5分，每月此项不超过2分
    assert [score_month([Entry("七4", n)]).bonus for n in (1, 3, 4, 9)] == [D("0.5"), D("1.5"), 2, 2]


def test_activity_bonus_capped_five_over_the_year() -> None:  # 七5: 累计加分不超过5分
    first = score_month([Entry("七5", points=D(3))])
    second = score_month([Entry("七5", points=D(4))], carry=first.carry)  # room 5 − 3 = 2
    third = score_month([Entry("七5", points=D(1))], carry=second.carry)  # room 0
    assert (first.bonus, second.bonus, third.bonus) == (3, 2, 0)
    assert third.bonus_items[0].cap == 0


def test_then_satisfied_counts_on_from_the_carried_months() -> None:  # 五2: 累计三次扣1分
    carry = YearCarry(counts={("五2", "then_satisfied"): 2})
    assert score_month([Entry("五2", grade="then_satisfied")], carry=carry).sections["五"] == 14  # 2 + 1 = 3
    assert score_month([Entry("五2", grade="then_satisfied")]).sections["五"] == 15
    nxt = score_month([Entry("五2", 2, grade="then_satisfied")], carry=carry).carry
    assert nxt.counts[("五2", "then_satisfied")] == 4


def test_a_maternity_month_scores_the_base() -> None:  # 篇3 二: 产假人员以基本分作为个人每月考核分数
    result = score_month(FULL_MONTH, maternity=True)
    assert result.total == 100 and result.sections == sections() and result.bonus == 0
    assert result.rules == () and result.ignored_entries > 0 and result.maternity
    carry = YearCarry(counts={("五2", "then_satisfied"): 2})
    assert score_month([Entry("五2", grade="then_satisfied")], maternity=True, carry=carry).carry == carry


def test_award_bars_of_the_month() -> None:
    assert score_month([Entry("五3")]).award_bars == ("五3",)
    assert score_month([Entry("二6"), Entry("六4", grade="major_loss")]).award_bars == ("二6", "六4")
    assert score_month([Entry("六4", grade="incident")]).award_bars == ()  # no 重大损失: −10 only
    assert score_month([Entry("五3", 0)]).award_bars == ()
    assert score_month([Entry("五3")], maternity=True).award_bars == ("五3",)  # a bar is not points


@pytest.mark.parametrize(("minutes", "grade"), [(16, "off_post"), (120, "off_post"), (121, "absent"), (600, "absent")])
def test_minutes_pick_the_off_post_grade(minutes: int, grade: str) -> None:  # 一3: >15 min 空岗, >2 h 旷工
    assert grade_for_minutes(CLAUSES_BY_ID["一3"], minutes).key == grade
    assert score_month([Entry("一6", minutes=minutes)]).rules[0].grade == grade  # 一6 按第三条处理


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (Entry("一11"), "未知条款"),
        (Entry("五1"), "须注明等次"),
        (Entry("五1", grade="awful"), "没有等次"),
        (Entry("一3", minutes=15), "未超过15分钟"),
        (Entry("一3", minutes=200, grade="off_post"), "不符"),
        (Entry("二1", minutes=20), "不按分钟"),
        (Entry("三7"), "须注明每次分值"),
        (Entry("三7", points=D(4)), "1–3"),
        (Entry("三7", points=D("1.2")), "0.5"),
        (Entry("二1", points=D(1)), "固定"),
        (Entry("一7"), "不按次计分"),
        (Entry("二1", -1), "负数"),
    ],
)
def test_bad_entries_are_refused_with_a_chinese_reason(entry: Entry, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        score_month([entry])


def test_special_reason_is_discretionary_up_to_absent() -> None:  # 一3 因特殊原因造成的酌情扣分
    assert score_month([Entry("一3", grade="special", points=D("1.5"))]).sections["一"] == D("13.5")


@pytest.mark.parametrize(
    ("source", "rating", "clause", "grade"),
    [("evaluator", Rating.B, "五1", "basic"), ("district", Rating.U, "五4", "district_unsatisfied"),
     ("above_district", Rating.B, "五4", "above_basic")],
)
def test_ratings_become_entries(source: str, rating: Rating, clause: str, grade: str) -> None:
    assert entry_for_rating(source, rating, 3) == Entry(clause, 3, grade=grade)  # type: ignore[arg-type]
    assert entry_for_rating(source, Rating.S) is None  # type: ignore[arg-type]
