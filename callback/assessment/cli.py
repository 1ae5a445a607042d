"""`callback assess`: the 篇3 staff assessment.

    callback assess --month 2026-11 [--json | --xlsx FILE]      each staff member's month (sections, bonus, total)
    callback assess --year 2026 [--json | --xlsx FILE]          annual scores, 优秀服务标兵, windows, 红旗窗口
    callback assess add --staff 张伟 --month 2026-11 --clause 一1 --count 2 [--grade …] --note … --actor NAME
    callback assess correct ENTRY_ID [--count N …] --reason … --actor NAME
    callback assess entries --month 2026-11                      every entry, corrected ones included
    callback assess template --month 2026-11 > 模板.xlsx          the entry template (or --out FILE, --csv)
    callback assess import FILE --actor NAME                     a filled-in template
    callback assess bulletin --month 2026-11 --xlsx F | --html F  the monthly bulletin
    callback assess approve --month 2026-11 --approved-by NAME   the leader's approval of the bulletin
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from callback.assessment import annual, bulletin, entries, services, template, workbook
from callback.clitools import actor_option, echo_json, fail, pass_settings
from callback.config import Settings
from callback.display import pad
from callback.halls.cli import hall_transaction
from survey.weeks import PeriodError, month_of

HALL_OPTION = click.option("--hall", "hall_code", default=None, help="中心代码（默认 DEFAULT_HALL）")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")


def now() -> datetime:
    """The CLI's clock (tests replace it)."""
    return datetime.now(UTC)


def _file(path: Path | None) -> None:
    if path is not None and not path.resolve().parent.is_dir():
        fail(f"目录不存在：{path.resolve().parent}")


def _write(path: Path, data: bytes | str) -> None:
    try:
        path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data, encoding="utf-8")
    except OSError as exc:
        fail(f"无法写入 {path}：{exc.strerror}")


# --- the month and the year ------------------------------------------------------------------------------------


@click.group("assess", invoke_without_command=True)
@click.option("--month", default=None, help="考核月份 YYYY-MM，例如 2026-11（默认本月）")
@click.option("--year", type=int, default=None, help="考核年度，例如 2026：年度成绩、优秀服务标兵、窗口综合考评")
@HALL_OPTION
@JSON_OPTION
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=Path), default=None, help="另存为 Excel 工作簿")
@click.pass_context
def assess(ctx: click.Context, month: str | None, year: int | None, hall_code: str | None, as_json: bool,
           xlsx: Path | None) -> None:
    """前台工作人员考核（篇3）：每人每月各部分得分、附加分和总分，年度成绩和优秀服务标兵；录入、模板、简报。
    Staff assessment (篇3): monthly and annual scores; entries, template, bulletin."""
    if ctx.invoked_subcommand is not None:
        return
    if month is not None and year is not None:
        fail("--month 与 --year 只能选一个 (choose one period)")
    _file(xlsx)
    settings = ctx.find_object(Settings)
    with hall_transaction(settings, hall_code) as (session, hall):
        try:
            if year is not None:
                hy = services.assess_year(session, hall, year, services.last_month(year, hall, now()), now())
                payload = annual.year_payload(session, hy)
            else:
                chosen = month or month_of(now(), services.hall_tz(hall))
                number_year, number = services.month_in_reach(chosen, hall, now())
                payload = services.month_payload(services.assess_year(session, hall, number_year, number, now()),
                                                 f"{number_year}-{number:02d}")
        except PeriodError as exc:
            fail(str(exc))
    if xlsx is not None:
        _write(xlsx, workbook.year_xlsx(payload) if year is not None else workbook.month_xlsx(payload))
    if as_json:
        echo_json(payload)
    elif year is not None:
        print_year(payload)
    else:
        print_month(payload)
    if xlsx is not None and not as_json:
        click.echo(f"已另存为 {xlsx}")


def _sections(row: dict[str, Any]) -> str:
    return " ".join(f"{sid}{points:g}" for sid, points in row["sections"].items())


def print_month(payload: dict[str, Any]) -> None:
    click.echo(f"{payload['hall_name']} {payload['month']} 前台工作人员月度考核（篇3）")
    for row in payload["staff"]:
        if not row["assessed"]:
            continue
        head = f"{pad(row['name'], 10)} {pad('、'.join(row['windows']) or '—', 18)}"
        if row["maternity"]:
            click.echo(f"{head} 产假 按基本分 总分 {row['total']:g}")
            continue
        rules = "；".join(bulletin.rule_text(r) for r in row["rules"] if r["points"])
        click.echo(f"{head} {_sections(row)} 附加{row['bonus']:g} 总分 {row['total']:g}  {rules or '无扣分、加分'}")
        if row["award_bars"]:
            click.echo(f"{'':12}取消当年评先树优资格：{'、'.join(row['award_bars'])}")
    if payload["not_assessed"]:
        click.echo(f"本月无考核数据（不计入年度平均）：{'、'.join(payload['not_assessed'])}")
    if not payload["staff"]:
        click.echo("本中心没有登记工作人员")


def print_year(payload: dict[str, Any]) -> None:
    state = "" if payload["complete"] else f"（截至 {payload['months'][-1]}）"
    click.echo(f"{payload['hall_name']} {payload['year']} 年度考核{state}")
    for row in sorted(payload["staff"], key=lambda r: -(r["score"] or 0)):
        bars = f"  取消评先树优：{'、'.join(b['clause'] for b in row['award_bars'])}" if row["award_bars"] else ""
        click.echo(f"{pad(row['name'], 10)} 年度 {row['score']:.2f}（{len(row['months'])} 个月）{bars}")
    awards = payload["awards"]
    click.echo(f"优秀服务标兵：名额 {awards['quota']}（{awards['staff_scored']} 人 × 25%，向下取整）："
               f"{'、'.join(awards['awarded']) or '无'}")
    if awards["tied_at_cut"]:
        click.echo(f"  名额边界同分、未拆分：{'、'.join(awards['tied_at_cut'])}（余 {awards['open_places']} 个名额由中心择优确定）")
    if awards["barred"]:
        click.echo(f"  取消评先树优资格、不参评：{'、'.join(awards['barred'])}")
    click.echo("窗口年度综合考评：")
    for row in payload["windows"]["rows"]:
        score = "—" if row["score"] is None else f"{row['score']:.1f}"
        flags = f"，红旗窗口 {len(row['red_flag_months'])} 次" if row["red_flag_months"] else ""
        click.echo(f"  {pad(row['window'], 16)} {score} {row['grade']}（{row['months_graded']} 个月{flags}）")
    for label, flags in payload["red_flags"].items():
        if flags:
            click.echo(f"  {label} 红旗窗口：{'、'.join(f['window'] for f in flags)}")


# --- entries ---------------------------------------------------------------------------------------------------


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        fail(f"日期格式不正确：{value!r}，应为 YYYY-MM-DD")


ENTRY_OPTIONS = (
    click.option("--count", type=int, default=None, help="次数（七1 为满勤整周数；一7 为请假天数）"),
    click.option("--minutes", type=int, default=None, help="不在岗分钟数（一3、一6：超过15分钟空岗，超过120分钟旷工）"),
    click.option("--grade", default=None, help="等次（条款有多个等次时），见 callback assess template 的“条款”表"),
    click.option("--points", default=None, help="每次分值（三7、六3 等酌情扣分、七5 酌情加分）"),
    click.option("--source", type=click.Choice(list(entries.RATING_SOURCES)), default=None,
                 help="评议来源（五1 服务监督卡、五4 区级/区级以上电话回访）"),
    click.option("--rating", default=None, help="评议等次：B 基本满意、U 不满意"),
    click.option("--date", "day", default=None, help="日期 YYYY-MM-DD（可代替 --month）"),
    click.option("--note", default=None, help="说明"),
)


def _with(options: tuple[Any, ...]) -> Any:
    def apply(command: Any) -> Any:
        for option in reversed(options):
            command = option(command)
        return command
    return apply


@assess.command("add")
@click.option("--staff", required=True, help="工作人员姓名（台账中的经办人）")
@click.option("--month", default=None, help="月份 YYYY-MM")
@click.option("--clause", required=True, help="条款，例如 一1、三2、五4、七4；产假写“产假”")
@_with(ENTRY_OPTIONS)
@HALL_OPTION
@JSON_OPTION
@actor_option
@pass_settings
def add(settings: Settings, staff: str, month: str | None, clause: str, count: int | None, minutes: int | None,
        grade: str | None, points: str | None, source: str | None, rating: str | None, day: str | None,
        note: str | None, hall_code: str | None, as_json: bool, actor: str) -> None:
    """录入一项考核（督查科）：工作人员、月份或日期、条款、次数等。Record an assessment entry."""
    given = entries.EntryInput(staff=staff, clause=clause.strip(), month=month, day=_day(day),
                               count=1 if count is None else count, grade=grade, minutes=minutes, points=points,
                               note=note or "", source=source, rating=rating)
    try:
        with hall_transaction(settings, hall_code) as (session, hall):
            row = entries.add_entry(session, hall, given, now(), actor=actor)
            payload = entries.entry_summary(row, staff.strip())
    except entries.EntryError as exc:
        fail(f"未录入：{exc}")
    _show_entry(payload, as_json, "已录入")


def _show_entry(payload: dict[str, Any], as_json: bool, verb: str) -> None:
    if as_json:
        echo_json(payload)
        return
    grade = f"（{payload['grade']}）" if payload["grade"] else ""
    amount = f"{payload['minutes']} 分钟" if payload["minutes"] is not None else f"{payload['count']} 次"
    click.echo(f"{verb} #{payload['id']}：{payload['staff']} {payload['month']} 条款{payload['clause']}{grade} {amount}")


@assess.command("correct")
@click.argument("entry_id", type=int)
@click.option("--clause", default=None, help="更正后的条款")
@_with(ENTRY_OPTIONS)
@click.option("--withdraw", is_flag=True, help="撤销这条录入（次数计为0）")
@click.option("--reason", required=True, help="更正原因（记入审计）")
@HALL_OPTION
@JSON_OPTION
@actor_option
@pass_settings
def correct(settings: Settings, entry_id: int, clause: str | None, count: int | None, minutes: int | None,
            grade: str | None, points: str | None, source: str | None, rating: str | None, day: str | None,
            note: str | None, withdraw: bool, reason: str, hall_code: str | None, as_json: bool, actor: str) -> None:
    """更正一条录入：新增一条更正记录替代原记录（原记录保留，不删除）。Correct an entry (never deleted)."""
    changes = {k: v for k, v in {"clause": clause, "count": 0 if withdraw else count, "minutes": minutes,
                                 "grade": grade, "points": points, "source": source, "rating": rating,
                                 "day": _day(day), "note": note}.items() if v is not None}
    if not changes:
        fail("请给出要更正的内容（例如 --count 1），或 --withdraw 撤销")
    try:
        with hall_transaction(settings, hall_code) as (session, hall):
            row = entries.correct_entry(session, hall, entry_id, changes, reason, now(), actor=actor)
            payload = entries.entry_summary(row, row_staff(session, row.staff_id))
    except entries.EntryError as exc:
        fail(f"未更正：{exc}")
    _show_entry(payload, as_json, f"已更正 #{entry_id} →")


def row_staff(session: Any, staff_id: int) -> str:
    from callback.models import Staff

    staff = session.get(Staff, staff_id)
    return staff.name if staff else ""


@assess.command("entries")
@click.option("--month", required=True, help="月份 YYYY-MM")
@HALL_OPTION
@JSON_OPTION
@pass_settings
def list_entries(settings: Settings, month: str, hall_code: str | None, as_json: bool) -> None:
    """列出一个月的全部录入（含已更正的原记录）。List a month's entries, corrected ones included."""
    try:
        label = entries.entry_month(month, None)
    except entries.EntryError as exc:
        fail(str(exc))
    with hall_transaction(settings, hall_code) as (session, hall):
        rows = entries.entry_history(session, hall, label)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        state = f"（已被 #{row['corrected_by']} 更正）" if row["corrected_by"] else ""
        fix = f" 更正 #{row['corrects']}：{row['reason']}" if row["corrects"] else ""
        click.echo(f"#{row['id']} {row['staff']} {row['date'] or row['month']} {row['clause']} {row['grade'] or ''} "
                   f"×{row['count']} {row['note']} — {row['entered_by']}{fix}{state}")
    if not rows:
        click.echo(f"{label} 还没有录入")


# --- template and import ---------------------------------------------------------------------------------------


@assess.command("template")
@click.option("--month", required=True, help="月份 YYYY-MM")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="写入文件（默认标准输出）")
@click.option("--csv", "as_csv", is_flag=True, help="CSV 模板（只有表头；默认 Excel，含条款表和工作人员表）")
@HALL_OPTION
@pass_settings
def template_command(settings: Settings, month: str, out: Path | None, as_csv: bool, hall_code: str | None) -> None:
    """生成月度考核录入模板：工作人员 · 日期 · 条款 · 次数 · 说明（另附条款表）。The monthly entry template."""
    try:
        label = entries.entry_month(month, None)
    except entries.EntryError as exc:
        fail(str(exc))
    stream = sys.stdout.buffer
    if out is None and stream.isatty():
        fail("模板是二进制文件：请用 --out 文件名，或重定向到文件（> 模板.xlsx）")
    _file(out)
    with hall_transaction(settings, hall_code) as (session, hall):
        data = template.template_csv() if as_csv else template.template_xlsx(session, hall, label)
    if out is None:
        stream.write(data)
        stream.flush()
    else:
        _write(out, data)
        click.echo(f"已生成 {out}", err=True)


@assess.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--month", default=None, help="只接受该月份（YYYY-MM）的行，其他月份的行按错误行列出")
@HALL_OPTION
@JSON_OPTION
@actor_option
@pass_settings
def import_command(settings: Settings, path: Path, month: str | None, hall_code: str | None, as_json: bool,
                   actor: str) -> None:
    """导入填好的考核录入模板（XLSX 或 CSV）：错误的行按行号列出，正确的行照常录入，重复导入不会重复录入。"""
    try:
        label = None if month is None else entries.entry_month(month, None)
        with hall_transaction(settings, hall_code) as (session, hall):
            report = template.import_entries(session, hall, path, now(), actor=actor, month=label)
    except (template.TemplateFileError, entries.EntryError) as exc:
        fail(f"未导入：{exc}")
    if as_json:
        echo_json(report.to_json())
        return
    click.echo(f"{path.name}：新录入 {len(report.added)} 条，已导入过 {len(report.skipped)} 行，拒绝 {len(report.rejected)} 行")
    for number, reason in report.rejected:
        click.echo(f"  第 {number} 行被拒绝：{reason}")


# --- bulletin --------------------------------------------------------------------------------------------------


@assess.command("bulletin")
@click.option("--month", required=True, help="月份 YYYY-MM")
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Excel 简报")
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path), default=None, help="可打印的网页简报")
@HALL_OPTION
@JSON_OPTION
@pass_settings
def bulletin_command(settings: Settings, month: str, xlsx: Path | None, html: Path | None, hall_code: str | None,
                     as_json: bool) -> None:
    """月度考核简报（篇3 三）：每人各部分得分和总分、本月红旗窗口、年度累计；未经审批的简报标明“待审批”。"""
    if xlsx is None and html is None and not as_json:
        fail("请指定 --xlsx 文件 或 --html 文件（或 --json）")
    _file(xlsx)
    _file(html)
    with hall_transaction(settings, hall_code) as (session, hall):
        try:
            services.month_in_reach(month, hall, now())
            data = bulletin.monthly_bulletin(session, hall, month, now())
        except PeriodError as exc:
            fail(str(exc))
    if xlsx is not None:
        _write(xlsx, bulletin.bulletin_xlsx(data))
    if html is not None:
        _write(html, bulletin.render_bulletin_html(data))
    if as_json:
        echo_json(data)
        return
    written = "、".join(str(p) for p in (xlsx, html) if p is not None)
    click.echo(f"{data['title']}（{data['status_label']}，{len(data['staff'])} 人）已写入 {written}")


@assess.command("approve")
@click.option("--month", required=True, help="月份 YYYY-MM")
@click.option("--approved-by", "approved_by", required=True, help="审批领导姓名")
@HALL_OPTION
@JSON_OPTION
@actor_option
@pass_settings
def approve(settings: Settings, month: str, approved_by: str, hall_code: str | None, as_json: bool,
            actor: str) -> None:
    """领导审批月度考核简报（审批后才能通报；审批后数据有变动须重新审批）。Approve the month's bulletin."""
    try:
        with hall_transaction(settings, hall_code) as (session, hall):
            services.month_in_reach(month, hall, now())
            data = bulletin.approve_bulletin(session, hall, month, approved_by, now(), actor=actor)
    except (PeriodError, bulletin.BulletinError) as exc:
        fail(f"未审批：{exc}")
    if as_json:
        echo_json({k: data[k] for k in ("month", "status", "approval", "digest")})
        return
    approval = data["approval"]
    click.echo(f"{data['month']} 考核简报已审批：{approval['approved_by']}（{approval['approved_at']}）")


COMMANDS = [assess]
