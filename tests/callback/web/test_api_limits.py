"""What the ledger API accepts is bounded (docs/architecture.md §Privacy and security): body size, field
lengths, value types, nesting, lone surrogates — each refused with a clear problem, never a 500 and never
stored as Python's text of an object."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from callback.config import Settings
from callback.db import session_factory
from callback.halls.services import ensure_hall
from callback.halls.tokens import create_token
from callback.models import Case, Hall
from callback.web.app import create_app

GOOD = {"case_no": "LIM-1", "phone": "13800138000", "window": "税务窗口", "accepted_at": "2026-11-03 09:12"}


@pytest.fixture
def token(database_url: str) -> str:
    with session_factory(database_url).begin() as s:
        return create_token(s, ensure_hall(s, "H1"))[1]


def client_for(database_url: str, **config: object):  # noqa: ANN201
    return create_app({"database_url": database_url, **config}).test_client()


@pytest.fixture
def client(database_url: str):  # noqa: ANN201
    return client_for(database_url)


def post(client, token: str, body: object | str | bytes):  # noqa: ANN001, ANN201
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post("/api/v1/cases", data=data, content_type="application/json",
                       headers={"Authorization": f"Bearer {token}"})


def stored(database_url: str) -> dict[str, Case]:
    with session_factory(database_url)() as s:
        rows = s.scalars(select(Case).join(Hall, Hall.id == Case.hall_id).where(Hall.code == "H1")).unique()
        return {c.case_no: c for c in rows}


def assert_problems(response, status: int) -> list[str]:  # noqa: ANN001
    assert response.status_code == status, response.data
    problems = response.json["problems"]
    assert isinstance(problems, list) and problems and all(isinstance(p, str) for p in problems)
    return problems


# --- body size -----------------------------------------------------------------------------------------------------


def test_the_default_limit_is_ten_megabytes() -> None:
    assert Settings().max_content_length == 10 * 1024 * 1024


def test_a_body_over_the_limit_is_413_with_problems(database_url: str, token: str) -> None:
    client = client_for(database_url, max_content_length=2000)
    body = [dict(GOOD, case_no=f"BIG-{i}") for i in range(40)]  # ~4 KB
    assert len(json.dumps(body)) > 2000
    problems = assert_problems(post(client, token, body), 413)
    assert "2,000" in problems[0]
    assert stored(database_url) == {}
    assert post(client, token, body[:5]).status_code == 200  # under the limit, the same records land


def test_the_default_limit_holds(client, database_url: str, token: str) -> None:
    padding = " " * (10 * 1024 * 1024)
    assert_problems(post(client, token, json.dumps([GOOD]) + padding), 413)
    assert stored(database_url) == {}


def test_the_limit_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "12345")
    assert Settings.from_env().max_content_length == 12345


# --- field lengths -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "limit"), [
    ("case_no", 64), ("phone", 64), ("window", 200), ("staff", 200), ("applicant", 200), ("item_name", 200),
    ("item_kind", 50), ("accepted_at", 64),
])
def test_a_field_over_its_limit_rejects_its_record_and_the_others_land(client, database_url, token, field, limit):
    at_limit = "办" * limit if field not in ("phone", "accepted_at") else "1" * limit
    over = at_limit + "件"
    body = [GOOD, {**GOOD, "case_no": "LIM-2", field: over}]
    if field not in ("case_no", "phone", "accepted_at"):  # the longest value that still lands
        body.append({**GOOD, "case_no": "LIM-3", field: at_limit})
    response = post(client, token, body)
    assert response.status_code == 200, response.data
    assert [r["row"] for r in response.json["rejected"]] == [2]
    assert str(limit) in response.json["rejected"][0]["reason"]
    assert "LIM-1" in stored(database_url) and "LIM-2" not in stored(database_url)
    if len(body) == 3:
        assert "LIM-3" in stored(database_url)


def test_a_case_number_of_exactly_the_limit_lands(client, database_url, token) -> None:
    response = post(client, token, [dict(GOOD, case_no="A" * 64)])
    assert response.json["imported"] == 1 and "A" * 64 in stored(database_url)


# --- value types ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [{"a": 1}, ["税务窗口"], True, False, {"$ne": None}, 10**30])
@pytest.mark.parametrize("field", ["case_no", "window", "phone", "applicant", "item_name", "staff", "accepted_at"])
def test_objects_arrays_and_booleans_reject_their_record(client, database_url, token, field, value):
    response = post(client, token, [{**GOOD, "case_no": "T-1", field: value}, dict(GOOD, case_no="T-2")])
    assert response.status_code == 200, response.data
    assert [r["row"] for r in response.json["rejected"]] == [1]
    assert set(stored(database_url)) == {"T-2"}


def test_numbers_are_still_accepted(client, database_url, token) -> None:
    response = post(client, token, [{"case_no": 20261103001, "phone": 13800138000, "window": "税务窗口",
                                     "accepted_at": 46329.5}])
    assert response.json["imported"] == 1, response.json
    case = stored(database_url)["20261103001"]
    assert (case.phone_kind, case.accepted_at.isoformat()) == ("mobile", "2026-11-03T04:00:00+00:00")


# --- nesting, surrogates, non-JSON numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    "[" * 100_000 + "]" * 100_000,
    "[" * 5000,
    json.dumps([dict(GOOD, window=None)])[:-2] + ', "x": ' + "[" * 50_000 + "]" * 50_000 + "}]",
    '{"a":' * 20_000 + "1" + "}" * 20_000,
])
def test_deeply_nested_json_is_400(client, database_url, token, body) -> None:
    assert_problems(post(client, token, body), 400)
    assert stored(database_url) == {}


@pytest.mark.parametrize("body", [
    '[{"case_no": "\\ud800", "phone": "13800138000", "window": "w", "accepted_at": "2026-11-03 09:12"}]',
    '[{"case_no": "S-1", "phone": "13800138000", "window": "税务\\udfff窗口", "accepted_at": "2026-11-03 09:12"}]',
    '[{"case_no": "S-1", "phone": "13800138000", "window": "w", "accepted_at": "2026-11-03 09:12", "\\ud83d": 1}]',
    '[{"case_no": "S-1", "phone": "1380013\\ud800", "window": "w", "accepted_at": "2026-11-03 09:12"}]',
])
def test_lone_surrogates_are_400(client, database_url, token, body) -> None:
    problems = assert_problems(post(client, token, body), 400)
    assert "第 1 条" in problems[0]
    assert stored(database_url) == {}


def test_a_surrogate_pair_is_a_character_and_lands(client, database_url, token) -> None:
    body = '[{"case_no": "E-1", "phone": "13800138000", "window": "税务窗口\\ud83d\\ude00", "accepted_at": "2026-11-03"}]'
    assert post(client, token, body).json["imported"] == 1
    assert stored(database_url)["E-1"].window.name == "税务窗口\U0001f600"


@pytest.mark.parametrize("body", [
    '[{"case_no": NaN, "window": "w", "accepted_at": "2026-11-03"}]',
    '[{"case_no": "N-1", "window": "w", "accepted_at": Infinity}]',
    b'[{"case_no": "\xff\xfe", "window": "w"}]',
    '[{"case_no": ' + "9" * 5000 + "}]",
])
def test_what_is_not_json_or_not_utf8_is_400(client, database_url, token, body) -> None:
    assert_problems(post(client, token, body), 400)
    assert stored(database_url) == {}


def test_a_form_body_is_400(client, token) -> None:
    response = client.post("/api/v1/cases", data={"case_no": "x"}, headers={"Authorization": f"Bearer {token}"})
    assert_problems(response, 400)
