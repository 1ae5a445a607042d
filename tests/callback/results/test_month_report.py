"""The month's figures and its 红旗窗口 (篇1; README "Scoring / 计分" and "The month report"), computed by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy.orm import Session

import callback.results.cli_report as cli_report
from callback.cli import main
from callback.models import Hall
from callback.results.report import monthly_report, write_xlsx
from tests.callback.results.test_report import ALL_GOOD, add_callback
from tests.factories import make_hall, make_window

MONTH = "2026-10"
IN_MONTH = datetime(2026, 10, 14, 2, 0, tzinfo=UTC)
FIRST_MOMENT = datetime(2026, 9, 30, 16, 0, tzinfo=UTC)  # 10-01 00:00 Shanghai: October
LAST_MOMENT = datetime(2026, 10, 31, 15, 59, tzinfo=UTC)  # 10-31 23:59 Shanghai: October
NEXT_MONTH = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)  # 11-01 00:30 Shanghai: November, though UTC says 10-31
REPORT_AT = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
POLICE, TAX, MARKET, SOCIAL, LAND, ESTATE = "公安窗口", "税务窗口", "市场监管窗口", "社保窗口", "人社窗口", "不动产窗口"
BRIBE = ALL_GOOD | {"integrity": "Y"}
SIXTY = ALL_GOOD | {"by_the_rules": "B", "in_hall": "N", "integrity": "Y"}  # (100+100+60+0+0+100)/6 = 60


def build_month(session: Session) -> tuple[Hall, dict[int, str]]:
    """公安 5 × 100 → 100.0 优秀 (1st); 税务 5 × 100 + one 111121 (83.33) → 583.33 / 6 = 97.2 优秀 (2nd);
    社保 presses SSSSB → 460 / 5 = 92.0 and 人社 presses 8 S 2 B → 920 / 10 = 92.0: tied at 3rd, both 红旗窗口;
    市场监管 responses 100 and 60 with presses 8 S, B, U → (80.0 + 86.0) / 2 = 83.0 合格 (5th);
    不动产 4 × 100 → 100.0 but n = 4: 样本不足, not ranked.
    Not counted: 公安's answer of 11-01 00:30 Shanghai, a 二次回访, a callback still in progress."""
    police = [add_callback(session, POLICE, ALL_GOOD, finished_at=at)
              for at in (FIRST_MOMENT, IN_MONTH, IN_MONTH, IN_MONTH, LAST_MOMENT)]
    add_callback(session, POLICE, ALL_GOOD | {"overall": "U"}, finished_at=NEXT_MONTH)
    add_callback(session, POLICE, ALL_GOOD | {"overall": "U"}, revisit_of=police[0], finished_at=IN_MONTH)
    add_callback(session, POLICE, ALL_GOOD, state="in_survey", finished_at=IN_MONTH)
    for answers in [ALL_GOOD] * 5 + [BRIBE]:
        add_callback(session, TAX, answers, finished_at=IN_MONTH, week="2026-W42")
    add_callback(session, MARKET, ALL_GOOD, finished_at=IN_MONTH, channel="sms")
    add_callback(session, MARKET, SIXTY, finished_at=IN_MONTH, channel="onsite")
    for _ in range(4):
        add_callback(session, ESTATE, ALL_GOOD, finished_at=IN_MONTH)
    hall = make_hall(session)
    ids = {name: make_window(session, hall, name).id for name in (SOCIAL, LAND, MARKET)}
    presses = {ids[SOCIAL]: "SSSSB", ids[LAND]: "S" * 8 + "BB", ids[MARKET]: "S" * 8 + "BU"}
    return hall, presses


def test_month_figures_by_hand(session: Session) -> None:
    hall, presses = build_month(session)
    report = monthly_report(session, hall, MONTH, REPORT_AT, presses=presses)
    assert (report["month"], report["from"], report["to"]) == (MONTH, "2026-10-01", "2026-10-31")
    rows = {r["window"]: r for r in report["windows"]}
    assert [r["window"] for r in report["windows"]] == sorted(rows)
    assert {name: (r["n"], r["score"], r["grade"]) for name, r in rows.items()} == {
        POLICE: (5, 100.0, "优秀"), TAX: (6, 97.2, "优秀"), SOCIAL: (5, 92.0, "良好"), LAND: (10, 92.0, "良好"),
        MARKET: (12, 83.0, "合格"), ESTATE: (4, 100.0, "样本不足"),
    }
    market = rows[MARKET]
    assert (market["reached_sms"], market["onsite"], market["reached_phone"]) == (1, 1, 0)
    assert market["sources"] == {"questionnaire": {"n": 2, "score": 80.0, "satisfied": 2},
                                 "evaluator": {"n": 10, "score": 86.0, "S": 8, "B": 1, "U": 1}}
    assert "drawn" not in market and "rectifications" not in market
    # 合计: 5 + 6 + 2 + 4 = 17 responses, (500 + 583.33 + 160 + 400) / 17 = 96.67 → 96.7;
    # 25 presses 20 S, 4 B, 1 U → 2240 / 25 = 89.6; (96.7 + 89.6) / 2 = 93.15 → 93.2, n = 42
    totals = report["totals"]
    assert totals["sources"]["questionnaire"]["score"] == 96.7 and totals["sources"]["evaluator"]["score"] == 89.6
    assert (totals["score"], totals["n"], totals["grade"]) == (93.2, 42, "良好")


def test_red_flags_with_a_tie_at_third_place_and_a_window_with_too_few(session: Session) -> None:
    hall, presses = build_month(session)
    flags = monthly_report(session, hall, MONTH, REPORT_AT, presses=presses)["red_flags"]
    assert flags["windows"] == [
        {"window": POLICE, "place": 1, "score": 100.0, "grade": "优秀"},
        {"window": TAX, "place": 2, "score": 97.2, "grade": "优秀"},
        {"window": LAND, "place": 3, "score": 92.0, "grade": "良好"},
        {"window": SOCIAL, "place": 3, "score": 92.0, "grade": "良好"},
    ]
    assert flags["tied"] == [{"score": 92.0, "place": 3, "windows": [LAND, SOCIAL]}]
    assert flags["too_few"] == [ESTATE]  # 100.0 from 4 answers is not ranked
    assert "第3名并列时并列窗口均为红旗窗口" in flags["rule"] and "样本不足的窗口不参与排名" in flags["rule"]


def test_a_month_without_data(session: Session) -> None:
    report = monthly_report(session, make_hall(session), "2026-01", REPORT_AT)
    assert report["windows"] == [] and report["totals"]["n"] == 0
    assert report["red_flags"]["windows"] == [] and report["red_flags"]["too_few"] == []


def test_month_xlsx(session: Session, tmp_path: Path) -> None:
    hall, presses = build_month(session)
    book = load_workbook(write_xlsx(monthly_report(session, hall, MONTH, REPORT_AT, presses=presses),
                                    tmp_path / "month.xlsx"))
    assert book.sheetnames == ["窗口汇总", "红旗窗口", "分项统计"]
    summary = [list(r) for r in book["窗口汇总"].iter_rows(min_row=2, values_only=True)]
    assert "2026年10月" in book["窗口汇总"]["A1"].value
    assert summary[0][:5] == ["窗口", "电话回访", "短信回访", "人工回访", "现场问卷"]
    market = next(r for r in summary if r[0] == MARKET)
    assert market[:17] == [MARKET, 0, 1, 0, 1, 2, 80.0, 10, 86.0, 8, 1, 1, 12, 83.0, "合格", 10,
                           pytest.approx(0.5519691, abs=1e-6)]
    flags = [list(r) for r in book["红旗窗口"].iter_rows(min_row=2, values_only=True)]
    assert flags[:5] == [["名次", "窗口", "得分", "等级"], ["第1名", POLICE, 100.0, "优秀"],
                         ["第2名", TAX, 97.2, "优秀"], ["第3名", LAND, 92.0, "良好"], ["第3名", SOCIAL, 92.0, "良好"]]
    texts = [r[0] for r in flags[5:] if r[0]]
    assert texts[1:] == [f"第3名并列（92.0 分）：{LAND}、{SOCIAL}", f"样本不足、不参与排名：{ESTATE}"]
    for sheet in book:
        assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def _report(database_url: str, *args: str):  # noqa: ANN202
    return CliRunner().invoke(main, ["report", *args], env={"DATABASE_URL": database_url, "DEFAULT_HALL": "DEMO"})


def test_cli_month(session: Session, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the CLI (questionnaire responses only: the presses come from the evaluator import): 社保, 人社
    have no data, so 市场监管 is (100 + 60) / 2 = 80.0 from 2 responses, 样本不足; ranked: 公安, 税务."""
    build_month(session)
    session.commit()
    monkeypatch.setattr(cli_report, "now", lambda: REPORT_AT)
    out = tmp_path / "m.xlsx"
    result = _report(database_url, "--month", MONTH, "--json", "--xlsx", str(out))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["month"] == MONTH and [r["window"] for r in payload["red_flags"]["windows"]] == [POLICE, TAX]
    assert payload["red_flags"]["too_few"] == [ESTATE, MARKET]
    assert load_workbook(out).sheetnames[1] == "红旗窗口"
    text = _report(database_url, "--month", MONTH)
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0] == "示范政务服务中心 2026年10月 回访评价结果（2026-10-01 至 2026-10-31）"
    assert f"红旗窗口：{POLICE}（第1名，100.0）、{TAX}（第2名，97.2）" in lines
    assert f"样本不足、不参与排名：{ESTATE}、{MARKET}" in lines
    assert any(line.startswith("规则：月度红旗窗口") for line in lines)


@pytest.mark.parametrize(("args", "message"), [
    (["--month", "2026-13"], "月份格式不正确"),
    (["--month", "banana", "--json"], "月份格式不正确"),
    (["--month", MONTH, "--week", "2026-W40"], "只能选一个"),
])
def test_cli_month_refusals_are_one_line(session: Session, database_url: str, args: list[str], message: str) -> None:
    result = _report(database_url, *args)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert message in line and result.stdout == ""
