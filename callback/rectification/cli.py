"""`callback rectifications | rectify | feedback | close | revisit` (docs/architecture.md §Rectification cases);
`callback deadlines` is callback/results/cli_deadlines.py (it shows publication deadlines too).

CASE is a rectification id or the ledger case number (办件编号) it came from. Output never shows a citizen's
name or number.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.clitools import actor_option, echo_json, fail, pass_settings, provider_for
from callback.config import Settings
from callback.db import transaction
from callback.display import pad
from callback.models import Case, Hall
from callback.models.rectification import Rectification
from callback.rectification import services as svc
from survey.privacy import mask_text


def now() -> datetime:
    """The CLI's clock (tests replace it)."""
    return datetime.now(UTC)


hall_option = click.option("--hall", "hall_code", default=None, help="中心代码（默认 DEFAULT_HALL）[hall code]")
json_option = click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 [machine-readable]")


def _hall(session: Session, settings: Settings, code: str | None) -> Hall:
    code = code or settings.default_hall
    hall = session.scalar(select(Hall).where(Hall.code == code))
    if hall is None:
        fail(f"未知的中心代码 {code!r}")
    return hall


def _case(session: Session, hall: Hall, ref: str) -> Rectification:
    case = svc.find_case(session, hall.id, ref)
    if case is None:
        fail(f"找不到整改 {ref!r}（可用整改编号或办件编号）")
    return case


@click.command("rectifications")
@click.option("--open", "only_open", is_flag=True, help="只列出尚未反馈的整改 [open cases only]")
@click.option("--overdue", "only_overdue", is_flag=True, help="只列出已超期未反馈的整改 [overdue only]")
@click.option("--window", "window_name", default=None,
              help="只看某窗口（窗口视图：不含廉洁类整改）[one window's view]")
@json_option
@hall_option
@pass_settings
def rectifications(
    settings: Settings, only_open: bool, only_overdue: bool, window_name: str | None, as_json: bool, hall_code: str | None
) -> None:
    """列出整改：整改编号、回访编号、办件编号、窗口、原因、状态、期限，以及申请人所说内容的摘录（号码打码）
    [list rectification cases]。"""
    at = now()
    with transaction(settings.database_url) as session:
        hall = _hall(session, settings, hall_code)
        window_id = _window_id(session, hall, window_name) if window_name else None
        cases = svc.list_cases(session, hall.id, at, only_open=only_open, only_overdue=only_overdue,
                               window_id=window_id)
        ledger = _ledger_cases(session, cases)
        rows = [_listing(c, ledger.get(c.callback_id), at, ZoneInfo(hall.timezone)) for c in cases]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("没有符合条件的整改")
    for row in rows:
        click.echo(_line(row))
    if any(r["estimated"] for r in rows):
        click.echo("注意：标 * 的期限基于估算的工作日历（该年放假安排尚未载入）", err=True)


def _ledger_cases(session: Session, cases: list[Rectification]) -> dict[int, tuple[str, str | None]]:
    """callback id → (办件编号, applicant's name) of the ledger case each rectification came from, in one query."""
    from callback.models import Callback

    ids = [c.callback_id for c in cases]
    if not ids:
        return {}
    rows = session.execute(select(Callback.id, Case.case_no, Case.applicant)
                           .join(Case, Case.id == Callback.case_id).where(Callback.id.in_(ids)))
    return {callback_id: (case_no, applicant) for callback_id, case_no, applicant in rows}


def _listing(case: Rectification, ledger: tuple[str, str | None] | None, at: datetime, tz: ZoneInfo) -> dict[str, Any]:
    """case_summary plus what a supervisor needs to act: the callback, the 办件编号 and what the citizen said."""
    case_no, applicant = ledger or (None, None)
    return {**svc.case_summary(case, at, tz), "callback_id": case.callback_id, "case_no": case_no,
            "excerpt": citizen_words(case.excerpt, [applicant] if applicant else [])}


def citizen_words(excerpt: dict[str, Any], names: list[str]) -> str:
    """What the citizen said or texted — the suggestion and their own transcript lines stored in the case's
    excerpt (callback.rectification.services.build_excerpt), each once — masked again for display (survey.privacy),
    so a case stored before the masking rules changed shows no number or name either."""
    lines = [excerpt.get("suggestion") or ""] + [e.get("text") or "" for e in excerpt.get("transcript") or []]
    said = dict.fromkeys(line.strip() for line in lines if line and line.strip())
    return mask_text("；".join(said), names)


EXCERPT_CHARS = 60  # in the table; JSON carries the whole excerpt


def _window_id(session: Session, hall: Hall, name: str) -> int:
    from callback.models import Window

    window = session.scalar(select(Window).where(Window.hall_id == hall.id, Window.name == name))
    if window is None:
        fail(f"未知的窗口 {name!r} (unknown window)")
    return window.id


def _line(row: dict[str, Any]) -> str:
    due = row["due_at"][:16].replace("T", " ") + ("*" if row["estimated"] else "")
    flag = {"overdue": " 【超期】", "late": " 【逾期反馈】"}.get(row["deadline"], "")
    line = (f"#{row['id']:<5} 回访#{row['callback_id']:<6} 办件 {pad(row['case_no'] or '-', 16)} "
            f"{pad(row['window'], 14)} {pad(row['state_label'], 6)} 期限 {due}  "
            f"原因：{'、'.join(row['reason_labels'])}{flag}")
    said = row["excerpt"]
    if said:
        shown = said if len(said) <= EXCERPT_CHARS else said[: EXCERPT_CHARS - 1] + "…"
        line += f"\n       申请人说：「{shown}」"
    return line


def _transition(settings: Settings, hall_code: str | None, ref: str, act: Callable[[Session, Rectification], Any]) -> dict:
    try:
        with transaction(settings.database_url) as session:
            hall = _hall(session, settings, hall_code)
            case = _case(session, hall, ref)
            act(session, case)
            return svc.case_summary(case, now(), ZoneInfo(hall.timezone))
    except svc.RectificationError as exc:
        fail(str(exc))
        raise AssertionError from exc  # unreachable: fail() exits


@click.command("rectify")
@click.argument("case_ref", metavar="CASE")
@click.option("--action", required=True, help="整改措施（做了哪些整改）[what was fixed]")
@json_option
@hall_option
@actor_option
@pass_settings
def rectify(settings: Settings, case_ref: str, action: str, as_json: bool, hall_code: str | None, actor: str) -> None:
    """登记整改措施：待整改 → 已整改 [record the rectification]。CASE 为整改编号或办件编号。"""
    row = _transition(settings, hall_code, case_ref, lambda s, c: svc.rectify(s, c, action, now(), actor=actor))
    echo_json(row) if as_json else click.echo(f"整改#{row['id']} 已登记整改措施")


@click.command("feedback")
@click.argument("case_ref", metavar="CASE")
@click.option("--text", "text", required=True, help="反馈给申请人的内容 [feedback to the citizen]")
@click.option("--via", type=click.Choice(["sms", "phone"]), default="sms", show_default=True,
              help="sms：经短信通道发送；phone：登记已电话告知")
@json_option
@hall_option
@actor_option
@pass_settings
def feedback(
    settings: Settings, case_ref: str, text: str, via: str, as_json: bool, hall_code: str | None, actor: str
) -> None:
    """登记（或经短信发送）对申请人的反馈：已整改 → 已反馈 [give feedback to the citizen]。"""
    failure: list[str] = []

    def act(session: Session, case: Rectification) -> None:
        try:
            svc.give_feedback(session, case, text, now(), actor=actor, via=via, settings=settings,
                              provider=provider_for(settings) if via == "sms" else None)
        except svc.FeedbackNotSent as exc:  # keep the failed outbox row and its event
            failure.append(str(exc))

    row = _transition(settings, hall_code, case_ref, act)
    if failure:
        fail(failure[0], code=1)
    echo_json(row) if as_json else click.echo(f"整改#{row['id']} 已反馈（{'短信' if via == 'sms' else '电话'}）")


@click.command("close")
@click.argument("case_ref", metavar="CASE")
@click.option("--note", default=None, help="办结说明 [closing note]")
@click.option("--no-feedback", "no_feedback", is_flag=True,
              help="申请人的意见无需反馈，不经反馈直接办结（须用 --reason 说明原因；篇2 五「需要反馈的」）"
                   "[close without feedback]")
@click.option("--reason", default=None, help="无需反馈的原因（与 --no-feedback 一并使用）[why no feedback is needed]")
@json_option
@hall_option
@actor_option
@pass_settings
def close(
    settings: Settings, case_ref: str, note: str | None, no_feedback: bool, reason: str | None, as_json: bool,
    hall_code: str | None, actor: str,
) -> None:
    """办结整改：已反馈 → 已办结；或 --no-feedback --reason：待整改/已整改 → 已办结（无需反馈，记入审计，
    二次回访照常安排）[close the case]。"""
    if reason is not None and not no_feedback:
        fail("--reason 只与 --no-feedback 一起使用 (--reason goes with --no-feedback)")
    row = _transition(settings, hall_code, case_ref, lambda s, c: svc.close(
        s, c, now(), actor=actor, note=note, without_feedback=no_feedback, reason=reason, settings=settings))
    if as_json:
        echo_json(row)
    else:
        click.echo(f"整改#{row['id']} 已办结" + ("（无需反馈）" if no_feedback else ""))


@click.command("revisit")
@click.argument("case_ref", metavar="CASE")
@json_option
@hall_option
@actor_option
@pass_settings
def revisit(settings: Settings, case_ref: str, as_json: bool, hall_code: str | None, actor: str) -> None:
    """安排二次回访（反馈或无需反馈办结之后，或超期之后）：生成一条新的待拨打回访，与首次回访关联；
    每件整改只有一次二次回访，已安排的直接显示 [schedule the second callback]。

    首次回访不满意（或基本满意）的整改，二次回访会在反馈后、无需反馈办结时或超期时自动安排。"""
    made: list[tuple[int, bool]] = []

    def act(session: Session, case: Rectification) -> None:
        existed = case.revisit_callback_id is not None
        made.append((svc.schedule_revisit(session, case, now(), actor=actor, settings=settings).id, existed))

    row = _transition(settings, hall_code, case_ref, act)
    callback_id, existed = made[0]
    if as_json:
        echo_json({"rectification_id": row["id"], "callback_id": callback_id, "existing": existed})
    elif existed:
        click.echo(f"整改#{row['id']} 已有二次回访（回访#{callback_id}），未重复安排")
    else:
        click.echo(f"整改#{row['id']} 已安排二次回访（回访#{callback_id}）")


COMMANDS = [rectifications, rectify, feedback, close, revisit]
