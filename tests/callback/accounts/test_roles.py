"""The permission table (callback.accounts.roles): the rules of issue 14 §1 read straight off the data."""

from __future__ import annotations

import pytest

from callback.accounts.roles import PERMISSIONS, ROLE_LABELS, Action, Role, can, parse_role, role_label

# what shows a citizen, an integrity case, a figure or the whole hall: never a window lead's (DESIGN §1)
NEVER_FOR_WINDOW_LEADS = {
    Action.CALLBACKS_VIEW, Action.PERSONAL_REVEAL, Action.INTEGRITY_VIEW, Action.RECTIFY_ALL, Action.RESULTS_VIEW,
    Action.ASSESSMENT_VIEW, Action.DASHBOARD, Action.AUDIT_VIEW, Action.STAFF_CALL, Action.DRAW_VIEW,
}
CHANGES = {
    Action.ANSWER_CORRECT, Action.PERSONAL_REVEAL, Action.STAFF_CALL, Action.ONSITE_ENTER, Action.RECTIFY_RESPOND,
    Action.RECTIFY_REVIEW, Action.IMPORTS, Action.DRAW_RUN, Action.RESULTS_PUBLISH, Action.ASSESSMENT_ENTER,
    Action.ADMIN_USERS, Action.ADMIN_HALL, Action.ADMIN_TOKENS, Action.ADMIN_CALENDAR, Action.ADMIN_PROMPTS,
}


def test_every_role_has_a_row_a_label_the_home_page_and_its_own_account() -> None:
    assert set(PERMISSIONS) == set(Role) == set(ROLE_LABELS)
    assert all(can(role, Action.HOME) and can(role, Action.OWN_ACCOUNT) for role in Role)


def test_every_action_is_granted_to_someone() -> None:
    granted = set().union(*PERMISSIONS.values())
    assert granted == set(Action)


def test_a_window_lead_answers_their_windows_cases_and_sees_nothing_else() -> None:
    lead = PERMISSIONS[Role.WINDOW_LEAD]
    assert {Action.RECTIFY_OWN_WINDOW, Action.RECTIFY_RESPOND} <= lead
    assert not lead & NEVER_FOR_WINDOW_LEADS


def test_the_supervisor_does_everything_in_the_hall_but_administration_and_approval() -> None:
    supervisor = PERMISSIONS[Role.SUPERVISOR]
    admin_only = {Action.ADMIN_USERS, Action.ADMIN_HALL, Action.ADMIN_TOKENS, Action.ADMIN_CALENDAR,
                  Action.ADMIN_PROMPTS}
    assert supervisor == set(Action) - admin_only - {Action.RESULTS_APPROVE, Action.RECTIFY_OWN_WINDOW,
                                                    Action.RECTIFY_RESPOND, Action.OWN_SCORES}


def test_the_leader_reads_everything_the_supervisor_reads_and_only_approves() -> None:
    leader = PERMISSIONS[Role.LEADER]
    reads = PERMISSIONS[Role.SUPERVISOR] - CHANGES - {Action.OPTOUT_LOOKUP}
    assert reads <= leader
    assert leader & CHANGES == set() and Action.RESULTS_APPROVE in leader
    assert not can(Role.SUPERVISOR, Action.RESULTS_APPROVE)  # the one who publishes does not approve


def test_the_admin_administers_and_reads_no_survey_data() -> None:
    admin = PERMISSIONS[Role.ADMIN]
    assert {Action.ADMIN_USERS, Action.ADMIN_HALL, Action.ADMIN_TOKENS, Action.ADMIN_CALENDAR,
            Action.ADMIN_PROMPTS, Action.OPTOUT_LOOKUP} <= admin
    assert not admin & (NEVER_FOR_WINDOW_LEADS | {Action.RECTIFY_OWN_WINDOW})


def test_staff_see_only_their_own_scores() -> None:
    assert PERMISSIONS[Role.STAFF] == {Action.HOME, Action.OWN_ACCOUNT, Action.OWN_SCORES}


def test_an_unknown_role_may_do_nothing() -> None:
    assert not any(can("root", action) for action in Action)


@pytest.mark.parametrize(("text", "role"), [("supervisor", Role.SUPERVISOR), ("督查科", Role.SUPERVISOR),
                                            (" window_lead ", Role.WINDOW_LEAD), ("中心领导", Role.LEADER)])
def test_parse_role_takes_the_name_or_the_chinese_label(text: str, role: Role) -> None:
    assert parse_role(text) is role
    assert role_label(role) == ROLE_LABELS[role]


def test_parse_role_refuses_anything_else_in_one_chinese_line() -> None:
    with pytest.raises(ValueError, match="^未知角色 'boss'，可选：supervisor（督查科）"):
        parse_role("boss")
