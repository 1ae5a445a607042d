"""Telephony commands: serve, dial, callbacks, run-week, call-me. Thin: each calls the services."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy.orm import Session

from callback.clitools import echo_json, fail, pass_settings
from callback.config import Settings
from callback.db import session_factory
from callback.models import Callback, Case, Contact, Hall
from callback.responses.states import INITIAL, CallbackState, Outcome, set_flags
from ivr.dialer import DialResult, dial_callback, due_callback_ids
from ivr.provider import wait_until_idle
from ivr.ratelimit import LocalRateLimiter, get_limiter

SIMULATED_CPS = 20.0
DEMO_PHONE = "+8613800138000"
SCRATCH_HALL, SCRATCH_HALL_NAME = "CALLME", "体验大厅"  # call-me's own hall, created on demand


def _now() -> datetime:
    return datetime.now(UTC)


def _actor() -> str:
    """The audit actor: $CALLBACK_ACTOR and the OS account (callback.clitools.resolve_actor)."""
    from callback.clitools import resolve_actor

    try:
        return resolve_actor()
    except ValueError as exc:
        fail(str(exc))


def _week(settings: Settings, week: str | None, now: datetime) -> str:
    from survey.weeks import week_of

    return week or week_of(now, ZoneInfo(settings.timezone))


def _hall(session: Session, settings: Settings, code: str | None) -> Hall:
    from callback.halls.services import UnknownHall, get_hall

    try:
        return get_hall(session, code or settings.default_hall)
    except UnknownHall as exc:
        fail(f"{exc}；请先导入受理台账 (callback import-ledger FILE)")
        raise


# --- serve / dial -------------------------------------------------------------------------------------------------


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址 (bind address)")
@click.option("--port", default=5000, show_default=True, type=int, help="监听端口 (port)")
@click.option("--production", is_flag=True,
              help="用 gunicorn 及 callback/web/gunicorn_conf.py 的配置运行 (exec gunicorn with the production config)")
def serve(host: str, port: int, production: bool) -> None:
    """启动 Web 服务（含 /ivr/ 电话回调）；生产环境加 --production — run the web app (development server unless
    --production, which execs gunicorn -c python:callback.web.gunicorn_conf 'callback.web.app:create_app()')."""
    import os
    import sys

    from werkzeug.serving import run_simple

    from callback.config import InsecureSettings
    from callback.web.app import create_app

    try:
        app = create_app()  # refuses development secrets in production, whichever server runs it
    except InsecureSettings as exc:
        fail(str(exc))
    if production:
        os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "-c", "python:callback.web.gunicorn_conf",
                                  "--bind", f"{host}:{port}", "callback.web.app:create_app()"])
    click.echo(f"回访服务已启动：http://{host}:{port}  (PUBLIC_BASE_URL={app.config['SETTINGS'].public_base_url})")
    run_simple(host, port, app, threaded=True, use_reloader=False)


@click.command("dial")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 [machine-readable]")
@pass_settings
def dial(settings: Settings, as_json: bool) -> None:
    """拨打所有已到期的回访（与 worker 定时任务相同）[place every call that is due now]。"""
    from ivr.provider import get_provider

    provider = get_provider(settings)
    with session_factory(settings.database_url)() as session:
        results = [dial_callback(session, cid, provider, settings, _now())
                   for cid in due_callback_ids(session, _now())]
    wait_until_idle(provider, timeout=600)
    if as_json:
        echo_json([r.as_dict() for r in results])
        return
    for r in results:
        click.echo(f"回访#{r.callback_id}: {_RESULT_LABELS.get(r.result, r.result)} {r.detail}".rstrip())
    click.echo(f"共处理 {len(results)} 条到期回访，拨出 {sum(r.result == 'placed' for r in results)} 通")


_RESULT_LABELS = {
    "placed": "已拨出", "skipped": "跳过（已被处理或未到期）", "deferred": "不在呼叫时段，顺延至",
    "opted_out": "已退订，不再呼叫", "error": "呼叫未能发起，稍后重试", "handed_off": "呼叫失败，转短信/无法联系",
}


# --- callbacks --week ---------------------------------------------------------------------------------------------


@click.command("callbacks")
@click.option("--week", help="要查看的 ISO 周，例如 2026-W48（默认本周）[ISO week]")
@click.option("--hall", "hall_code", help="中心代码（默认 DEFAULT_HALL）[hall code]")
@click.option("--transcript/--no-transcript", default=True, show_default=True,
              help="是否显示每条回访的通话记录（查看记入审计）[show transcripts]")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（号码始终打码）[machine-readable]")
@pass_settings
def callbacks(settings: Settings, week: str | None, hall_code: str | None, transcript: bool, as_json: bool) -> None:
    """查看某周回访：状态、呼叫、答案、通话记录（号码脱敏；查看通话记录记入审计）。"""
    from callback.responses.overview import (
        audit_transcript_views,
        describe,
        summary,
        transcript_lines,
        week_callbacks,
    )

    with session_factory(settings.database_url)() as session:
        hall = _hall(session, settings, hall_code)
        week = _week(settings, week, _now())
        rows = week_callbacks(session, week, hall.id)
        data = [describe(session, c, transcript=transcript) for c in rows]
        if transcript:
            audit_transcript_views(session, rows, _actor(), via="cli callbacks")
        counts = summary(rows)
        session.commit()
        if as_json:
            echo_json({"week": week, "hall": hall.code, "summary": counts, "callbacks": data})
            return
        _print_table(session, rows, week)
        if transcript:
            for row in data:
                click.echo(f"\n── 回访#{row['id']} {row['window']} {row['phone']} 通话记录")
                for line in transcript_lines(row):
                    click.echo(f"  {line}")


def _print_table(session: Session, rows: list[Callback], week: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from callback.responses.overview import GROUP_LABELS, STATE_LABELS, answer_keys, describe, summary

    table = Table(title=f"{week} 电话回访结果")
    for header in ("回访", "窗口", "号码", "结果", "次数", "答案1-6", "意见建议"):
        table.add_column(header, no_wrap=header != "意见建议")
    for callback in rows:
        info = describe(session, callback, transcript=False)
        table.add_row(str(callback.id), info["window"] or "", info["phone"],
                      STATE_LABELS.get(callback.state, callback.state), str(callback.attempts_used),
                      answer_keys(session, callback), (info["suggestion"] or "")[:16])
    console = Console(width=max(Console().width, 100))
    console.print(table)
    counts = summary(rows)
    console.print("  ".join(f"{GROUP_LABELS[g]} {n}" for g, n in counts.items()) + f"  合计 {len(rows)}")


# --- run-week -----------------------------------------------------------------------------------------------------


@click.command("run-week")
@click.option("--week", help="要抽取的 ISO 周，例如 2026-W48（默认本周）；往周在该周的日子里重放 [ISO week]")
@click.option("--hall", "hall_code", help="中心代码（默认 DEFAULT_HALL）[hall code]")
@click.option("--size", default=20, show_default=True, type=int, help="抽取人数（篇2 三(一)：每周 20 人）[sample size]")
@click.option("--seed", help="抽样种子，用于复现某次抽样 [draw seed]")
@click.option("--simulate", is_flag=True,
              help="用本机模拟器跑完整的一周：本地 Web 服务、快进时钟、重拨、短信、二次回访 [simulator, fast clock]")
@click.option("--cps", type=float,
              help=f"每秒呼叫数（默认 CALLS_PER_SECOND；模拟时 {SIMULATED_CPS:g}）[calls per second]")
@click.option("--mix/--hashed-citizens", default=True, show_default=True,
              help="未在 SIMULATOR_CITIZENS 中设定的模拟市民采用演示组合（各种情况都有）；--hashed-citizens "
                   "则按号码决定 [demo mix of behaviours]")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（号码始终打码）[machine-readable]")
@pass_settings
def run_week(settings: Settings, week: str | None, hall_code: str | None, size: int, seed: str | None,
             simulate: bool, cps: float | None, mix: bool, as_json: bool) -> None:
    """抽取一周样本并外呼。--simulate：用模拟器端到端跑完这一周（重拨、转短信及市民回复、已安排的二次回访；
    往周按该周的日期重放）；否则用配置的电话服务拨出已到期的回访，重拨由 worker 在呼叫时段内完成
    [draw the week and call]。"""
    if simulate:
        _simulate_week(settings, week, hall_code, size, seed, cps or SIMULATED_CPS, mix, as_json)
    else:
        _live_week(settings, week, hall_code, size, seed, cps, as_json)


def _draw(session: Session, settings: Settings, hall_code: str | None, week: str | None, size: int,
          seed: str | None, now: datetime) -> Any:
    from callback.draws.services import DrawError, draw_weekly_sample

    hall = _hall(session, settings, hall_code)
    try:
        result = draw_weekly_sample(session, hall, _week(settings, week, now), size=size, seed=seed, now=now,
                                    settings=settings)
    except DrawError as exc:
        fail(f"抽取失败：{exc}")
        raise
    session.commit()
    return result


def _simulate_week(settings: Settings, week: str | None, hall_code: str | None, size: int, seed: str | None,
                   cps: float, mix: bool, as_json: bool) -> None:
    from callback.web.app import create_app
    from ivr.localserver import LocalServer, SimClock
    from ivr.simulator import SimulatorProvider
    from ivr.simweek import replay_past_week, script_demo_mix, settle, waiting_revisits

    app = create_app({**asdict(settings), "telephony": "simulator"})
    clock = SimClock()
    app.config["CLOCK"] = clock
    echo = None if as_json else click.echo
    with LocalServer(app) as server, session_factory(settings.database_url)() as session:
        settings = server.settings
        provider = SimulatorProvider.from_settings(settings, start_delay=0.05)
        drawn = _draw(session, settings, hall_code, week, size, seed, clock.now())
        ids = [s.callback_id for s in drawn.sample]
        hall = session.get(Hall, drawn.draw.hall_id)
        start = replay_past_week(session, settings, hall, drawn.draw.week, ids, clock.now())
        if start is not None:
            clock = SimClock(start)
            app.config["CLOCK"] = clock
        revisits = waiting_revisits(session, hall.id)
        if mix:
            script_demo_mix(session, provider, ids + revisits)
        if echo:
            echo(f"{drawn.draw.week} 抽取 {len(ids)} 人（候选 {drawn.draw.candidates}，种子 {drawn.draw.seed}）")
            if start is not None:
                echo(f"按往周重放：模拟时钟从 {start.astimezone(ZoneInfo(settings.timezone)):%Y-%m-%d %H:%M} 开始")
        rounds = settle(session, provider, settings, clock, ids, LocalRateLimiter(cps), echo=echo)
        if revisits:
            if echo:
                echo(f"二次回访 {len(revisits)} 人")
            rounds += settle(session, provider, settings, clock, revisits, LocalRateLimiter(cps), echo=echo)
        print_week_outcomes(session, drawn, ids, rounds, as_json, revisits=revisits)


def print_week_outcomes(session: Session, drawn: Any, ids: list[int], rounds: int, as_json: bool,
                        revisits: list[int] | None = None) -> None:
    """The week's outcome table and one transcript (its view audited); the 二次回访 dialed with it, if any."""
    from callback.responses.overview import audit_transcript_views, describe, summary, week_callbacks
    from callback.responses.transcript import as_dicts, render_text

    rows = week_callbacks(session, drawn.draw.week, ids=ids)
    again = week_callbacks(session, None, ids=revisits) if revisits else []
    sample = _sample_for_transcript(rows)
    if sample is not None:
        audit_transcript_views(session, [sample], _actor(), via="cli run-week")
    session.commit()
    if as_json:
        echo_json({"draw": drawn.to_json(), "rounds": rounds, "summary": summary(rows),
                   "callbacks": [describe(session, c, transcript=False) for c in rows],
                   "revisits": [describe(session, c, transcript=False) for c in again],
                   "sample_transcript": as_dicts(session, sample.id) if sample else []})
        return
    _print_table(session, rows, drawn.draw.week)
    if again:
        _print_table(session, again, "二次回访")
    if sample is not None:
        click.echo(f"\n示例通话记录（回访#{sample.id}，{describe(session, sample, False)['phone']}）：")
        click.echo(render_text(session, sample.id))


def _sample_for_transcript(rows: list[Callback]) -> Callback | None:
    for wanted in (Outcome.COMPLETE, Outcome.PARTIAL, None):
        for callback in rows:
            if wanted is None or callback.outcome == wanted:
                return callback
    return None


def _live_week(settings: Settings, week: str | None, hall_code: str | None, size: int, seed: str | None,
               cps: float | None, as_json: bool) -> None:
    from ivr.provider import get_provider

    provider = get_provider(settings)
    limiter = LocalRateLimiter(cps) if cps else get_limiter(settings)
    with session_factory(settings.database_url)() as session:
        drawn = _draw(session, settings, hall_code, week, size, seed, _now())
        ids = [s.callback_id for s in drawn.sample]
        due = sorted(set(due_callback_ids(session, _now())) & set(ids))
        results: list[DialResult] = [dial_callback(session, cid, provider, settings, _now(), limiter=limiter)
                                     for cid in due]
        wait_until_idle(provider, timeout=600)
        if as_json:
            echo_json({"draw": drawn.to_json(), "dialed": [r.as_dict() for r in results]})
            return
        click.echo(f"{drawn.draw.week} 抽取 {len(ids)} 人；现在拨出 {sum(r.result == 'placed' for r in results)} 通。"
                   "未接通的将由 worker 在呼叫时段内自动重拨（callback callbacks --week 查看进度）。")


# --- call-me ------------------------------------------------------------------------------------------------------


@click.command("call-me")
@click.option("--callback", "callback_id", type=int,
              help="扮演这条待拨打回访的市民 [play the citizen of this drawn callback]")
@click.option("--phone", default=DEMO_PHONE, show_default=True, help="演示用的（虚构）号码 [the pretend number]")
@click.option("--hall", "hall_code",
              help=f"演示数据记入哪个中心（默认体验大厅 {SCRATCH_HALL}，不影响正式统计）[hall for the demo case]")
@pass_settings
def call_me(settings: Settings, callback_id: int | None, phone: str, hall_code: str | None) -> None:
    """亲自扮演市民：模拟器向本终端"来电"，您按键作答（不拨打真实号码）。演示办件、回访和整改记入体验大厅
    （CALLME），不改变任何中心的统计 [you play the citizen; nothing goes into a real hall unless --hall]。"""
    from callback.responses.overview import describe
    from callback.web.app import create_app
    from ivr.localserver import LocalServer, SimClock
    from ivr.simulator import SimulatorProvider
    from ivr.status import next_call_moment
    from ivr.terminal_agent import TerminalAgent

    app = create_app({**asdict(settings), "telephony": "simulator"})
    with LocalServer(app) as server, session_factory(settings.database_url)() as session:
        settings = server.settings
        callback = _callback_to_play(session, settings, callback_id, phone, hall_code)
        clock = SimClock(next_call_moment(session, settings, max(_now(), callback.next_action_at or _now())))
        app.config["CLOCK"] = clock
        provider = SimulatorProvider.from_settings(settings, start_delay=0.05)
        provider.attach_agent(session.get(Contact, callback.contact_id).phone, TerminalAgent)
        if callback_id is None:
            hall = session.get(Hall, callback.hall_id)
            click.echo(f"演示记录记入「{hall.name}」（{hall.code}），其他中心的统计不受影响")
        click.echo("电话响了……（模拟呼叫，不会拨打真实号码）")
        result = dial_callback(session, callback.id, provider, settings, clock.now(), limiter=LocalRateLimiter(0))
        if result.result != "placed":
            fail(f"未能拨出：{_RESULT_LABELS.get(result.result, result.result)} {result.detail}")
        provider.wait_idle(3600)
        session.expire_all()
        info = describe(session, session.get(Callback, callback.id), transcript=False)
        click.echo(f"\n回访#{info['id']} 结果：{info['state_label']}；答案：" +
                   "，".join(f"{a['label']}={a['meaning']}" for a in info["answers"].values()))


def _callback_to_play(session: Session, settings: Settings, callback_id: int | None, phone: str,
                      hall_code: str | None) -> Callback:
    if callback_id is not None:
        callback = session.get(Callback, callback_id)
        if callback is None or callback.state != CallbackState.DRAWN:
            fail(f"回访#{callback_id} 不存在或不在待呼叫状态")
        return callback
    return _demo_callback(session, settings, phone, hall_code)


def _demo_callback(session: Session, settings: Settings, phone: str, hall_code: str | None) -> Callback:
    """A one-off demo case and callback for the person at the terminal (marked DEMO-CALLME in the ledger), in the
    scratch hall unless ``--hall`` names one: a real hall's week and report never see it."""
    from callback.halls.services import ensure_hall
    from callback.models import Window
    from survey.weeks import week_of

    hall = ensure_hall(session, hall_code or SCRATCH_HALL, None if hall_code else SCRATCH_HALL_NAME)
    window = session.query(Window).filter_by(hall_id=hall.id, name="演示窗口").one_or_none()
    if window is None:
        window = Window(hall_id=hall.id, name="演示窗口")
        session.add(window)
    contact = session.query(Contact).filter_by(hall_id=hall.id, phone=phone).one_or_none()
    if contact is None:
        contact = Contact(hall_id=hall.id, phone=phone, kind="mobile")
        session.add(contact)
    if contact.opted_out_at is not None:
        fail("该号码已退订，不能再呼叫；请用 --phone 换一个号码")
    session.flush()
    now = _now()
    case_no = f"DEMO-CALLME-{now:%Y%m%d%H%M%S}-{secrets.token_hex(2)}"
    case = Case(hall_id=hall.id, case_no=case_no, window_id=window.id, contact_id=contact.id,
                item_name="个体工商户设立登记", item_kind="即办件", phone_raw=phone, accepted_at=now,
                row_hash=hashlib.sha256(case_no.encode()).hexdigest())
    session.add(case)
    session.flush()
    callback = Callback(hall_id=hall.id, case_id=case.id, contact_id=contact.id, window_id=window.id,
                        week=week_of(now, ZoneInfo(settings.timezone)), state=INITIAL, next_action_at=now,
                        token=secrets.token_urlsafe(16))
    set_flags(callback, demo=True)
    session.add(callback)
    session.commit()
    return callback



COMMANDS = [serve, dial, callbacks, run_week, call_me]
