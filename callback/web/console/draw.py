"""The week's draw (篇2 三(一); issue 14 §6): its seed and fingerprint, the candidates and what was set aside (in
words), the sample with numbers masked; running this week's draw (Action.DRAW_RUN) and verifying a draw, with
the result in words. The rules are callback.draws.services (``draw_weekly_sample``, ``verify_draw``); this page
only calls them. A run is audited by the service (attributed to the account: ``attribution.acting``), a
verification by the page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from callback.accounts.roles import N_, Action
from callback.config import current_settings
from callback.db import db_session
from callback.draws.services import (
    EXCLUSION_REASONS,
    DrawError,
    draw_weekly_sample,
    drawn_sample,
    live_draw,
    verify_draw,
)
from callback.models import Draw, Hall
from callback.web.console import clock
from callback.web.console.attribution import acting
from callback.web.console.audit import audit
from callback.web.console.auth import permission_required
from callback.web.console.blueprint import bp
from survey.weeks import PeriodError, parse_week, week_dates, week_of

RECENT = 12
MAX_SIZE = 200

EXCLUSION_LABELS = {
    "no_dialable_number": N_("没有可拨打的号码"),
    "opted_out": N_("已退订"),
    "deny_listed": N_("内部或禁拨号码"),
    "already_drawn": N_("以前已被抽中"),
    "contacted_recently": N_("近期已联系过"),
}
VERIFY_LABELS = {
    "no_draw": N_("该周没有抽样记录"),
    "candidate_set_changed": N_("按抽样时刻重新推导的候选集与存档指纹不一致（台账或排除条件在抽样后被改动）"),
    "candidate_count_mismatch": N_("重新推导的候选数与存档不一致"),
    "sample_mismatch": N_("用存档种子重新抽样，得到的样本与存档样本不一致"),
    "callbacks_mismatch": N_("回访记录与存档样本不一致"),
}


class DrawRunForm(FlaskForm):
    size = IntegerField(_l("抽取人数"), default=20, validators=[
        DataRequired(message=_l("请输入 1–%(max)d 之间的整数", max=MAX_SIZE)),  # also replaces "not an integer"
        NumberRange(min=1, max=MAX_SIZE, message=_l("请输入 1–%(max)d 之间的整数", max=MAX_SIZE))],
        description=_l("篇2 三(一)：每周 20 人"), render_kw={"inputmode": "numeric"})
    per_window = IntegerField(_l("改为每个窗口各抽（可选）"), validators=[
        Optional(), NumberRange(min=1, max=50, message=_l("请输入 1–%(max)d 之间的整数", max=50))],
        description=_l("填写后按窗口分别抽取，每个窗口抽这么多人"), render_kw={"inputmode": "numeric"})
    reason = StringField(_l("重新抽取的原因"), validators=[Optional(), Length(max=500)],
                         description=_l("本周已有抽样时必填：原抽样作废（已拨打的回访保留），原因留档"))


@bp.route("/draw")
@permission_required(Action.DRAW_VIEW)
def draw() -> Any:
    hall = db_session().get(Hall, current_user.hall_id)
    return _page(hall, _week_arg(hall), DrawRunForm())


def _page(hall: Hall, week: str, form: DrawRunForm, status: int = 200) -> Any:
    session = db_session()
    current = live_draw(session, hall.id, week)
    recent = list(session.scalars(select(Draw).where(Draw.hall_id == hall.id).order_by(Draw.id.desc()).limit(RECENT)))
    return render_template(
        "console/draw.html", week=week, this_week=this_week(hall), days=week_dates(week), draw=_draw_view(current),
        sample=drawn_sample(session, current) if current else [], recent=recent, run_form=form,
        can_run=current_user.can(Action.DRAW_RUN), exclusion_labels=EXCLUSION_LABELS), status


def this_week(hall: Hall) -> str:
    return week_of(clock.now(), _tz(hall))


def _tz(hall: Hall) -> ZoneInfo:
    return ZoneInfo(hall.timezone or current_settings().timezone)


def _week_arg(hall: Hall) -> str:
    week = (request.args.get("week") or "").strip().upper() or this_week(hall)
    try:
        parse_week(week)
    except PeriodError:
        abort(404)
    return week


def _draw_view(row: Draw | None) -> dict[str, Any] | None:
    if row is None:
        return None
    params = row.params or {}
    return {"id": row.id, "drawn_at": row.drawn_at, "seed": row.seed, "fingerprint": row.fingerprint,
            "size": row.size, "per_window": row.per_window, "candidates": row.candidates,
            "excluded": [(reason, int((row.excluded or {}).get(reason, 0))) for reason in EXCLUSION_REASONS],
            "since": _moment(params.get("since")), "until": _moment(params.get("until")),
            "cooldown_days": params.get("cooldown_days"), "deny_listed": len(params.get("deny_list") or ()),
            "short": bool(params.get("short")), "reason": row.reason}


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@bp.route("/draw/run", methods=["POST"])
@permission_required(Action.DRAW_RUN)
def draw_run() -> Any:
    session = db_session()
    hall = session.get(Hall, current_user.hall_id)
    week, form = this_week(hall), DrawRunForm()
    existing = live_draw(session, hall.id, week)
    valid = form.validate_on_submit()
    if valid and existing is not None and not (form.reason.data or "").strip():
        form.reason.errors.append(_("本周已有抽样。如需重新抽取，请填写原因"))
        valid = False
    if not valid:
        return _page(hall, week, form, 400)
    try:
        with acting(session) as actor:
            result = draw_weekly_sample(
                session, hall, week, size=form.size.data, per_window=form.per_window.data or None,
                now=clock.now(), settings=current_settings(), actor=actor,
                redraw_reason=(form.reason.data or "").strip() if existing is not None else None)
    except DrawError as exc:
        session.rollback()
        form.form_errors.append(_("未抽样：%(problem)s", problem=str(exc)))
        return _page(hall, week, form, 400)
    session.commit()
    flash(_run_message(result.draw, len(result.sample), existing is not None), "success")
    return redirect(url_for("console.draw", week=week))


def _run_message(row: Draw, sampled: int, redrawn: bool) -> str:
    if redrawn:
        return _("已重新抽取 %(week)s：候选 %(n)d 件，抽中 %(k)d 件；原抽样已作废", week=row.week, n=row.candidates,
                 k=sampled)
    if (row.params or {}).get("short"):
        return _("已抽取 %(week)s：符合条件的候选不足，已全部抽取（%(k)d 件）", week=row.week, k=sampled)
    return _("已抽取 %(week)s：候选 %(n)d 件，抽中 %(k)d 件", week=row.week, n=row.candidates, k=sampled)


@bp.route("/draw/verify", methods=["POST"])
@permission_required(Action.DRAW_VIEW)
def draw_verify() -> Any:
    session = db_session()
    hall = session.get(Hall, current_user.hall_id)
    week = _week_arg(hall)  # the CSRF token was checked before the view (CSRFProtect)
    result = verify_draw(session, hall, week)
    audit("draw_verified", "draw", result.draw_id, week=week, ok=result.ok, reason=result.reason)
    session.commit()
    if result.ok:
        flash(_("%(week)s 的抽样核验通过：按抽样时刻重新推导的候选集指纹与存档一致，用存档种子重新抽样得到同样的样本，"
                "回访记录与样本一致", week=week), "success")
    else:
        flash(_("%(week)s 的抽样核验未通过：%(reason)s", week=week,
                reason=_(VERIFY_LABELS.get(result.reason or "", N_("原因不明")))), "error")
    return redirect(url_for("console.draw", week=week))
