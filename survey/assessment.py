"""The monthly and annual arithmetic of 篇3 《前台工作人员考核办法》 over the clauses in ``survey.assessment_rules``.

A staff member's month is a list of ``Entry`` (clause id, count or minutes, grade or discretionary points)
plus a maternity flag; ``score_month`` turns it into each section's points (15/20/20/20/15/10, each floored at 0
by default), every applied rule with its clause and count, the bonus items with their caps and the total
(篇3 二).  ``score_year`` runs the months in order, carrying what 篇3 counts over the year (五2 "累计三次",
七5 "累计加分不超过5分"), and gives the annual score and the year's award bars; ``select_service_models``
picks the 优秀服务标兵 (篇3 三(二)2).

All points are ``Decimal`` so 0.5 and 0.1 steps never drift; ``to_json`` gives floats.

The functions at the end (``RULES``, ``rule_points``, ``section_score``, ``volume_bonus``, …) are the older
code-based interface that ``callback.results.assessment`` still calls; they read the same clause data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from survey.assessment_rules import (
    AWARD_SHARE,
    BASE_POINTS,
    BONUS_CAP,
    CLAUSES,
    CLAUSES_BY_ID,
    HALF,
    LEAVE_RULES,
    Clause,
    Consequence,
    Grade,
    LeaveRule,
)
from survey.assessment_rules import SECTION_POINTS as _SECTION_POINTS
from survey.scale import Rating

Number = Decimal | int | float | str
K = TypeVar("K", bound=Hashable)
CENT = Decimal("0.01")


def to_decimal(value: Number) -> Decimal:
    """A float goes through its shortest repr (0.1 → Decimal('0.1'), not 0.1000000000000000055…)."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


# --- inputs ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One line of a staff member's month.

    ``count``: occurrences (七1: full weeks; 七9: cases).  ``grade``: the graded variant's key, needed when
    the clause has more than one and ``minutes`` does not pick it (一3, 一6: an absence of ``minutes``
    minutes; > 15 → 空岗, > 120 → 旷工).  ``points``: the magnitude per occurrence for a discretionary clause
    (三7 and 六3 1–3, 一3 特殊原因 0.5–4, 七5 0.5–5), in steps of 0.5.
    """

    clause: str
    count: int = 1
    grade: str | None = None
    minutes: int | None = None
    points: Decimal | None = None
    note: str = ""


@dataclass(frozen=True)
class StaffMonth:
    """A staff member's month: entries and the 产假 flag (篇3 二: 产假人员以基本分作为个人每月考核分数)."""

    entries: tuple[Entry, ...] = ()
    maternity: bool = False
    label: str = ""


@dataclass(frozen=True)
class YearCarry:
    """What earlier months of the same year pass on: occurrences of a per-year grade not yet spent
    (五2 then_satisfied, keyed by (clause, grade)) and points already given by a year-capped clause (七5)."""

    counts: Mapping[tuple[str, str], int] = field(default_factory=dict)
    bonus: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    """The configurable parts (docs/architecture.md §Domain rules): section points, floors, the bonus cap, the
    award share."""

    section_points: Mapping[str, Decimal] = field(default_factory=lambda: dict(_SECTION_POINTS))
    floor_sections: bool = True
    bonus_cap: Decimal = BONUS_CAP
    award_share: Decimal = AWARD_SHARE

    @property
    def base(self) -> Decimal:
        return sum(self.section_points.values(), Decimal(0))


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class LeaveDays:
    """篇3 一7 inputs for a year: total 因私 leave days, total 病假 days, the longest single 因私 leave."""

    personal: Decimal = Decimal(0)
    sick: Decimal = Decimal(0)
    longest_personal: Decimal = Decimal(0)


# --- results ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppliedRule:
    """One (clause, grade[, discretionary points]) of the month with its summed count and its signed points
    (after ``per`` and a grade cap; clause and bonus caps are on ``BonusItem``)."""

    clause: str
    section: str
    grade: str
    label: str
    count: int
    points: Decimal
    per_occurrence: Decimal

    def to_json(self) -> dict[str, Any]:
        return {
            "clause": self.clause, "section": self.section, "grade": self.grade, "label": self.label,
            "count": self.count, "per_occurrence": float(self.per_occurrence), "points": float(self.points),
        }


@dataclass(frozen=True)
class BonusItem:
    """A bonus clause's month: ``uncapped`` (sum of its rules) and ``points`` after the clause's monthly or
    yearly cap (``cap``: the room the cap left, None when the clause has none)."""

    clause: str
    uncapped: Decimal
    points: Decimal
    cap: Decimal | None

    def to_json(self) -> dict[str, Any]:
        cap = None if self.cap is None else float(self.cap)
        return {"clause": self.clause, "uncapped": float(self.uncapped), "points": float(self.points), "cap": cap}


@dataclass(frozen=True)
class MonthResult:
    """A staff member's month (篇3 二): sections floored, the bonus capped at 20, the total."""

    sections: Mapping[str, Decimal]
    rules: tuple[AppliedRule, ...]
    bonus_items: tuple[BonusItem, ...]
    bonus_uncapped: Decimal
    bonus: Decimal
    total: Decimal
    maternity: bool
    award_bars: tuple[str, ...]
    carry: YearCarry
    ignored_entries: int = 0
    label: str = ""

    def section_loss(self, section: str, policy: Policy = DEFAULT_POLICY) -> Decimal:
        return policy.section_points[section] - self.sections[section]

    def to_json(self) -> dict[str, Any]:
        """``sections`` {"一": 13.0, …}, ``bonus``, ``total`` and the applied rules."""
        return {
            "month": self.label, "maternity": self.maternity,
            "sections": {sid: float(points) for sid, points in self.sections.items()},
            "bonus": float(self.bonus), "bonus_uncapped": float(self.bonus_uncapped), "total": float(self.total),
            "rules": [rule.to_json() for rule in self.rules],
            "bonus_items": [item.to_json() for item in self.bonus_items],
            "award_bars": list(self.award_bars), "ignored_entries": self.ignored_entries,
        }


@dataclass(frozen=True)
class AwardBar:
    clause: str
    reason: str


@dataclass(frozen=True)
class Triggered:
    """A consequence that is not points, reached by the year's count of its clause (e.g. 二1 累计3次通报批评)."""

    clause: str
    text: str
    count: int


@dataclass(frozen=True)
class YearResult:
    """A staff member's year: the months, the annual score (篇3 三(一): mean of the months assessed, two
    decimals rounded half up), the award bars and the consequences reached."""

    months: tuple[MonthResult, ...]
    score: Decimal | None
    award_bars: tuple[AwardBar, ...]
    consequences: tuple[Triggered, ...]
    vacation_cancelled: tuple[str, ...]

    @property
    def award_eligible(self) -> bool:
        return not self.award_bars

    def to_json(self) -> dict[str, Any]:
        return {
            "score": None if self.score is None else float(self.score),
            "months": [month.to_json() for month in self.months],
            "award_eligible": self.award_eligible,
            "award_bars": [{"clause": bar.clause, "reason": bar.reason} for bar in self.award_bars],
            "consequences": [{"clause": t.clause, "text": t.text, "count": t.count} for t in self.consequences],
            "vacation_cancelled": list(self.vacation_cancelled),
        }


# --- resolving entries -----------------------------------------------------------------------------------------


def clause(clause_id: str) -> Clause:
    """The clause with this id (``一3``, ``七9`` …); ValueError naming it if there is none."""
    try:
        return CLAUSES_BY_ID[clause_id]
    except KeyError:
        raise ValueError(f"未知条款 {clause_id!r}（unknown clause）") from None


def grade_for_minutes(rule: Clause, minutes: int) -> Grade:
    """篇3 一3 (and 一6, 按第三条处理): more than 15 minutes off post is 空岗 (−2), more than 2 hours 旷工 (−4)."""
    fitting = [g for g in rule.grades if g.over_minutes is not None and minutes > g.over_minutes]
    if not fitting:
        raise ValueError(f"条款{rule.id}：不在岗{minutes}分钟未超过15分钟，不按空岗记")
    return max(fitting, key=lambda g: g.over_minutes or 0)


def _grade(rule: Clause, entry: Entry) -> Grade:
    if not rule.grades:
        raise ValueError(f"条款{rule.id}不按次计分（{rule.note}）")
    if entry.minutes is not None:
        if not rule.by_minutes:
            raise ValueError(f"条款{rule.id}不按分钟录入")
        picked = grade_for_minutes(rule, entry.minutes)
        if entry.grade not in (None, picked.key):
            raise ValueError(f"条款{rule.id}：{entry.minutes}分钟对应等次 {picked.key}，与录入的 {entry.grade} 不符")
        return picked
    if entry.grade is None:
        if len(rule.grades) > 1:
            keys = "、".join(g.key for g in rule.grades)
            raise ValueError(f"条款{rule.id}须注明等次（{keys}）")
        return rule.grades[0]
    return rule.grade(entry.grade)


def _per_occurrence(rule: Clause, grade: Grade, entry: Entry) -> Decimal:
    """Signed points of one occurrence; a range grade takes the magnitude from the entry (篇3 三7, 六3 …)."""
    if grade.range is None:
        if entry.points is not None:
            raise ValueError(f"条款{rule.id}的分值是固定的，不能自定分值")
        return grade.points
    if entry.points is None:
        raise ValueError(f"条款{rule.id}须注明每次分值（{grade.range[0]}–{grade.range[1]}分）")
    magnitude = to_decimal(entry.points)
    low, high = grade.range
    if not low <= magnitude <= high or magnitude % HALF:
        raise ValueError(f"条款{rule.id}每次分值须在{low}–{high}分之间，以0.5分为单位")
    return magnitude if grade.points > 0 else -magnitude


def _resolve(entry: Entry) -> tuple[Clause, Grade, Decimal]:
    rule = clause(entry.clause)
    if entry.count < 0:
        raise ValueError(f"条款{rule.id}的次数不能为负数")
    grade = _grade(rule, entry)
    return rule, grade, _per_occurrence(rule, grade, entry)


# --- the month -------------------------------------------------------------------------------------------------

_ORDER = {c.id: i for i, c in enumerate(CLAUSES)}
_Line = tuple[str, str, Decimal]  # (clause id, grade key, signed points per occurrence)


def _aggregate(entries: Iterable[Entry]) -> dict[_Line, int]:
    """Sum the counts of entries that score alike, in the clauses' order (篇3's own order)."""
    counts: Counter[_Line] = Counter()
    for entry in entries:
        rule, grade, unit = _resolve(entry)
        counts[(rule.id, grade.key, unit)] += entry.count
    return {line: counts[line] for line in sorted(counts, key=lambda ln: (_ORDER[ln[0]], ln[1], ln[2]))}


def _units(grade: Grade, rule_id: str, count: int, carry: YearCarry) -> int:
    """How many times ``per`` is reached; a per-year grade counts on from the earlier months (篇3 五2)."""
    if not grade.per_year:
        return count // grade.per
    before = carry.counts.get((rule_id, grade.key), 0)
    return (before + count) // grade.per - before // grade.per


def _apply(line: _Line, count: int, carry: YearCarry) -> AppliedRule:
    rule_id, key, unit = line
    rule = CLAUSES_BY_ID[rule_id]
    grade = rule.grade(key)
    points = unit * _units(grade, rule_id, count, carry)
    if grade.cap is not None:
        points = min(points, grade.cap)  # 七9 网办件 "最高加分不超过2分"
    return AppliedRule(rule_id, rule.section, key, grade.label, count, points, unit)


def _sections(rules: Sequence[AppliedRule], policy: Policy) -> dict[str, Decimal]:
    """Each section's points minus its deductions, floored at 0 unless the policy says otherwise."""
    sections = {}
    for sid, points in policy.section_points.items():
        earned = points + sum((r.points for r in rules if r.section == sid), Decimal(0))
        sections[sid] = max(earned, Decimal(0)) if policy.floor_sections else earned
    return sections


def _clause_room(rule: Clause, carry: YearCarry) -> Decimal | None:
    """The most a bonus clause may still add this month: its monthly cap (七4 2, 七9 5) and what its yearly
    cap (七5 5) leaves after the earlier months."""
    rooms = []
    if rule.cap_month is not None:
        rooms.append(rule.cap_month)
    if rule.cap_year is not None:
        rooms.append(max(rule.cap_year - carry.bonus.get(rule.id, Decimal(0)), Decimal(0)))
    return min(rooms) if rooms else None


def _bonus_items(rules: Sequence[AppliedRule], carry: YearCarry) -> tuple[BonusItem, ...]:
    items = []
    for rule_id in dict.fromkeys(r.clause for r in rules if r.section == "七"):
        uncapped = sum((r.points for r in rules if r.clause == rule_id), Decimal(0))
        room = _clause_room(CLAUSES_BY_ID[rule_id], carry)
        items.append(BonusItem(rule_id, uncapped, uncapped if room is None else min(uncapped, room), room))
    return tuple(items)


def _award_bars(lines: Iterable[_Line]) -> tuple[str, ...]:
    """Clauses among the month's lines that cancel the year's 评先树优 (篇3 二6, 五3, 六4 重大损失)."""
    bars = [rid for rid, key, _ in lines if CLAUSES_BY_ID[rid].bars_award or CLAUSES_BY_ID[rid].grade(key).bars_award]
    return tuple(dict.fromkeys(bars))


def _carry_on(carry: YearCarry, rules: Sequence[AppliedRule], items: Sequence[BonusItem]) -> YearCarry:
    counts = dict(carry.counts)
    for rule in rules:
        if CLAUSES_BY_ID[rule.clause].grade(rule.grade).per_year:
            counts[(rule.clause, rule.grade)] = counts.get((rule.clause, rule.grade), 0) + rule.count
    bonus = dict(carry.bonus)
    for item in items:
        if CLAUSES_BY_ID[item.clause].cap_year is not None:
            bonus[item.clause] = bonus.get(item.clause, Decimal(0)) + item.points
    return YearCarry(counts, bonus)


def score_month(
    entries: Iterable[Entry] = (),
    *,
    maternity: bool = False,
    carry: YearCarry | None = None,
    policy: Policy = DEFAULT_POLICY,
    label: str = "",
) -> MonthResult:
    """A staff member's monthly score (篇3 二).

    Deductions per section (一 15, 二 20, 三 20, 四 20, 五 15, 六 10), each section floored at 0
    (``policy.floor_sections``); bonus (七) per clause with its caps (七4 ≤ 2 a month, 七5 ≤ 5 over the year,
    七9 ≤ 5 with 网办件 ≤ 2), then the whole bonus capped at 20; total = sections + bonus, never below 0.
    ``carry``: what the earlier months of the year pass on (see ``YearCarry``).

    A 产假 month scores the base (篇3 二 "产假人员以基本分作为个人每月考核分数"): full sections, no bonus; its
    entries score nothing (``ignored_entries``) and carry nothing on, but an award bar among them still bars
    the year — a bar is not points.
    """
    carry = carry or YearCarry()
    lines = _aggregate(entries)
    if maternity:
        full = dict(policy.section_points)
        bars = _award_bars(line for line, count in lines.items() if count)
        return MonthResult(full, (), (), Decimal(0), Decimal(0), policy.base, True, bars, carry,
                           ignored_entries=len(lines), label=label)
    rules = tuple(_apply(line, count, carry) for line, count in lines.items() if count)
    sections = _sections(rules, policy)
    items = _bonus_items(rules, carry)
    uncapped = sum((item.points for item in items), Decimal(0))
    bonus = min(uncapped, policy.bonus_cap)
    total = max(sum(sections.values(), Decimal(0)) + bonus, Decimal(0))
    bars = _award_bars(line for line, count in lines.items() if count)
    return MonthResult(sections, rules, items, uncapped, bonus, total, False, bars, _carry_on(carry, rules, items),
                       label=label)


# --- the year --------------------------------------------------------------------------------------------------


def annual_mean(monthly: Iterable[Number]) -> Decimal | None:
    """篇3 三(一): 年度考核成绩为该年的月度平均分 — the mean of the months assessed (产假 months count with
    their 100), rounded to two decimals half up (四舍五入); None with no months."""
    scores = [to_decimal(m) for m in monthly]
    if not scores:
        return None
    return (sum(scores, Decimal(0)) / len(scores)).quantize(CENT, rounding=ROUND_HALF_UP)


def leave_consequences(leave: LeaveDays) -> tuple[LeaveRule, ...]:
    """篇3 一7: the leave thresholds the year's leave days exceed ("超过": strictly more than)."""
    measures = {
        "personal_total": to_decimal(leave.personal), "sick_total": to_decimal(leave.sick),
        "personal_single": to_decimal(leave.longest_personal),
    }
    return tuple(rule for rule in LEAVE_RULES if measures[rule.measure] > rule.over_days)


def _consequences(months: Sequence[MonthResult]) -> tuple[Triggered, ...]:
    """Consequences with a count (二1–4 累计3次通报批评, 三1 累计两次追究责任, 四1, 六4 重大损失) reached by the
    year's occurrences of their clause (or grade, for a grade's own consequence)."""
    by_clause: Counter[str] = Counter()
    by_grade: Counter[tuple[str, str]] = Counter()
    for month in months:
        for rule in month.rules:
            by_clause[rule.clause] += rule.count
            by_grade[(rule.clause, rule.grade)] += rule.count
    found: list[Triggered] = []
    for rule in CLAUSES:
        found += _reached(rule.id, rule.consequences, by_clause[rule.id])
        for grade in rule.grades:
            found += _reached(rule.id, grade.consequences, by_grade[(rule.id, grade.key)])
    return tuple(found)


def _reached(rule_id: str, consequences: Iterable[Consequence], count: int) -> list[Triggered]:
    return [Triggered(rule_id, c.text, count) for c in consequences if c.after is not None and count >= c.after]


def _year_bars(months: Sequence[MonthResult], leave: LeaveDays | None) -> tuple[AwardBar, ...]:
    bars = [bar for month in months for bar in month.award_bars]
    found = [AwardBar(rid, CLAUSES_BY_ID[rid].text) for rid in dict.fromkeys(bars)]
    if leave is not None:
        found += [AwardBar("一7", rule.text) for rule in leave_consequences(leave) if rule.consequence == "award"]
    return tuple(found)


def score_year(
    months: Sequence[StaffMonth], *, leave: LeaveDays | None = None, policy: Policy = DEFAULT_POLICY
) -> YearResult:
    """A staff member's year (篇3 三): ``months`` are the months assessed, in order (a month not assessed is
    simply absent).  Each month gets the carry of the ones before it (五2 "累计三次" and 七5's yearly cap);
    the score is their mean; the award is barred by any award-bar clause that year (二6, 五3, 六4 重大损失)
    or by 一7's leave thresholds when ``leave`` is given."""
    carry = YearCarry()
    results = []
    for month in months:
        result = score_month(month.entries, maternity=month.maternity, carry=carry, policy=policy, label=month.label)
        results.append(result)
        carry = result.carry
    vacation = tuple(r.text for r in leave_consequences(leave) if r.consequence == "vacation") if leave else ()
    return YearResult(tuple(results), annual_mean(r.total for r in results), _year_bars(results, leave),
                      _consequences(results), vacation)


def then_satisfied_deductions(monthly_counts: Sequence[int]) -> tuple[tuple[Decimal, ...], int]:
    """篇3 五2 "对首次回访未达到满意，二次回访改为满意的，累计三次扣1分", counted over the year.

    Given the year's monthly counts (January first), each month's deduction and the remainder left at the end
    of the year.  A month deducts 1 for every multiple of 3 the running total passes in that month; the rest
    carries to the next month and is dropped at the year's end.  Counts 2, 2, 2 → running totals 2, 4, 6 →
    deductions 0, −1, −1, remainder 0; counts 1, 0, 4 → 0, 0, −1, remainder 2.
    """
    grade = CLAUSES_BY_ID["五2"].grade("then_satisfied")
    deductions, total = [], 0
    for count in monthly_counts:
        if count < 0:
            raise ValueError("次数不能为负数")
        deductions.append(grade.points * ((total + count) // grade.per - total // grade.per))
        total += count
    return tuple(deductions), total % grade.per


# --- awards ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AwardSelection(Generic[K]):
    """篇3 三(二)2's 优秀服务标兵: ``quota`` places, who got them, who is tied at the cut, who was barred."""

    quota: int
    awarded: tuple[K, ...]
    tied_at_cut: tuple[K, ...]
    barred: tuple[K, ...]


def award_quota(staff: int, share: Decimal = AWARD_SHARE) -> int:
    """篇3 三(二)2 "按前台工作人员25%的比例": floor(staff × 25%) — the share is a ceiling that is never
    exceeded (10 staff → 2, 3 staff → 0)."""
    return int((Decimal(staff) * share).to_integral_value(rounding=ROUND_FLOOR))


def select_service_models(
    scores: Mapping[K, Number | None], barred: Collection[K] = (), *, share: Decimal = AWARD_SHARE
) -> AwardSelection[K]:
    """Pick the year's 优秀服务标兵 (篇3 三(二)2) from the annual scores.

    * The quota is ``award_quota(N)``: N counts every staff member with an annual score, barred ones included
      (the share is of 前台工作人员, not of the eligible), rounded down.
    * Barred staff (评先树优 cancelled: 一7, 二6, 五3, 六4) are left out of the ranking; the places go down the
      list of the others by score as given — ``YearResult.score``, the published two-decimal score, so two
      people who read the same score are tied.  Tied staff keep the order of ``scores``.
    * Ties at the cut: a group of equal scores is taken whole only if all of it fits in the places left;
      otherwise the cut falls before the group, its members are ``tied_at_cut`` and the remaining places are
      left for the centre to decide (三(二)3 "择优"), so the 25% is never exceeded and no tie is broken by
      chance.  Staff without a score take no part.
    """
    scored = {k: to_decimal(v) for k, v in scores.items() if v is not None}
    quota = award_quota(len(scored), share)
    ranked = sorted((k for k in scored if k not in barred), key=lambda k: -scored[k])
    awarded: list[K] = []
    tied: list[K] = []
    for score in dict.fromkeys(scored[k] for k in ranked):
        group = [k for k in ranked if scored[k] == score]
        if len(awarded) + len(group) > quota:
            tied = group if len(awarded) < quota else []
            break
        awarded += group
    return AwardSelection(quota, tuple(awarded), tuple(tied), tuple(k for k in scores if k in barred))


# --- from our own data (the pure rules) -------------------------------------------------------------------------

RatingSource = Literal["evaluator", "district", "above_district"]
_RATING_GRADES: dict[tuple[str, Rating], tuple[str, str]] = {
    ("evaluator", Rating.B): ("五1", "basic"),
    ("evaluator", Rating.U): ("五1", "unsatisfied"),
    ("district", Rating.B): ("五4", "district_basic"),
    ("district", Rating.U): ("五4", "district_unsatisfied"),
    ("above_district", Rating.B): ("五4", "above_basic"),
    ("above_district", Rating.U): ("五4", "above_unsatisfied"),
}


def entry_for_rating(source: RatingSource, rating: Rating, count: int = 1) -> Entry | None:
    """The entry ``count`` ratings from this source make (None for 满意): 篇3 五1 (evaluator, 服务监督卡) and
    五4 (district / above-district callbacks)."""
    if source not in ("evaluator", "district", "above_district"):
        raise ValueError(f"unknown source {source!r}")
    found = _RATING_GRADES.get((source, rating))
    return None if found is None else Entry(found[0], count, grade=found[1])


class WindowRole(StrEnum):
    """The windows 篇3 七9 rewards (set per window in the hall's administration)."""

    COMPREHENSIVE = "综合受理"
    ISSUING = "出件"


PROMISED_KINDS = frozenset({"承诺件", "承諾件"})
"""办件类型 values that are 承诺件 (篇3 七9 1) "承诺件每10件加1分"); everything else (即办件 …) is not."""


def is_promised(item_kind: str | None) -> bool:
    """Whether a ledger case's 办件类型 makes it a 承诺件 (by the type, never by a promised time)."""
    return item_kind is not None and item_kind.strip() in PROMISED_KINDS


def volume_entries(
    role: WindowRole | None, item_kinds: Mapping[str | None, int], online: int = 0
) -> tuple[Entry, ...]:
    """篇3 七9's entries for a staff member's month.

    ``item_kinds``: the month's cases by 办件类型; ``online``: 山东政务服务网 网办件, counted apart (not also
    in ``item_kinds``).  综合受理 windows: 承诺件 by type (每10件1分), the other cases (每10件0.2分), and
    网办件 (每件0.2分, ≤ 2).  出件 windows: every case (每10件0.1分); no 网办件 rate.  Any other window: none.
    """
    if min([online, *item_kinds.values()], default=0) < 0:
        raise ValueError("办件数不能为负数")
    if role is None:
        return ()
    if role is WindowRole.ISSUING:
        return (Entry("七9", sum(item_kinds.values()), grade="issued"),)
    promised = sum(n for kind, n in item_kinds.items() if is_promised(kind))
    other = sum(item_kinds.values()) - promised
    return (Entry("七9", other, grade="accepted"), Entry("七9", promised, grade="promised"),
            Entry("七9", online, grade="online"))


# --- the older code-based interface (callback.results.assessment) --------------------------------------------------

SECTION_POINTS: dict[str, float] = {sid: float(points) for sid, points in _SECTION_POINTS.items()}
"""Float view of ``survey.assessment_rules.SECTION_POINTS`` (15/20/20/20/15/10) for JSON callers."""
VOLUME_BONUS_CAP = float(CLAUSES_BY_ID["七9"].cap_month or 0)


@dataclass(frozen=True)
class Rule:
    """A named (clause, grade): ``points`` (negative: a deduction) apply once per ``per`` occurrences."""

    code: str
    clause: str
    section: str
    description: str
    points: float
    per: int = 1
    bars_annual_award: bool = False


_LEGACY: tuple[tuple[str, str, str, str], ...] = (
    ("evaluator_basic", "五1", "basic", "服务监督卡、评价器等评议为基本满意（每次）"),
    ("evaluator_unsatisfied", "五1", "unsatisfied", "服务监督卡、评价器等评议为不满意（每次）"),
    ("revisit_still_unsatisfied", "五2", "still_unsatisfied", "首次回访未达到满意，二次回访仍未达到满意（每次）"),
    ("revisit_then_satisfied", "五2", "then_satisfied", "首次回访未达到满意，二次回访改为满意（累计三次）"),
    ("exposure", "五3", "each", "违规违纪被上级领导机构通报或被新闻媒体负面曝光（每次），取消当年评先树优资格"),
    ("district_basic", "五4", "district_basic", "区级电话回访对服务态度和办事结果基本满意（每次）"),
    ("district_unsatisfied", "五4", "district_unsatisfied", "区级电话回访对服务态度和办事结果不满意（每次）"),
    ("above_district_basic", "五4", "above_basic", "区级以上电话回访对服务态度和办事结果基本满意（每次）"),
    ("above_district_unsatisfied", "五4", "above_unsatisfied", "区级以上电话回访对服务态度和办事结果不满意（每次）"),
    ("overdue", "四7", "each", "办理事项出现超时，含网办件和网上咨询件（每次）"),
)
"""The older rule codes: (code, clause id, grade key, the description the 本系统可计部分 report prints)."""
_CODES: dict[str, tuple[str, str]] = {code: (rule_id, key) for code, rule_id, key, _ in _LEGACY}


def _legacy_rule(code: str, rule_id: str, key: str, description: str) -> Rule:
    rule, grade = CLAUSES_BY_ID[rule_id], CLAUSES_BY_ID[rule_id].grade(key)
    bars = rule.bars_award or grade.bars_award
    return Rule(code, f"篇3 {rule_id}", rule.section, description, float(grade.points), grade.per, bars)


RULES: tuple[Rule, ...] = tuple(_legacy_rule(*row) for row in _LEGACY)
RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}

Events = Mapping[str, int] | Iterable[str]
"""A month's events: rule codes, one per occurrence, or a mapping code → count."""


def rule_for_rating(source: RatingSource, rating: Rating) -> str | None:
    """The rule code a rating from this source triggers (None for 满意): 篇3 五1 and 五4."""
    entry = entry_for_rating(source, rating)
    if entry is None:
        return None
    return next(code for code, line in _CODES.items() if line == (entry.clause, entry.grade))


def _entries(events: Events) -> list[Entry]:
    counts = Counter(dict(events)) if isinstance(events, Mapping) else Counter(events)
    unknown = sorted(set(counts) - set(_CODES))
    if unknown:
        raise ValueError(f"unknown assessment rule(s): {', '.join(unknown)}")
    if any(count < 0 for count in counts.values()):
        raise ValueError("event counts cannot be negative")
    return [Entry(_CODES[code][0], count, grade=_CODES[code][1]) for code, count in counts.items()]


def rule_points(code: str, count: int) -> float:
    """The points ``count`` events of one rule make in a month (negative: a deduction), ``per`` applied:
    篇3 五2's "累计三次" makes 4 events one deduction."""
    rules = score_month(_entries({code: count})).rules
    return float(sum((rule.points for rule in rules), Decimal(0)))


def section_score(events: Events, section: str) -> float:
    """A section's points after its deductions, floored at 0 (a section cannot go negative)."""
    return float(score_month(_entries(events)).sections[section])


def section_five_score(events: Events) -> float:
    """篇3 (五) 服务对象评议: start 15, minus the (五) deductions, floored at 0."""
    return section_score(events, "五")


def section_loss(events: Events, section: str) -> float:
    """Points lost in a section (at most the section's points)."""
    return float(score_month(_entries(events)).section_loss(section))


def bars_annual_award(events: Events) -> bool:
    """True if any event cancels this year's 评先树优 eligibility (篇3 五3)."""
    return bool(score_month(_entries(events)).award_bars)


def monthly_score(
    base: float = float(BASE_POINTS), deductions: float = 0.0, bonus: float = 0.0, bonus_cap: float = float(BONUS_CAP)
) -> float:
    """Monthly score (篇3 二): ``base`` minus ``deductions`` (a non-negative total, floored at 0), plus
    ``bonus`` capped at ``bonus_cap`` (20: 最高加分20分)."""
    if deductions < 0 or bonus < 0:
        raise ValueError("deductions and bonus are non-negative amounts")
    earned = max(to_decimal(base) - to_decimal(deductions), Decimal(0))
    return float(earned + min(to_decimal(bonus), to_decimal(bonus_cap)))


def annual_score(monthly: Iterable[float]) -> float | None:
    """Annual score: the mean of the monthly scores (篇3 三(一)), two decimals half up; None with no months."""
    mean = annual_mean(monthly)
    return None if mean is None else float(mean)


def volume_bonus(*, accepted: int = 0, promised: int = 0, online: int = 0, issued: int = 0) -> float:
    """篇3 七9 case-volume bonus, capped at 5: ``accepted`` (综合受理, not 承诺件) every 10 +0.2, ``promised``
    (承诺件) every 10 +1, ``online`` +0.2 each at most 2, ``issued`` (出件) every 10 +0.1; whole tens only."""
    if min(accepted, promised, online, issued) < 0:
        raise ValueError("case counts cannot be negative")
    counts = {"accepted": accepted, "promised": promised, "online": online, "issued": issued}
    result = score_month([Entry("七9", n, grade=key) for key, n in counts.items()])
    return float(result.bonus_items[0].points) if result.bonus_items else 0.0

