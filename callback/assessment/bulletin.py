"""The monthly bulletin (篇3 三(二)1 "中心发布月度考核成绩简报"): every assessed staff member's sections and total,
what was deducted or added under which clause, the month's 红旗窗口 and the year to date — as an XLSX and as a
printable HTML page (a Jinja template under callback/web/templates/assessment/; the console serves the same HTML).

A bulletin is shared only once the leader has approved it (`approve_bulletin`): until then it says 待审批. The
approval records a digest of the figures; if they change afterwards (a late entry, a correction) the bulletin says
so and needs approving again.

What a bulletin never holds: a citizen's name or number, who rated whom (no press, callback or case ids), the
supervisors' notes (free text that might quote a citizen).
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.assessment.services import assess_year, hall_tz, month_payload
from callback.models import AuditEvent, Hall
from callback.models.assessment import BulletinApproval
from callback.results.report import monthly_report, red_flag_note
from callback.results.spreadsheet import append_row
from survey.assessment_rules import CLAUSES_BY_ID, SECTIONS
from survey.weeks import parse_month

TEMPLATES = Path(__file__).resolve().parents[1] / "web" / "templates"
MINUTE = "%Y-%m-%d %H:%M"  # local time, as printed
PENDING, APPROVED, STALE = "pending", "approved", "changed"
STATUS_LABELS = {PENDING: "待审批", APPROVED: "已审批", STALE: "审批后数据有变动，待重新审批"}
SECTION_TITLES = {s.id: f"（{s.id}）{s.title}" for s in SECTIONS}
NOTE = ("计分（篇3 二）：基本分100分 =（一）15 +（二）20 +（三）20 +（四）20 +（五）15 +（六）10，各部分扣完为止；"
        "附加分（七）最高20分；产假人员当月以基本分100分计；年度成绩为已考核月份的平均分（篇3 三(一)）。"
        "本简报不含服务对象的姓名、电话，也不显示评价人。")


class BulletinError(ValueError):
    """A bulletin that cannot be approved; the message is for people."""


def _points(value: float) -> str:
    return f"{value:+g}".replace("-", "−")


GRADE_TAGS = {
    "basic": "基本满意", "unsatisfied": "不满意", "still_unsatisfied": "二次回访仍不满意",
    "then_satisfied": "二次回访改为满意", "district_basic": "区级基本满意", "district_unsatisfied": "区级不满意",
    "above_basic": "区级以上基本满意", "above_unsatisfied": "区级以上不满意", "off_post": "空岗", "absent": "旷工",
    "accepted": "办件量", "promised": "承诺件", "online": "网办件", "issued": "出件",
    "self_recorded": "自觉录入", "not_recorded": "未录指纹", "dress": "未按规定着装", "improper": "奇装异服等",
}
"""Short names of the grades a bulletin line shows (others show the grade's own label)."""


def rule_text(rule: dict[str, Any]) -> str:
    """``一2×2 −1``, or with the grade where the clause has several: ``五1（基本满意）×3 −1.5``."""
    grades = CLAUSES_BY_ID[rule["clause"]].grades
    tag = f"（{GRADE_TAGS.get(rule['grade'], rule['label'])}）" if len(grades) > 1 else ""
    return f"{rule['clause']}{tag}×{rule['count']} {_points(rule['points'])}"


def _staff_row(row: dict[str, Any]) -> dict[str, Any]:
    rules = [r for r in row["rules"] if r["points"]]
    return {
        "name": row["name"], "windows": row["windows"], "maternity": row["maternity"],
        "sections": row["sections"], "bonus": row["bonus"], "total": row["total"],
        "deductions": [rule_text(r) for r in rules if r["points"] < 0],
        "bonuses": [rule_text(r) for r in rules if r["points"] > 0],
        "capped": [f"{item['clause']} 计{item['points']:g}分（上限）" for item in row["bonus_items"]
                   if item["points"] < item["uncapped"]]
        + ([f"附加分合计 {row['bonus_uncapped']:g} 分，按上限计 {row['bonus']:g} 分"]
           if row["bonus_uncapped"] > row["bonus"] else []),
        "award_bars": row["award_bars"],
        "year_to_date": row["year_to_date"],
    }


def _figures(payload: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """What the leader approves: the staff rows, the not-assessed names and the 红旗窗口 — nothing else."""
    return {
        "month": payload["month"],
        "staff": [_staff_row(r) for r in payload["staff"] if r["assessed"]],
        "not_assessed": payload["not_assessed"],
        "red_flags": report["red_flags"],
    }


def digest(figures: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(figures, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _approval(session: Session, hall: Hall, month: str) -> BulletinApproval | None:
    return session.scalar(select(BulletinApproval).where(BulletinApproval.hall_id == hall.id,
                                                         BulletinApproval.month == month)
                          .order_by(BulletinApproval.id.desc()).limit(1))


def monthly_bulletin(session: Session, hall: Hall, month: str, now: datetime) -> dict[str, Any]:
    """The month's bulletin as data, with its approval status (pending | approved | changed)."""
    year, number = parse_month(month)
    month = f"{year}-{number:02d}"
    payload = month_payload(assess_year(session, hall, year, number, now), month)
    figures = _figures(payload, monthly_report(session, hall, month, now))
    approval = _approval(session, hall, month)
    fingerprint = digest(figures)
    status = PENDING if approval is None else APPROVED if approval.digest == fingerprint else STALE
    tz = hall_tz(hall)
    return figures | {
        "hall": hall.code, "hall_name": hall.name, "title": f"{hall.name} {year}年{number}月 前台工作人员月度考核简报",
        "generated_at": now.astimezone(tz).strftime(MINUTE), "digest": fingerprint,
        "status": status, "status_label": STATUS_LABELS[status],
        "approval": None if approval is None else {
            "approved_by": approval.approved_by, "approved_at": approval.approved_at.astimezone(tz).strftime(MINUTE)},
        "sections": [{"id": s.id, "title": SECTION_TITLES[s.id]} for s in SECTIONS if s.points is not None],
        "red_flag_notes": red_flag_note(figures["red_flags"]), "note": NOTE,
    }


def approve_bulletin(session: Session, hall: Hall, month: str, approved_by: str, now: datetime, *,
                     actor: str) -> dict[str, Any]:
    """The leader approves the month's bulletin as it stands now (its digest is recorded); audited. The caller
    commits. Approving figures already approved changes nothing."""
    name = " ".join((approved_by or "").split())
    if not name or len(name) > 40:
        raise BulletinError("审批人姓名须为 1–40 个字（--approved-by）")
    bulletin = monthly_bulletin(session, hall, month, now)
    if not bulletin["staff"]:
        raise BulletinError(f"{bulletin['month']} 没有考核数据，无可审批的简报")
    if bulletin["status"] != APPROVED:
        row = BulletinApproval(hall_id=hall.id, month=bulletin["month"], approved_by=name, approved_at=now,
                               digest=bulletin["digest"], actor=actor)
        session.add(row)
        session.flush()
        session.add(AuditEvent(hall_id=hall.id, at=now, actor=actor, entity="assessment_bulletin", entity_id=row.id,
                               action="bulletin_approved", detail={"month": row.month, "approved_by": name,
                                                                   "digest": row.digest}))
    return monthly_bulletin(session, hall, month, now)


# --- XLSX ------------------------------------------------------------------------------------------------------


def _fmt(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _main_sheet(book: Any, bulletin: dict[str, Any]) -> None:
    from openpyxl.styles import Font

    sheet = book.active
    sheet.title = "月度考核"
    append_row(sheet, [bulletin["title"]])
    sheet["A1"].font = Font(bold=True, size=13)
    append_row(sheet, [f"状态：{bulletin['status_label']}" + _approved_text(bulletin)
                       + f"（生成于 {bulletin['generated_at']}）"])
    headers = ["工作人员", "窗口", *(s["title"] for s in bulletin["sections"]), "附加分", "月度得分", "年度累计平均",
               "扣分条款", "加分条款", "备注"]
    append_row(sheet, headers)
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for row in bulletin["staff"]:
        append_row(sheet, _xlsx_row(row, bulletin))
    append_row(sheet, [])
    if bulletin["not_assessed"]:
        append_row(sheet, ["本月无考核数据（不计入年度平均）：" + "、".join(bulletin["not_assessed"])])
    append_row(sheet, [bulletin["note"]])
    sheet.freeze_panes = "B4"
    for column, width in zip("ABCDEFGHIJKLMN", (10, 18, 10, 10, 10, 10, 12, 10, 8, 9, 12, 28, 20, 28), strict=True):
        sheet.column_dimensions[column].width = width


def _approved_text(bulletin: dict[str, Any]) -> str:
    approval = bulletin["approval"]
    if approval is None:
        return ""
    return f"（{approval['approved_by']} 于 {approval['approved_at']} 审批）"


def _xlsx_row(row: dict[str, Any], bulletin: dict[str, Any]) -> list[Any]:
    notes = (["产假，按基本分计"] if row["maternity"] else []) + row["capped"] \
        + [f"{bar} 取消当年评先树优资格" for bar in row["award_bars"]]
    return [row["name"], "、".join(row["windows"]), *(row["sections"][s["id"]] for s in bulletin["sections"]),
            row["bonus"], row["total"], row["year_to_date"]["score"], "；".join(row["deductions"]),
            "；".join(row["bonuses"]), "；".join(notes)]


def _red_flag_sheet(book: Any, bulletin: dict[str, Any]) -> None:
    sheet = book.create_sheet("红旗窗口")
    append_row(sheet, ["名次", "窗口", "得分", "等级"])
    for flag in bulletin["red_flags"]["windows"]:
        append_row(sheet, [f"第{flag['place']}名", flag["window"], flag["score"], flag["grade"]])
    append_row(sheet, [])
    append_row(sheet, [bulletin["red_flags"]["rule"]])
    for note in bulletin["red_flag_notes"]:
        append_row(sheet, [note])


def bulletin_xlsx(bulletin: dict[str, Any]) -> bytes:
    """The bulletin as a workbook: 月度考核 (every staff member) and 红旗窗口; no formula cells."""
    from openpyxl import Workbook

    book = Workbook()
    _main_sheet(book, bulletin)
    _red_flag_sheet(book, bulletin)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- HTML ------------------------------------------------------------------------------------------------------


def render_bulletin_html(bulletin: dict[str, Any], *, stylesheet_url: str | None = None) -> str:
    """The printable bulletin page. Standalone (a file) it carries its own stylesheet; the console passes
    ``stylesheet_url`` instead (its content security policy allows no inline style)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    css = None if stylesheet_url else (TEMPLATES / "assessment" / "bulletin.css").read_text(encoding="utf-8")
    return env.get_template("assessment/bulletin.html").render(b=bulletin, css=css, stylesheet_url=stylesheet_url)
