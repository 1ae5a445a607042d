"""Ledger API: POST /api/v1/cases — the same records, validation and idempotency as a file import; and
POST /api/v1/evaluations — evaluator presses (callback.evaluator), with the same tokens, bounds and problems.

What it accepts is bounded (docs/architecture.md §Privacy and security): a body over ``MAX_CONTENT_LENGTH``
bytes → 413; JSON that is not UTF-8, nested too deeply to parse, or holding a lone surrogate (``"\\ud800"``,
which no database column can store) → 400; both with ``{"problems": [...]}``. Per record, the field rules of a
file import apply (callback.ledger.records: lengths, and values that must be text or numbers).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from callback.config import current_settings
from callback.db import db_session
from callback.evaluator.levels import Levels
from callback.evaluator.records import EVALUATOR
from callback.evaluator.services import import_records as import_presses
from callback.halls.tokens import hall_for_token
from callback.ledger.headers import LEDGER, Vocabulary
from callback.ledger.importer import import_records
from callback.ledger.values import cell_text

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_RECORDS = 10_000


@bp.before_request
def _bound_the_body() -> None:
    request.max_content_length = current_settings().max_content_length


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: RequestEntityTooLarge):  # noqa: ANN202
    limit = request.max_content_length or 0
    return jsonify(problems=[f"请求体超过 {limit:,} 字节的上限，请分批提交 / the body is larger than {limit:,} bytes; "
                             "send the records in smaller batches"]), 413


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else request.headers.get("X-Api-Token")


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _parsed_body() -> tuple[Any, list[str]]:
    """The JSON body, or the problems that keep it from being read (the body is read here: 413 past the limit)."""
    if not request.is_json:
        return None, ["Content-Type 须为 application/json / Content-Type must be application/json"]
    raw = request.get_data(cache=False)
    try:
        return json.loads(raw, parse_constant=_no_constant), []
    except RecursionError:
        return None, ["JSON 嵌套过深 / the JSON is nested too deeply"]
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, NaN/Infinity, an integer of thousands of digits
        return None, ["请求体不是合法的 UTF-8 JSON / the body is not valid UTF-8 JSON"]


def _problems(body: Any, what: str = "case records") -> list[str]:
    if not isinstance(body, list):
        return [f"请求体必须是 JSON 数组 / body must be a JSON array of {what}"]
    if not body:
        return ["数组为空 / the array is empty"]
    if len(body) > MAX_RECORDS:
        return [f"一次最多 {MAX_RECORDS} 条 / at most {MAX_RECORDS} records per request"]
    return [f"第 {i} 条不是对象 / record {i} is not an object" for i, r in enumerate(body, 1) if not isinstance(r, dict)]


def _unstorable(text: str) -> bool:
    """A lone UTF-16 surrogate: valid in a JSON escape, but not Unicode text any database column can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _text_problems(body: list[dict[str, Any]]) -> list[str]:
    return [f"第 {i} 条含孤立的代理字符（如 \\ud800）/ record {i} holds a lone surrogate (e.g. \\ud800)"
            for i, record in enumerate(body, 1)
            if any(_unstorable(k) or (type(v) is str and _unstorable(v)) for k, v in record.items())]


def _canonical(record: dict[str, Any], vocabulary: Vocabulary = LEDGER) -> dict[str, Any]:
    """Accept canonical keys and the same header names a file may use (受理编号, 联系电话, …). Values other than
    text pass through as they are: the record rules reject what is not a number (objects, arrays, booleans)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = vocabulary.field_for_header(key)
        if name is not None and name not in out:
            out[name] = cell_text(value) if isinstance(value, str) else ("" if value is None else value)
    return out


_UNAUTHORISED = "缺少、无效、已吊销或已过期的 API 令牌 / missing, invalid, revoked or expired API token"


def _token_hall() -> Any:
    """The hall of the request's token, or None; the token's last use is committed in a short transaction."""
    session = db_session()
    hall = hall_for_token(session, _bearer_token())
    session.commit()
    return hall


def _records(what: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The body's records, or the problems that keep it from being imported."""
    body, problems = _parsed_body()
    return body, problems or _problems(body, what) or _text_problems(body)


@bp.post("/cases")
def post_cases():  # noqa: ANN201
    hall = _token_hall()
    if hall is None:
        return jsonify(error=_UNAUTHORISED), 401
    body, problems = _records("case records")
    if problems:
        return jsonify(problems=problems), 400
    rows = ((i, _canonical(r)) for i, r in enumerate(body, 1))
    session = db_session()
    summary = import_records(session, hall, rows, source="api")
    session.commit()
    return jsonify(summary.as_json()), 200


@bp.post("/evaluations")
def post_evaluations():  # noqa: ANN201
    """Evaluator presses: a JSON array of records keyed like a file's columns (评价时间, 窗口, 评价结果, 工作人员,
    工号, 办件编号, 评价编号) or canonically (pressed_at, window, level, staff, staff_no, case_no, record_id);
    ``?levels=5|3|digits&digits=1=S,2=B,3=U`` say what a digit means, as in ``callback evaluator import``."""
    hall = _token_hall()
    if hall is None:
        return jsonify(error=_UNAUTHORISED), 401
    try:
        levels = Levels.from_options(request.args.get("levels"), request.args.get("digits"))
    except ValueError as exc:
        return jsonify(problems=[str(exc)]), 400
    body, problems = _records("evaluation records")
    if problems:
        return jsonify(problems=problems), 400
    rows = ((i, _canonical(r, EVALUATOR)) for i, r in enumerate(body, 1))
    session = db_session()
    summary = import_presses(session, hall, rows, levels=levels, source="api")
    session.commit()
    return jsonify(summary.as_json()), 200
