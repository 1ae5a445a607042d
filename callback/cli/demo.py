"""`callback demo`: the whole weekly cycle on the embedded default — SQLite, inline work, simulated telephony.

Import the bundled ledger and the windows' evaluator export → draw week 2026-W48 → call everyone through the
simulator over real HTTP (retries on a fast clock) → SMS for those never reached → rectification cases opened,
most fed back in time and one late → a paper on-site form → the weekly report → November's 篇3 bulletin → one
console account per role (passwords generated here, printed once, stored only as hashes) and how to open the
console on the demo data. Everything a person sees is masked; nothing leaves this machine.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import sys
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy.orm import Session

from callback.clitools import fail, pass_settings
from callback.config import DEFAULT_INSTANCE, Settings
from callback.db import dispose_all, session_factory, transaction

SAMPLE_LEDGER = Path(__file__).parents[1] / "samples" / "sample-ledger-2026-11.csv"
SAMPLE_EVALUATOR = Path(__file__).parents[1] / "samples" / "sample-evaluator-2026-11.csv"
DEMO_WEEK = "2026-W48"
DEMO_START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 Asia/Shanghai, when beat draws the week
EVALUATOR_EXPORTED = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # Friday 18:00 Asia/Shanghai: the month so far
FEEDBACK_TEXT = "您反映的问题已整改：窗口已加强业务培训并公开办事流程，感谢您的监督。"
# A paper 征求意见表 (篇2 三(二)) filled in at the comprehensive window on the Wednesday; its 基本满意 on 按章办事
# opens a case that window's lead (a demo account below) answers in the console.
ONSITE_WINDOW = "综合受理窗口"
ONSITE_DAY = date(2026, 11, 25)
ONSITE_ANSWERS = "112111"
ONSITE_SUGGESTION = "材料清单能不能写得再细一点，第一次来没带齐。"
DEMO_ACTOR = "督查科（演示）"


def _heading(text: str) -> None:
    click.echo()
    click.secho(f"== {text} ==", bold=True)


def _demo_settings(settings: Settings) -> Settings:
    """A fresh SQLite file unless DATABASE_URL is set; simulator telephony; its own citizens registry."""
    instance = DEFAULT_INSTANCE / "demo"
    instance.mkdir(parents=True, exist_ok=True)
    database_url = settings.database_url
    if not os.environ.get("DATABASE_URL"):
        db = instance / "demo.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        database_url = f"sqlite:///{db}"
    citizens, state = instance / "citizens.json", instance / "simulator"
    citizens.unlink(missing_ok=True)
    shutil.rmtree(state, ignore_errors=True)  # the simulated phones' inboxes: each demo starts a fresh week
    os.environ["SIMULATOR_CITIZENS"] = str(citizens)
    os.environ["SIMULATOR_STATE_DIR"] = str(state)
    return replace(settings, database_url=database_url, telephony="simulator", redis_url="")


@click.command("demo")
@pass_settings
def demo(settings: Settings) -> None:
    """演示：用内置台账和模拟电话跑完整的一周回访 — the whole week on the simulator."""
    from callback.migrate import upgrade_to_head

    own_database = not os.environ.get("DATABASE_URL")
    settings = _demo_settings(settings)
    upgrade_to_head(settings.database_url)
    _refuse_a_second_week(settings)
    _import_sample(settings)
    import_evaluator_sample(settings)
    _run_week(settings)
    assessment_bulletin(settings)
    accounts = demo_accounts(settings)
    dispose_all()
    _next_steps(settings, own_database)
    _console_steps(settings, own_database, accounts)


def _refuse_a_second_week(settings: Settings) -> None:
    """A database given by DATABASE_URL that already holds the demo week cannot run it again (its cases are
    drawn, its rectifications answered): one line and exit 2, nothing written."""
    from sqlalchemy import select

    from callback.models import Callback, Hall

    with session_factory(settings.database_url)() as session:
        held = session.scalar(select(Callback.id).join(Hall, Hall.id == Callback.hall_id)
                              .where(Hall.code == settings.default_hall, Callback.week == DEMO_WEEK).limit(1))
    if held is not None:
        dispose_all()
        fail(f"该数据库已有演示周 {DEMO_WEEK} 的数据，请换一个空数据库或不设 DATABASE_URL "
             f"(the database already holds the demo week)")


def _import_sample(settings: Settings) -> None:
    from callback.halls.services import ensure_hall
    from callback.ledger.importer import import_file

    _heading("1. 导入受理台账 (ledger import)")
    with transaction(settings.database_url) as session:
        hall = ensure_hall(session, settings.default_hall, "示范县政务服务中心")
        # the export arrived the evening before the Monday draw (the draw only sees cases known at draw time)
        summary = import_file(session, hall, SAMPLE_LEDGER, now=DEMO_START - timedelta(hours=14))
    click.echo(f"{SAMPLE_LEDGER.name}（GBK 编码，首行为标题）：共 {summary.rows} 行 — 新增 {summary.imported}，"
               f"更新 {summary.updated}，未变 {summary.unchanged}，拒绝 {summary.rejected_total}")
    for row in summary.rejected:
        click.echo(f"  第 {row['row']} 行被拒绝：{row['reason']}")


def import_evaluator_sample(settings: Settings) -> None:
    """The windows' evaluator presses of the month, exported next to the ledger (篇2 六: combined per window)."""
    from callback.evaluator.services import import_file
    from callback.halls.services import ensure_hall

    _heading("1b. 导入电子评价器记录 (evaluator presses, 篇2 六)")
    with transaction(settings.database_url) as session:
        hall = ensure_hall(session, settings.default_hall, "示范县政务服务中心")
        summary = import_file(session, hall, SAMPLE_EVALUATOR, now=EVALUATOR_EXPORTED)
    click.echo(f"{SAMPLE_EVALUATOR.name}（GBK 编码，首行为标题，五级评价）：共 {summary.rows} 行 — "
               f"新增 {summary.imported}，更新 {summary.updated}，未变 {summary.unchanged}，拒绝 {summary.rejected_total}")
    for row in summary.rejected:
        click.echo(f"  第 {row['row']} 行被拒绝：{row['reason']}")


def _run_week(settings: Settings) -> None:
    from callback.web.app import create_app
    from ivr.localserver import LocalServer, SimClock
    from ivr.simulator import SimulatorProvider

    app = create_app({**asdict(settings)})
    clock = SimClock(DEMO_START)
    app.config["CLOCK"] = clock
    with LocalServer(app) as server, session_factory(settings.database_url)() as session:
        settings = server.settings
        provider = SimulatorProvider.from_settings(settings, start_delay=0.05)
        drawn = _draw(session, settings, clock.now())
        ids = [s.callback_id for s in drawn.sample]
        _calls(session, provider, settings, clock, ids)
        _outcomes(session, drawn, ids)
        _rectifications(session, settings, provider, clock)
        _onsite_form(session, settings, clock.now())
        _report(session, settings, clock.now())


def _draw(session: Session, settings: Settings, now: datetime) -> Any:
    from callback.display import pad
    from callback.draws.services import draw_weekly_sample
    from callback.halls.services import get_hall

    _heading(f"2. 每周随机抽取 {DEMO_WEEK} (weekly draw, 篇2 三(一))")
    result = draw_weekly_sample(session, get_hall(session, settings.default_hall), DEMO_WEEK, size=20, now=now,
                                settings=settings)
    session.commit()
    payload = result.to_json()
    click.echo(f"候选 {payload['candidates']} 件，种子 {payload['seed']}，指纹 {payload['fingerprint'][:16]}…")
    click.echo(f"排除：{excluded_line(payload['excluded'])}")
    for row in payload["sample"]:
        click.echo(f"  回访#{row['callback_id']:<4} {row['case_no']}  {pad(row['window'], 16)}{row['phone']}")
    return result


def _calls(session: Session, provider: Any, settings: Settings, clock: Any, ids: list[int]) -> None:
    from ivr.ratelimit import LocalRateLimiter
    from ivr.simweek import script_demo_mix, settle

    _heading("3. 外呼与短信 (IVR calls on the simulator, retries, SMS fallback)")
    script_demo_mix(session, provider, ids)
    settle(session, provider, settings, clock, ids, LocalRateLimiter(20.0), echo=click.echo)


def _outcomes(session: Session, drawn: Any, ids: list[int]) -> None:
    from callback.cli.calls import print_week_outcomes

    _heading("4. 回访结果与示例通话记录 (outcomes and a transcript)")
    session.expire_all()
    print_week_outcomes(session, drawn, ids, 0, as_json=False)


def _rectifications(session: Session, settings: Settings, provider: Any, clock: Any) -> None:
    from callback.display import pad
    from callback.halls.services import get_hall
    from callback.rectification.services import (
        case_summary,
        give_feedback,
        list_cases,
        rectify,
        run_deadlines,
    )

    _heading("5. 整改：3 个工作日内反馈 (rectification, 篇2 五)")
    tz = ZoneInfo(settings.timezone)
    hall = get_hall(session, settings.default_hall)
    cases = [c for c in list_cases(session, hall.id, clock.now()) if not c.integrity]
    late = cases[-1] if cases else None
    for case in cases[:-1]:
        rectify(session, case, "已约谈窗口人员并加强业务培训", clock.now(), actor="窗口负责人")
        give_feedback(session, case, FEEDBACK_TEXT, clock.now(), actor="窗口负责人", via="phone")
    session.commit()
    if late is not None:
        clock.advance_to(late.due_at + timedelta(hours=10))  # the morning after the deadline
        run = run_deadlines(session, clock.now())
        rectify(session, late, "已补充一次性告知单", clock.now(), actor="窗口负责人")
        give_feedback(session, late, FEEDBACK_TEXT, clock.now(), actor="窗口负责人", via="phone")
        session.commit()
        click.echo(f"到期提醒 {len(run.reminded)} 件，超期督办 {len(run.escalated)} 件")
    for case in list_cases(session, hall.id, clock.now()):
        row = case_summary(case, clock.now(), tz)
        due = row["due_at"][:16].replace("T", " ")
        click.echo(f"  #{row['id']:<4} {pad(row['window'], 16)}{pad(row['state_label'], 8)}期限 {due}  "
                   f"原因：{'、'.join(row['reason_labels'])}  {_note(row)}")


def _note(row: dict[str, Any]) -> str:
    if row["integrity"]:
        return "【廉洁问题：仅督查科处理，窗口看不到】"
    return "【超期反馈】" if row.get("deadline") == "late" else ""


def _onsite_form(session: Session, settings: Settings, now: datetime) -> None:
    """One paper form of the week entered by the supervision office, through the same services as a call's
    answers (callback.responses.onsite); the report counts it against the target of 5."""
    from callback.halls.services import get_hall
    from callback.responses.entry import read_answers
    from callback.responses.onsite import ONSITE_TARGET, OnsiteForm, add_form
    from callback.responses.states import OUTCOME_LABELS
    from survey.privacy import mask_text

    _heading("5b. 现场征求意见表 (an on-site form, 篇2 三(二))")
    hall = get_hall(session, settings.default_hall)
    day = min(ONSITE_DAY, now.astimezone(ZoneInfo(settings.timezone)).date())
    form = OnsiteForm(ONSITE_WINDOW, day, read_answers(ONSITE_ANSWERS, ONSITE_SUGGESTION))
    result = add_form(session, hall, form, now, actor=DEMO_ACTOR)
    session.commit()
    click.echo(f"{result.window} {result.day:%m月%d日} 纸质征求意见表：答案 {result.keys}，"
               f"意见“{mask_text(ONSITE_SUGGESTION)}” → {OUTCOME_LABELS[result.outcome]}（现场，本周目标 {ONSITE_TARGET} 份）")
    if result.rectification_id is not None:
        click.echo(f"  有“基本满意”，开立整改#{result.rectification_id}：{result.window}负责人 3 个工作日内反馈")


def _report(session: Session, settings: Settings, now: datetime) -> None:
    from callback.halls.services import get_hall
    from callback.results.cli_report import print_report
    from callback.results.report import weekly_report

    _heading(f"6. 周通报 {DEMO_WEEK} (weekly results per window, DESIGN §3)")
    print_report(weekly_report(session, get_hall(session, settings.default_hall), DEMO_WEEK, now))


DEMO_MONTH = "2026-11"
ASSESSED_AT = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # Tuesday 12-01 09:00 Asia/Shanghai: the month is over
SAMPLE_ENTRIES = (  # what the supervision office recorded for November (篇3 二): (staff, clause, fields)
    ("张伟", "一1", {"grade": "self_recorded", "note": "11月5日迟到，已自觉打卡"}),
    ("李娜", "三2", {"grade": "dress", "note": "未按规定着装"}),
    ("王芳", "七4", {"count": 2, "note": "群众赠送锦旗2面"}),
    ("陈静", "七1", {"count": 3, "note": "满勤3周"}),
    ("赵敏", "五4", {"source": "district", "rating": "B", "note": "区级电话回访：办事结果基本满意"}),
)


def assessment_bulletin(settings: Settings) -> None:
    """篇3: the 综合受理窗口 marked as such, a few supervisors' entries, and November's bulletin (XLSX and
    printable HTML, 待审批) written next to the demo database."""
    from callback.assessment.bulletin import bulletin_xlsx, monthly_bulletin, render_bulletin_html
    from callback.assessment.cli import print_month
    from callback.assessment.entries import EntryInput, add_entry
    from callback.assessment.services import monthly_assessment
    from callback.halls.services import get_hall
    from callback.halls.windows import set_window_role

    _heading(f"7. 月度考核简报 {DEMO_MONTH}（前台工作人员考核，篇3）")
    with transaction(settings.database_url) as session:
        hall = get_hall(session, settings.default_hall)
        set_window_role(session, hall, "综合受理窗口", "comprehensive", ASSESSED_AT, actor="演示")
        for staff, clause, fields in SAMPLE_ENTRIES:
            add_entry(session, hall, EntryInput(staff=staff, clause=clause, month=DEMO_MONTH, **fields),
                      ASSESSED_AT, actor="督查科（演示）")
        print_month(monthly_assessment(session, hall, DEMO_MONTH, ASSESSED_AT))
        bulletin = monthly_bulletin(session, hall, DEMO_MONTH, ASSESSED_AT)
    folder = DEFAULT_INSTANCE / "demo"
    xlsx, html = folder / f"考核简报-{DEMO_MONTH}.xlsx", folder / f"考核简报-{DEMO_MONTH}.html"
    xlsx.write_bytes(bulletin_xlsx(bulletin))
    html.write_text(render_bulletin_html(bulletin), encoding="utf-8")
    click.echo(f"考核简报（{bulletin['status_label']}，领导审批后方可通报）已写入：")
    click.echo(f"  {xlsx}")
    click.echo(f"  {html}")


@dataclass(frozen=True)
class DemoAccount:
    """A console account the demo made, with the password generated for it (shown once, never stored)."""

    username: str
    role_label: str
    name: str
    window: str | None
    password: str


DEMO_ACCOUNTS = (  # username, role, display name; the window lead answers for ONSITE_WINDOW
    ("demo-supervisor", "supervisor", "张督查"),
    ("demo-window", "window_lead", "李窗口"),
    ("demo-leader", "leader", "王主任"),
    ("demo-admin", "admin", "赵管理"),
)


def demo_accounts(settings: Settings) -> list[DemoAccount]:
    """One console account per role in the demo hall, each with a new random password (issue 14: the demo ends
    on the console)."""
    from callback.accounts.roles import ROLE_LABELS, Role
    from callback.halls.services import get_hall

    made: list[DemoAccount] = []
    with transaction(settings.database_url) as session:
        hall = get_hall(session, settings.default_hall)
        for username, role_name, name in DEMO_ACCOUNTS:
            role = Role(role_name)
            window = ONSITE_WINDOW if role is Role.WINDOW_LEAD else None
            password = _new_password()
            if _put_account(session, hall, username, role, name, window, password):
                made.append(DemoAccount(username, ROLE_LABELS[role], name, window, password))
    return made


def _put_account(session: Session, hall: Any, username: str, role: Any, name: str, window: str | None,
                 password: str) -> bool:
    """Create the account through callback.accounts (scrypt hash, audit row); a name already taken in this
    database is left alone."""
    from callback.accounts.services import NewUser, create_user, get_user

    if get_user(session, username) is not None:
        click.echo(f"账号 {username} 已存在，未改动 (account exists; left alone)", err=True)
        return False
    create_user(session, hall, NewUser(username, password, role, display_name=name, window=window),
                actor=DEMO_ACTOR, at=datetime.now(UTC))
    return True


def _new_password() -> str:
    """16 random URL-safe characters (about 96 bits), generated for this run only."""
    from callback.accounts.services import AccountError, check_password

    while True:
        password = secrets.token_urlsafe(12)
        try:
            return check_password(password)
        except AccountError:  # too few distinct characters: astronomically rare, draw again
            continue


def excluded_line(excluded: dict[str, int]) -> str:
    """The draw's exclusions in words, every reason with its count (the labels of `callback draw`)."""
    from callback.draws.cli import REASON_LABELS
    from callback.draws.services import EXCLUSION_REASONS

    return "，".join(f"{REASON_LABELS[r]} {excluded.get(r, 0)} 件" for r in EXCLUSION_REASONS)


def _next_steps(settings: Settings, own_database: bool) -> None:
    """Where the week is kept and what to try next. The commands read DATABASE_URL: the demo's own file has to
    be named for them (the URL is printed with any password hidden)."""
    from sqlalchemy.engine import make_url

    from callback.display import pad

    url = make_url(settings.database_url)
    _heading("演示结束：接下来可以试试 (what to try next)")
    if own_database:
        click.echo(f"本次演示的数据库：{url.database}")
        click.echo("先在同一个终端里指向它：")
        click.echo(f"  export DATABASE_URL={settings.database_url}")
    else:
        click.echo(f"本次演示写入了 DATABASE_URL 指向的数据库：{url.render_as_string(hide_password=True)}")
    steps = [(f"{_program()} {command}", what) for command, what in (
        (f"callbacks --week {DEMO_WEEK}", "每条回访的状态、答案和通话记录"),
        (f"report --week {DEMO_WEEK} --xlsx out.xlsx", "周通报导出为 Excel"),
        ("rectifications", "整改案件及期限"),
        (f"assess --month {DEMO_MONTH}", "前台工作人员月度考核（篇3）：各部分得分、附加分和总分"),
        ("call-me", "您来扮演市民接一次回访电话（记入体验大厅，不影响上面的统计）"))]
    width = max(len(command) for command, _ in steps) + 2
    for command, what in steps:
        click.echo(f"  {pad(command, width)}# {what}")


CONSOLE_URL = "http://127.0.0.1:5000/console/"


def _console_steps(settings: Settings, own_database: bool, accounts: list[DemoAccount]) -> None:
    """How to open the console on the demo data: `callback serve` with the demo's database, the simulator's
    folder (the recordings play from there) and a SECRET_KEY of this run's own — not needed on loopback with the
    simulator, where the development key is accepted, but then no one can sign a session with the published
    key — the URL, and each account's password, shown this once."""
    from callback.display import pad

    _heading("监督工作台：用演示数据打开 (open the console on the demo data)")
    env = {"DATABASE_URL": settings.database_url} if own_database else {}
    env |= {"SIMULATOR_STATE_DIR": os.environ["SIMULATOR_STATE_DIR"], "SECRET_KEY": secrets.token_hex(32)}
    click.echo("在另一个终端里启动 Web 服务" + ("" if own_database else "（使用当前的 DATABASE_URL）") + "：")
    for name, value in env.items():
        click.echo(f"  {name}={shlex.quote(value)} \\")
    click.echo(f"  {_program()} serve")
    click.echo("然后用浏览器打开：")
    click.echo(f"  {CONSOLE_URL}")
    click.echo(f"  {CONSOLE_URL}week?week={DEMO_WEEK}    # 演示周 {DEMO_WEEK} 的本周概况")
    if not accounts:
        return
    click.echo("演示账号（密码为本次随机生成，只显示这一次；数据库中只保存其散列值）：")
    for account in accounts:
        where = f"  {account.window}" if account.window else ""
        click.echo(f"  {pad(account.role_label, 12)}{pad(account.name, 8)}用户名 {pad(account.username, 17)}"
                   f"密码 {account.password}{where}")


def _program() -> str:
    """How to call this CLI again: ``callback`` when that is on PATH, else the path it was started by (``make
    demo`` runs .venv/bin/callback without activating the virtualenv)."""
    started, found = Path(sys.argv[0]), shutil.which("callback")
    if started.name != "callback" or (found and Path(found).resolve() == started.resolve()):
        return "callback"
    return str(started)


COMMANDS = [demo]
