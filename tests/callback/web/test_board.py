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

HEADERS = ["窗口", "样本数", "回访问卷（份）", "问卷得分", "评价器（次）", "评价器得分", "得分", "等级", "满意率区间"]
# Version 1 is build_week as test_report computes it by hand (Wilson bounds there, shown to one decimal).
V1_MARKET = [MARKET, "6", "6", "86.7", "0", "—", "86.7", "良好", "30.0%–90.3%"]
V1_TAX = [TAX, "2", "2", "91.7", "0", "—", "91.7", "样本不足", "9.5%–90.5%"]
V1_TOTAL = ["合计", "8", "8", "87.9", "0", "—", "87.9", "良好", "30.6%–86.3%"]
# Version 2 adds three 111111 tax callbacks. 税务 (100 + 83.33 + 300) / 5 = 96.67 → 96.7, satisfied 4/5, Wilson
# 0.375535 … 0.963776; 合计 (520 + 183.33 + 300) / 11 = 91.21 → 91.2, satisfied 8/11, Wilson 0.434355 … 0.902539.
V2_TAX = [TAX, "5", "5", "96.7", "0", "—", "96.7", "优秀", "37.6%–96.4%"]
V2_TOTAL = ["合计", "11", "11", "91.2", "0", "—", "91.2", "良好", "43.4%–90.3%"]
WEEK_LABEL = "2026年第40周（9月28日—10月4日）"


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
        if tag in ("span", "table", "h2"):
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
    assert "示范政务服务中心" in page.text and page.by_id["period"].strip() == f"{WEEK_LABEL} 服务对象回访评价结果公示"
    assert page.by_id["published-at"] == "2026-10-13 10:00"  # LATER in Asia/Shanghai
    assert "红旗窗口" not in page.text  # no month published yet


def test_board_week_page_shows_that_weeks_latest_version(session: Session, client: FlaskClient) -> None:
    _publish_two_versions(session)
    publish_week(session, make_hall(session), "2026-W41", "张主任", LATER)
    session.commit()
    latest = _get(client, "/board?hall=DEMO")
    # 2026-W41: one 111111 callback rated 不满意 overall: (5 · 100 + 0) / 6 = 83.3, satisfied 0 of 1
    assert "2026年第41周（10月5日—10月11日）" in latest.text
    assert latest.cells("window-row") == [[MARKET, "1", "1", "83.3", "0", "—", "83.3", "样本不足", "0.0%–79.3%"]]
    week = _get(client, f"/board/{WEEK}?hall=DEMO")
    assert week.cells("window-row") == [V1_MARKET, V2_TAX] and week.cells("total") == [V2_TOTAL]
    assert WEEK_LABEL in week.text


def test_a_single_version_is_shown_as_published(session: Session, client: FlaskClient) -> None:
    publish_week(session, build_week(session), WEEK, "张主任", REPORT_AT)
    session.commit()
    page = _get(client, "/board")
    assert page.cells("window-row") == [V1_MARKET, V1_TAX] and page.cells("total") == [V1_TOTAL]


def test_an_unpublished_week_is_404(session: Session, client: FlaskClient) -> None:
    _publish_two_versions(session)  # 2026-W41 has a callback but was never published
    page = _get(client, "/board/2026-W41", 404)
    assert "2026年第41周（10月5日—10月11日）的回访结果尚未发布" in page.text and page.cells() == []
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


# --- months and their 红旗窗口 (篇1) ------------------------------------------------------------------------

RED_FLAG_HEADERS = ["名次", "窗口", "得分", "等级"]


def _publish_month(session: Session) -> None:
    from callback.results.publication import publish_month
    from tests.callback.results.test_month_report import MONTH, build_month
    from tests.callback.results.test_month_report import REPORT_AT as MONTH_DONE

    hall, presses = build_month(session)
    publish_month(session, hall, MONTH, "张主任", MONTH_DONE, presses=presses)
    session.commit()


def test_the_board_shows_the_published_months_red_flags(session: Session, client: FlaskClient) -> None:
    """The month of test_month_report: 公安 1st, 税务 2nd, 人社 and 社保 tied 3rd at 92.0; 不动产 样本不足."""
    _publish_two_versions(session)
    _publish_month(session)
    page = _get(client, "/board")
    assert page.cells("window-row") == [V1_MARKET, V2_TAX]  # the week is still the week
    assert page.by_id["red-flags"].strip() == "2026年10月红旗窗口"
    assert page.cells("red-flag") == [["第1名", "公安窗口", "100.0", "优秀"], ["第2名", "税务窗口", "97.2", "优秀"],
                                      ["第3名", "人社窗口", "92.0", "良好"], ["第3名", "社保窗口", "92.0", "良好"]]
    assert "第3名并列：人社窗口、社保窗口（92.0 分）" in page.text
    assert "样本不足、不参与排名：不动产窗口" in page.text
    assert "第3名并列时并列窗口均为红旗窗口" in page.text


def test_the_month_page(session: Session, client: FlaskClient) -> None:
    """/board/month shows each window's month figures: 市场监管 2 responses (100, 60) → 80.0 and 10 presses → 86.0,
    window 83.0 合格, satisfied 10 of 12 (Wilson 55.2%–95.3%)."""
    _publish_month(session)
    for url in ("/board/month", "/board/month/2026-10?hall=DEMO"):
        page = _get(client, url)
        assert page.cells()[0] == HEADERS
        assert page.by_id["period"].strip() == "2026年10月 服务对象回访评价月度结果公示"
        rows = {row[0]: row for row in page.cells("window-row")}
        assert rows["市场监管窗口"] == ["市场监管窗口", "12", "2", "80.0", "10", "86.0", "83.0", "合格", "55.2%–95.3%"]
        assert rows["不动产窗口"][7] == "样本不足"
        assert [row[1] for row in page.cells("red-flag")] == ["公安窗口", "税务窗口", "人社窗口", "社保窗口"]


def test_months_not_published_are_404(session: Session, client: FlaskClient) -> None:
    make_hall(session)
    session.commit()
    assert "暂无已发布的月度结果" in _get(client, "/board/month", 404).text
    _publish_month(session)
    assert "2026年9月的月度结果尚未发布" in _get(client, "/board/month/2026-09", 404).text
    assert "月份格式不正确" in _get(client, "/board/month/2026-13", 404).text
    empty = _get(client, "/board")  # no week published yet: the board says so, and shows the month's 红旗窗口
    assert "暂无已发布的回访结果" in empty.text and len(empty.cells("red-flag")) == 4


def test_the_board_shows_the_evaluator_figures_of_a_published_week(session: Session, client: FlaskClient) -> None:
    """build_week with 10 presses for 市场监管 (8 S, B, U → 86.0): (86.7 + 86.0) / 2 = 86.35 → 86.4, n = 16."""
    hall = build_week(session)
    market = make_window(session, hall, MARKET)
    publish_week(session, hall, WEEK, "张主任", REPORT_AT, presses={market.id: "S" * 8 + "BU"})
    session.commit()
    row = _get(client, "/board").cells("window-row")[0]
    assert row[:8] == [MARKET, "16", "6", "86.7", "10", "86.0", "86.4", "良好"]


def test_no_personal_data_on_the_month_page(session: Session, client: FlaskClient) -> None:
    _publish_month(session)
    hall = make_hall(session)
    staff = Staff(hall_id=hall.id, name=STAFF[0], window_id=make_window(session, hall, MARKET).id)
    session.add(staff)
    session.flush()
    for index, case in enumerate(session.scalars(select(Case).where(Case.hall_id == hall.id))):
        case.applicant, case.staff_id = APPLICANTS[index % len(APPLICANTS)], staff.id
    for contact, phone in zip(session.scalars(select(Contact).order_by(Contact.id)), PHONES, strict=False):
        contact.phone = phone
    from callback.results.publication import publish_month

    publish_month(session, hall, "2026-10", APPROVER, LATER)
    session.commit()
    for url in ("/board/month", "/board"):
        text = client.get(url).get_data(as_text=True)
        _assert_no_personal_data(text)
        assert not re.search(r"\d{7,}", text) and "审核人" not in text
