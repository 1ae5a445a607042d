"""POST /api/v1/evaluations: the ledger API's tokens, bounds and problems; the file's record rules and idempotency."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from callback.cli import main
from callback.db import session_factory
from callback.halls.services import ensure_hall
from callback.models import EvaluatorPress, Hall
from callback.web.app import create_app

RECORDS = [
    {"pressed_at": "2026-11-23 09:12:05", "window": "税务窗口", "staff": "王芳", "level": "非常满意",
     "case_no": "SF1"},
    {"评价时间": "2026年11月23日 9:30", "窗口名称": "税务窗口", "工号": "A02", "评价结果": "基本满意"},
    {"时间": "2026-11-23T02:00:00Z", "窗口": "市场监管窗口", "满意度": 2},  # ISO with offset: 10:00 Shanghai
]


@pytest.fixture
def client(database_url, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("DATABASE_URL", database_url)
    with session_factory(database_url).begin() as s:
        ensure_hall(s, "H1")
        ensure_hall(s, "H2")
    return create_app({"database_url": database_url}).test_client()


def token_for(hall: str) -> dict[str, str]:
    result = CliRunner().invoke(main, ["tokens", "create", "--hall", hall])
    assert result.exit_code == 0, result.output
    return {"Authorization": f"Bearer {result.stdout.strip()}"}


def presses(database_url: str, hall_code: str) -> list[tuple[str, str]]:
    with session_factory(database_url)() as s:
        rows = s.execute(select(EvaluatorPress.rating, EvaluatorPress.level).join(Hall, Hall.id == EvaluatorPress.hall_id)
                         .where(Hall.code == hall_code).order_by(EvaluatorPress.pressed_at))
        return [tuple(row) for row in rows]


def test_a_good_post_lands_in_the_tokens_hall_and_reposting_adds_nothing(client, database_url) -> None:  # noqa: ANN001
    headers = token_for("H1")
    first = client.post("/api/v1/evaluations", json=RECORDS, headers=headers)
    assert first.status_code == 200
    assert first.json == {"rows": 3, "imported": 3, "updated": 0, "unchanged": 0, "rejected": []}
    assert presses(database_url, "H1") == [("S", "非常满意"), ("B", "基本满意"), ("U", "2")]  # 2 stars: 不满意
    again = client.post("/api/v1/evaluations", json=RECORDS, headers=headers)
    assert again.json["unchanged"] == 3 and again.json["imported"] == 0
    assert presses(database_url, "H2") == []


def test_levels_and_digits_as_query_options(client, database_url) -> None:  # noqa: ANN001
    body = [{"pressed_at": "2026-11-23 09:00", "window": "税务窗口", "level": "2"}]
    response = client.post("/api/v1/evaluations?levels=3", json=body, headers=token_for("H1"))
    assert response.status_code == 200 and presses(database_url, "H1") == [("B", "2")]
    response = client.post("/api/v1/evaluations?digits=1%3DS,2%3DU", json=body, headers=token_for("H1"))
    assert response.json["updated"] == 1 and presses(database_url, "H1") == [("U", "2")]


def test_bad_records_are_rejected_by_position_and_good_ones_land(client, database_url) -> None:  # noqa: ANN001
    body = [RECORDS[0], {"pressed_at": "不是时间", "window": "税务窗口", "level": "满意"},
            {"pressed_at": "2026-11-23 10:00", "window": ["税务窗口"], "level": "满意"},
            {"pressed_at": "2026-11-23 10:00", "window": "税务窗口", "level": "好评"}]
    response = client.post("/api/v1/evaluations", json=body, headers=token_for("H1"))
    assert response.status_code == 200 and response.json["imported"] == 1
    assert [(r["row"], r["reason"].split(" / ")[0]) for r in response.json["rejected"]] == [
        (2, "评价时间无法识别: 无法识别的日期时间：'不是时间'"),
        (3, "窗口须为文字或数字"),
        (4, "评价结果“好评”无法区分等级（好评包括满意或基本满意），请导出满意度等级")]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}])
def test_without_a_valid_token_401_and_nothing_stored(client, database_url, headers) -> None:  # noqa: ANN001
    response = client.post("/api/v1/evaluations", json=RECORDS, headers=headers)
    assert response.status_code == 401 and "API 令牌" in response.json["error"]
    assert presses(database_url, "H1") == []


@pytest.mark.parametrize(("body", "problem"), [
    ('{"window": "x"}', "必须是 JSON 数组"), ("[1, 2]", "第 1 条不是对象"), ("[]", "数组为空"),
    ("not json", "不是合法的 UTF-8 JSON"), ('[{"window": "\\ud800"}]', "孤立的代理字符"),
])
def test_a_malformed_body_is_400_with_its_problems(client, database_url, body, problem) -> None:  # noqa: ANN001
    response = client.post("/api/v1/evaluations", data=body, content_type="application/json",
                           headers=token_for("H1"))
    assert response.status_code == 400
    assert any(problem in p for p in response.json["problems"])
    assert presses(database_url, "H1") == []


@pytest.mark.parametrize("query", ["levels=7", "levels=5&digits=1%3DS", "digits=1%3DX"])
def test_bad_level_options_are_400_with_a_problem(client, database_url, query) -> None:  # noqa: ANN001
    response = client.post(f"/api/v1/evaluations?{query}", json=RECORDS, headers=token_for("H1"))
    assert response.status_code == 400 and len(response.json["problems"]) == 1
    assert presses(database_url, "H1") == []


def test_a_body_over_the_limit_is_413_with_a_problem(database_url, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("DATABASE_URL", database_url)
    with session_factory(database_url).begin() as s:
        ensure_hall(s, "H1")
    client = create_app({"database_url": database_url, "max_content_length": 2000}).test_client()
    big = [{**RECORDS[0], "case_no": f"SF{i}"} for i in range(40)]
    response = client.post("/api/v1/evaluations", json=big, headers=token_for("H1"))
    assert response.status_code == 413 and "分批提交" in response.json["problems"][0]
    assert presses(database_url, "H1") == []


def test_the_cases_endpoint_is_unchanged_beside_it(client, database_url) -> None:  # noqa: ANN001
    response = client.post("/api/v1/cases", json=[{"case_no": "A1", "phone": "13800138000", "window": "税务窗口",
                                                   "accepted_at": "2026-11-03 09:12"}], headers=token_for("H1"))
    assert response.json == {"rows": 1, "imported": 1, "updated": 0, "unchanged": 0, "rejected": []}
    with session_factory(database_url)() as s:
        assert s.scalar(select(func.count()).select_from(EvaluatorPress)) == 0
