"""The monthly bulletin (篇3 三): every assessed staff member's sections and total, the 红旗窗口, the year to date;
待审批 until the leader approves it, and again once its figures change; never a citizen's name or number, never
who rated whom."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.assessment.bulletin import (
    APPROVED,
    PENDING,
    STALE,
    approve_bulletin,
    bulletin_xlsx,
    monthly_bulletin,
    render_bulletin_html,
)
from callback.assessment.entries import EntryInput, add_entry
from callback.models import AuditEvent, Case, Contact
from tests.callback.assessment.builders import TAX, cases, hall, presses, shanghai, staff_member
from tests.callback.assessment.test_month import build_zhang

NOW = datetime(2026, 12, 10, 4, 0, tzinfo=UTC)


def bulletin(session: Session) -> dict:
    return monthly_bulletin(session, hall(session), "2026-11", NOW)


def texts(session: Session) -> list[str]:
    """The bulletin as every form it is shared in: its data, the HTML page and every cell of the workbook."""
    data = bulletin(session)
    book = load_workbook(io.BytesIO(bulletin_xlsx(data)))
    cells = [str(c.value) for sheet in book for row in sheet.iter_rows() for c in row if c.value is not None]
    return [json.dumps(data, ensure_ascii=False), render_bulletin_html(data), "\n".join(cells)]


def test_the_bulletin_has_every_assessed_staff_member_and_the_figures(session: Session) -> None:
    build_zhang(session)
    data = bulletin(session)
    [zhang] = data["staff"]
    assert (zhang["name"], zhang["total"], zhang["sections"]["五"]) == ("张伟", 85.0, 4.0)
    assert "四7×1 −5" in zhang["deductions"] and "七4×5 +2.5" in zhang["bonuses"]
    assert "五1（基本满意）×3 −1.5" in zhang["deductions"] and "七9（承诺件）×52 +5" in zhang["bonuses"]
    # October: one U press (五1 −1), the two then-满意 results not yet a third → 99; November 85
    assert zhang["year_to_date"] == {"months": 2, "score": (99 + 85) / 2}
    html = render_bulletin_html(data)
    assert "待审批" in html and "张伟" in html and "85" in html and "<style>" in html


def test_no_citizen_data_and_no_one_who_rated(session: Session) -> None:
    build_zhang(session)
    add_entry(session, hall(session), EntryInput(staff="张伟", clause="三7", month="2026-11", points="1",
                                                 note="申请人张三（13912345678）反映态度生硬"), NOW, actor="督查科")
    applicants = set(session.scalars(select(Case.applicant).where(Case.applicant.is_not(None))))
    phones = {p[-8:] for p in session.scalars(select(Contact.phone))}
    assert applicants and phones
    for text in texts(session):
        assert not any(name in text for name in applicants)
        assert not any(phone in text for phone in phones) and "13912345678" not in text and "态度生硬" not in text
    data = bulletin(session)
    assert not {"ids", "entries", "figures", "sources"} & {k for row in data["staff"] for k in row}


def test_approval_and_a_change_after_it(session: Session) -> None:
    member = staff_member(session, "李娜", TAX)
    cases(session, member, TAX, 1)
    assert bulletin(session)["status"] == PENDING
    approved = approve_bulletin(session, hall(session), "2026-11", "王主任", NOW, actor="督查科")
    assert approved["status"] == APPROVED and approved["approval"]["approved_by"] == "王主任"
    assert "已审批" in render_bulletin_html(approved) and "待审批" not in render_bulletin_html(approved)
    again = approve_bulletin(session, hall(session), "2026-11", "王主任", NOW, actor="督查科")
    assert again["digest"] == approved["digest"]
    assert session.scalars(select(AuditEvent.action).where(AuditEvent.entity == "assessment_bulletin")).all() == [
        "bulletin_approved"]  # approving the same figures again records nothing
    presses(session, member, TAX, "U", shanghai(2026, 11, 30, 16))  # a late import changes the month
    assert bulletin(session)["status"] == STALE
    assert approve_bulletin(session, hall(session), "2026-11", "王主任", NOW, actor="督查科")["status"] == APPROVED


def test_the_workbook_has_no_formulas_even_for_a_name_that_looks_like_one(session: Session) -> None:
    member = staff_member(session, "=HYPERLINK(\"http://x\")", "=窗口")
    cases(session, member, "=窗口", 1)
    book = load_workbook(io.BytesIO(bulletin_xlsx(bulletin(session))))
    assert all(cell.data_type != "f" for sheet in book for row in sheet.iter_rows() for cell in row)
    assert book["月度考核"]["A4"].value == "=HYPERLINK(\"http://x\")"
