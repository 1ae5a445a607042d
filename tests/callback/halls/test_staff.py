"""callback.halls.staff: the administration's corrections of a hall's staff — a name unique in the hall, a 工号 unique in
the hall, a window of the hall — each change an audit event with the old and new values, nothing when nothing
changed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.db import session_factory
from callback.halls.staff import StaffChange, StaffError, add_staff, list_staff, update_staff
from callback.models import AuditEvent, Staff
from tests.factories import make_hall, make_window

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def session(database_url: str):  # noqa: ANN201
    with session_factory(database_url)() as s:
        yield s


def test_add_and_correct_a_staff_member(session: Session) -> None:
    hall = make_hall(session, "WF01")
    market, tax = make_window(session, hall, "市场监管窗口"), make_window(session, hall, "税务窗口")
    member = add_staff(session, hall, StaffChange(" 王  芳 ", " G001 ", market.id), NOW, actor="admin")
    assert (member.name, member.staff_no, member.window_id) == ("王 芳", "G001", market.id)
    member, changed = update_staff(session, hall, member.id, StaffChange("王芳", "", tax.id), NOW, actor="admin")
    assert changed and (member.name, member.staff_no, member.window_id) == ("王芳", None, tax.id)
    assert update_staff(session, hall, member.id, StaffChange("王芳", None, tax.id), NOW, actor="admin")[1] is False
    events = session.scalars(select(AuditEvent).where(AuditEvent.entity == "staff").order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["staff_added", "staff_updated"]
    assert events[1].detail == {"from": {"name": "王 芳", "staff_no": "G001", "window_id": market.id},
                                "to": {"name": "王芳", "staff_no": None, "window_id": tax.id}}
    assert [m.name for m in list_staff(session, hall)] == ["王芳"]


@pytest.mark.parametrize(("change", "message"), [
    (StaffChange("张伟", None, None), "已有名为「张伟」的经办人"),
    (StaffChange("李四", "G009", None), "工号 G009 已属于本中心另一名经办人"),
    (StaffChange("", None, None), "姓名不能为空"),
    (StaffChange("李\x07四", None, None), "姓名不能为空"),  # a control character (line breaks fold to a space)
    (StaffChange("李四", "G" * 65, None), "工号须为一行"),
])
def test_a_clash_or_a_bad_value_is_refused(session: Session, change: StaffChange, message: str) -> None:
    hall = make_hall(session, "WF01")
    session.add(Staff(hall_id=hall.id, name="张伟", staff_no="G009"))
    member = add_staff(session, hall, StaffChange("王芳", None, None), NOW, actor="admin")
    with pytest.raises(StaffError, match=message):
        update_staff(session, hall, member.id, change, NOW, actor="admin")


def test_the_same_name_or_number_in_another_hall_is_fine_but_not_its_window(session: Session) -> None:
    hall, other = make_hall(session, "WF01"), make_hall(session, "OTHER")
    session.add(Staff(hall_id=other.id, name="张伟", staff_no="G009"))
    assert add_staff(session, hall, StaffChange("张伟", "G009", None), NOW, actor="admin").hall_id == hall.id
    elsewhere = make_window(session, other, "税务窗口")
    with pytest.raises(StaffError, match="请选择本中心的窗口"):
        add_staff(session, hall, StaffChange("李四", None, elsewhere.id), NOW, actor="admin")
    stranger = session.scalar(select(Staff).where(Staff.hall_id == other.id))
    with pytest.raises(StaffError, match="本中心没有这名经办人"):
        update_staff(session, hall, stranger.id, StaffChange("改名", None, None), NOW, actor="admin")
