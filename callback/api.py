"""Ledger API: POST /api/v1/cases (issue 2 §6) — the same records, validation and idempotency as a file import."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from callback.app import db_session
from callback.ledger.headers import field_for_header
from callback.ledger.importer import import_records
from callback.ledger.values import cell_text
from callback.tokens import hall_for_token

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_RECORDS = 10_000


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else request.headers.get("X-Api-Token")


def _problems(body: Any) -> list[str]:
    if not isinstance(body, list):
        return ["请求体必须是 JSON 数组 / body must be a JSON array of case records"]
    if not body:
        return ["数组为空 / the array is empty"]
    if len(body) > MAX_RECORDS:
        return [f"一次最多 {MAX_RECORDS} 条 / at most {MAX_RECORDS} records per request"]
    return [f"第 {i} 条不是对象 / record {i} is not an object" for i, r in enumerate(body, 1) if not isinstance(r, dict)]


def _canonical(record: dict[str, Any]) -> dict[str, Any]:
    """Accept canonical keys and the same header names a file may use (受理编号, 联系电话, …)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = field_for_header(key)
        if name is not None and name not in out:
            out[name] = cell_text(value) if isinstance(value, str) else ("" if value is None else value)
    return out


@bp.post("/cases")
def post_cases():  # noqa: ANN201
    session = db_session()
    hall = hall_for_token(session, _bearer_token())
    if hall is None:
        return jsonify(error="缺少或无效的 API 令牌 / missing or invalid API token"), 401
    body = request.get_json(silent=True)
    problems = _problems(body)
    if problems:
        return jsonify(problems=problems), 400
    rows = ((i, _canonical(r)) for i, r in enumerate(body, 1))
    summary = import_records(session, hall, rows, source="api")
    session.commit()
    return jsonify(summary.as_json()), 200
