"""The console's menu, as data: each entry names its page's endpoint, its label (a message id) and the actions
that show it (any of them). An entry appears once its page is registered and the user holds one of its actions,
so a helper adding a page registers the view under the endpoint named here (or adds a line)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request
from flask_babel import gettext as _
from flask_login import current_user

from callback.accounts.roles import N_, Action


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str  # a Simplified Chinese message id
    actions: tuple[Action, ...]


NAV: tuple[NavItem, ...] = (
    NavItem("console.home", N_("首页"), (Action.HOME,)),
    NavItem("console.dashboard", N_("本周概况"), (Action.DASHBOARD,)),
    NavItem("console.callbacks", N_("回访记录"), (Action.CALLBACKS_VIEW,)),
    NavItem("console.rectifications", N_("整改"), (Action.RECTIFY_ALL, Action.RECTIFY_OWN_WINDOW)),
    NavItem("console.onsite", N_("现场问卷"), (Action.ONSITE_ENTER,)),
    NavItem("console.imports", N_("台账与评价器"), (Action.IMPORTS,)),
    NavItem("console.draw", N_("抽样"), (Action.DRAW_VIEW,)),
    NavItem("console.results", N_("结果与公示"), (Action.RESULTS_VIEW,)),
    NavItem("console.assessment", N_("考核"), (Action.ASSESSMENT_VIEW,)),
    NavItem("console.my_scores", N_("我的得分"), (Action.OWN_SCORES,)),
    NavItem("console.audit_log", N_("审计日志"), (Action.AUDIT_VIEW,)),
    NavItem("console.admin_users", N_("账号管理"), (Action.ADMIN_USERS,)),
    NavItem("console.admin_hall", N_("中心与窗口"), (Action.ADMIN_HALL,)),
    NavItem("console.admin_tokens", N_("接口令牌"), (Action.ADMIN_TOKENS,)),
    NavItem("console.admin_calendar", N_("工作日历"), (Action.ADMIN_CALENDAR,)),
    NavItem("console.admin_prompts", N_("语音提示"), (Action.ADMIN_PROMPTS,)),
    NavItem("console.optout_lookup", N_("退订查询"), (Action.OPTOUT_LOOKUP,)),
    NavItem("console.account", N_("我的账号"), (Action.OWN_ACCOUNT,)),
)


@dataclass(frozen=True)
class NavLink:
    endpoint: str
    label: str  # translated
    current: bool


def nav_items() -> list[NavLink]:
    """The current user's menu: registered pages they may open, in order, the current one marked."""
    if not current_user.is_authenticated:
        return []
    views = current_app.view_functions
    return [NavLink(item.endpoint, _(item.label), request.endpoint == item.endpoint) for item in NAV
            if item.endpoint in views and any(current_user.can(a) for a in item.actions)]
