"""Monthly staff assessment rules fed by the survey (篇3 《前台工作人员考核办法》).

Every rule is data (RULES), with the seed clause it implements.  Scope: section (五) 服务对象评议 (15 points)
and the ledger-driven (四)7 (overdue cases, in section (四), 20 points); the monthly score (100 base, bonus
capped at 20, 篇3 二) and the (七)9 case-volume bonus.  Other deductions (attendance, discipline …) are
entered by supervisors and reach ``monthly_score`` as plain numbers.

(五)1 also says the full 15 needs "当月未被投诉"; the deduction for a complaint itself is (三)1, outside
this module.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from survey.scale import Rating

SECTION_POINTS: dict[str, float] = {"四": 20.0, "五": 15.0}
"""Points each section starts from (篇3 二(四), 二(五))."""
BASE_POINTS = 100.0
BONUS_CAP = 20.0
VOLUME_BONUS_CAP = 5.0


@dataclass(frozen=True)
class Rule:
    """``points`` (negative: a deduction) apply once per ``per`` occurrences in the month."""

    code: str
    clause: str
    section: str
    description: str
    points: float
    per: int = 1
    bars_annual_award: bool = False


RULES: tuple[Rule, ...] = (
    Rule("evaluator_basic", "篇3 五1", "五", "服务监督卡、评价器等评议为基本满意（每次）", -0.5),
    Rule("evaluator_unsatisfied", "篇3 五1", "五", "服务监督卡、评价器等评议为不满意（每次）", -1.0),
    Rule("revisit_still_unsatisfied", "篇3 五2", "五", "首次回访未达到满意，二次回访仍未达到满意（每次）", -2.0),
    Rule("revisit_then_satisfied", "篇3 五2", "五", "首次回访未达到满意，二次回访改为满意（累计三次）", -1.0, per=3),
    Rule("exposure", "篇3 五3", "五", "违规违纪被上级领导机构通报或被新闻媒体负面曝光（每次），取消当年评先树优资格",
         -10.0, bars_annual_award=True),
    Rule("district_basic", "篇3 五4", "五", "区级电话回访对服务态度和办事结果基本满意（每次）", -0.5),
    Rule("district_unsatisfied", "篇3 五4", "五", "区级电话回访对服务态度和办事结果不满意（每次）", -1.0),
    Rule("above_district_basic", "篇3 五4", "五", "区级以上电话回访对服务态度和办事结果基本满意（每次）", -2.0),
    Rule("above_district_unsatisfied", "篇3 五4", "五", "区级以上电话回访对服务态度和办事结果不满意（每次）", -4.0),
    Rule("overdue", "篇3 四7", "四", "办理事项出现超时，含网办件和网上咨询件（每次）", -5.0),
)
RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}

Source = Literal["evaluator", "district", "above_district"]
_RATING_RULES: dict[tuple[str, Rating], str] = {
    ("evaluator", Rating.B): "evaluator_basic",
    ("evaluator", Rating.U): "evaluator_unsatisfied",
    ("district", Rating.B): "district_basic",
    ("district", Rating.U): "district_unsatisfied",
    ("above_district", Rating.B): "above_district_basic",
    ("above_district", Rating.U): "above_district_unsatisfied",
}

Events = Mapping[str, int] | Iterable[str]
"""A month's events: rule codes, one per occurrence, or a mapping code → count."""


def rule_for_rating(source: Source, rating: Rating) -> str | None:
    """The rule a rating from this source triggers (None for 满意): 篇3 五1 and 五4."""
    if source not in ("evaluator", "district", "above_district"):
        raise ValueError(f"unknown source {source!r}")
    return _RATING_RULES.get((source, rating))


def _counts(events: Events) -> Counter[str]:
    counts = Counter(dict(events)) if isinstance(events, Mapping) else Counter(events)
    unknown = sorted(set(counts) - set(RULES_BY_CODE))
    if unknown:
        raise ValueError(f"unknown assessment rule(s): {', '.join(unknown)}")
    if any(count < 0 for count in counts.values()):
        raise ValueError("event counts cannot be negative")
    return counts


def _points(rule: Rule, count: int) -> Decimal:
    return Decimal(repr(rule.points)) * (count // rule.per)


def rule_points(code: str, count: int) -> float:
    """The points ``count`` events of one rule make (negative: a deduction), ``per`` applied: 篇3 五2's
    "累计三次" makes 4 events one deduction."""
    return float(_points(RULES_BY_CODE[code], count))


def section_score(events: Events, section: str) -> float:
    """A section's points after its deductions, floored at 0 (a section cannot go negative)."""
    counts = _counts(events)
    total = Decimal(repr(SECTION_POINTS[section]))
    total += sum((_points(r, counts[r.code]) for r in RULES if r.section == section), Decimal(0))
    return float(max(total, Decimal(0)))


def section_five_score(events: Events) -> float:
    """篇3 (五) 服务对象评议: start 15, minus the (五) deductions, floored at 0."""
    return section_score(events, "五")


def section_loss(events: Events, section: str) -> float:
    """Points lost in a section (at most the section's points): what ``monthly_score`` deducts."""
    return SECTION_POINTS[section] - section_score(events, section)


def bars_annual_award(events: Events) -> bool:
    """True if any event cancels this year's 评先树优 eligibility (篇3 五3)."""
    counts = _counts(events)
    return any(RULES_BY_CODE[code].bars_annual_award for code, count in counts.items() if count > 0)


def monthly_score(
    base: float = BASE_POINTS, deductions: float = 0.0, bonus: float = 0.0, bonus_cap: float = BONUS_CAP
) -> float:
    """Monthly score (篇3 二): ``base`` minus ``deductions`` (a non-negative total, floored at 0), plus
    ``bonus`` capped at ``bonus_cap`` (20: 最高加分20分)."""
    if deductions < 0 or bonus < 0:
        raise ValueError("deductions and bonus are non-negative amounts")
    earned = max(Decimal(repr(base)) - Decimal(repr(deductions)), Decimal(0))
    return float(earned + min(Decimal(repr(bonus)), Decimal(repr(bonus_cap))))


def annual_score(monthly: Iterable[float]) -> float | None:
    """Annual score: the mean of the monthly scores (篇3 三(一)), two decimals; None with no months."""
    scores = [Decimal(repr(m)) for m in monthly]
    if not scores:
        return None
    return float(round(sum(scores) / len(scores), 2))


def volume_bonus(*, accepted: int = 0, promised: int = 0, online: int = 0, issued: int = 0) -> float:
    """篇3 七9 case-volume bonus, capped at 5.

    Comprehensive-acceptance window: every 10 cases +0.2, except 承诺件 every 10 +1 (``accepted`` counts
    the cases that are not 承诺件, ``promised`` the 承诺件); online (山东政务服务网) cases +0.2 each, at most
    +2 in all.  Issuing (出件) window: every 10 cases +0.1.  Only whole tens count.
    """
    if min(accepted, promised, online, issued) < 0:
        raise ValueError("case counts cannot be negative")
    total = (
        Decimal("0.2") * (accepted // 10)
        + Decimal(1) * (promised // 10)
        + min(Decimal("0.2") * online, Decimal(2))
        + Decimal("0.1") * (issued // 10)
    )
    return float(min(total, Decimal(repr(VOLUME_BONUS_CAP))))
