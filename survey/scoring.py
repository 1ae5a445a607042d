"""Item points, source scores, window scores, grades and the month's 红旗窗口 (篇2 六; 篇1; README "Scoring / 计分").

篇2 六 grades every item of a callback (逐项设定, three levels) and sums the results per window "结合电子评价器中内容" —
together with the electronic evaluator (评价器). The rules, in order:

1. **Item points.** Every answered item scores 满意 S 100 / 基本满意 B 60 / 不满意 U 0; the two yes/no items score 100
   when nothing was wrong (体外循环: 是, all done in the hall; 廉洁自律: 没有, nobody asked for anything) and 0 when
   something was (`item_points`).
2. **A questionnaire response** (phone, SMS, a staff member's call, an on-site form) scores the mean of its answered
   items; an unanswered item is left out, never counted as satisfied (`score_response`). ``332111`` →
   (0 + 0 + 60 + 100 + 100 + 100) / 6 = 60.
3. **Source scores.** The questionnaire source scores the mean of its responses' scores; the evaluator source the
   mean of its presses' points (S 100, B 60, U 0).
4. **The window score** is the weighted mean of the source scores present (`SourceWeights`, default 0.5 / 0.5): a
   source with no data drops out and the other carries the whole weight. ``n`` = responses + presses.
5. **The grade** (`GradeThresholds`, default 优秀 ≥95, 良好 ≥85, 合格 ≥70, else 不合格) is read from the window score
   as shown; with n < 5 the window is 样本不足 instead.

**Rounding, once per figure shown.** Means are exact (fractions) until they are shown. Each source score is rounded
to one decimal, half up; the window score is the weighted mean *of the source scores as shown*, rounded again to
one decimal, half up; the grade reads that. So every figure can be recomputed by hand from the figures before it:
two responses 100 and 60 → 80.0; ten presses 8 S, 1 B, 1 U → 86.0; window (0.5·80.0 + 0.5·86.0) / 1 = 83.0, 合格.
A response's own score is not rounded (no figure shows it): 2 responses of 93.33… and 60 → 76.666… → 76.7.

**Supporting detail.** A response counts as *satisfied* when its overall rating is 满意 (the overall item, or when
that is missing the worst rated item answered — `survey.questionnaire.overall_rating`); a press when it is S. The
95% Wilson interval is on satisfied / n.

Pure and stdlib-only.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from survey.questionnaire import Answer, get_item, overall_rating
from survey.scale import POINTS, Rating

Z_95 = 1.959964
GOOD_ITEM_POINTS = 100
BAD_ITEM_POINTS = 0

EXCELLENT = "优秀"
GOOD = "良好"
PASSING = "合格"
FAILING = "不合格"
TOO_FEW = "样本不足"

QUESTIONNAIRE = "questionnaire"
EVALUATOR = "evaluator"
SOURCES = (QUESTIONNAIRE, EVALUATOR)
SOURCE_LABELS = {QUESTIONNAIRE: "回访问卷", EVALUATOR: "评价器"}

Number = int | float | Fraction | Decimal


@dataclass(frozen=True)
class GradeThresholds:
    """Lowest score of each grade, and the fewest responses and presses that may be graded."""

    excellent: float = 95.0
    good: float = 85.0
    passing: float = 70.0
    min_n: int = 5


DEFAULT_THRESHOLDS = GradeThresholds()


@dataclass(frozen=True)
class SourceWeights:
    """Weight of each source in the window score (篇2 六: callbacks "结合电子评价器"). Only the ratio matters: a
    source with no data drops out and the others share the whole weight."""

    questionnaire: float = 0.5
    evaluator: float = 0.5

    def __post_init__(self) -> None:
        if self.questionnaire < 0 or self.evaluator < 0 or self.questionnaire + self.evaluator <= 0:
            raise ValueError("source weights must be ≥ 0 and not all 0")

    def of(self, source: str) -> Fraction:
        """The weight as an exact fraction (0.5 → 1/2, not the binary float)."""
        return _exact(getattr(self, source))


DEFAULT_WEIGHTS = SourceWeights()


# --- rounding and the interval -----------------------------------------------------------------------------


def _exact(value: Number) -> Fraction:
    """A float as written (94.95 → 9495/100, not its binary neighbour); other numbers exactly."""
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def round1(value: Number) -> float:
    """Round half up to one decimal, as people do by hand (Python's round() rounds half to even); exact, so
    80.25 → 80.3 and 76.666… → 76.7."""
    return math.floor(_exact(value) * 10 + Fraction(1, 2)) / 10


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion; None when n=0 (no data, no interval).

    Returning None rather than (0, 0) keeps "no responses" from being shown as "certainly 0%".
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return None
    p, z2 = successes / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    low = 0.0 if successes == 0 else centre - half  # exact ends, not 0.9999999999999999
    high = 1.0 if successes == n else centre + half
    return low, high


def grade_for(score: float | None, n: int, thresholds: GradeThresholds = DEFAULT_THRESHOLDS) -> str:
    """The grade of a window with this (shown) score and sample size (responses + presses)."""
    if score is None or n < thresholds.min_n:
        return TOO_FEW
    if score >= thresholds.excellent:
        return EXCELLENT
    if score >= thresholds.good:
        return GOOD
    return PASSING if score >= thresholds.passing else FAILING


# --- items and responses -----------------------------------------------------------------------------------


def item_points(answer: Answer) -> int:
    """Points of one answered item (篇2 六 逐项设定): a rated item S 100 / B 60 / U 0; a yes/no item 100 when
    nothing was wrong (体外循环 是; 廉洁自律 没有 — the item's good key) and 0 when something was."""
    if get_item(answer.item).kind == "rating" and answer.rating is not None:
        return POINTS[answer.rating]
    return GOOD_ITEM_POINTS if answer.good else BAD_ITEM_POINTS


@dataclass(frozen=True)
class ResponseScore:
    """One questionnaire response: ``score`` the exact mean of its answered items' points, ``items`` how many
    were answered, ``satisfied`` whether its overall rating is 满意."""

    score: Fraction
    items: int
    satisfied: bool


def score_response(answers: Iterable[Answer]) -> ResponseScore | None:
    """A response's score: the mean of its answered items' points; None when no item was answered (an unanswered
    item is left out, never counted as satisfied). A repeated item counts once (the last answer)."""
    by_item = {answer.item: answer for answer in answers}
    if not by_item:
        return None
    points = [item_points(a) for a in by_item.values()]
    satisfied = overall_rating(by_item) is Rating.S
    return ResponseScore(Fraction(sum(points), len(points)), len(points), satisfied)


# --- sources -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceScore:
    """One source of a window: ``n`` responses (or presses), ``score`` their mean rounded to one decimal half up
    (None when n=0), ``satisfied`` how many were 满意; for the evaluator also the presses per rating."""

    source: str
    n: int
    score: float | None
    satisfied: int
    ratings: Mapping[str, int] = field(default_factory=dict)


def questionnaire_score(responses: Sequence[ResponseScore]) -> SourceScore:
    """The questionnaire source: the mean of its responses' exact scores, rounded once."""
    n = len(responses)
    mean = sum((r.score for r in responses), Fraction(0)) / n if n else None
    satisfied = sum(1 for r in responses if r.satisfied)
    return SourceScore(QUESTIONNAIRE, n, None if mean is None else round1(mean), satisfied)


def evaluator_score(presses: Iterable[Rating | str]) -> SourceScore:
    """The evaluator source: the mean of its presses' points (S 100, B 60, U 0), rounded once."""
    counts = Counter(Rating(p) for p in presses)
    n = sum(counts.values())
    mean = Fraction(sum(POINTS[r] * c for r, c in counts.items()), n) if n else None
    ratings = {r.value: counts[r] for r in Rating}
    return SourceScore(EVALUATOR, n, None if mean is None else round1(mean), counts[Rating.S], ratings)


# --- the window --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowScore:
    """``score``: the weighted mean of the shown source scores, one decimal (None with no data). ``n`` =
    responses + presses; ``satisfied`` = satisfied responses + S presses; ``ci_low``/``ci_high``: 95% Wilson
    interval on satisfied / n, 0–1 (None when n=0). ``grade``: 优秀/良好/合格/不合格 or 样本不足."""

    n: int
    satisfied: int
    score: float | None
    ci_low: float | None
    ci_high: float | None
    grade: str
    questionnaire: SourceScore
    evaluator: SourceScore

    @property
    def satisfied_share(self) -> float | None:
        return self.satisfied / self.n if self.n else None

    @property
    def sources(self) -> tuple[SourceScore, SourceScore]:
        return self.questionnaire, self.evaluator


def combine(sources: Iterable[SourceScore], weights: SourceWeights = DEFAULT_WEIGHTS) -> float | None:
    """Weighted mean of the shown scores of the sources that have data, rounded once; None when none has.
    A source with weight 0 counts in n but not in the score."""
    present = [(weights.of(s.source), _exact(s.score)) for s in sources if s.n and s.score is not None]
    total = sum((w for w, _ in present), Fraction(0))
    if not total:
        return None
    return round1(sum((w * score for w, score in present), Fraction(0)) / total)


def window_score(
    responses: Sequence[ResponseScore],
    presses: Iterable[Rating | str] = (),
    weights: SourceWeights = DEFAULT_WEIGHTS,
    thresholds: GradeThresholds = DEFAULT_THRESHOLDS,
) -> WindowScore:
    """Score, interval and grade of one window (or a hall) from its questionnaire responses and evaluator presses."""
    questionnaire, evaluator = questionnaire_score(responses), evaluator_score(presses)
    n = questionnaire.n + evaluator.n
    satisfied = questionnaire.satisfied + evaluator.satisfied
    score = combine((questionnaire, evaluator), weights)
    interval = wilson_interval(satisfied, n)
    low, high = interval if interval else (None, None)
    return WindowScore(n, satisfied, score, low, high, grade_for(score, n, thresholds), questionnaire, evaluator)


# --- the month's 红旗窗口 (篇1) ---------------------------------------------------------------------------

RED_FLAG_PLACES = 3


@dataclass(frozen=True)
class Ranked:
    """A graded window's place in the month: competition ranking on the shown score (92.0, 92.0, 90.5 → 1, 1, 3)."""

    window: str
    score: float
    grade: str
    place: int


@dataclass(frozen=True)
class RedFlags:
    """The month's 红旗窗口 (篇1: 月考核得分前三名). ``windows``: the graded windows placed 1st to 3rd — windows with
    equal shown scores share a place, so a tie at 3rd place makes every tied window a 红旗窗口 (more than three);
    ``tied``: the scores shared by more than one of them; ``too_few``: windows left out as 样本不足."""

    windows: tuple[Ranked, ...]
    tied: tuple[float, ...]
    too_few: tuple[str, ...]


def rank_windows(scores: Iterable[tuple[str, float | None, str]]) -> list[Ranked]:
    """The graded windows of ``(name, shown score, grade)``, best first, with their place; equal scores share a
    place and the next place skips (1, 1, 3). Names order windows with equal scores, for a stable listing."""
    graded = sorted(((name, score, grade) for name, score, grade in scores if grade != TOO_FEW and score is not None),
                    key=lambda row: (-row[1], row[0]))
    ranked: list[Ranked] = []
    for index, (name, score, grade) in enumerate(graded):
        place = ranked[-1].place if ranked and ranked[-1].score == score else index + 1
        ranked.append(Ranked(name, score, grade, place))
    return ranked


def red_flag_windows(scores: Iterable[tuple[str, float | None, str]], places: int = RED_FLAG_PLACES) -> RedFlags:
    """The 红旗窗口 of a month from each window's ``(name, shown score, grade)`` (篇1): the graded windows placed
    1st to ``places``th; 样本不足 windows are not ranked."""
    rows = list(scores)
    chosen = tuple(r for r in rank_windows(rows) if r.place <= places)
    shared = Counter(r.score for r in chosen)
    tied = tuple(sorted((s for s, count in shared.items() if count > 1), reverse=True))
    too_few = tuple(sorted(name for name, _, grade in rows if grade == TOO_FEW))
    return RedFlags(chosen, tied, too_few)
