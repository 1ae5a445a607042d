"""The weekly report (篇2 六): figures for a small fixture computed by hand, the CLI, and the XLSX."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from callback.models import Answer, Callback, Hall
from callback.rectification.services import give_feedback, open_for_callback, rectify
from callback.results.report import weekly_report, write_xlsx
from tests.factories import make_case, make_hall, make_window

WEEK = "2026-W40"
ALL_GOOD = {"attitude": "S", "efficiency": "S", "by_the_rules": "S", "in_hall": "Y", "integrity": "N", "overall": "S"}
MARKET, TAX = "市场监管窗口", "税务窗口"
OPENED = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # Wed 10:00 Shanghai → due Sat 10-10 23:59:59 (调休 workday)
OPENED_TAX = datetime(2026, 10, 9, 2, 0, tzinfo=UTC)  # Fri 10:00 → 10-10, 10-12, 10-13 → due 10-13
REPORT_AT = datetime(2026, 10, 12, 4, 0, tzinfo=UTC)  # Mon 12:00 Shanghai


def add_callback(
    session: Session,
    window: str,
    answers: dict[str, str] | None = None,
    *,
    state: str = "complete",
    channel: str = "voice",
    week: str = WEEK,
    revisit_of: Callback | None = None,
) -> Callback:
    hall = make_hall(session)
    win = make_window(session, hall, window)
    case = make_case(session, hall, win)
    callback = Callback(
        hall_id=hall.id, case_id=case.id, contact_id=case.contact_id, window_id=win.id, week=week, state=state,
        channel=channel, token=secrets.token_hex(16), revisit_of_id=revisit_of.id if revisit_of else None,
    )
    session.add(callback)
    session.flush()
    for item, value in (answers or {}).items():
        session.add(Answer(hall_id=hall.id, callback_id=callback.id, item=item, value=value, channel=channel))
    session.flush()
    return callback


def build_week(session: Session) -> Hall:
    """市场监管窗口: 8 drawn — 6 rated (S S S S, B, U) + unreachable + opted out; 3 cases (on time, late, overdue).
    税务窗口: 4 drawn — 2 rated (S, U), a break-off, one still calling; 1 case not yet due.
    Not counted: a 二次回访 and a callback of another week."""
    m1 = add_callback(session, MARKET, ALL_GOOD)
    m2 = add_callback(session, MARKET, ALL_GOOD | {"attitude": "B", "overall": "B"})
    add_callback(session, MARKET, ALL_GOOD, channel="sms")
    add_callback(session, MARKET, ALL_GOOD)
    m5 = add_callback(session, MARKET, {"attitude": "S", "efficiency": "U"}, state="partial")  # worst item: U
    m6 = add_callback(session, MARKET, ALL_GOOD | {"in_hall": "N"})  # overall S, but a case for 体外循环
    add_callback(session, MARKET, state="unreachable")
    add_callback(session, MARKET, state="opted_out", channel="sms")
    add_callback(session, TAX, ALL_GOOD)
    t2 = add_callback(session, TAX, ALL_GOOD | {"overall": "U"}, channel="sms")
    add_callback(session, TAX, state="break_off")
    add_callback(session, TAX, state="calling")
    add_callback(session, MARKET, ALL_GOOD | {"overall": "U"}, revisit_of=m1)
    add_callback(session, MARKET, ALL_GOOD | {"overall": "U"}, week="2026-W41")

    on_time, late, overdue = (open_for_callback(session, cb, OPENED) for cb in (m2, m5, m6))
    open_for_callback(session, t2, OPENED_TAX)
    rectify(session, on_time, "已整改", datetime(2026, 10, 9, 1, 0, tzinfo=UTC), actor="a")
    give_feedback(session, on_time, "已告知", datetime(2026, 10, 9, 2, 0, tzinfo=UTC), actor="a", via="phone")
    rectify(session, late, "已整改", datetime(2026, 10, 11, 1, 0, tzinfo=UTC), actor="a")
    give_feedback(session, late, "已告知", datetime(2026, 10, 11, 2, 0, tzinfo=UTC), actor="a", via="phone")
    assert overdue is not None and overdue.state == "open"
    return make_hall(session)


# Wilson 95% (z = 1.959964) on the satisfied share, by hand:
#   centre = (p + z²/2n) / (1 + z²/n), half = z·sqrt(p(1−p)/n + z²/4n²) / (1 + z²/n)
#   市场监管 4/6 → 0.299993 … 0.903229;  税务 1/2 → 0.094531 … 0.905469;  合计 5/8 → 0.305742 … 0.863156
MARKET_ROW = {
    "window": MARKET, "drawn": 8, "reached_phone": 5, "reached_sms": 1, "reached_manual": 0, "unreachable": 1,
    "opted_out": 1, "break_off": 0, "pending": 0, "n": 6, "satisfied": 4, "basic": 1, "unsatisfied": 1,
    "grade": "合格",  # (4·100 + 60 + 0) / 6 = 76.7
    "items": {
        "attitude": {"S": 5, "B": 1, "U": 0}, "efficiency": {"S": 5, "B": 0, "U": 1},
        "by_the_rules": {"S": 5, "B": 0, "U": 0}, "in_hall": {"Y": 4, "N": 1}, "integrity": {"Y": 0, "N": 5},
        "overall": {"S": 4, "B": 1, "U": 0},
    },
    "rectifications": {"opened": 3, "on_time": 1, "overdue": 2, "late": 1, "pending": 0},
}
TAX_ROW = {
    "window": TAX, "drawn": 4, "reached_phone": 1, "reached_sms": 1, "reached_manual": 0, "unreachable": 0,
    "opted_out": 0, "break_off": 1, "pending": 1, "n": 2, "satisfied": 1, "basic": 0, "unsatisfied": 1,
    "grade": "样本不足",  # n < 5; the score (100 + 0) / 2 = 50 is still shown
    "items": {
        "attitude": {"S": 2, "B": 0, "U": 0}, "efficiency": {"S": 2, "B": 0, "U": 0},
        "by_the_rules": {"S": 2, "B": 0, "U": 0}, "in_hall": {"Y": 2, "N": 0}, "integrity": {"Y": 0, "N": 2},
        "overall": {"S": 1, "B": 0, "U": 1},
    },
    "rectifications": {"opened": 1, "on_time": 0, "overdue": 0, "late": 0, "pending": 1},
}
TOTAL_ROW = {
    "window": "合计", "drawn": 12, "reached_phone": 6, "reached_sms": 2, "reached_manual": 0, "unreachable": 1,
    "opted_out": 1, "break_off": 1, "pending": 1, "n": 8, "satisfied": 5, "basic": 1, "unsatisfied": 2,
    "grade": "合格",  # (5·100 + 60 + 0) / 8 = 70.0 exactly: the 合格 boundary is inclusive
    "items": {
        "attitude": {"S": 7, "B": 1, "U": 0}, "efficiency": {"S": 7, "B": 0, "U": 1},
        "by_the_rules": {"S": 7, "B": 0, "U": 0}, "in_hall": {"Y": 6, "N": 1}, "integrity": {"Y": 0, "N": 7},
        "overall": {"S": 5, "B": 1, "U": 1},
    },
    "rectifications": {"opened": 4, "on_time": 1, "overdue": 2, "late": 1, "pending": 1},
}
SCORES = {
    MARKET: (76.7, 0.299993, 0.903229),  # 460 / 6 = 76.666… shown as 76.7
    TAX: (50.0, 0.094531, 0.905469),
    "合计": (70.0, 0.305742, 0.863156),
}


def _check(row: dict, expected: dict) -> None:
    assert {k: row[k] for k in expected} == expected
    score, low, high = SCORES[row["window"]]
    assert row["score"] == score
    assert row["ci_low"] == pytest.approx(low, abs=1e-6)
    assert row["ci_high"] == pytest.approx(high, abs=1e-6)


def test_weekly_figures_by_hand(session: Session) -> None:
    hall = build_week(session)
    report = weekly_report(session, hall, WEEK, REPORT_AT)
    assert (report["week"], report["hall"]) == (WEEK, "DEMO")
    assert [w["window"] for w in report["windows"]] == [MARKET, TAX]
    _check(report["windows"][0], MARKET_ROW)
    _check(report["windows"][1], TAX_ROW)
    _check(report["totals"], TOTAL_ROW)


def test_cases_listed_with_deadline_status(session: Session) -> None:
    hall = build_week(session)
    cases = weekly_report(session, hall, WEEK, REPORT_AT)["cases"]
    assert [(c["window"], c["reasons"], c["deadline"]) for c in cases] == [
        (MARKET, ["attitude", "overall"], "on_time"),
        (MARKET, ["efficiency"], "late"),
        (MARKET, ["in_hall"], "overdue"),
        (TAX, ["overall"], "pending"),
    ]
    assert cases[0]["due_at"] == "2026-10-10T23:59+08:00"
    assert cases[3]["due_at"] == "2026-10-13T23:59+08:00"


def test_an_open_case_is_not_overdue_before_its_due_time(session: Session) -> None:
    hall = build_week(session)
    before = datetime(2026, 10, 10, 15, 59, 59, tzinfo=UTC)  # Sat 10-10 23:59:59 Shanghai, the last moment
    report = weekly_report(session, hall, WEEK, before)
    # The case without feedback is still pending; the one fed back on 10-11 stays late whatever the clock says.
    assert report["windows"][0]["rectifications"] == {"opened": 3, "on_time": 1, "overdue": 1, "late": 1, "pending": 1}


def test_an_empty_week(session: Session) -> None:
    hall = make_hall(session)
    report = weekly_report(session, hall, "2026-W01", REPORT_AT)
    assert report["windows"] == []
    assert (report["totals"]["drawn"], report["totals"]["n"], report["totals"]["grade"]) == (0, 0, "样本不足")


def test_no_personal_data_in_the_report(session: Session) -> None:
    hall = build_week(session)
    blob = json.dumps(weekly_report(session, hall, WEEK, REPORT_AT), ensure_ascii=False)
    assert "+86" not in blob and "张三" not in blob


# --- XLSX --------------------------------------------------------------------------------------------------


def _rows(sheet) -> list[list]:  # noqa: ANN001
    return [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]


def test_xlsx_read_back(session: Session, tmp_path: Path) -> None:
    hall = build_week(session)
    path = write_xlsx(weekly_report(session, hall, WEEK, REPORT_AT), tmp_path / "week.xlsx")
    book = load_workbook(path)
    assert book.sheetnames == ["窗口汇总", "分项统计", "整改情况", "整改明细"]

    summary = book["窗口汇总"]
    assert "2026-W40" in summary["A1"].value
    header, market, tax, total = _rows(summary)
    assert header[:3] == ["窗口", "抽取人数", "电话回访"] and header[-1] == "等级"
    assert market[:11] == [MARKET, 8, 5, 1, 0, 1, 1, 6, 4, 1, 1]
    assert market[11] == 76.7 and market[-1] == "合格"
    assert market[12] == pytest.approx(0.299993, abs=1e-6)
    assert tax[-1] == "样本不足"
    assert total[0] == "合计" and total[7] == 8 and total[11] == 70.0
    assert summary.cell(row=3, column=13).number_format == "0.0%"
    assert summary.freeze_panes == "B3"

    items = _rows(book["分项统计"])
    assert items[0] == ["窗口", "项目", "满意", "基本满意", "不满意", "是", "否"]
    assert [MARKET, "服务态度", 5, 1, 0, None, None] in items
    assert [MARKET, "体外循环（是＝全程在大厅办理）", None, None, None, 4, 1] in items
    assert ["合计", "总体评价", 5, 1, 1, None, None] in items

    rect = _rows(book["整改情况"])
    assert rect[0] == ["窗口", "开立整改", "按时反馈", "超期", "其中逾期后反馈", "未到期"]
    assert rect[1:] == [[MARKET, 3, 1, 2, 1, 0], [TAX, 1, 0, 0, 0, 1], ["合计", 4, 1, 2, 1, 1]]

    cases = _rows(book["整改明细"])
    assert cases[1][1:4] == [MARKET, "服务态度、总体评价", "已反馈"]
    assert cases[0][9:] == ["期限情况", "市民意见（已脱敏）"]
    assert [c[9] for c in cases[1:]] == ["按时", "逾期反馈", "超期未反馈", "未到期"]


def test_xlsx_column_widths_fit_chinese_text(session: Session, tmp_path: Path) -> None:
    hall = build_week(session)
    book = load_workbook(write_xlsx(weekly_report(session, hall, WEEK, REPORT_AT), tmp_path / "w.xlsx"))
    summary, items = book["窗口汇总"], book["分项统计"]
    assert summary.column_dimensions["A"].width >= 2 * len(MARKET)  # CJK characters are double width
    assert summary.column_dimensions["B"].width < summary.column_dimensions["A"].width
    assert items.column_dimensions["B"].width >= 2 * len("体外循环（是＝全程在大厅办理）")
    assert all(d.width <= 48 for d in summary.column_dimensions.values())


# --- CLI ---------------------------------------------------------------------------------------------------


def test_cli_report_json_and_xlsx(session: Session, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    import callback.results.cli_report as cli_report
    from callback.cli import main

    build_week(session)
    session.commit()
    monkeypatch.setattr(cli_report, "now", lambda: REPORT_AT)
    env = {"DATABASE_URL": database_url, "DEFAULT_HALL": "DEMO"}
    out = tmp_path / "r.xlsx"
    result = CliRunner().invoke(main, ["report", "--week", WEEK, "--json", "--xlsx", str(out)], env=env)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload) >= {"week", "hall", "windows", "totals"}
    _check(payload["windows"][0], MARKET_ROW)
    assert load_workbook(out).sheetnames[0] == "窗口汇总"
    text = CliRunner().invoke(main, ["report", "--week", WEEK], env=env)
    assert text.exit_code == 0 and "样本不足" in text.output and "合计" in text.output
    bad = CliRunner().invoke(main, ["report", "--week", WEEK, "--hall", "NOPE"], env=env)
    assert bad.exit_code == 2 and "未知的中心代码" in bad.output


def test_grades_at_the_edges(session: Session) -> None:
    """5×S → 100.0 优秀, Wilson low = 1 / (1 + z²/5) = 0.565518 and high exactly 1;
    4×S → 样本不足 though its score is 100.0; S B U U U → (100 + 60) / 5 = 32.0 不合格, interval for 1/5."""
    for _ in range(5):
        add_callback(session, "公安窗口", ALL_GOOD)
    for _ in range(4):
        add_callback(session, "社保窗口", ALL_GOOD)
    for overall in "SBUUU":
        add_callback(session, "不动产窗口", ALL_GOOD | {"overall": overall})
    rows = {r["window"]: r for r in weekly_report(session, make_hall(session), WEEK, REPORT_AT)["windows"]}
    police, social, land = rows["公安窗口"], rows["社保窗口"], rows["不动产窗口"]
    assert (police["n"], police["score"], police["grade"], police["ci_high"]) == (5, 100.0, "优秀", 1.0)
    assert police["ci_low"] == pytest.approx(0.565518, abs=1e-6)
    assert (social["n"], social["score"], social["grade"]) == (4, 100.0, "样本不足")
    assert (land["satisfied"], land["basic"], land["unsatisfied"], land["score"], land["grade"]) == (1, 1, 3, 32.0, "不合格")
    assert (land["ci_low"], land["ci_high"]) == (pytest.approx(0.036224, abs=1e-6), pytest.approx(0.624465, abs=1e-6))
