"""篇3 assessment pages (issue 15 §2, §4, §6): the month, a staff member's month with its sources, the entries page
(clause picker with the seed text, the fields each clause needs, corrections with a reason, never deletions), the
bulletin with the leader's approval, the year, and a staff member's own sheet — by role, with CSRF and audit."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.accounts.roles import Role
from callback.accounts.services import NewUser, create_user
from callback.assessment.entries import EntryInput, add_entry
from callback.models import AuditEvent, EvaluatorPress, Staff, User, Window
from callback.models.assessment import AssessmentEntry, BulletinApproval
from tests.callback.web.console.conftest import Site
from tests.callback.web.console.helpers import PASSWORD, csrf_token, login, make_user, text_of
from tests.callback.web.console.results_data import MARKET, TAX, set_clock
from tests.factories import make_case

MONTH = "2026-11"
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # Thursday 12-03 10:00 Shanghai: November is over
IN_MONTH = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
ENTRIES = f"/console/assessment/{MONTH}/entries"
NOTE = "11-05 迟到未打卡，电话 13812345678"


@pytest.fixture
def people(db: Session, site: Site, monkeypatch: pytest.MonkeyPatch) -> dict[str, User]:
    """张伟 at 市场监管窗口 (综合受理): entries 一1 (not recorded, −2) and 三2 ×2 (dress, −1 each); presses
    S S B U naming him (五1: −0.5, −1); 25 即办件 accepted (七9: 2 tens × 0.2 = +0.4). 陈静 at 税务窗口: 产假.
    王五: nothing in November. An account per role; the staff account is 张伟's."""
    set_clock(monkeypatch, NOW)
    market = db.get(Window, site.market.id)
    market.role = "comprehensive"
    zhang, chen, wang = (Staff(hall_id=site.hall.id, name=n, window_id=w.id)
                         for n, w in (("张伟", site.market), ("陈静", site.tax), ("王五", site.tax)))
    db.add_all([zhang, chen, wang])
    db.flush()
    add_entry(db, site.hall, EntryInput("张伟", "一1", month=MONTH, grade="not_recorded", note=NOTE), NOW, actor="李科长")
    add_entry(db, site.hall, EntryInput("张伟", "三2", month=MONTH, grade="dress", count=2), NOW, actor="李科长")
    add_entry(db, site.hall, EntryInput("陈静", "产假", month=MONTH), NOW, actor="李科长")
    for n, rating in enumerate("SSBU"):
        db.add(EvaluatorPress(hall_id=site.hall.id, pressed_at=IN_MONTH, window_id=site.market.id, staff_id=zhang.id,
                              rating=rating, level=rating, press_key=f"p{n}"))
    for _ in range(25):
        make_case(db, site.hall, market, accepted_at=IN_MONTH).staff_id = zhang.id
    users = {role.value: make_user(db, site.hall, role, window=MARKET if role == Role.WINDOW_LEAD else None)
             for role in (Role.SUPERVISOR, Role.LEADER, Role.WINDOW_LEAD, Role.ADMIN)}
    users["leader"].display_name = "王主任"
    users["staff"] = create_user(db, site.hall, NewUser("zhangwei", PASSWORD, Role.STAFF, "张伟", window=MARKET,
                                                        staff="张伟"), actor="tests", at=NOW)
    users["unlinked"] = create_user(db, site.hall, NewUser("chenjing", PASSWORD, Role.STAFF, "陈静", window=TAX),
                                    actor="tests", at=NOW)
    db.commit()
    return users


def signed_in(app: Flask, user: User) -> FlaskClient:
    client = app.test_client()
    assert login(client, user.username, REMOTE_ADDR="10.9.8.7").status_code == 302
    return client


def page_text(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return text_of(response.get_data(as_text=True))


def post(client: FlaskClient, url: str, data: dict[str, str], page: str = ENTRIES):  # noqa: ANN201
    return client.post(url, data={"csrf_token": csrf_token(client, page)} | data,
                       environ_base={"REMOTE_ADDR": "10.9.8.7"})


def staff_id(db: Session, name: str) -> int:
    return db.scalar(select(Staff.id).where(Staff.name == name))


def active(db: Session, clause: str) -> list[AssessmentEntry]:
    db.expire_all()
    newer = select(AssessmentEntry.supersedes_id).where(AssessmentEntry.supersedes_id.is_not(None))
    return list(db.scalars(select(AssessmentEntry).where(AssessmentEntry.clause == clause,
                                                         AssessmentEntry.id.not_in(newer))))


def supervisor_pages(db: Session) -> list[str]:
    zhang = staff_id(db, "张伟")
    return ["/console/assessment", f"/console/assessment?month={MONTH}", f"/console/assessment/{MONTH}.xlsx",
            f"/console/assessment/{MONTH}/staff/{zhang}", ENTRIES, f"/console/assessment/{MONTH}/bulletin",
            f"/console/assessment/{MONTH}/bulletin/print", f"/console/assessment/{MONTH}/bulletin.xlsx",
            "/console/assessment/bulletin.css", "/console/assessment/year?year=2026",
            "/console/assessment/year/2026.xlsx"]


def test_who_may_open_the_assessment_pages(console_app: Flask, people, db: Session) -> None:  # noqa: ANN001
    pages = supervisor_pages(db)
    anonymous = console_app.test_client()
    for url in [*pages, "/console/my-scores"]:
        assert anonymous.get(url).headers["Location"].startswith("/console/login"), url
    for name in ("window_lead", "admin", "staff"):  # a window lead never sees a score; staff only their own
        client = signed_in(console_app, people[name])
        for url in pages:
            assert client.get(url).status_code == 403, (name, url)
    for name in ("supervisor", "leader"):
        client = signed_in(console_app, people[name])
        for url in pages:
            assert client.get(url).status_code == 200, (name, url)
        assert client.get("/console/my-scores").status_code == 403
    assert signed_in(console_app, people["window_lead"]).get("/console/my-scores").status_code == 403


def test_the_month_page_scores_every_staff_member(console_app: Flask, people) -> None:  # noqa: ANN001
    page = page_text(signed_in(console_app, people["leader"]), f"/console/assessment?month={MONTH}")
    # 张伟: (一) 15 − 2 = 13, (二) 20, (三) 20 − 2 × 1 = 18, (四) 20, (五) 15 − 0.5 − 1 = 13.5, (六) 10 → 94.5;
    # bonus 七9 25 即办件 at a 综合受理 window: 2 tens × 0.2 = 0.4 → 94.9
    assert re.search(r"张伟 市场监管窗口 13 20 18 20 13.5 10 0.4 94.9 94.90", page)
    assert re.search(r"陈静 产假 税务窗口 15 20 20 20 15 10 0 100 100.00", page)
    assert "本月无考核数据（不计入年度平均）：王五" in page
    assert "录入" not in re.search(r"张伟 .*?94.90", page).group(0)  # the leader enters nothing


def test_a_staff_month_shows_each_rule_and_where_it_came_from(console_app: Flask, people, db: Session) -> None:  # noqa: ANN001
    client = signed_in(console_app, people["supervisor"])
    html = client.get(f"/console/assessment/{MONTH}/staff/{staff_id(db, '张伟')}").get_data(as_text=True)
    page = text_of(html)
    assert "张伟 2026-11 考核明细" in page and "94.9" in page
    first = db.scalar(select(AssessmentEntry.id).where(AssessmentEntry.clause == "一1"))
    assert f'href="/console/assessment/{MONTH}/entries?staff={staff_id(db, "张伟")}#entry-{first}"' in html
    assert "一1 迟到、早退不进行指纹录入 1 -2 -2 督查科录入 1" in page
    assert "五1 服务监督卡、评价器等评议为基本满意 1 -0.5 -0.5 评价器 1" in page
    assert "七9 综合受理窗口月办件量（承诺件以外）每10件加0.2分 25 +0.2 +0.4 受理台账 25" in page
    assert "市场监管窗口：25 件" in page
    assert "13812345678" not in html and "138****5678" in page  # the note is masked wherever it is shown


def test_the_entries_page_picks_a_clause_with_its_seed_text(console_app: Flask, people, db: Session) -> None:  # noqa: ANN001
    client = signed_in(console_app, people["supervisor"])
    zhang = staff_id(db, "张伟")
    picker = page_text(client, f"{ENTRIES}?staff={zhang}")
    assert "上班迟到、早退但自觉录入考勤机的，每次扣1分，因迟到、早退不进行指纹录入的每次扣2分。" in picker
    assert "系统自动计算" in picker and "产假" in picker
    chosen = client.get(f"{ENTRIES}?staff={zhang}&clause=一3").get_data(as_text=True)
    assert 'name="minutes"' in chosen and 'name="points"' in chosen and 'name="grade"' in chosen
    assert "未及时请假，不在岗超过15分钟的，按空岗记" in text_of(chosen)
    plain = client.get(f"{ENTRIES}?staff={zhang}&clause=二1").get_data(as_text=True)
    assert 'name="count"' in plain and 'name="minutes"' not in plain and 'name="grade"' not in plain
    maternity = client.get(f"{ENTRIES}?staff={zhang}&clause=产假").get_data(as_text=True)
    assert 'name="count"' not in maternity and 'name="note"' in maternity


def test_a_supervisor_adds_an_entry_and_the_month_changes(console_app: Flask, people, db: Session) -> None:  # noqa: ANN001
    client = signed_in(console_app, people["supervisor"])
    zhang = staff_id(db, "张伟")
    response = post(client, ENTRIES, {"clause": "一3", "staff": str(zhang), "count": "1", "minutes": "130",
                                      "day": "2026-11-12", "note": "11-12 下午离岗"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"staff={zhang}#history")
    entry, = active(db, "一3")
    assert (entry.grade, entry.minutes, entry.origin, entry.month) == ("absent", 130, "console", MONTH)
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "assessment_entry_added",
                                               AuditEvent.entity_id == entry.id))
    assert (event.user_id, event.ip) == (people["supervisor"].id, "10.9.8.7")
    assert "(console:" in event.actor
    page = page_text(client, f"/console/assessment?month={MONTH}")
    assert re.search(r"张伟 市场监管窗口 9 20 18 20 13.5 10 0.4 90.9", page)  # 旷工 −4: (一) 13 → 9


@pytest.mark.parametrize(("data", "message"), [
    ({"clause": "三7", "points": "4"}, "条款三7每次分值须在1–3分之间，以0.5分为单位"),
    ({"clause": "一3", "minutes": "10"}, "不在岗10分钟未超过15分钟，不按空岗记"),
    ({"clause": "一1"}, "条款一1须注明等次"),
    ({"clause": "二1", "count": "0"}, "次数须在 1–1000 之间"),
    ({"clause": "二1", "day": "2026-10-30"}, "日期 2026-10-30 不在 2026-11 月内"),
    ({"clause": "二1", "staff": ""}, "请选择工作人员"),
])
def test_a_wrong_entry_is_refused_and_nothing_is_written(console_app: Flask, people, db: Session,  # noqa: ANN001
                                                        data: dict[str, str], message: str) -> None:
    client = signed_in(console_app, people["supervisor"])
    before = db.scalar(select(func.count()).select_from(AssessmentEntry))
    response = post(client, ENTRIES, {"staff": str(staff_id(db, "张伟")), "count": "1"} | data)
    assert response.status_code == 400
    page = text_of(response.get_data(as_text=True))
    assert message in page
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(AssessmentEntry)) == before


def test_entries_need_the_enter_permission_and_the_csrf_token(console_app: Flask, people, db: Session) -> None:  # noqa: ANN001
    data = {"clause": "二1", "staff": str(staff_id(db, "张伟")), "count": "1"}
    leader = signed_in(console_app, people["leader"])
    assert "新录入" not in page_text(leader, ENTRIES)
    assert post(leader, ENTRIES, data).status_code == 403
    supervisor = signed_in(console_app, people["supervisor"])
    assert supervisor.post(ENTRIES, data=data).status_code == 400  # no token
    entry = db.scalar(select(AssessmentEntry.id).where(AssessmentEntry.clause == "一1"))
    assert post(leader, f"/console/assessment/entries/{entry}/correct", {"reason": "x"}).status_code == 403
    no_token = supervisor.post(f"/console/assessment/entries/{entry}/correct", data={"withdraw": "y", "reason": "x"})
    assert no_token.status_code == 400 and active(db, "一1")[0].id == entry  # nothing corrected
    assert active(db, "二1") == []


def test_a_correction_keeps_the_old_entry_and_needs_a_reason(console_app: Flask, people, db: Session) -> None:  # noqa: ANN001
    client = signed_in(console_app, people["supervisor"])
    old = active(db, "三2")[0]
    url = f"/console/assessment/entries/{old.id}/correct"
    form = client.get(url).get_data(as_text=True)
    assert 'value="2"' in form and "未按规定着装的，每次扣1分" in text_of(form)
    refused = post(client, url, {"grade": "dress", "count": "1"}, page=url)
    assert refused.status_code == 400 and "请说明更正原因" in text_of(refused.get_data(as_text=True))
    done = post(client, url, {"grade": "dress", "count": "1", "reason": "核实为一次"}, page=url)
    assert done.status_code == 302
    new, = active(db, "三2")
    assert (new.count, new.supersedes_id, new.reason) == (1, old.id, "核实为一次")
    assert db.get(AssessmentEntry, old.id).count == 2  # kept, superseded
    history = page_text(client, f"{ENTRIES}?staff={staff_id(db, '张伟')}")
    assert f"已被 #{new.id} 更正" in history and f"更正 #{old.id}：核实为一次" in history
    again = post(client, url, {"grade": "dress", "count": "1", "reason": "再改"}, page=url)
    assert again.status_code == 400 and f"录入 {old.id} 已被 {new.id} 更正" in text_of(again.get_data(as_text=True))
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "assessment_entry_corrected"))
    assert event.user_id == people["supervisor"].id and event.detail["reason"] == "核实为一次"


def test_withdrawing_an_entry_makes_it_count_nothing(console_app: Flask, people, db: Session) -> None:  # noqa: ANN001
    client = signed_in(console_app, people["supervisor"])
    old = active(db, "一1")[0]
    url = f"/console/assessment/entries/{old.id}/correct"
    assert post(client, url, {"withdraw": "y", "reason": "考勤机故障", "count": ""}, page=url).status_code == 302
    assert [e.count for e in active(db, "一1")] == [0]
    page = page_text(client, f"/console/assessment?month={MONTH}")
    assert re.search(r"张伟 市场监管窗口 15 20 18 20 13.5 10 0.4 96.9", page)


def test_the_leader_approves_the_bulletin_and_a_late_entry_reopens_it(console_app: Flask, people,  # noqa: ANN001
                                                                      db: Session, site: Site) -> None:
    url = f"/console/assessment/{MONTH}/bulletin"
    supervisor, leader = signed_in(console_app, people["supervisor"]), signed_in(console_app, people["leader"])
    assert "待审批" in page_text(supervisor, url) and "审批通过本月简报" not in page_text(supervisor, url)
    assert post(supervisor, f"{url}/approve", {}, page=url).status_code == 403
    assert leader.post(f"{url}/approve").status_code == 400  # no CSRF token
    assert post(leader, f"{url}/approve", {}, page=url).status_code == 302
    page = page_text(leader, url)
    assert "已审批 2026-11 的考核简报" in page and "王主任 于 2026-12-03 10:00 审批" in page
    approval = db.scalar(select(BulletinApproval))
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "bulletin_approved"))
    assert approval.approved_by == "王主任" and (event.user_id, event.ip) == (people["leader"].id, "10.9.8.7")
    add_entry(db, site.hall, EntryInput("张伟", "二1", month=MONTH), NOW, actor="李科长")
    db.commit()
    assert "审批后数据有变动，待重新审批" in page_text(leader, url)


def test_the_printable_bulletin_links_its_stylesheet_and_holds_no_notes(console_app: Flask, people) -> None:  # noqa: ANN001
    client = signed_in(console_app, people["leader"])
    html = client.get(f"/console/assessment/{MONTH}/bulletin/print").get_data(as_text=True)
    assert '<link rel="stylesheet" href="/console/assessment/bulletin.css">' in html and "<style" not in html
    assert "前台工作人员月度考核简报" in html and "待审批" in html and "张伟" in html
    assert "迟到未打卡" not in html and "138" not in html  # no notes, no number
    css = client.get("/console/assessment/bulletin.css")
    assert css.mimetype == "text/css" and "@page" in css.get_data(as_text=True)


def test_the_month_xlsx_is_an_attachment_without_formulas(console_app: Flask, people) -> None:  # noqa: ANN001
    client = signed_in(console_app, people["supervisor"])
    for url in (f"/console/assessment/{MONTH}.xlsx", f"/console/assessment/{MONTH}/bulletin.xlsx",
                "/console/assessment/year/2026.xlsx"):
        response = client.get(url)
        assert response.headers["Content-Disposition"].startswith("attachment;"), url
        book = load_workbook(io.BytesIO(response.data))
        assert not [c for s in book for row in s.iter_rows() for c in row if c.data_type == "f"], url


def test_the_year_page_states_the_rounding(console_app: Flask, people) -> None:  # noqa: ANN001
    page = page_text(signed_in(console_app, people["leader"]), "/console/assessment/year?year=2026")
    # two staff with a year score: 25% of 2 = 0.5, rounded down → no place
    assert "有年度成绩的工作人员 2 人，按 25% 向下取整，名额 0 个。" in page
    assert "名额边界上同分者不拆分" in page  # the rule as the service states it
    assert re.search(r"陈静 [— ]*100 [— ]*100.00", page) and re.search(r"张伟 [— ]*94.9 [— ]*94.90", page)
    assert "2026 截至 2026-12，年度尚未结束" in page


def test_a_staff_member_sees_only_their_own_sheet(console_app: Flask, people, db: Session) -> None:  # noqa: ANN001
    client = signed_in(console_app, people["staff"])
    html = client.get(f"/console/my-scores?month={MONTH}").get_data(as_text=True)
    page = text_of(html)
    assert "张伟" in page and "94.9" in page and "尚未审批" in page
    assert "五1 服务监督卡、评价器等评议为不满意 1 -1 -1 评价器" in page
    for hidden in ("陈静", "王五", "李科长", "迟到未打卡", "138", "#", "entry-"):
        assert hidden not in page, hidden
    assert "/console/rectifications" not in html and "/console/assessment" not in html
    other = client.get(f"/console/my-scores?month={MONTH}&staff={staff_id(db, '陈静')}").get_data(as_text=True)
    assert text_of(other) == page  # no way to ask for someone else's sheet
    unlinked = page_text(signed_in(console_app, people["unlinked"]), "/console/my-scores")
    assert "您的账号还没有关联工作人员" in unlinked and "月度得分" not in unlinked
