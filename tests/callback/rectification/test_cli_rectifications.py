"""`callback rectifications` shows what a supervisor needs to act on a case: the callback, the case number
(办件编号) and the masked excerpt of what the citizen said."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session

from callback.models import Case
from callback.rectification.services import open_for_callback
from tests.callback.rectification.test_rectification import ALL_GOOD, OPENED, _cli, make_callback


def _case_with_words(session: Session, suggestion: str, transcript: list[str]):  # noqa: ANN202
    callback = make_callback(session, ALL_GOOD | {"overall": "U"}, suggestion=suggestion)
    case = open_for_callback(session, callback, OPENED)
    assert case is not None
    # As a case stored under older masking rules might hold it: the listing masks again for display.
    case.excerpt = {**case.excerpt, "suggestion": suggestion,
                    "transcript": [{"at": OPENED.isoformat(), "kind": "speech", "text": t} for t in transcript]}
    session.commit()
    return case, session.get(Case, callback.case_id).case_no


def test_json_carries_the_callback_the_case_number_and_the_masked_words(session: Session, database_url: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    case, case_no = _case_with_words(session, "窗口态度差，请打我电话13912345678",
                                     ["窗口态度差，请打我电话13912345678", "身份证110101199003071234，张三"])
    result = _cli(database_url, monkeypatch, OPENED, "rectifications", "--json")
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert (row["id"], row["callback_id"], row["case_no"]) == (case.id, case.callback_id, case_no)
    said = row["excerpt"]
    assert said.count("窗口态度差") == 1  # the suggestion and the same transcript line are shown once
    assert "139****5678" in said and "13912345678" not in said
    assert "1234" in said and "110101199003071234" not in said
    assert "张三" not in said  # the applicant's name (the factory's case is 张三's)
    assert "13912345678" not in result.output and "199003071234" not in result.output


def test_the_table_names_the_callback_and_case_and_quotes_the_citizen(session: Session, database_url: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    case, case_no = _case_with_words(session, "办事太慢，联系 138 0013 8000" + "。" * 100, [])
    result = _cli(database_url, monkeypatch, OPENED, "rectifications")
    assert result.exit_code == 0, result.output
    assert f"#{case.id}" in result.output and f"回访#{case.callback_id}" in result.output
    assert case_no in result.output
    assert "申请人说：「办事太慢，联系 138****8000" in result.output and "…」" in result.output
    assert "0013" not in result.output.replace(case_no, "")  # the factory's case numbers may hold 0013 themselves


def test_a_case_without_words_shows_no_quote(session: Session, database_url: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    case, _ = _case_with_words(session, "", [])
    rows = json.loads(_cli(database_url, monkeypatch, OPENED, "rectifications", "--json").output)
    assert rows[0]["excerpt"] == ""
    table = _cli(database_url, monkeypatch, OPENED, "rectifications").output
    assert "申请人说" not in table and f"回访#{case.callback_id}" in table
