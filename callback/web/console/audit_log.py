"""The audit log (审计日志, issue 14 §9): who did what, when and from where in the hall — console accounts (with
their address), the command line and the system — filterable by who, what, on what and a date range, 50 a page,
newest first. For supervisors and the centre's leaders (Action.AUDIT_VIEW).

An event's detail is shown without personal data (DESIGN §6): every text in it goes through
`survey.privacy.mask_text` again (the services never put a citizen's number or name there, but a reason typed by a
person might hold a number), and long values are cut short. Reading the log is not itself audited: it shows
no personal data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.accounts.roles import N_, Action
from callback.db import db_session
from callback.models import AuditEvent, Hall
from callback.web.console import clock
from callback.web.console.auth import permission_required
from callback.web.console.blueprint import bp
from callback.web.console.callbacks import hall_zone
from survey.privacy import mask_text
from survey.weeks import local_midnight

PAGE_SIZE = 50
MAX_VALUE = 120
MAX_FILTER = 100

# What each action is called (message ids); an action not named here is shown as it is stored.
ACTIONS: dict[str, str] = {
    "login": N_("登录"), "login_failed": N_("登录失败"), "login_refused": N_("登录被拒绝"), "account_locked": N_("账号锁定"),
    "logout": N_("退出登录"), "session_expired": N_("登录超时"), "user_created": N_("新建账号"),
    "user_disabled": N_("停用账号"), "user_enabled": N_("启用账号"), "password_set": N_("设置密码"),
    "password_change_refused": N_("修改密码被拒绝"), "language_set": N_("更改界面语言"),
    "view_transcript": N_("查看回访记录"), "transcript_viewed": N_("查看回访记录"), "recording_played": N_("收听录音"),
    "reveal": N_("查看个人信息原文"), "answer_corrected": N_("更正答案"), "integrity_alert": N_("廉洁提醒"),
    "opted_out": N_("退订"), "onsite_form": N_("录入现场问卷"), "manual_result": N_("录入人工回访"),
    "manual_result_entered": N_("录入人工回访"), "draw": N_("抽样"), "redraw": N_("重新抽样"), "draw_verified": N_("核验抽样"),
    "purge": N_("清除过期个人信息"), "personal_data_purged": N_("个人信息已清除"), "recording_deleted": N_("删除录音"),
    "number_returned": N_("号码恢复"), "hall_created": N_("新建中心"), "hall_renamed": N_("中心改名"),
    "window_role_set": N_("设置窗口类型"), "bulletin_approved": N_("审批考核简报"), "calendar_loaded": N_("载入工作日历"),
    "prompt_edited": N_("修改语音提示"), "prompt_reset": N_("恢复默认语音提示"), "optout_lookup": N_("退订查询"),
    "results_exported": N_("导出结果"), "results_approved": N_("审批公示"), "results_published": N_("公示结果"),
    "rectification_viewed": N_("查看整改"), "rectifications_listed": N_("查看整改列表"),
    "rectification_responded": N_("提交整改"), "rectification_accepted": N_("整改通过"),
    "rectification_returned": N_("整改退回"), "rectification_closed_without_feedback": N_("整改办结（无需反馈）"),
    "staff_call_placed": N_("专人回访拨打"), "staff_call_page_viewed": N_("打开专人回访"),
    "assessment_exported": N_("导出考核"), "assessment_bulletin_exported": N_("导出考核简报"),
}
ENTITIES: dict[str, str] = {
    "callback": N_("回访"), "answer": N_("答案"), "user": N_("账号"), "contact": N_("号码"), "draw": N_("抽样"),
    "hall": N_("中心"), "window": N_("窗口"), "rectification": N_("整改"), "retention": N_("保存期限"),
    "token": N_("接口令牌"), "staff": N_("工作人员"), "prompt": N_("语音提示"), "calendar": N_("工作日历"),
    "alert_recipient": N_("提醒接收人"), "assessment_entry": N_("考核记录"), "import_batch": N_("导入批次"),
}

# What the keys of a detail are called (message ids); another key is shown as it is stored.
DETAIL_KEYS: dict[str, str] = {
    "username": N_("用户名"), "reason": N_("理由"), "field": N_("内容"), "item": N_("题目"), "old": N_("原值"),
    "new": N_("新值"), "old_key": N_("原按键"), "new_key": N_("新按键"), "original": N_("市民原答案"), "via": N_("途径"),
    "week": N_("周次"), "source": N_("来源"), "role": N_("角色"), "callback_id": N_("回访"), "failures": N_("失败次数"),
    "until": N_("锁定至"), "window": N_("窗口"), "date": N_("日期"), "keys": N_("答案"),
}
DETAIL_VALUES: dict[str, str] = {"phone": N_("号码"), "suggestion": N_("意见建议"), "console": N_("监督工作台")}


@dataclass(frozen=True)
class LogFilters:
    actor: str = ""
    action: str = ""
    entity: str = ""
    start: date | None = None
    end: date | None = None
    page: int = 1

    def args(self, **changes: Any) -> dict[str, Any]:
        f = replace(self, **changes)
        values = {"actor": f.actor, "action": f.action, "entity": f.entity,
                  "from": f.start.isoformat() if f.start else "", "to": f.end.isoformat() if f.end else "",
                  "page": f.page if f.page > 1 else ""}
        return {k: v for k, v in values.items() if v}


def read_log_filters(args: Any) -> LogFilters:
    """The filters from the query string; a malformed date or page is left out."""
    page = args.get("page", "")
    return LogFilters(actor=(args.get("actor") or "").strip()[:MAX_FILTER],
                      action=(args.get("action") or "").strip()[:MAX_FILTER],
                      entity=(args.get("entity") or "").strip()[:MAX_FILTER],
                      start=_day(args.get("from")), end=_day(args.get("to")),
                      page=int(page) if page.isdigit() and 0 < len(page) < 7 and int(page) > 0 else 1)


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return None


def _query(hall: Hall, f: LogFilters) -> Any:
    query = select(AuditEvent).where(AuditEvent.hall_id == hall.id)
    if f.actor:
        escaped = f.actor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(AuditEvent.actor).like(f"%{escaped.lower()}%", escape="\\"))
    if f.action:
        query = query.where(AuditEvent.action == f.action)
    if f.entity:
        query = query.where(AuditEvent.entity == f.entity)
    if f.start:
        query = query.where(AuditEvent.at >= local_midnight(f.start, hall_zone(hall)))
    if f.end:
        query = query.where(AuditEvent.at < local_midnight(f.end + timedelta(days=1), hall_zone(hall)))
    return query


def find_events(session: Session, hall: Hall, f: LogFilters) -> tuple[list[AuditEvent], int]:
    """The page of the hall's events the filters select, newest first, and how many match in all."""
    query = _query(hall, f)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                           .limit(PAGE_SIZE).offset((f.page - 1) * PAGE_SIZE))
    return list(rows), total


def shown_detail(detail: dict[str, Any] | None) -> list[tuple[str, str]]:
    """An event's detail as (key, text) pairs for people: every text masked again, long values cut short."""
    out = []
    for key, value in (detail or {}).items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        text = mask_text(text)
        text = _(DETAIL_VALUES[text]) if text in DETAIL_VALUES else text
        name = _(DETAIL_KEYS[key]) if key in DETAIL_KEYS else str(key)
        out.append((name, text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"))
    return out


def _choices(session: Session, hall: Hall, column: Any) -> list[str]:
    return list(session.scalars(select(column).where(AuditEvent.hall_id == hall.id).distinct().order_by(column)))


@bp.route("/audit")
@permission_required(Action.AUDIT_VIEW)
def audit_log() -> Any:
    session = db_session()
    hall = session.get(Hall, current_user.hall_id)
    f = read_log_filters(request.args)
    events, total = find_events(session, hall, f)
    return render_template(
        "console/audit_log.html", events=events, total=total, f=f, pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        actions=_choices(session, hall, AuditEvent.action), entities=_choices(session, hall, AuditEvent.entity),
        action_names=ACTIONS, entity_names=ENTITIES, shown_detail=shown_detail, today=_today(hall))


def _today(hall: Hall) -> date:
    return clock.now().astimezone(hall_zone(hall)).date()
