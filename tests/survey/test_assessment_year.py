"""The year under 篇3: the annual mean (三(一)), 五2 "累计三次" carried over months, the award bars (一7, 二6, 五3,
六4), consequences that are not points, and the 25% 优秀服务标兵 (三(二)2) with its rounding and ties."""

from __future__ import annotations

from decimal import Decimal

import pytest

from survey.assessment import (
    Entry,
    LeaveDays,
    StaffMonth,
    annual_mean,
    annual_score,
    award_quota,
    leave_consequences,
    score_year,
    select_service_models,
    then_satisfied_deductions,
)

D = Decimal
THEN = "then_satisfied"


@pytest.mark.parametrize(
    ("counts", "deductions", "remainder"),
    [
        ((2, 2, 2), (0, -1, -1), 0),  # running totals 2, 4, 6: the 3rd falls in Feb, the 6th in Mar
        ((1, 0, 4), (0, 0, -1), 2),  # 1, 1, 5: one group, 2 left over
        ((3, 3), (-1, -1), 0),
        ((7,), (-2,), 1),
        ((), (), 0),
    ],
)
def test_then_satisfied_counted_over_the_year(counts, deductions, remainder) -> None:
    assert then_satisfied_deductions(counts) == (tuple(D(d) for d in deductions), remainder)


def test_then_satisfied_carried_across_months_in_the_year() -> None:
    months = [StaffMonth((Entry("五2", 2, grade=THEN),), label=f"2026-0{m}") for m in (1, 2, 3)]
    year = score_year(months)
    assert [m.sections["五"] for m in year.months] == [15, 14, 14]  # 0, −1, −1 as above
    assert year.score == D("99.33")  # (100 + 99 + 99) / 3 = 99.333…


def test_a_maternity_month_counts_as_a_hundred_in_the_mean() -> None:
    months = [StaffMonth((Entry("四7", 2),)), StaffMonth((), maternity=True), StaffMonth((Entry("七2"),))]
    year = score_year(months)  # 90, 100, 101
    assert [m.total for m in year.months] == [90, 100, 101] and year.score == D("97")


def test_annual_mean_rounds_half_up() -> None:
    assert annual_mean([D("90.01"), D("90.00")]) == D("90.01")  # 90.005 → 90.01 (四舍五入, not to even)
    assert annual_mean([]) is None
    assert annual_score([100, 99.5, 98]) == 99.17


def test_an_award_barred_by_an_exposure() -> None:  # 五3: 每次扣10分，并取消当年评先树优资格
    months = [StaffMonth(()), StaffMonth((Entry("五3"),)), StaffMonth((Entry("七3", grade="national"),))]
    year = score_year(months)
    assert [m.total for m in year.months] == [100, 90, 105] and year.score == D("98.33")
    assert not year.award_eligible and [bar.clause for bar in year.award_bars] == ["五3"]
    assert "负面曝光" in year.award_bars[0].reason
    # the best score of the hall, and still not a 优秀服务标兵
    picked = select_service_models({"王芳": year.score, "李强": D("97"), "张伟": D("96"), "赵敏": D("95")},
                                   barred={"王芳"})
    assert picked.quota == 1 and picked.awarded == ("李强",) and picked.barred == ("王芳",)


@pytest.mark.parametrize(
    ("leave", "award", "vacation"),
    [
        (LeaveDays(personal=D(20), sick=D(30)), False, 0),  # "超过": 20 and 30 themselves do not
        (LeaveDays(personal=D("20.5")), True, 1),  # 因私 > 20: both consequences
        (LeaveDays(sick=D(31)), True, 0),  # 病假 > 30: award only
        (LeaveDays(sick=D(61)), True, 1),  # 病假 > 2 个月 (60 days): also 休假待遇
        (LeaveDays(personal=D(16), longest_personal=D(16)), False, 1),  # 一次性 > 15: 休假待遇 only
    ],
)
def test_leave_thresholds(leave: LeaveDays, award: bool, vacation: int) -> None:  # 篇3 一7
    found = leave_consequences(leave)
    assert any(r.consequence == "award" for r in found) is award
    year = score_year([StaffMonth(())], leave=leave)
    assert year.award_eligible is not award and len(year.vacation_cancelled) == vacation
    if award:
        assert {bar.clause for bar in year.award_bars} == {"一7"}


def test_consequences_reached_over_the_year() -> None:
    months = [StaffMonth((Entry("二1", 2), Entry("三1"))), StaffMonth(()), StaffMonth((Entry("二1"), Entry("三1")))]
    found = {(t.clause, t.text, t.count) for t in score_year(months).consequences}
    assert found == {("二1", "累计3次通报批评", 3), ("三1", "累计两次追究相关人员责任", 2)}
    assert score_year(months[:1]).consequences == ()  # 2 and 1: not yet


def test_major_loss_is_a_grade_consequence_and_bar() -> None:  # 六4 造成重大损失的
    year = score_year([StaffMonth((Entry("六4", grade="major_loss"),))])
    assert [(t.clause, t.text) for t in year.consequences] == [("六4", "移交相关部门追究相应责任")]
    assert [bar.clause for bar in year.award_bars] == ["六4"]


@pytest.mark.parametrize(("staff", "quota"), [(0, 0), (3, 0), (4, 1), (10, 2), (11, 2), (12, 3), (40, 10)])
def test_quota_is_a_quarter_rounded_down(staff: int, quota: int) -> None:
    assert award_quota(staff) == quota


def test_the_cut_falls_before_a_tie() -> None:
    scores = {f"s{i}": D(s) for i, s in enumerate([98, 97, 97, 96, 95, 94, 93, 92, 91, 90])}  # 10 → quota 2
    picked = select_service_models(scores)
    assert picked.quota == 2 and picked.awarded == ("s0",) and picked.tied_at_cut == ("s1", "s2")


def test_a_tie_that_fits_is_taken_whole() -> None:
    scores = {"a": D(98), "b": D(98), "c": D(97), "d": D(90), "e": D(90), "f": D(90), "g": D(90), "h": D(80)}
    picked = select_service_models(scores)  # 8 → quota 2
    assert picked.awarded == ("a", "b") and picked.tied_at_cut == ()


def test_barred_staff_count_in_the_quota_but_not_in_the_ranking() -> None:
    scores = {"a": D(99), "b": D(98), "c": D(97), "d": D(97), "e": D(96), "f": None,
              **{f"x{i}": D(80) for i in range(6)}}  # 11 scored (f has none) → quota 2
    picked = select_service_models(scores, barred={"a"})
    assert picked.quota == 2 and picked.awarded == ("b",) and picked.tied_at_cut == ("c", "d")
    assert picked.barred == ("a",)
