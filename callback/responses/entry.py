"""Answers a staff member types in — from a call they made by hand (篇2 四) or a paper on-site form (篇2 三(二)) —
and recording them through the same services as a call or an SMS reply (docs/architecture.md §Callback states):
every answer saved (`save_answer`), an integrity "yes" or integrity words alerting supervisors at once
(`raise_integrity_alert`, 篇2 二五), complaint words flagging the suggestion (survey.complaints), and the survey
finished (`finish_survey`), which opens a rectification case when one is needed (篇2 五).

The answers are read as an SMS reply is (`survey.replies.parse_sms_reply`): ``112111``, ``1 1 2 1 1 1``,
full-width digits, a word for the overall rating (满意 / 基本满意 / 不满意), a trailing comment (taken as the
suggestion). Nothing is guessed: an invalid key, too many digits, text around the digits — the entry is refused
with one line saying why, and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from callback.models import Callback
from callback.responses.answers import finish_survey, raise_integrity_alert, save_answer, take_suggestion
from callback.responses.states import flags_of, set_flags
from callback.responses.transcript import add_event
from survey.complaints import NO_FLAGS, ComplaintFlags
from survey.privacy import mask_text
from survey.questionnaire import ITEMS, Item, interpret_key, rating_key
from survey.questionnaire import Answer as KeyAnswer
from survey.replies import INVALID_KEY, RATING_WORDS, TOO_MANY_KEYS, parse_sms_reply, reply_answers

ITEM_LABELS = {item.code: item.label for item in ITEMS}
ITEM_NAMES = "、".join(ITEM_LABELS.values())
KEY_RULES = "服务态度、办事效率、按章办事、总体评价 1 满意 / 2 基本满意 / 3 不满意；体外循环 1 是 / 2 否；廉洁自律 1 没有 / 2 有"
MAX_SUGGESTION = 2000


class EntryError(ValueError):
    """An entry that cannot be recorded: the message is the one line the staff member sees (Chinese first)."""


@dataclass(frozen=True)
class HandEntry:
    """What a staff member entered: the answers by item code (questionnaire order) and the suggestion."""

    answers: Mapping[str, KeyAnswer] = field(default_factory=dict)
    suggestion: str = ""

    @property
    def keys(self) -> str:
        """The answers as keys in questionnaire order, ``-`` where unanswered (``112-11``)."""
        return "".join(self.answers[item.code].key if item.code in self.answers else "-" for item in ITEMS)

    @property
    def alert(self) -> bool:
        """Does an answer report an integrity problem (有 on 廉洁自律, 篇2 二五)?"""
        return any(answer.alert for answer in self.answers.values())


def read_answers(text: str | None, suggestion: str | None = None) -> HandEntry:
    """The answers as typed (``112111``, ``1 1 2 1 1 1``, 满意 …) and the suggestion; `EntryError` if they cannot
    be read without guessing. A comment after the answers joins the suggestion."""
    reading = parse_sms_reply(text or "")
    shown = mask_text((text or "").strip())[:40]
    if reading.kind == "empty":
        raise EntryError("答案为空：请按 6 项顺序填写，如 112111 (--answers is empty)")
    if reading.kind == "opt_out":
        raise EntryError(f"答案“{shown}”中有退订用语；电话回访请用 --opt-out 登记退订 (opt-out words in the answers)")
    if reading.kind == "ambiguous":
        raise EntryError(_unreadable(shown, reading.reason))
    return HandEntry(reply_answers(reading), _suggestion(reading.comment, suggestion))


def _unreadable(shown: str, reason: str) -> str:
    if reason == TOO_MANY_KEYS:
        return f"答案“{shown}”超过 {len(ITEMS)} 项（依次为 {ITEM_NAMES}）(more than {len(ITEMS)} answers)"
    if reason == INVALID_KEY:
        return f"答案“{shown}”含无效选项：{KEY_RULES} (invalid key)"
    return (f"无法识别答案“{shown}”：请按 {ITEM_NAMES} 的顺序填写数字，如 112111 或 1 1 2 1 1 1，"
            f"或只填总体评价（满意/基本满意/不满意）(unreadable answers)")


def read_item_cells(cells: Mapping[str, str], suggestion: str | None = None) -> HandEntry:
    """One answer per item (an on-site form's columns 服务态度 … 总体评价): a key, or the words of the item's
    choices (满意 / 基本满意 / 不满意; 是 / 否; 没有 / 有); blank is unanswered."""
    answers: dict[str, KeyAnswer] = {}
    for item in ITEMS:
        text = (cells.get(item.code) or "").strip()
        if text:
            answers[item.code] = _cell_answer(item, text)
    if not answers:
        raise EntryError("没有答案：各项均为空 (no answers)")
    return HandEntry(answers, _suggestion("", suggestion))


def _cell_answer(item: Item, text: str) -> KeyAnswer:
    by_label = next((c.key for c in item.choices if c.label == text), None)
    word = RATING_WORDS.get(text) if item.kind == "rating" else None
    key = by_label or (rating_key(word) if word else text)
    answer = interpret_key(item, key)
    if answer is None:
        choices = " / ".join(f"{c.key} {c.label}" for c in item.choices)
        raise EntryError(f"{item.label}：无法识别“{mask_text(text)[:20]}”（可填 {choices}）(invalid answer)")
    return answer


def _suggestion(comment: str, suggestion: str | None) -> str:
    text = "\n".join(part.strip() for part in (comment, suggestion or "") if part and part.strip())
    if len(text) > MAX_SUGGESTION:
        raise EntryError(f"意见建议不能超过 {MAX_SUGGESTION} 个字符 (suggestion too long)")
    return text


# --- recording -------------------------------------------------------------------------------------------------


def record_entry(
    session: Session, callback: Callback, entry: HandEntry, *, channel: str, now: datetime, actor: str,
    heading: str, extra: str = "",
) -> str:
    """Save the entry on ``callback`` through the survey services and finish the survey; returns its outcome.

    The transcript gets one line, ``{heading}：服务态度：满意；…；意见建议：…`` (masked when written). ``actor`` is
    who entered it: the integrity alert is raised in their name. Does not commit.
    """
    set_flags(callback, consent=True)  # they answered: a staff call or a filled-in form is consent
    callback.channel = channel
    for answer in entry.answers.values():
        save_answer(session, callback, answer, channel=channel, now=now)
    signals = take_suggestion(callback, entry.suggestion) if entry.suggestion else NO_FLAGS
    alerted = (entry.alert or signals.integrity) and not flags_of(callback).integrity_alert
    if alerted:
        raise_integrity_alert(session, callback, now, source=actor)
    add_event(session, hall_id=callback.hall_id, callback_id=callback.id, kind="note", at=now,
              text=transcript_line(heading, entry, signals, alerted) + extra,
              data={"keys": entry.keys, "channel": channel})
    return finish_survey(session, callback, now)


def transcript_line(heading: str, entry: HandEntry, signals: ComplaintFlags = NO_FLAGS, alerted: bool = False) -> str:
    """``人工回访录入：服务态度：满意；…；意见建议：…；含投诉信号：态度差；已即时提醒督查科（廉洁）``."""
    parts = [f"{ITEM_LABELS[code]}：{answer.label}" for code, answer in entry.answers.items()]
    if entry.suggestion:
        parts.append(f"意见建议：{entry.suggestion}")
    if signals.any:
        parts.append("含投诉/廉洁信号：" + "、".join(signals.matched))
    if alerted:
        parts.append("已即时提醒督查科（廉洁自律）")
    return f"{heading}：" + "；".join(parts)

