"""The imports page: a supervisor uploads a ledger or an evaluator file in the browser; the import is the CLI's own
(same rows land, same rejections by row number), its summary and rejected rows are shown, it is audited with the
account; nobody else may upload, a form without its CSRF token is refused, a file over MAX_CONTENT_LENGTH is 413."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.accounts.roles import Role
from callback.ledger.importer import import_file
from callback.models import AuditEvent, Case, EvaluatorPress, ImportBatch, User
from callback.web.app import create_app
from callback.web.console.imports import safe_filename
from tests.callback.web.console.helpers import csrf_token, login, make_user, text_of

PAGE = "/console/imports"
ADDR = {"REMOTE_ADDR": "192.0.2.9"}

# A GBK export as Chinese Excel saves it: a title row, two good rows, a row without a case number (row 4) and one
# whose accepted time cannot be read (row 6).
LEDGER = (
    "潍坊高新区政务服务中心受理台账（2026年11月）,,,,\n"
    "受理编号,联系电话,受理窗口,受理时间,事项名称\n"
    "SF001,138 0013 8000,市场监管窗口,2026-11-03 09:12,个体工商户设立登记\n"
    ",13900139000,税务窗口,2026-11-03 10:00,发票领用\n"
    "SF003,0536-8881234,税务窗口,2026-11-04 14:30,发票领用\n"
    "SF004,13700137000,税务窗口,下周一,发票领用\n"
).encode("gbk")
EVALUATOR = (
    "评价时间,窗口名称,工作人员,评价结果\n"
    "2026-11-10 09:21:29,市场监管窗口,刘洋,1\n"
    "2026-11-10 09:40:00,市场监管窗口,刘洋,2\n"
    "2026-11-10 10:05:00,税务窗口,张伟,好评\n"
).encode()


@pytest.fixture
def supervisor(db: Session, site) -> User:  # noqa: ANN001
    user = make_user(db, site.hall, Role.SUPERVISOR, username="zhang", name="张督查")
    for role in (Role.ADMIN, Role.LEADER, Role.WINDOW_LEAD):
        make_user(db, site.hall, role, username=role.value, window="税务窗口" if role is Role.WINDOW_LEAD else None)
    db.commit()
    return user


@pytest.fixture
def client(console_app: Flask, supervisor: User) -> FlaskClient:
    client = console_app.test_client()
    assert login(client, "zhang").status_code == 302
    return client


def _upload(client: FlaskClient, url: str, content: bytes, name: str, token: str | None = None, **fields: str):  # noqa: ANN202
    data = {"file": (io.BytesIO(content), name), **fields}
    if token is not False:
        data["csrf_token"] = token or csrf_token(client, PAGE)
    return client.post(url, data=data, content_type="multipart/form-data", environ_base=ADDR)


def test_a_ledger_upload_lands_the_good_rows_and_shows_the_bad_ones_by_row_number(
        client: FlaskClient, db: Session, supervisor: User, site) -> None:  # noqa: ANN001
    response = _upload(client, f"{PAGE}/ledger", LEDGER, "受理台账-2026-11.csv")
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    text = text_of(page.get_data(as_text=True))
    assert "已导入 受理台账-2026-11.csv：共 4 行，新增 2，更新 0，未变 0，拒绝 2" in text
    assert "第 4 行" in text and "缺少办件编号" in text
    assert "第 6 行" in text and "受理时间" in text and "下周一" in text
    assert "张督查 (console:zhang)" in text
    cases = db.scalars(select(Case.case_no).where(Case.hall_id == site.hall.id).order_by(Case.case_no)).all()
    assert cases == ["SF001", "SF003"]
    batch = db.scalar(select(ImportBatch).where(ImportBatch.hall_id == site.hall.id))
    assert batch.source == "受理台账-2026-11.csv" and [r["row"] for r in batch.rejected] == [4, 6]
    [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "ledger_imported"))
    assert (event.entity_id, event.user_id, event.ip) == (batch.id, supervisor.id, "192.0.2.9")
    assert event.detail == {"file": "受理台账-2026-11.csv", "rows": 4, "imported": 2, "updated": 0,
                            "unchanged": 0, "rejected": 2}


def test_uploading_the_same_ledger_again_adds_nothing(client: FlaskClient, db: Session, site) -> None:  # noqa: ANN001
    _upload(client, f"{PAGE}/ledger", LEDGER, "台账.csv")
    response = _upload(client, f"{PAGE}/ledger", LEDGER, "台账.csv")
    text = text_of(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "共 4 行，新增 0，更新 0，未变 2，拒绝 2" in text
    assert db.scalar(select(func.count()).select_from(Case).where(Case.hall_id == site.hall.id)) == 2


def test_an_evaluator_upload_reads_digits_on_the_chosen_scale(client: FlaskClient, db: Session, site) -> None:  # noqa: ANN001
    response = _upload(client, f"{PAGE}/evaluator", EVALUATOR, "评价器导出.csv", levels="3")
    assert response.status_code == 302
    text = text_of(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "评价器" in text and "新增 2" in text and "拒绝 1" in text
    assert "第 4 行" in text and "好评" in text  # 好评 alone does not say which level
    ratings = db.scalars(select(EvaluatorPress.rating).where(EvaluatorPress.hall_id == site.hall.id)
                         .order_by(EvaluatorPress.pressed_at)).all()
    assert ratings == ["S", "B"]  # on the three-key scale 2 is 基本满意 (on the default five stars it is 不满意)
    assert db.scalar(select(AuditEvent.action).where(AuditEvent.entity == "import_batch")) == "evaluator_imported"


def test_an_evaluator_upload_with_its_own_digit_map(client: FlaskClient, db: Session, site) -> None:  # noqa: ANN001
    bad = _upload(client, f"{PAGE}/evaluator", EVALUATOR, "e.csv", levels="digits", digits="1=S,1=B")
    assert bad.status_code == 400 and "出现了两次" in text_of(bad.get_data(as_text=True))
    assert db.scalar(select(func.count()).select_from(EvaluatorPress)) == 0
    good = _upload(client, f"{PAGE}/evaluator", EVALUATOR, "e.csv", levels="digits", digits="1=U,2=S")
    assert good.status_code == 302
    ratings = db.scalars(select(EvaluatorPress.rating).order_by(EvaluatorPress.pressed_at)).all()
    assert ratings == ["U", "S"]


def test_a_file_without_the_required_columns_imports_nothing_and_says_why(client: FlaskClient, db: Session) -> None:
    response = _upload(client, f"{PAGE}/ledger", "姓名,电话\n张三,13800138000\n".encode(), "名单.csv")
    assert response.status_code == 400
    text = text_of(response.get_data(as_text=True))
    assert "无法导入 名单.csv" in text and "办件编号" in text
    assert db.scalar(select(func.count()).select_from(ImportBatch)) == 0
    assert db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "import_batch")) == 0


def test_no_file_is_a_field_error(client: FlaskClient) -> None:
    response = client.post(f"{PAGE}/ledger", data={"csrf_token": csrf_token(client, PAGE)},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert "请选择要上传的文件" in text_of(response.get_data(as_text=True))


def test_an_upload_without_the_csrf_token_is_refused(client: FlaskClient, db: Session) -> None:
    response = _upload(client, f"{PAGE}/ledger", LEDGER, "台账.csv", token=False)
    assert response.status_code == 400
    assert "页面已过期" in text_of(response.get_data(as_text=True))
    assert db.scalar(select(func.count()).select_from(Case)) == 0


def test_a_file_over_the_limit_is_413_in_chinese(database_url: str, supervisor: User, db: Session) -> None:
    app = create_app({"database_url": database_url, "max_content_length": 2000})
    client = app.test_client()
    login(client, "zhang")
    big = LEDGER + b"SF9,13800138000,\xcb\xb0\xce\xf1\xb4\xb0\xbf\xda,2026-11-03 09:12,x\n" * 100
    response = _upload(client, f"{PAGE}/ledger", big, "大文件.csv")
    assert response.status_code == 413
    assert "文件过大" in text_of(response.get_data(as_text=True))
    assert db.scalar(select(func.count()).select_from(Case)) == 0


@pytest.mark.parametrize("role", [Role.ADMIN, Role.LEADER, Role.WINDOW_LEAD])
def test_only_supervisors_upload(console_app: Flask, supervisor: User, db: Session, role: Role) -> None:
    client = console_app.test_client()
    login(client, role.value)
    assert client.get(PAGE).status_code == 403
    token = csrf_token(client, "/console/")
    assert _upload(client, f"{PAGE}/ledger", LEDGER, "台账.csv", token=token).status_code == 403
    assert db.scalar(select(func.count()).select_from(Case)) == 0


def test_recent_imports_list_the_command_lines_too_and_another_halls_batch_is_404(
        client: FlaskClient, db: Session, site, tmp_path: Path) -> None:  # noqa: ANN001
    file = tmp_path / "命令行台账.csv"
    file.write_bytes(LEDGER)
    import_file(db, site.hall, file)
    import_file(db, site.other_hall, file)
    db.commit()
    text = text_of(client.get(PAGE).get_data(as_text=True))
    assert "命令行台账.csv" in text and "命令行或接口" in text and "受理台账" in text
    other = db.scalar(select(ImportBatch.id).where(ImportBatch.hall_id == site.other_hall.id))
    assert client.get(f"{PAGE}/{other}").status_code == 404
    assert text.count("命令行台账.csv") == 1  # only this hall's


def test_the_empty_page_says_what_to_do(client: FlaskClient) -> None:
    text = text_of(client.get(PAGE).get_data(as_text=True))
    assert "还没有导入记录" in text and "导入受理台账" in text and "导入评价器数据" in text


@pytest.mark.parametrize(("name", "safe"), [
    ("受理台账-2026-11.csv", "受理台账-2026-11.csv"),
    ("C:\\Users\\张\\台账.xlsx", "台账.xlsx"),
    ("../../etc/passwd", "passwd"),
    (".hidden.csv", "hidden.csv"),
    ("a\x00b\nc.csv", "abc.csv"),
    ("", "upload.csv"),
])
def test_an_uploaded_name_is_kept_readable_but_never_a_path(name: str, safe: str) -> None:
    assert safe_filename(name) == safe
