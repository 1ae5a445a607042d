"""Weekly and monthly results per window (篇2 六; 篇1 红旗窗口; README "Scoring / 计分").

The scoring rules are `survey.scoring`'s: item points, the questionnaire and evaluator sources, the weighted window
score, the grade and the rounding. This module gathers the rows they need. Figures per window and for the hall:

* ``drawn`` — callbacks drawn that week (first callbacks of the ISO week; 二次回访 are not counted again);
  ``reached_phone`` / ``reached_sms`` / ``reached_manual`` — finished (complete or partial) by IVR call, by SMS
  reply, or recorded by a staff member who called by hand; ``unreachable``; ``opted_out``; ``break_off`` (hung up
  before item 1, or answered and never consented); ``pending`` (still in progress). ``onsite`` — on-site forms
  (征求意见表, 篇2 三(二); channel ``onsite``): questionnaire responses of their window, never drawn.
* ``n`` — questionnaire responses (reached callbacks and on-site forms with at least one answered item) + evaluator
  presses; ``score``, ``grade`` — the window score and grade; ``satisfied`` — responses whose overall rating is 满意
  + S presses, with the 95% Wilson interval on satisfied / n (``ci_low``, ``ci_high``);
  ``sources`` — ``{"questionnaire": {"n", "score", "satisfied"}, "evaluator": {"n", "score", "S", "B", "U"}}``.
* ``items`` — per item, the answers of the responses: ``{S, B, U}`` for rated items, ``{Y, N}`` for the yes/no
  items (体外循环 Y = all done in the hall; 廉洁自律 Y = someone asked for something).
* ``rectifications`` (weeks) — cases opened from these callbacks: ``opened`` = ``on_time`` + ``overdue`` +
  ``pending``; ``overdue`` counts cases not fed back by their due time (``late`` of them were fed back afterwards).

A week's responses are its callbacks (by the week they were drawn for) and its on-site forms; its presses are
those made in the week (local time). A month's are those finished, or pressed, in the month (local time).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.display import display_width
from callback.evaluator.queries import presses_by_window, presses_by_window_per_period
from callback.models import Answer, Callback, Hall, Window
from callback.models.rectification import Rectification
from callback.rectification.services import REASON_LABELS, STATE_LABELS, deadline_status, item_answers
from callback.responses.onsite import CHANNEL as ONSITE
from callback.responses.onsite import ONSITE_TARGET
from callback.responses.states import ANSWERED, CallbackState
from callback.results.spreadsheet import append_row
from survey.privacy import mask_text
from survey.questionnaire import ITEMS
from survey.questionnaire import Answer as ItemAnswer
from survey.scale import Rating
from survey.scoring import (
    DEFAULT_THRESHOLDS,
    DEFAULT_WEIGHTS,
    RED_FLAG_PLACES,
    GradeThresholds,
    ResponseScore,
    SourceWeights,
    WindowScore,
    red_flag_windows,
    score_response,
    window_score,
)
from survey.weeks import month_bounds, parse_month, week_bounds, week_dates

CHANNEL_FIELD = {"voice": "reached_phone", "sms": "reached_sms", "manual": "reached_manual", ONSITE: "onsite"}
# A refused call (answered, never consented) ended like a break-off: reached, nothing answered — it is not pending.
STATE_FIELD = {
    CallbackState.UNREACHABLE: "unreachable", CallbackState.OPTED_OUT: "opted_out",
    CallbackState.BREAK_OFF: "break_off", CallbackState.REFUSED: "break_off",
}
COUNT_FIELDS = (
    "drawn", "reached_phone", "reached_sms", "reached_manual", "unreachable", "opted_out", "break_off", "pending",
    "onsite",
)
RESPONSE_FIELDS = ("reached_phone", "reached_sms", "reached_manual", "onsite")
TOTAL_LABEL = "合计"
Presses = Mapping[int, Iterable[Rating | str] | Mapping[Rating, int]]
"""Evaluator presses of a period by window id: each press's rating (S/B/U), or the count of each rating (what
`callback.evaluator.queries.presses_by_window` returns)."""


@dataclass(frozen=True)
class ScoringRules:
    """The data the scores depend on: source weights and grade thresholds (defaults:
    docs/architecture.md §Window score and grades)."""

    weights: SourceWeights = DEFAULT_WEIGHTS
    thresholds: GradeThresholds = DEFAULT_THRESHOLDS


DEFAULT_RULES = ScoringRules()


@dataclass
class _Bucket:
    """What is collected for one window (or the whole hall) before the figures are computed."""

    counts: Counter[str] = field(default_factory=Counter)
    responses: list[ResponseScore] = field(default_factory=list)
    presses: list[Rating] = field(default_factory=list)
    items: dict[str, Counter[str]] = field(default_factory=lambda: {item.code: Counter() for item in ITEMS})
    cases: list[Rectification] = field(default_factory=list)


def _item_values(code: str) -> tuple[str, ...]:
    item = next(i for i in ITEMS if i.code == code)
    return ("S", "B", "U") if item.kind == "rating" else ("Y", "N")


def _add_response(bucket: _Bucket, callback: Callback, answers: Sequence[StoredAnswer]) -> None:
    """A finished callback or on-site form: counted by channel; scored when it has an answered item."""
    bucket.counts[CHANNEL_FIELD.get(callback.channel, "reached_phone")] += 1
    given, scored = _interpret(tuple(answers))
    for answer in given:
        bucket.items[answer.item][(answer.rating or answer.yes_no).value] += 1
    if scored is not None:
        bucket.responses.append(scored)


@lru_cache(maxsize=4096)
def _interpret(answers: tuple[StoredAnswer, ...]) -> tuple[tuple[ItemAnswer, ...], ResponseScore | None]:
    """What a response's stored answers mean and its score. Both are pure functions of the (few distinct) sets of
    answers, so each set is worked out once: a 12-week trend reads a few hundred responses."""
    given = tuple(item_answers(answers))  # type: ignore[arg-type]  # item and value are all it reads
    return given, score_response(given)


def _add_callback(bucket: _Bucket, callback: Callback, answers: Sequence[StoredAnswer]) -> None:
    """A superseded callback was withdrawn with its draw before anyone called (a redraw replaced it): it is not
    part of the week's sample, so it counts nowhere (not as drawn, not as pending)."""
    if callback.state == CallbackState.SUPERSEDED:
        return
    if callback.channel == ONSITE:  # an on-site form: a response, never drawn
        if callback.state in ANSWERED:
            _add_response(bucket, callback, answers)
        return
    bucket.counts["drawn"] += 1
    if callback.state in ANSWERED:  # reached: finished with at least one item answered
        _add_response(bucket, callback, answers)
    else:
        bucket.counts[STATE_FIELD.get(callback.state, "pending")] += 1


def _rectification_figures(cases: Iterable[Rectification], now: datetime) -> dict[str, int]:
    statuses = Counter(deadline_status(c, now) for c in cases)
    return {
        "opened": sum(statuses.values()),
        "on_time": statuses["on_time"],
        "overdue": statuses["overdue"] + statuses["late"],
        "late": statuses["late"],
        "pending": statuses["pending"],
    }


def score_figures(score: WindowScore) -> dict[str, Any]:
    """The scored figures of a window or hall, as the report, the publication and the board carry them."""
    questionnaire, evaluator = score.questionnaire, score.evaluator
    return {
        "n": score.n, "score": score.score, "grade": score.grade, "satisfied": score.satisfied,
        "ci_low": score.ci_low, "ci_high": score.ci_high,
        "sources": {
            "questionnaire": {"n": questionnaire.n, "score": questionnaire.score,
                              "satisfied": questionnaire.satisfied},
            "evaluator": {"n": evaluator.n, "score": evaluator.score, **evaluator.ratings},
        },
    }


def _figures(name: str, bucket: _Bucket, rules: ScoringRules, fields: Sequence[str]) -> dict[str, Any]:
    score = window_score(bucket.responses, bucket.presses, rules.weights, rules.thresholds)
    row: dict[str, Any] = {"window": name} | {f: bucket.counts[f] for f in fields} | score_figures(score)
    row["items"] = {code: {v: counts[v] for v in _item_values(code)} for code, counts in bucket.items.items()}
    return row


def _week_callbacks(session: Session, hall: Hall, week: str) -> list[Callback]:
    return list(session.scalars(
        select(Callback)
        .where(Callback.hall_id == hall.id, Callback.week == week, Callback.revisit_of_id.is_(None))
        .order_by(Callback.id)
    ))


def _month_responses(session: Session, hall: Hall, start: datetime, end: datetime) -> list[Callback]:
    return list(session.scalars(
        select(Callback)
        .where(Callback.hall_id == hall.id, Callback.revisit_of_id.is_(None), Callback.state.in_(ANSWERED),
               Callback.finished_at >= start, Callback.finished_at < end)
        .order_by(Callback.id)
    ))


class StoredAnswer(NamedTuple):
    """An answer's item and value: all a report reads of a stored answer (through `item_answers`)."""

    item: str
    value: str


def _answers_by_callback(session: Session, ids: list[int]) -> dict[int, list[StoredAnswer]]:
    """The callbacks' answers (item and value only: whole ORM rows cost the 12-week trend most of its time)."""
    out: dict[int, list[StoredAnswer]] = defaultdict(list)
    if ids:
        rows = session.execute(select(Answer.callback_id, Answer.item, Answer.value)
                               .where(Answer.callback_id.in_(ids)).order_by(Answer.id))
        for callback_id, item, value in rows:
            out[callback_id].append(StoredAnswer(item, value))
    return out


def _cases(session: Session, ids: list[int]) -> list[Rectification]:
    if not ids:
        return []
    query = select(Rectification).where(Rectification.callback_id.in_(ids)).order_by(Rectification.id)
    return list(session.scalars(query))


def _collect(callbacks: Sequence[Callback], answers: Mapping[int, Sequence[StoredAnswer]],
             presses: Presses) -> tuple[dict[int, _Bucket], _Bucket]:
    """Every callback (with its answers) and press into its window's bucket and the hall's."""
    buckets: dict[int, _Bucket] = defaultdict(_Bucket)
    total = _Bucket()
    for callback in callbacks:
        for bucket in (buckets[callback.window_id], total):
            _add_callback(bucket, callback, answers.get(callback.id, ()))
    for window_id, given in presses.items():
        ratings = _ratings(given)
        if ratings:
            buckets[window_id].presses.extend(ratings)
            total.presses.extend(ratings)
    return buckets, total


def _ratings(given: Iterable[Rating | str] | Mapping[Rating, int]) -> list[Rating]:
    if isinstance(given, Mapping):
        return [each for rating, count in given.items() for each in [Rating(rating)] * count]
    return [Rating(rating) for rating in given]


def _presses(session: Session, hall: Hall, start: datetime, end: datetime, given: Presses | None) -> Presses:
    """The presses given (tests, what-if figures), else the hall's presses made in [start, end)."""
    return given if given is not None else presses_by_window(session, hall.id, start, end)


def _tz(hall: Hall) -> ZoneInfo:
    return ZoneInfo(hall.timezone or "Asia/Shanghai")


def _onsite(forms: int) -> dict[str, int]:
    return {"forms": forms, "target": ONSITE_TARGET, "missing": max(ONSITE_TARGET - forms, 0)}


def weekly_report(
    session: Session, hall: Hall, week: str, now: datetime, *, presses: Presses | None = None,
    rules: ScoringRules = DEFAULT_RULES,
) -> dict[str, Any]:
    """The week's results per window and for the hall. ``now`` decides which open cases are overdue;
    ``presses``: the evaluator presses to count by window id (default: those made in the week, local time)."""
    callbacks = _week_callbacks(session, hall, week)
    start, end = week_bounds(week, _tz(hall))
    answers = _answers_by_callback(session, [c.id for c in callbacks])
    buckets, total = _collect(callbacks, answers, _presses(session, hall, start, end, presses))
    cases = _cases(session, [c.id for c in callbacks])
    for case in cases:
        buckets[case.window_id].cases.append(case)
        total.cases.append(case)
    names = _window_names(session, list(buckets))
    fields = COUNT_FIELDS

    def figures(name: str, bucket: _Bucket) -> dict[str, Any]:
        return _figures(name, bucket, rules, fields) | {"rectifications": _rectification_figures(bucket.cases, now)}

    tz = _tz(hall)
    monday, sunday = week_dates(week)
    totals = figures(TOTAL_LABEL, total)
    return {
        "week": week, "from": monday.isoformat(), "to": sunday.isoformat(),
        "hall": hall.code, "hall_name": hall.name,
        "generated_at": now.astimezone(tz).isoformat(timespec="seconds"),
        "windows": [figures(names[wid], buckets[wid]) for wid in sorted(buckets, key=lambda w: names[w])],
        "totals": totals,
        "onsite": _onsite(totals["onsite"]),
        "cases": [_case_row(c, names, now, tz) for c in cases],
    }


def weekly_totals(session: Session, hall: Hall, weeks: Sequence[str], now: datetime, *,
                  rules: ScoringRules = DEFAULT_RULES) -> list[dict[str, Any]]:
    """The hall's row (``totals``) of `weekly_report` for each of ``weeks``, in their order — the same rules and
    figures — read with one statement per kind of row for all the weeks together (the console's 12-week trend
    would otherwise run a whole report a week)."""
    tz = _tz(hall)
    callbacks = list(session.scalars(
        select(Callback)
        .where(Callback.hall_id == hall.id, Callback.week.in_(weeks), Callback.revisit_of_id.is_(None))
        .order_by(Callback.id)
    ))
    answers = _answers_by_callback(session, [c.id for c in callbacks])
    week_of_callback = {c.id: c.week for c in callbacks}
    cases: dict[str, list[Rectification]] = defaultdict(list)
    for case in _cases(session, list(week_of_callback)):
        cases[week_of_callback[case.callback_id]].append(case)
    presses = presses_by_window_per_period(session, hall.id, [week_bounds(week, tz) for week in weeks])
    totals = []
    for week, pressed in zip(weeks, presses, strict=True):
        total = _Bucket()  # the hall's bucket only, as _collect fills it
        for callback in callbacks:
            if callback.week == week:
                _add_callback(total, callback, answers.get(callback.id, ()))
        total.presses = [rating for given in pressed.values() for rating in _ratings(given)]
        totals.append(_figures(TOTAL_LABEL, total, rules, COUNT_FIELDS)
                      | {"rectifications": _rectification_figures(cases[week], now)})
    return totals


def monthly_report(
    session: Session, hall: Hall, month: str, now: datetime, *, presses: Presses | None = None,
    rules: ScoringRules = DEFAULT_RULES,
) -> dict[str, Any]:
    """The month's results per window and for the hall — the same rules over every response finished and every
    press made in the month (local time) — and the month's 红旗窗口 (篇1). ``presses`` as for `weekly_report`."""
    year, number = parse_month(month)
    tz = _tz(hall)
    start, end = month_bounds(month, tz)
    responses = _month_responses(session, hall, start, end)
    answers = _answers_by_callback(session, [c.id for c in responses])
    buckets, total = _collect(responses, answers, _presses(session, hall, start, end, presses))
    names = _window_names(session, list(buckets))
    windows = [_figures(names[wid], buckets[wid], rules, RESPONSE_FIELDS)
               for wid in sorted(buckets, key=lambda w: names[w])]
    last = (end.astimezone(tz) - timedelta(days=1)).date()
    return {
        "month": f"{year}-{number:02d}", "from": start.astimezone(tz).date().isoformat(), "to": last.isoformat(),
        "hall": hall.code, "hall_name": hall.name,
        "generated_at": now.astimezone(tz).isoformat(timespec="seconds"),
        "windows": windows,
        "totals": _figures(TOTAL_LABEL, total, rules, RESPONSE_FIELDS),
        "red_flags": red_flags(windows),
    }


RED_FLAG_RULE = (f"月度红旗窗口：当月得分前{RED_FLAG_PLACES}名的窗口（篇1）；按得分（一位小数）排名，同分同名次，"
                 f"第{RED_FLAG_PLACES}名并列时并列窗口均为红旗窗口；样本不足的窗口不参与排名")


def red_flags(windows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The month's 红旗窗口 from its window rows, with the rule, the ties and the windows left out as 样本不足."""
    flags = red_flag_windows((w["window"], w["score"], w["grade"]) for w in windows)
    return {
        "rule": RED_FLAG_RULE,
        "windows": [{"window": r.window, "place": r.place, "score": r.score, "grade": r.grade}
                    for r in flags.windows],
        "tied": [{"score": score, "place": next(r.place for r in flags.windows if r.score == score),
                  "windows": [r.window for r in flags.windows if r.score == score]} for score in flags.tied],
        "too_few": list(flags.too_few),
    }


def _window_names(session: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Window.id, Window.name).where(Window.id.in_(ids)))
    return {window_id: name for window_id, name in rows}


def _case_row(case: Rectification, names: dict[int, str], now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    def local(value: datetime | None) -> str | None:
        return value.astimezone(tz).isoformat(timespec="minutes") if value else None

    return {
        "id": case.id, "window": names.get(case.window_id, ""), "reasons": list(case.reasons),
        "state": case.state, "opened_at": local(case.opened_at), "due_at": local(case.due_at),
        "estimated": case.due_estimated, "feedback_at": local(case.feedback_at), "feedback_via": case.feedback_via,
        "deadline": deadline_status(case, now),
        # what the citizen said, as the case's excerpt keeps it (masked when written), masked again for export
        "suggestion": mask_text((case.excerpt or {}).get("suggestion")) or None,
    }


# --- XLSX --------------------------------------------------------------------------------------------------

Column = tuple[str, str, str | None]  # (key or dotted path into the row, header, number format)
WEEK_COUNT_COLUMNS: tuple[Column, ...] = (
    ("drawn", "抽取人数", None),
    ("reached_phone", "电话回访", None),
    ("reached_sms", "短信回访", None),
    ("reached_manual", "人工回访", None),
    ("onsite", "现场问卷", None),
    ("unreachable", "未联系上", None),
    ("opted_out", "拒访退订", None),
)
MONTH_COUNT_COLUMNS: tuple[Column, ...] = (
    ("reached_phone", "电话回访", None),
    ("reached_sms", "短信回访", None),
    ("reached_manual", "人工回访", None),
    ("onsite", "现场问卷", None),
)
SCORE_COLUMNS: tuple[Column, ...] = (
    ("sources.questionnaire.n", "问卷数", None),
    ("sources.questionnaire.score", "问卷得分", "0.0"),
    ("sources.evaluator.n", "评价器次数", None),
    ("sources.evaluator.score", "评价器得分", "0.0"),
    ("sources.evaluator.S", "评价器满意", None),
    ("sources.evaluator.B", "评价器基本满意", None),
    ("sources.evaluator.U", "评价器不满意", None),
    ("n", "样本数", None),
    ("score", "得分", "0.0"),
    ("grade", "等级", None),
    ("satisfied", "满意数", None),
    ("ci_low", "满意率95%区间下限", "0.0%"),
    ("ci_high", "满意率95%区间上限", "0.0%"),
)
SUMMARY_COLUMNS: tuple[Column, ...] = (("window", "窗口", None), *WEEK_COUNT_COLUMNS, *SCORE_COLUMNS)
MONTH_SUMMARY_COLUMNS: tuple[Column, ...] = (("window", "窗口", None), *MONTH_COUNT_COLUMNS, *SCORE_COLUMNS)
ITEM_HEADERS = ("窗口", "项目", "满意", "基本满意", "不满意", "是", "否")
ITEM_TITLES = {"in_hall": "体外循环（是＝全程在大厅办理）", "integrity": "廉洁自律（是＝有索要财物等）"}
RECT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("opened", "开立整改"), ("on_time", "按时反馈"), ("overdue", "超期"), ("late", "其中逾期后反馈"),
    ("pending", "未到期"),
)
DEADLINE_LABELS = {"on_time": "按时", "late": "逾期反馈", "overdue": "超期未反馈", "pending": "未到期"}
CASE_HEADERS = ("整改编号", "窗口", "原因", "状态", "开立时间", "反馈期限", "期限为估算", "反馈时间", "反馈方式", "期限情况",
                "市民意见（已脱敏）")
RED_FLAG_HEADERS = ("名次", "窗口", "得分", "等级")
SCORING_NOTE = ("计分：每个已答题项 满意100、基本满意60、不满意0，体外循环“是”、廉洁自律“没有”100，否则0；每份问卷取已答题项平均，"
                "问卷得分为各份平均，评价器得分为各次平均；窗口得分＝两项来源得分（各保留一位小数）按权重加权平均，"
                "四舍五入保留一位小数；样本数＝问卷数＋评价器次数，少于5为样本不足。满意数＝总体评价满意的问卷＋评价器满意次数。")


def _value(row: dict[str, Any], path: str) -> Any:
    value: Any = row
    for key in path.split("."):
        value = value[key]
    return value


def _fit_columns(sheet: Any, header_row: int) -> None:
    """Width from the widest cell below the title (CJK characters count double), within sensible bounds."""
    from openpyxl.utils import get_column_letter

    for index, column in enumerate(sheet.iter_cols(min_row=header_row), start=1):
        widest = max((display_width(cell.value) for cell in column), default=0)
        sheet.column_dimensions[get_column_letter(index)].width = min(max(widest + 2, 8), 48)


def _sheet(book: Any, title: str, caption: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Any:
    from openpyxl.styles import Alignment, Font, PatternFill

    sheet = book.create_sheet(title)
    append_row(sheet, [caption])
    sheet["A1"].font = Font(bold=True, size=13)
    append_row(sheet, headers)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in rows:
        append_row(sheet, row)  # a name from a ledger may start with "=": text, never a formula
    sheet.freeze_panes = "B3"
    _fit_columns(sheet, header_row=2)
    return sheet


def _bold_row(sheet: Any, row: int) -> None:
    from openpyxl.styles import Font

    for cell in sheet[row]:
        cell.font = Font(bold=True)


def _summary_sheet(book: Any, report: dict[str, Any], caption: str, columns: Sequence[Column]) -> None:
    rows = [[_value(row, key) for key, _, _ in columns] for row in [*report["windows"], report["totals"]]]
    sheet = _sheet(book, "窗口汇总", caption, [h for _, h, _ in columns], rows)
    for index, (_, _, fmt) in enumerate(columns, start=1):
        for cells in sheet.iter_rows(min_row=3, min_col=index, max_col=index):
            if fmt:
                cells[0].number_format = fmt
    _bold_row(sheet, sheet.max_row)
    append_row(sheet, [])
    if "onsite" in report:
        onsite = report["onsite"]
        append_row(sheet, ["现场征求意见表（篇2 三(二)）", f"本周 {onsite['forms']} 份，目标 {onsite['target']} 份，"
                                                 f"尚缺 {onsite['missing']} 份"])
    append_row(sheet, [SCORING_NOTE])


def _item_rows(row: dict[str, Any]) -> list[list[Any]]:
    out = []
    for item in ITEMS:
        counts = row["items"][item.code]
        title = ITEM_TITLES.get(item.code, item.label)
        out.append([row["window"], title, counts.get("S"), counts.get("B"), counts.get("U"), counts.get("Y"),
                    counts.get("N")])
    return out


def _items_sheet(book: Any, report: dict[str, Any], caption: str) -> None:
    rows = [r for row in [*report["windows"], report["totals"]] for r in _item_rows(row)]
    _sheet(book, "分项统计", caption, ITEM_HEADERS, rows)


def _rect_sheet(book: Any, report: dict[str, Any], caption: str) -> None:
    rows = [[row["window"], *(row["rectifications"][k] for k, _ in RECT_COLUMNS)]
            for row in [*report["windows"], report["totals"]]]
    sheet = _sheet(book, "整改情况", caption, ["窗口", *(h for _, h in RECT_COLUMNS)], rows)
    _bold_row(sheet, sheet.max_row)


def _case_sheet(book: Any, report: dict[str, Any], caption: str) -> None:
    rows = [
        [c["id"], c["window"], "、".join(REASON_LABELS.get(r, r) for r in c["reasons"]), STATE_LABELS[c["state"]],
         _short(c["opened_at"]), _short(c["due_at"]), "是" if c["estimated"] else "否", _short(c["feedback_at"]),
         {"sms": "短信", "phone": "电话"}.get(c["feedback_via"] or "", ""), DEADLINE_LABELS[c["deadline"]],
         c["suggestion"] or ""]
        for c in report["cases"]
    ]
    _sheet(book, "整改明细", caption, CASE_HEADERS, rows)


def _red_flag_sheet(book: Any, report: dict[str, Any], caption: str) -> None:
    flags = report["red_flags"]
    rows: list[list[Any]] = [[f"第{r['place']}名", r["window"], r["score"], r["grade"]] for r in flags["windows"]]
    rows += [[], [flags["rule"]], *([note] for note in red_flag_note(flags))]
    sheet = _sheet(book, "红旗窗口", caption, RED_FLAG_HEADERS, rows)
    for cells in sheet.iter_rows(min_row=3, min_col=3, max_col=3):
        cells[0].number_format = "0.0"


def red_flag_note(flags: dict[str, Any]) -> list[str]:
    """The ties and the windows left out, one phrase each (Chinese); empty when there are none."""
    notes = [f"第{t['place']}名并列（{t['score']:.1f} 分）：{'、'.join(t['windows'])}" for t in flags["tied"]]
    if flags["too_few"]:
        notes.append(f"样本不足、不参与排名：{'、'.join(flags['too_few'])}")
    return notes


def _short(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else ""


def period_title(report: dict[str, Any]) -> str:
    """``2026-W48（11月23日—11月29日）`` or ``2026年11月``: the period a report covers, for captions."""
    if "month" in report:
        year, number = parse_month(report["month"])
        return f"{year}年{number}月"
    return f"{report['week']}（{_md(report['from'])}—{_md(report['to'])}）"


def _md(iso_day: str) -> str:
    _, month, day = (int(part) for part in iso_day.split("-"))
    return f"{month}月{day}日"


def write_xlsx(report: dict[str, Any], path: str | Path) -> Path:
    """The report (a week's or a month's) as a workbook a supervisor can hand to a leader: one sheet per view,
    Chinese headers, no formula cells."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    generated = report["generated_at"][:16].replace("T", " ")
    caption = f"{report['hall_name']} {period_title(report)} 回访评价结果（生成于 {generated}）"
    if "month" in report:
        _summary_sheet(book, report, caption, MONTH_SUMMARY_COLUMNS)
        _red_flag_sheet(book, report, caption)
        _items_sheet(book, report, caption)
    else:
        _summary_sheet(book, report, caption, SUMMARY_COLUMNS)
        _items_sheet(book, report, caption)
        _rect_sheet(book, report, caption)
        _case_sheet(book, report, caption)
    path = Path(path)
    book.save(path)
    return path
