"""This week (本周概况, issue 14 §2): the week's progress at a glance for supervisors and the centre's leaders.

At the top what needs someone now: integrity alerts (篇2 二五) and overdue rectification cases (篇2 五), and a week
of calls whose publication is late (篇2 六: within a week). Then the week: callbacks drawn and where they are
(answered, partial, SMS waiting for a reply, unreached, opted out …), the on-site forms against the target of 5
(篇2 三(二)), the evaluator data imported for the week or missing, whether its publication is due; and two
charts: each window's score this week and the hall's score over the last 12 weeks (server-rendered SVG,
callback.web.console.charts, each with its table).

Every figure comes from the services that own it — `callback.results.report.weekly_report` (scores, the same
rules as the report and the board), `callback.responses.onsite.week_forms`, `callback.evaluator.queries`,
`callback.results.deadlines.publication_deadlines`, `callback.rectification.services.list_cases`; this module
only gathers them for one page. It shows no personal data: figures, windows and case numbers only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.accounts.roles import N_, Action
from callback.db import db_session
from callback.evaluator.queries import presses_by_window
from callback.models import Callback, Hall, Window
from callback.models.rectification import AWAITING_FEEDBACK, Rectification
from callback.rectification.services import list_cases
from callback.responses.onsite import CHANNEL as ONSITE
from callback.responses.onsite import week_forms
from callback.responses.states import flags_of
from callback.results.deadlines import LATE, PUBLISH_WITHIN, publication_deadlines
from callback.results.publication import latest_published
from callback.results.report import weekly_report, weekly_totals
from callback.web.console import clock
from callback.web.console.auth import permission_required
from callback.web.console.blueprint import bp
from callback.web.console.callbacks import GROUPS, current_week, hall_weeks, hall_zone, read_week, week_label
from callback.web.console.charts import Bar, Mark, Part, Point, axis_floor, bar_chart, line_chart, stacked_bar
from survey.scoring import DEFAULT_THRESHOLDS
from survey.weeks import week_bounds, week_dates

TREND_WEEKS = 12
SHOWN_CASES = 5
# The progress bar's segments, in the order a callback moves through them (GROUPS keys), and their colours.
PROGRESS = ("answered", "partial", "not_surveyed", "sms", "pending", "unreached", "opted_out")
GRADE_CSS = {"优秀": "g-excellent", "良好": "g-good", "合格": "g-pass", "不合格": "g-fail", "样本不足": "g-few"}
GRADES = (N_("优秀"), N_("良好"), N_("合格"), N_("不合格"), N_("样本不足"))  # survey.scoring's grades, for Babel


@bp.route("/week")
@permission_required(Action.DASHBOARD)
def dashboard() -> Any:
    session = db_session()
    hall = session.get(Hall, current_user.hall_id)
    now = clock.now()
    week = read_week(request.args.get("week"), hall)
    return render_template("console/dashboard.html", v=week_view(session, hall, week, now), week_label=week_label,
                           groups=GROUPS)


def shift(week: str, weeks: int) -> str:
    """The ISO week ``weeks`` after (or before) ``week``."""
    monday = week_dates(week)[0] + timedelta(weeks=weeks)
    year, number, _day = monday.isocalendar()
    return f"{year}-W{number:02d}"


def week_view(session: Session, hall: Hall, week: str, now: datetime) -> dict[str, Any]:
    """Everything the page shows for ``week`` (an ISO week of the hall)."""
    report = weekly_report(session, hall, week, now)
    this = current_week(hall)
    progress = week_progress(session, hall, week)
    return {
        "week": week, "this_week": this, "is_current": week == this, "prev": shift(week, -1),
        "next": shift(week, 1) if week < this else None, "weeks": hall_weeks(session, hall, this, week),
        "progress": progress, "progress_chart": progress_chart(progress),
        "integrity": integrity_alerts(session, hall, week), "overdue": overdue_cases(session, hall, now),
        "late": [d for d in publication_deadlines(session, hall, now) if d.status == LATE and d.week != week],
        "publication": publication_status(session, hall, week, now, bool(progress["drawn"] or report["onsite"]["forms"])),
        "onsite": week_forms(session, hall, week), "evaluator": evaluator_week(session, hall, week),
        "report": report, "window_chart": window_chart(report),
        "trend": (trend := score_trend(session, hall, week, now, report)), "trend_chart": trend_chart(trend),
        "has_trend": any(t["score"] is not None for t in trend),
    }


# --- progress -------------------------------------------------------------------------------------------------------


def week_progress(session: Session, hall: Hall, week: str) -> dict[str, Any]:
    """The week's drawn callbacks (二次回访 and on-site forms aside) by group; ``drawn`` leaves out those a redraw
    withdrew before they were called; ``revisits``: the week's 二次回访."""
    rows = session.execute(
        select(Callback.state, Callback.revisit_of_id.is_not(None), func.count())
        .where(Callback.hall_id == hall.id, Callback.week == week, Callback.channel != ONSITE)
        .group_by(Callback.state, Callback.revisit_of_id.is_not(None))
    ).all()
    counts: Counter[str] = Counter()
    revisits = 0
    for state, revisit, n in rows:
        if revisit:
            revisits += n
            continue
        group = next((key for key, (_label, states) in GROUPS.items() if state in states), "pending")
        counts[group] += n
    drawn = sum(n for key, n in counts.items() if key != "superseded")
    return {"drawn": drawn, "revisits": revisits, **{key: counts[key] for key in GROUPS}}


def progress_chart(progress: dict[str, Any]) -> Markup:
    parts = [Part(_(GROUPS[key][0]), progress[key], f"p-{key}") for key in PROGRESS]
    summary = "；".join(f"{p.label} {p.count}" for p in parts if p.count)
    return stacked_bar(parts, title=_("本周回访进度"), desc=summary or _("本周尚未抽样"))


# --- what needs someone now --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseLine:
    """A rectification case as the alerts list it: no citizen, only the window, the case and its times."""

    id: int
    callback_id: int
    window: str
    opened_at: datetime
    due_at: datetime
    days_over: int


def _lines(session: Session, cases: list[Rectification], now: datetime) -> list[CaseLine]:
    names = dict(session.execute(select(Window.id, Window.name).where(Window.id.in_({c.window_id for c in cases}))).all())
    return [CaseLine(c.id, c.callback_id, names.get(c.window_id, "—"), c.opened_at, c.due_at,
                     max((now - c.due_at).days, 0)) for c in cases]


def integrity_alerts(session: Session, hall: Hall, week: str) -> dict[str, Any]:
    """Open integrity cases of any week (篇2 二五: supervisors only), and the week's callbacks that raised an
    integrity alert."""
    cases = list(session.scalars(
        select(Rectification).where(Rectification.hall_id == hall.id, Rectification.integrity.is_(True),
                                    Rectification.state.in_(AWAITING_FEEDBACK))
        .order_by(Rectification.opened_at)))
    flagged = session.scalars(select(Callback).where(Callback.hall_id == hall.id, Callback.week == week))
    week_alerts = [c.id for c in flagged if flags_of(c).integrity_alert]
    return {"cases": _lines(session, cases, clock.now()), "week_alerts": week_alerts}


def overdue_cases(session: Session, hall: Hall, now: datetime) -> dict[str, Any]:
    """Cases past their 3-working-day deadline without feedback (篇2 五), most overdue first."""
    cases = list_cases(session, hall.id, now, only_overdue=True)
    return {"count": len(cases), "cases": _lines(session, cases[:SHOWN_CASES], now)}


def publication_status(session: Session, hall: Hall, week: str, now: datetime, has_calls: bool) -> dict[str, Any]:
    """Where the week's publication stands (篇2 六: 最长不超过一周): published, not due yet, due, or late."""
    published = latest_published(session, hall, week)
    ended = week_bounds(week, hall_zone(hall))[1]
    publish_by = ended + PUBLISH_WITHIN
    if published is not None:
        state = "published"
    elif not has_calls:
        state = "nothing"
    elif now < ended:
        state = "open"
    else:
        state = "late" if now >= publish_by else "due"
    return {"state": state, "published": published, "publish_by": publish_by, "days_late": max((now - publish_by).days, 0)}


def evaluator_week(session: Session, hall: Hall, week: str) -> dict[str, Any]:
    """The evaluator presses made in the week (local time), in all and by window."""
    start, end = week_bounds(week, hall_zone(hall))
    by_window = presses_by_window(session, hall.id, start, end)
    names = dict(session.execute(select(Window.id, Window.name).where(Window.hall_id == hall.id)).all())
    rows = sorted((names.get(wid, "—"), sum(c.values())) for wid, c in by_window.items())
    return {"total": sum(n for _name, n in rows), "windows": rows}


# --- charts -----------------------------------------------------------------------------------------------------------


def _marks() -> list[Mark]:
    t = DEFAULT_THRESHOLDS
    return [Mark(t.passing, _("合格")), Mark(t.good, _("良好")), Mark(t.excellent, _("优秀"))]


def window_chart(report: dict[str, Any]) -> Markup:
    bars = [Bar(w["window"], w["score"], _score_text(w), GRADE_CSS.get(w["grade"] or "", "")) for w in report["windows"]]
    desc = "；".join(f"{b.label} {b.text}" for b in bars) or _("本周还没有得分")
    return bar_chart(bars, title=_("%(week)s 各窗口得分", week=report["week"]), desc=desc, marks=_marks())


def _score_text(row: dict[str, Any]) -> str:
    if row["score"] is None:
        return _("无数据")
    return _("%(score).1f 分 %(grade)s（%(n)d）", score=row["score"], grade=_grade(row["grade"]), n=row["n"])


def score_trend(session: Session, hall: Hall, week: str, now: datetime,
                report: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The hall's score, grade and sample in each of the 12 weeks up to ``week`` (the weekly report's totals;
    ``report``: the week's own, already made)."""
    weeks = [shift(week, -i) for i in range(TREND_WEEKS - 1, -1, -1)]
    earlier = weekly_totals(session, hall, weeks[:-1], now)  # one statement per kind of row for the 11 weeks
    totals = [*earlier, (report or weekly_report(session, hall, week, now))["totals"]]
    return [{"week": w, "score": t["score"], "grade": t["grade"], "n": t["n"]} for w, t in zip(weeks, totals, strict=True)]


def trend_chart(trend: list[dict[str, Any]]) -> Markup:
    points = [Point(t["week"][-3:], t["score"], _trend_tip(t), GRADE_CSS.get(t["grade"] or "", "")) for t in trend]
    scored = [t for t in trend if t["score"] is not None]
    desc = "；".join(f"{t['week']} {t['score']:.1f}" for t in scored) or _("最近 12 周还没有得分")
    marks = _marks()
    return line_chart(points, title=_("最近 12 周全中心得分"), desc=desc, marks=marks,
                      minimum=axis_floor([t["score"] for t in trend], marks))


def _trend_tip(t: dict[str, Any]) -> str:
    if t["score"] is None:
        return _("%(week)s：无数据", week=t["week"])
    return _("%(week)s：%(score).1f 分 %(grade)s（样本 %(n)d）", week=t["week"], score=t["score"],
             grade=_grade(t["grade"]), n=t["n"])


def _grade(grade: str | None) -> str:
    return _(grade) if grade else ""  # never _(""): gettext answers the catalog's header for an empty id
