"""`callback assess` speaks Chinese to people: the human output shows labels and clauses, never the
rule codes (`evaluator_basic`) or field names (`online`); the JSON keeps the codes for scripts."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy.orm import Session

from tests.callback.results.test_assessment_month import _build_all, _cli

ENGLISH_WORD = re.compile(r"[A-Za-z_]{2,}")


def test_human_output_has_no_english_codes(session: Session, database_url: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _build_all(session)
    result = _cli(database_url, monkeypatch, "--month", "2026-11")
    assert result.exit_code == 0, result.output
    assert ENGLISH_WORD.findall(result.output) == []
    assert "篇3 五1：服务监督卡、评价器等评议为基本满意（每次）" in result.output
    assert "网办件和出件窗口办件量本系统无数据，按0计" in result.output


def test_json_keeps_the_codes(session: Session, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _build_all(session)
    payload = json.loads(_cli(database_url, monkeypatch, "--month", "2026-11", "--json").output)
    assert "evaluator_basic" in {item["code"] for item in payload["inputs_needed"]}
    assert {"online", "issued"} <= set(payload["staff"][0]["volume"])
