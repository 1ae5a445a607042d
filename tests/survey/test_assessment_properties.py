"""Invariants of 篇3's arithmetic over any valid month or year (hypothesis): each section in [0, its points], the
bonus in [0, 20], the total in [0, 120] and equal to sections + bonus; a 产假 month is exactly 100; 五2's
"累计三次" over a year deducts floor(total / 3) however the occurrences fall into months; 七5 never passes 5."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from survey.assessment import Entry, StaffMonth, score_month, score_year, select_service_models
from survey.assessment_rules import BONUS_CAP, CLAUSES, SECTION_POINTS, Clause, Grade


def _points(grade: Grade) -> st.SearchStrategy[Decimal | None]:
    if grade.range is None:
        return st.none()
    low, high = (int(end * 2) for end in grade.range)
    return st.integers(low, high).map(lambda halves: Decimal(halves) / 2)


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    rule: Clause = draw(st.sampled_from([c for c in CLAUSES if c.grades]))
    grade: Grade = draw(st.sampled_from(rule.grades))
    count = draw(st.integers(0, 60 if rule.id == "七9" else 8))
    if grade.over_minutes is not None and draw(st.booleans()):
        minutes = draw(st.integers(grade.over_minutes + 1, 2 * 60 if grade.key == "off_post" else 480))
        return Entry(rule.id, count, minutes=minutes)
    return Entry(rule.id, count, grade=grade.key, points=draw(_points(grade)))


months = st.lists(entries(), max_size=25)


@given(months)
@settings(max_examples=300)
def test_every_month_stays_in_its_bounds(month: list[Entry]) -> None:
    result = score_month(month)
    for sid, points in SECTION_POINTS.items():
        assert 0 <= result.sections[sid] <= points
    assert 0 <= result.bonus == min(result.bonus_uncapped, BONUS_CAP)
    assert result.total == sum(result.sections.values()) + result.bonus
    assert 0 <= result.total <= 120
    for item in result.bonus_items:
        assert item.points <= item.uncapped and (item.cap is None or item.points <= item.cap)


@given(months)
def test_a_maternity_month_is_exactly_the_base(month: list[Entry]) -> None:
    assert score_month(month, maternity=True).total == 100


@given(st.lists(st.integers(0, 7), max_size=12))
def test_then_satisfied_over_a_year_deducts_one_per_three(counts: list[int]) -> None:
    year = score_year([StaffMonth((Entry("五2", n, grade="then_satisfied"),)) for n in counts])
    lost = sum((15 - month.sections["五"] for month in year.months), Decimal(0))
    assert lost == sum(counts) // 3


@given(st.lists(st.integers(1, 10), max_size=12))
def test_activity_bonus_never_passes_five_a_year(halves: list[int]) -> None:
    year = score_year([StaffMonth((Entry("七5", points=Decimal(h) / 2),)) for h in halves])
    given_points = sum((month.bonus for month in year.months), Decimal(0))
    assert given_points == min(sum(Decimal(h) / 2 for h in halves), Decimal(5))


@given(st.dictionaries(st.integers(0, 60), st.integers(0, 12).map(lambda n: Decimal(100) - n), max_size=60),
       st.sets(st.integers(0, 60)))
def test_awards_never_exceed_the_quota_nor_reach_the_barred(scores: dict[int, Decimal], barred: set[int]) -> None:
    picked = select_service_models(scores, barred)
    assert len(picked.awarded) <= picked.quota == len(scores) // 4
    assert not set(picked.awarded) & barred and not set(picked.tied_at_cut) & barred
    if picked.awarded:  # everyone eligible who scored above the lowest awarded is awarded too
        lowest = min(scores[k] for k in picked.awarded)
        assert {k for k in scores if k not in barred and scores[k] > lowest} <= set(picked.awarded)
