"""Who may do what in the console: the roles and the permission table, as data in one place (issue 14 §1).

Views never compare role names: they ask ``can(role, Action.X)`` (the console's ``permission_required``
decorator does), and where a role sees only part of the hall they ask ``window_scope(user)``. A new page adds
its action here and grants it to the roles that need it; tests/callback/accounts/test_roles.py reads the table.

The rules (DESIGN §1, issue 14 §1):

* 督查科 supervisor — everything in the hall: callbacks, transcripts, recordings, corrections, reveals, staff
  calls, on-site forms, rectification review, imports, the draw, reports, publishing, the audit log.
* 窗口负责人 window lead — only their own window's rectification cases, which they answer; never an integrity
  case (廉洁), never who rated them, never a citizen's number, never a score (``window_scope`` confines them,
  and they hold none of the actions that show identities, integrity cases or figures).
* 中心领导 leader — reads everything a supervisor reads and approves publication; changes nothing else.
* 管理员 admin — users, hall, windows, staff, API tokens, the working-day calendar, prompt texts, opt-out lookup.
* 窗口人员 staff — their own monthly scores only (篇3; the assessment pages).

Labels are Simplified Chinese message ids, marked with ``N_`` so Babel extracts them (babel.cfg); the console
translates them when it shows them.
"""

from __future__ import annotations

from enum import StrEnum


def N_(text: str) -> str:  # noqa: N802 - the gettext convention for "mark for extraction, translate later"
    """Marks a message id for the catalog (babel.cfg extracts ``N_``) without translating it here."""
    return text


class Role(StrEnum):
    SUPERVISOR = "supervisor"
    WINDOW_LEAD = "window_lead"
    LEADER = "leader"
    ADMIN = "admin"
    STAFF = "staff"


class Action(StrEnum):
    """Everything the console lets someone do; each page or button needs one."""

    HOME = "home"  # the console's home page
    OWN_ACCOUNT = "account"  # one's own password and language
    DASHBOARD = "dashboard"  # this week at a glance
    CALLBACKS_VIEW = "callbacks.view"  # callback list and details, transcripts, recordings (each view audited)
    ANSWER_CORRECT = "answers.correct"  # correct a misheard answer, with a reason
    PERSONAL_REVEAL = "personal.reveal"  # unmask a citizen's number or spoken personal data, with a reason
    STAFF_CALL = "calls.staff"  # 拨打: bridge the user's desk phone to the citizen (篇2 四)
    ONSITE_ENTER = "onsite.enter"  # on-site forms (篇2 三(二)) and manual calls
    INTEGRITY_VIEW = "integrity.view"  # integrity (廉洁) alerts and cases, escalations
    RECTIFY_ALL = "rectifications.all"  # every rectification case of the hall
    RECTIFY_OWN_WINDOW = "rectifications.own_window"  # the window's own open cases (window lead)
    RECTIFY_RESPOND = "rectifications.respond"  # write what was fixed and what the citizen was told
    RECTIFY_REVIEW = "rectifications.review"  # accept, return or close a case
    IMPORTS = "imports"  # upload a ledger or evaluator file
    DRAW_VIEW = "draw.view"
    DRAW_RUN = "draw.run"
    RESULTS_VIEW = "results.view"  # weekly and monthly reports, XLSX, the board preview
    RESULTS_APPROVE = "results.approve"  # approve a week's or month's publication
    RESULTS_PUBLISH = "results.publish"
    ASSESSMENT_VIEW = "assessment.view"  # 篇3 figures of every staff member
    ASSESSMENT_ENTER = "assessment.enter"  # entries supervisors make (console form or XLSX)
    OWN_SCORES = "scores.own"  # a staff member's own monthly scores
    AUDIT_VIEW = "audit.view"
    ADMIN_USERS = "admin.users"
    ADMIN_HALL = "admin.hall"  # hall name, windows, staff
    ADMIN_TOKENS = "admin.tokens"
    ADMIN_CALENDAR = "admin.calendar"
    ADMIN_PROMPTS = "admin.prompts"
    OPTOUT_LOOKUP = "optout.lookup"  # is this number opted out? yes/no, never a list


_READ_ALL = frozenset({
    Action.HOME, Action.OWN_ACCOUNT, Action.DASHBOARD, Action.CALLBACKS_VIEW, Action.INTEGRITY_VIEW, Action.RECTIFY_ALL,
    Action.DRAW_VIEW, Action.RESULTS_VIEW, Action.ASSESSMENT_VIEW, Action.AUDIT_VIEW,
})

PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.SUPERVISOR: _READ_ALL | {
        Action.ANSWER_CORRECT, Action.PERSONAL_REVEAL, Action.STAFF_CALL, Action.ONSITE_ENTER,
        Action.RECTIFY_REVIEW, Action.IMPORTS, Action.DRAW_RUN, Action.RESULTS_PUBLISH, Action.ASSESSMENT_ENTER,
        Action.OPTOUT_LOOKUP,
    },
    Role.LEADER: _READ_ALL | {Action.RESULTS_APPROVE},
    Role.WINDOW_LEAD: frozenset({Action.HOME, Action.OWN_ACCOUNT, Action.RECTIFY_OWN_WINDOW, Action.RECTIFY_RESPOND}),
    Role.ADMIN: frozenset({
        Action.HOME, Action.OWN_ACCOUNT, Action.ADMIN_USERS, Action.ADMIN_HALL, Action.ADMIN_TOKENS, Action.ADMIN_CALENDAR,
        Action.ADMIN_PROMPTS, Action.OPTOUT_LOOKUP,
    }),
    Role.STAFF: frozenset({Action.HOME, Action.OWN_ACCOUNT, Action.OWN_SCORES}),
}

# Roles whose account names one window of the hall (and, for staff, one staff member).
WINDOW_ROLES = frozenset({Role.WINDOW_LEAD, Role.STAFF})

ROLE_LABELS: dict[Role, str] = {
    Role.SUPERVISOR: N_("督查科"),
    Role.WINDOW_LEAD: N_("窗口负责人"),
    Role.LEADER: N_("中心领导"),
    Role.ADMIN: N_("管理员"),
    Role.STAFF: N_("窗口人员"),
}

# Each language named in itself, whatever language the page is in (never translated).
LANGUAGES: dict[str, str] = {"zh-Hans": "简体中文", "zh-Hant": "繁體中文", "en": "English"}


def parse_role(value: str) -> Role:
    """The role a name or a Chinese label stands for; ValueError (one line, Chinese first) for anything else."""
    text = value.strip()
    for role, label in ROLE_LABELS.items():
        if text in (role.value, label):
            return role
    names = "、".join(f"{r.value}（{label}）" for r, label in ROLE_LABELS.items())
    raise ValueError(f"未知角色 {value!r}，可选：{names} (unknown role)")


def can(role: str | Role, action: Action) -> bool:
    """Whether ``role`` may do ``action``; an unknown role may do nothing."""
    try:
        return action in PERMISSIONS[Role(role)]
    except ValueError:
        return False


def role_label(role: str | Role) -> str:
    """The Simplified Chinese name of a role (the message id the console translates)."""
    try:
        return ROLE_LABELS[Role(role)]
    except ValueError:
        return str(role)
