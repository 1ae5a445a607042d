"""The public board /board (篇2 六), parsed as HTML with the standard library's parser."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import Case, Contact, Staff
from callback.rectification.services import give_feedback, open_for_callback, rectify
from callback.results.publication import publish_week
from callback.web.app import create_app
from tests.callback.results.test_publication import LATER
from tests.callback.results.test_report import (
    ALL_GOOD,
    MARKET,
    OPENED,
    REPORT_AT,
    TAX,
    WEEK,
    add_callback,
    build_week,
)
from tests.factories import make_hall, make_window

HEADERS = ["窗口", "有效评价", "满意", "基本满意", "不满意", "得分", "满意率区间", "等级"]
# Version 1 is build_week as test_report computes it by hand (Wilson bounds there, shown to one decimal).
V1_MARKET = [MARKET, "6", "4", "1", "1", "76.7", "30.0%–90.3%", "合格"]
V1_TAX = [TAX, "2", "1", "0", "1", "50.0", "9.5%–90.5%", "样本不足"]
V1_TOTAL = ["合计", "8", "5", "1", "2", "70.0", "30.6%–86.3%", "合格"]
# Version 2 adds three satisfied tax callbacks. 税务 4/5: score 80.0, Wilson 0.375535 … 0.963776;
# 合计 8/11 with one B: (800 + 60) / 11 = 78.18, Wilson 0.434355 … 0.902539.
V2_TAX = [TAX, "5", "4", "0", "1", "80.0", "37.6%–96.4%", "合格"]
V2_TOTAL = ["合计", "11", "8", "1", "2", "78.2", "43.4%–90.3%", "合格"]


@dataclass
class Page(HTMLParser):
    """Tables (rows of cell texts, with the row's class), meta tags, element texts by id, and all text."""

    rows: list[tuple[str, list[str]]] = field(default_factory=list)
    metas: list[dict[str, str]] = field(default_factory=list)
    by_id: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    _cell: list[str] | None = None
    _id: str | None = None

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        if tag == "meta":
            self.metas.append(values)
        elif tag == "tr":
            self.rows.append((values.get("class", ""), []))
        elif tag in ("td", "th"):
            self._cell = []
        if "id" in values:
            self._id, self.by_id[values["id"]] = values["id"], ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1][1].append("".join(self._cell).strip())
            self._cell = None
        if tag in ("span", "table"):
            self._id = None

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._id is not None and self._id != "results":
            self.by_id[self._id] += data

    @property
    def text(self) -> str:
        return "".join(self.texts)

    def cells(self, css_class: str | None = None) -> list[list[str]]:
        return [cells for cls, cells in self.rows if css_class is None or cls == css_class]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


@pytest.fixture
def client(database_url: str) -> FlaskClient:
    return create_app({"database_url": database_url, "default_hall": "DEMO"}).test_client()


def _get(client: FlaskClient, url: str, status: int = 200) -> Page:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    return parse(response.get_data(as_text=True))


def _publish_two_versions(session: Session) -> None:
    hall = build_week(session)
    publish_week(session, hall, WEEK, "张主任", REPORT_AT)
    for _ in range(3):
        add_callback(session, TAX, ALL_GOOD)
    publish_week(session, hall, WEEK, "李科长", LATER)
    session.commit()


def test_board_shows_the_latest_version(session: Session, client: FlaskClient) -> None:
    _publish_two_versions(session)
    page = _get(client, "/board")
    assert page.cells()[0] == HEADERS
    assert page.cells("window-row") == [V1_MARKET, V2_TAX]
    assert page.cells("total") == [V2_TOTAL]
    assert V1_TAX not in page.cells() and V1_TOTAL not in page.cells()
    assert "示范政务服务中心" in page.text and "2026年第40周" in page.text
    assert page.by_id["published-at"] == "2026-10-13 10:00"  # LATER in Asia/Shanghai


def test_board_week_page_shows_that_weeks_latest_version(session: Session, client: FlaskClient) -> None:
    _publish_two_versions(session)
    publish_week(session, make_hall(session), "2026-W41", "张主任", LATER)
    session.commit()
    latest = _get(client, "/board?hall=DEMO")
    assert "2026年第41周" in latest.text and latest.cells("window-row") == [[MARKET, "1", "0", "0", "1", "0.0", "0.0%–79.3%", "样本不足"]]
    week = _get(client, f"/board/{WEEK}?hall=DEMO")
    assert week.cells("window-row") == [V1_MARKET, V2_TAX] and week.cells("total") == [V2_TOTAL]
    assert "2026年第40周" in week.text


def test_a_single_version_is_shown_as_published(session: Session, client: FlaskClient) -> None:
    publish_week(session, build_week(session), WEEK, "张主任", REPORT_AT)
    session.commit()
    page = _get(client, "/board")
    assert page.cells("window-row") == [V1_MARKET, V1_TAX] and page.cells("total") == [V1_TOTAL]


def test_an_unpublished_week_is_404(session: Session, client: FlaskClient) -> None:
    _publish_two_versions(session)  # 2026-W41 has a callback but was never published
    page = _get(client, "/board/2026-W41", 404)
    assert "2026年第41周的回访结果尚未发布" in page.text and page.cells() == []
    assert "尚未发布" in _get(client, "/board/2026-W39", 404).text
    assert "周次格式不正确" in _get(client, "/board/not-a-week", 404).text


def test_nothing_published_yet(session: Session, client: FlaskClient) -> None:
    build_week(session)  # callbacks and answers exist, but no publication
    session.commit()
    page = _get(client, "/board")
    assert "暂无已发布的回访结果" in page.text
    assert page.cells() == [] and MARKET not in page.text


def test_halls_are_kept_apart(session: Session, client: FlaskClient) -> None:
    _publish_two_versions(session)
    make_hall(session, "H2", "第二政务服务中心")
    session.commit()
    page = _get(client, "/board?hall=H2")
    assert "第二政务服务中心" in page.text and "暂无已发布的回访结果" in page.text and MARKET not in page.text
    assert "未找到" in _get(client, "/board?hall=NOPE", 404).text


def test_big_screen_refresh_and_print_stylesheet(session: Session, client: FlaskClient) -> None:
    _publish_two_versions(session)
    page = _get(client, "/board")
    assert {"http-equiv": "refresh", "content": "300"} in page.metas
    assert page.metas[0] == {"charset": "utf-8"}
    # The stylesheet is a file of its own (the Content-Security-Policy forbids inline styles).
    html = client.get("/board").get_data(as_text=True)
    href = re.search(r'<link rel="stylesheet" href="([^"]+)">', html).group(1)
    stylesheet = client.get(href)
    assert stylesheet.status_code == 200 and stylesheet.mimetype == "text/css"
    assert "@media print" in stylesheet.get_data(as_text=True) and "<style" not in html


def test_window_names_are_escaped(session: Session, client: FlaskClient) -> None:
    name = '<script>alert("x")</script>窗口'
    for _ in range(2):
        add_callback(session, name, ALL_GOOD)
    publish_week(session, make_hall(session), WEEK, "张主任", REPORT_AT)
    session.commit()
    page = _get(client, "/board")
    assert page.cells("window-row")[0][0] == name  # shown as text
    assert "script" not in page.tags


# --- privacy (docs/architecture.md §Privacy and security; 篇2 六: window names and figures only) ---------

APPLICANTS = ["李秀英", "王建国", "陈晓明"]
PHONES = ["+8613812345678", "+8613987654321", "+8615011112222"]
STAFF = ["刘受理", "赵经办"]
APPROVER = "周审核"


def _personal_week(session: Session) -> None:
    """build_week, with named citizens, real-looking numbers, named staff and cases written up by name."""
    hall = build_week(session)
    staff = [Staff(hall_id=hall.id, name=name, window_id=make_window(session, hall, MARKET).id) for name in STAFF]
    session.add_all(staff)
    session.flush()
    cases = list(session.scalars(select(Case).where(Case.hall_id == hall.id).order_by(Case.id)))
    for index, case in enumerate(cases):
        case.applicant = APPLICANTS[index % len(APPLICANTS)]
        case.staff_id = staff[index % len(staff)].id
    for contact, phone in zip(session.scalars(select(Contact).order_by(Contact.id)), PHONES, strict=False):
        contact.phone = phone
    callback = add_callback(session, TAX, ALL_GOOD | {"attitude": "U", "overall": "U"})
    case = open_for_callback(session, callback, OPENED)
    assert case is not None
    rectify(session, case, f"已约谈{STAFF[0]}", OPENED, actor=STAFF[1])
    give_feedback(session, case, f"已电话告知{APPLICANTS[0]}", OPENED, actor=STAFF[1], via="phone")
    session.flush()


def _assert_no_personal_data(text: str) -> None:
    for value in [*APPLICANTS, *STAFF, APPROVER, "张三"]:
        assert value not in text
    for phone in PHONES:
        national = phone.removeprefix("+86")
        masked = f"{national[:3]}****{national[-4:]}"
        assert phone not in text and national not in text and masked not in text
    assert not re.search(r"\d{3}\*+\d{4}", text)


def test_no_personal_data_on_the_board_or_in_the_stored_figures(session: Session, client: FlaskClient) -> None:
    _personal_week(session)
    published = publish_week(session, make_hall(session), WEEK, APPROVER, REPORT_AT)
    session.commit()
    assert session.scalar(select(Case.applicant).where(Case.applicant == APPLICANTS[0])) == APPLICANTS[0]
    assert published.approved_by == APPROVER  # kept for the record, never shown

    html = client.get("/board").get_data(as_text=True)
    week_html = client.get(f"/board/{WEEK}").get_data(as_text=True)
    for text in (html, week_html):
        _assert_no_personal_data(text)
        assert not re.search(r"\d{7,}", text)  # no phone-like digit run at all on the page
        assert "审核人" not in text
    assert [row[0] for row in parse(html).cells("window-row")] == [MARKET, TAX]
    _assert_no_personal_data(json.dumps(published.figures, ensure_ascii=False))
