"""Window scores and grades for the weekly notice (篇2 六; docs/architecture.md §Window score and grades).

Each response scores S=100, B=60, U=0; a window's score is the mean, shown with its sample size and a 95%
Wilson interval on the share of 满意 responses.  Grades: 优秀 ≥95, 良好 ≥85, 合格 ≥70, else 不合格;
fewer than 5 responses → 样本不足 instead of a grade.  The grade is taken from the score as shown (rounded
to one decimal), so a published 95.0 is never 良好.
"""

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from survey.scale import POINTS, Rating

Z_95 = 1.959964

EXCELLENT = "优秀"
GOOD = "良好"
PASSING = "合格"
FAILING = "不合格"
TOO_FEW = "样本不足"


@dataclass(frozen=True)
class GradeThresholds:
    """Lowest score of each grade, and the fewest responses that may be graded."""

    excellent: float = 95.0
    good: float = 85.0
    passing: float = 70.0
    min_n: int = 5


DEFAULT_THRESHOLDS = GradeThresholds()


@dataclass(frozen=True)
class WindowScore:
    """``score``: mean points, one decimal (None when n=0).  ``ci_low``/``ci_high``: 95% Wilson interval
    on the satisfied share, 0–1 (None when n=0).  ``grade``: 优秀/良好/合格/不合格 or 样本不足."""

    n: int
    s: int
    b: int
    u: int
    score: float | None
    ci_low: float | None
    ci_high: float | None
    grade: str

    @property
    def satisfied_share(self) -> float | None:
        return self.s / self.n if self.n else None


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


def round1(value: float) -> float:
    """Round half up to one decimal, as people do by hand (Python's round() rounds half to even)."""
    return float(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def grade_for(score: float | None, n: int, thresholds: GradeThresholds = DEFAULT_THRESHOLDS) -> str:
    """The grade of a window with this (shown) score and sample size."""
    if score is None or n < thresholds.min_n:
        return TOO_FEW
    if score >= thresholds.excellent:
        return EXCELLENT
    if score >= thresholds.good:
        return GOOD
    return PASSING if score >= thresholds.passing else FAILING


def window_score(
    ratings: Iterable[Rating | str], thresholds: GradeThresholds = DEFAULT_THRESHOLDS
) -> WindowScore:
    """Score, interval and grade of one window's responses (callbacks, evaluator, on-site forms)."""
    counts = Counter(Rating(r) for r in ratings)
    n = sum(counts.values())
    points = sum(POINTS[r] * c for r, c in counts.items())
    score = round1(points / n) if n else None
    interval = wilson_interval(counts[Rating.S], n)
    low, high = interval if interval else (None, None)
    return WindowScore(
        n, counts[Rating.S], counts[Rating.B], counts[Rating.U], score, low, high,
        grade_for(score, n, thresholds),
    )
