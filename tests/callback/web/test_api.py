"""POST /api/v1/cases: per-hall tokens, the same validation and idempotency as the file import."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from callback.cli import main
from callback.db import session_factory
from callback.halls.services import ensure_hall
from callback.models import Case, Hall
from callback.web.app import create_app

RECORDS = [
    {"case_no": "API-1", "phone": "13800138000", "window": "税务窗口", "accepted_at": "2026-11-03 09:12",
     "item_name": "发票领用"},
    {"受理编号": "API-2", "手机号码": "+86 139 1234 5678", "受理窗口": "税务窗口", "受理时间": "2026年11月4日 9:00"},
]


@pytest.fixture
def client(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    with session_factory(database_url).begin() as s:
        ensure_hall(s, "H1")
        ensure_hall(s, "H2")
    app = create_app({"database_url": database_url})
    return app.test_client()


def token_for(hall: str) -> str:
    result = CliRunner().invoke(main, ["tokens", "create", "--hall", hall])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def count_cases(database_url: str, hall_code: str) -> int:
    with session_factory(database_url)() as s:
        return s.scalar(select(func.count()).select_from(Case).join(Hall, Hall.id == Case.hall_id).where(Hall.code == hall_code))


def test_records_land_in_the_tokens_hall_and_reposting_changes_nothing(client, database_url):
    headers = {"Authorization": f"Bearer {token_for('H1')}"}
    first = client.post("/api/v1/cases", json=RECORDS, headers=headers)
    assert first.status_code == 200
    assert first.json == {"rows": 2, "imported": 2, "updated": 0, "unchanged": 0, "rejected": []}
    again = client.post("/api/v1/cases", json=RECORDS, headers=headers)
    assert again.json["unchanged"] == 2 and again.json["imported"] == 0
    assert count_cases(database_url, "H1") == 2
    assert count_cases(database_url, "H2") == 0


def test_bad_records_are_rejected_by_position_and_good_ones_land(client, database_url):
    body = [RECORDS[0], {"case_no": "API-3", "window": "税务窗口", "accepted_at": "not a date", "phone": ""}]
    response = client.post("/api/v1/cases", json=body, headers={"Authorization": f"Bearer {token_for('H1')}"})
    assert response.status_code == 200
    assert response.json["imported"] == 1
    assert response.json["rejected"][0]["row"] == 2
    assert count_cases(database_url, "H1") == 1


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}])
def test_missing_or_wrong_token_is_401_and_stores_nothing(client, database_url, headers):
    response = client.post("/api/v1/cases", json=RECORDS, headers=headers)
    assert response.status_code == 401
    assert count_cases(database_url, "H1") == 0


@pytest.mark.parametrize("body", ['{"case_no": "x"}', "[1, 2]", "[]", "not json"])
def test_malformed_body_is_400_with_a_list_of_problems(client, database_url, body):
    response = client.post("/api/v1/cases", data=body, content_type="application/json",
                           headers={"Authorization": f"Bearer {token_for('H1')}"})
    assert response.status_code == 400
    assert isinstance(response.json["problems"], list) and response.json["problems"]
    assert count_cases(database_url, "H1") == 0


def test_token_for_unknown_hall_is_refused(client):
    result = CliRunner().invoke(main, ["tokens", "create", "--hall", "NOPE"])
    assert result.exit_code == 2
