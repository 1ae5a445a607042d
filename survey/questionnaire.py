"""The six callback items of 篇2 二, as data, and what an answer to each means.

Keys (docs/architecture.md §Keys): on every item 1 is the good answer — 满意; 是 (all done in the hall); 没有
(nobody asked for or took anything) — so ``111111`` or a caller pressing 1 throughout can never raise an
integrity alert.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from survey.complaints import ComplaintFlags
from survey.scale import Rating, YesNo, worst

GOOD_KEY = "1"


@dataclass(frozen=True)
class Choice:
    """One key of an item: what it is called and what it means."""

    key: str
    label: str
    value: Rating | YesNo


@dataclass(frozen=True)
class Item:
    """One survey item.  ``alert_on_bad``: a bad answer alerts supervisors at once (篇2 二 五)."""

    code: str
    label: str
    kind: Literal["rating", "yesno"]
    question: str
    choices: tuple[Choice, ...]
    clause: str
    alert_on_bad: bool = False

    @property
    def valid_keys(self) -> tuple[str, ...]:
        return tuple(choice.key for choice in self.choices)


@dataclass(frozen=True)
class Answer:
    """A valid key given to an item.  ``rating`` is set for rating items, ``yes_no`` for yes/no items."""

    item: str
    key: str
    label: str
    rating: Rating | None
    yes_no: YesNo | None
    good: bool
    alert: bool


_RATED = (
    Choice("1", "满意", Rating.S),
    Choice("2", "基本满意", Rating.B),
    Choice("3", "不满意", Rating.U),
)


def _rating_item(code: str, label: str, question: str, clause: str) -> Item:
    return Item(code, label, "rating", question, _RATED, clause)


ITEMS: tuple[Item, ...] = (
    _rating_item("attitude", "服务态度", "您对工作人员的服务态度是否满意？", "篇2 二一"),
    _rating_item("efficiency", "办事效率", "您对办事效率是否满意？", "篇2 二二"),
    _rating_item("by_the_rules", "按章办事", "工作人员是否按公示流程办事、按时办结？您是否满意？", "篇2 二三"),
    Item(
        "in_hall", "体外循环", "yesno", "您的事项是否全程在行政审批大厅内办理？",
        (Choice("1", "是", YesNo.YES), Choice("2", "否", YesNo.NO)), "篇2 二四",
    ),
    Item(
        "integrity", "廉洁自律", "yesno", "办事过程中，是否有工作人员向您索要或收受财物、吃请？",
        (Choice("1", "没有", YesNo.NO), Choice("2", "有", YesNo.YES)), "篇2 二五", alert_on_bad=True,
    ),
    _rating_item("overall", "总体评价", "您对本次办事的总体评价是？", "篇2 二六"),
)
ITEMS_BY_CODE: dict[str, Item] = {item.code: item for item in ITEMS}
RATED_CODES: tuple[str, ...] = tuple(i.code for i in ITEMS if i.kind == "rating" and i.code != "overall")

SUGGESTION = "suggestion"
"""Code of the free-text suggestion (篇2 二六 评估与建议): spoken or texted, never keyed."""
SUGGESTION_LABEL = "意见建议"


def get_item(item: Item | str) -> Item:
    """The Item itself, or the item with that code (KeyError for an unknown code)."""
    return item if isinstance(item, Item) else ITEMS_BY_CODE[item]


def interpret_key(item: Item | str, key: str) -> Answer | None:
    """What key ``key`` means on ``item``; None if the key is not valid there (ask again, never guess)."""
    item = get_item(item)
    choice = next((c for c in item.choices if c.key == str(key).strip()), None)
    if choice is None:
        return None
    good = choice.key == GOOD_KEY
    return Answer(
        item=item.code,
        key=choice.key,
        label=choice.label,
        rating=choice.value if isinstance(choice.value, Rating) else None,
        yes_no=choice.value if isinstance(choice.value, YesNo) else None,
        good=good,
        alert=item.alert_on_bad and not good,
    )


def rating_key(rating: Rating) -> str:
    """The key of a rating on a rating item (S → "1", B → "2", U → "3")."""
    return next(c.key for c in _RATED if c.value is rating)


def _answer_list(answers: Mapping[str, Answer] | Iterable[Answer]) -> list[Answer]:
    return list(answers.values()) if isinstance(answers, Mapping) else list(answers)


def overall_rating(answers: Mapping[str, Answer] | Iterable[Answer]) -> Rating | None:
    """A callback's overall rating (docs/architecture.md §Ratings and points): the overall item if answered,
    else the worst rated item."""
    answers = _answer_list(answers)
    overall = next((a.rating for a in answers if a.item == "overall"), None)
    if overall is not None:
        return overall
    return worst(a.rating for a in answers if a.item in RATED_CODES and a.rating is not None)


COMPLAINT = "complaint"
INTEGRITY = "integrity"
ALERT_REASONS: frozenset[str] = frozenset({INTEGRITY})
"""Reasons that alert supervisors at once, not only open a rectification case (篇2 二五)."""


def _answer_reasons(answers: list[Answer]) -> list[str]:
    bad = {a.item for a in answers if not a.good}
    return [item.code for item in ITEMS if item.code in bad]


def needs_rectification(
    answers: Mapping[str, Answer] | Iterable[Answer], suggestion_flags: ComplaintFlags | None = None
) -> list[str]:
    """Why this response opens a rectification case (整改, 篇2 五; docs/architecture.md §Rectification triggers);
    empty if it does not.

    Reasons, in questionnaire order: the code of each item answered badly (基本满意/不满意 on a rated item
    or ``overall``, 否 on ``in_hall``), ``integrity`` for 有 on ``integrity`` or an integrity word in the
    suggestion, then ``complaint`` for a complaint in the suggestion.  ``integrity`` is in ALERT_REASONS.
    """
    reasons = _answer_reasons(_answer_list(answers))
    flags = suggestion_flags
    if flags is not None and flags.integrity and INTEGRITY not in reasons:
        reasons.append(INTEGRITY)
    if flags is not None and flags.complaint:
        reasons.append(COMPLAINT)
    return reasons


def is_alert(reasons: Iterable[str]) -> bool:
    """True if any reason must alert supervisors at once (an integrity report)."""
    return any(reason in ALERT_REASONS for reason in reasons)
