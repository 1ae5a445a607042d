"""The weekly report (篇2 六): figures for a small fixture computed by hand, the CLI, and the XLSX."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime
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
    finished_at: datetime | None = None,
) -> Callback:
    hall = make_hall(session)
    win = make_window(session, hall, window)
    case = make_case(session, hall, win)
    callback = Callback(
        hall_id=hall.id, case_id=case.id, contact_id=case.contact_id, window_id=win.id, week=week, state=state,
        channel=channel, token=secrets.token_hex(16), revisit_of_id=revisit_of.id if revisit_of else None,
        finished_at=finished_at,
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


# Scores by hand (README "Scoring / 计分"): each response is the mean of its answered items' points.
#   市场监管: m1 100, m2 (60+100+100+100+100+60)/6 = 86.67, SMS 100, 100, m5 (100+0)/2 = 50, m6 (5·100+0)/6 = 83.33
#            → questionnaire (520 exactly) / 6 = 86.67 → 86.7; no presses → window 86.7, 良好 (n = 6)
#   税务:    100, t2 (5·100 + 0)/6 = 83.33 → (183.33) / 2 = 91.67 → 91.7; n = 2 → 样本不足
#   合计:    (520 + 183.33) / 8 = 87.92 → 87.9, 良好
# satisfied = overall rating 满意 (m5 has no overall item: its worst rated item, U): 市场监管 4 (m1, SMS, m4, m6),
# 税务 1, 合计 5. Wilson 95% (z = 1.959964) on satisfied / n:
#   centre = (p + z²/2n) / (1 + z²/n), half = z·sqrt(p(1−p)/n + z²/4n²) / (1 + z²/n)
#   市场监管 4/6 → 0.299993 … 0.903229;  税务 1/2 → 0.094531 … 0.905469;  合计 5/8 → 0.305742 … 0.863156
NO_PRESSES = {"n": 0, "score": None, "S": 0, "B": 0, "U": 0}
MARKET_ROW = {
    "window": MARKET, "drawn": 8, "reached_phone": 5, "reached_sms": 1, "reached_manual": 0, "unreachable": 1,
    "opted_out": 1, "break_off": 0, "pending": 0, "onsite": 0, "n": 6, "satisfied": 4, "grade": "良好",
    "sources": {"questionnaire": {"n": 6, "score": 86.7, "satisfied": 4}, "evaluator": NO_PRESSES},
    "items": {
        "attitude": {"S": 5, "B": 1, "U": 0}, "efficiency": {"S": 5, "B": 0, "U": 1},
        "by_the_rules": {"S": 5, "B": 0, "U": 0}, "in_hall": {"Y": 4, "N": 1}, "integrity": {"Y": 0, "N": 5},
        "overall": {"S": 4, "B": 1, "U": 0},
    },
    "rectifications": {"opened": 3, "on_time": 1, "overdue": 2, "late": 1, "pending": 0},
}
TAX_ROW = {
    "window": TAX, "drawn": 4, "reached_phone": 1, "reached_sms": 1, "reached_manual": 0, "unreachable": 0,
    "opted_out": 0, "break_off": 1, "pending": 1, "onsite": 0, "n": 2, "satisfied": 1,
    "grade": "样本不足",  # n < 5; the score is still shown
    "sources": {"questionnaire": {"n": 2, "score": 91.7, "satisfied": 1}, "evaluator": NO_PRESSES},
    "items": {
        "attitude": {"S": 2, "B": 0, "U": 0}, "efficiency": {"S": 2, "B": 0, "U": 0},
        "by_the_rules": {"S": 2, "B": 0, "U": 0}, "in_hall": {"Y": 2, "N": 0}, "integrity": {"Y": 0, "N": 2},
        "overall": {"S": 1, "B": 0, "U": 1},
    },
    "rectifications": {"opened": 1, "on_time": 0, "overdue": 0, "late": 0, "pending": 1},
}
TOTAL_ROW = {
    "window": "合计", "drawn": 12, "reached_phone": 6, "reached_sms": 2, "reached_manual": 0, "unreachable": 1,
    "opted_out": 1, "break_off": 1, "pending": 1, "onsite": 0, "n": 8, "satisfied": 5, "grade": "良好",
    "sources": {"questionnaire": {"n": 8, "score": 87.9, "satisfied": 5}, "evaluator": NO_PRESSES},
    "items": {
        "attitude": {"S": 7, "B": 1, "U": 0}, "efficiency": {"S": 7, "B": 0, "U": 1},
        "by_the_rules": {"S": 7, "B": 0, "U": 0}, "in_hall": {"Y": 6, "N": 1}, "integrity": {"Y": 0, "N": 7},
        "overall": {"S": 5, "B": 1, "U": 1},
    },
    "rectifications": {"opened": 4, "on_time": 1, "overdue": 2, "late": 1, "pending": 1},
}
SCORES = {
    MARKET: (86.7, 0.299993, 0.903229),
    TAX: (91.7, 0.094531, 0.905469),
    "合计": (87.9, 0.305742, 0.863156),
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


def test_callbacks_withdrawn_by_a_redraw_count_nowhere(session: Session) -> None:
    """A redraw supersedes the old draw's callbacks before anyone called: they are not drawn and not pending."""
    hall = build_week(session)
    add_callback(session, TAX, state="superseded")
    add_callback(session, MARKET, state="superseded")
    report = weekly_report(session, hall, WEEK, REPORT_AT)
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
    assert "2026-W40（9月28日—10月4日）" in summary["A1"].value
    header, market, tax, total, blank, onsite, note = _rows(summary)
    assert header == ["窗口", "抽取人数", "电话回访", "短信回访", "人工回访", "现场问卷", "未联系上", "拒访退订",
                      "问卷数", "问卷得分", "评价器次数", "评价器得分", "评价器满意", "评价器基本满意", "评价器不满意",
                      "样本数", "得分", "等级", "满意数", "满意率95%区间下限", "满意率95%区间上限"]
    assert market[:19] == [MARKET, 8, 5, 1, 0, 0, 1, 1, 6, 86.7, 0, None, 0, 0, 0, 6, 86.7, "良好", 4]
    assert market[19] == pytest.approx(0.299993, abs=1e-6)
    assert tax[17] == "样本不足"
    assert total[0] == "合计" and total[15:18] == [8, 87.9, "良好"]
    assert summary.cell(row=3, column=20).number_format == "0.0%"
    assert summary.cell(row=3, column=17).number_format == "0.0"
    assert summary.freeze_panes == "B3"
    assert blank == [None] * len(header)
    assert onsite[:2] == ["现场征求意见表（篇2 三(二)）", "本周 0 份，目标 5 份，尚缺 5 份"]
    assert note[0].startswith("计分：")

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
    assert set(payload) >= {"week", "from", "to", "hall", "windows", "totals", "onsite"}
    assert (payload["from"], payload["to"]) == ("2026-09-28", "2026-10-04")
    assert payload["onsite"] == {"forms": 0, "target": 5, "missing": 5}
    _check(payload["windows"][0], MARKET_ROW)
    assert load_workbook(out).sheetnames[0] == "窗口汇总"
    text = CliRunner().invoke(main, ["report", "--week", WEEK], env=env)
    assert text.exit_code == 0 and "样本不足" in text.output and "合计" in text.output
    assert "现场征求意见表：本周 0 份，目标 5 份，尚缺 5 份" in text.output
    market = next(line for line in text.output.splitlines() if line.startswith(MARKET))
    assert "样本  6 得分 86.7 良好（问卷 6 份 86.7；评价器 0 次 —：满意 0/基本满意 0/不满意 0）" in market
    bad = CliRunner().invoke(main, ["report", "--week", WEEK, "--hall", "NOPE"], env=env)
    assert bad.exit_code == 2 and "未知的中心代码" in bad.output


def test_grades_at_the_edges(session: Session) -> None:
    """5 × 111111 → 100.0 优秀, Wilson low = 1 / (1 + z²/5) = 0.565518 and high exactly 1; 4 → 样本不足 though
    100.0; overall S B U U U with every other item good → (100 + 93.33 + 3 · 83.33) / 5 = 88.67 → 88.7 良好
    (every item counts, not only the overall one), satisfied 1 of 5."""
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
    assert (land["satisfied"], land["score"], land["grade"]) == (1, 88.7, "良好")
    assert (land["ci_low"], land["ci_high"]) == (pytest.approx(0.036224, abs=1e-6), pytest.approx(0.624465, abs=1e-6))


# --- item-level scoring with the evaluator (README "Scoring / 计分") -------------------------------------------

PRESSES = "S" * 8 + "BU"


def test_the_worked_example_window(session: Session) -> None:
    """Two callbacks scored item by item — 111111 → 100; 332111 → (0 + 0 + 60 + 100 + 100 + 100) / 6 = 60 —
    and ten evaluator presses 8 S, 1 B, 1 U → 86. Questionnaire (100 + 60) / 2 = 80.0; window 0.5 · 80.0 +
    0.5 · 86.0 = 83.0, 合格; n = 2 + 10 = 12; satisfied 2 + 8 = 10."""
    add_callback(session, MARKET, ALL_GOOD)
    add_callback(session, MARKET, ALL_GOOD | {"attitude": "U", "efficiency": "U", "by_the_rules": "B"})
    hall = make_hall(session)
    market = make_window(session, hall, MARKET)
    tax = make_window(session, hall, TAX)
    report = weekly_report(session, hall, WEEK, REPORT_AT, presses={market.id: PRESSES, tax.id: "SSSSB"})
    row, tax_row = report["windows"]
    assert row["sources"] == {"questionnaire": {"n": 2, "score": 80.0, "satisfied": 2},
                              "evaluator": {"n": 10, "score": 86.0, "S": 8, "B": 1, "U": 1}}
    assert (row["score"], row["grade"], row["n"], row["satisfied"]) == (83.0, "合格", 12, 10)
    assert row["items"]["attitude"] == {"S": 1, "B": 0, "U": 1} and row["items"]["by_the_rules"] == {"S": 1, "B": 1, "U": 0}
    # A window with presses only: its drawn count is 0 and the evaluator carries the whole weight: (400 + 60) / 5
    assert (tax_row["drawn"], tax_row["score"], tax_row["grade"], tax_row["n"]) == (0, 92.0, "良好", 5)
    # The hall: questionnaire 80.0; presses 12 S, 2 B, 1 U → (1200 + 120) / 15 = 88.0; (80.0 + 88.0) / 2 = 84.0
    totals = report["totals"]
    assert (totals["sources"]["evaluator"]["score"], totals["score"], totals["n"]) == (88.0, 84.0, 17)


def test_a_reported_bribe_scores_below_100(session: Session) -> None:
    """Five 111111 and one 111121 (廉洁自律 有): (5 · 100 + 500 / 6) / 6 = 97.22 → 97.2, not 100."""
    for _ in range(5):
        add_callback(session, MARKET, ALL_GOOD)
    add_callback(session, MARKET, ALL_GOOD | {"integrity": "Y"})
    [row] = weekly_report(session, make_hall(session), WEEK, REPORT_AT)["windows"]
    assert row["score"] == 97.2 < 100 and row["satisfied"] == 6


def add_onsite(session: Session, window: str, answers: dict[str, str], *, week: str = WEEK,
               finished_at: datetime | None = None) -> Callback:
    """An on-site form (篇2 三(二)) as a finished response with channel ``onsite``."""
    return add_callback(session, window, answers, channel="onsite", week=week, finished_at=finished_at)


def test_onsite_forms_are_responses_of_their_window_and_count_against_the_target(session: Session) -> None:
    """Two forms for 税务 (111111 → 100, 332111 → 60) beside build_week's two callbacks (100, 83.33): the
    questionnaire has 4 responses, (100 + 83.33 + 100 + 60) / 4 = 85.83 → 85.8; never drawn; 2 of 5 forms."""
    hall = build_week(session)
    add_onsite(session, TAX, ALL_GOOD)
    add_onsite(session, TAX, ALL_GOOD | {"attitude": "U", "efficiency": "U", "by_the_rules": "B"})
    report = weekly_report(session, hall, WEEK, REPORT_AT)
    tax = report["windows"][1]
    assert (tax["drawn"], tax["onsite"], tax["n"], tax["score"]) == (4, 2, 4, 85.8)
    assert tax["sources"]["questionnaire"] == {"n": 4, "score": 85.8, "satisfied": 3}
    assert report["totals"]["onsite"] == 2 and report["totals"]["drawn"] == 12
    assert report["onsite"] == {"forms": 2, "target": 5, "missing": 3}




def test_the_worked_example_through_the_evaluator_import(session: Session, database_url: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The same window with its presses imported from a device export (`callback evaluator import`): the report
    reads the presses made in the week (Monday 09-28 00:00 to Sunday 10-04 24:00 Shanghai) by itself — 非常满意
    and 满意 both count 满意; a press of Monday 10-05 00:00 is the next week's."""
    from click.testing import CliRunner

    import callback.results.cli_report as cli_report
    from callback.cli import main
    from callback.evaluator.services import import_file

    add_callback(session, MARKET, ALL_GOOD)
    add_callback(session, MARKET, ALL_GOOD | {"attitude": "U", "efficiency": "U", "by_the_rules": "B"})
    levels = ["非常满意"] * 4 + ["满意"] * 4 + ["基本满意", "不满意"]
    lines = ["评价时间,窗口名称,工作人员,评价结果"]
    lines += [f"2026-09-{28 + i % 3} 1{i % 8}:00:00,{MARKET},刘洋,{level}" for i, level in enumerate(levels)]
    lines += ["2026-09-28 00:00:00,税务窗口,王芳,不满意", f"2026-10-05 00:00:00,{MARKET},刘洋,不满意"]
    export = tmp_path / "评价器.csv"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    hall = make_hall(session)
    assert import_file(session, hall, export).imported == 12
    session.commit()

    report = weekly_report(session, hall, WEEK, REPORT_AT)
    market, tax = report["windows"]
    assert market["sources"]["evaluator"] == {"n": 10, "score": 86.0, "S": 8, "B": 1, "U": 1}
    assert (market["score"], market["grade"], market["n"]) == (83.0, "合格", 12)
    assert (tax["window"], tax["n"], tax["score"], tax["grade"]) == (TAX, 1, 0.0, "样本不足")
    assert weekly_report(session, hall, "2026-W41", REPORT_AT)["windows"][0]["sources"]["evaluator"]["U"] == 1

    monkeypatch.setattr(cli_report, "now", lambda: REPORT_AT)
    env = {"DATABASE_URL": database_url, "DEFAULT_HALL": "DEMO"}
    result = CliRunner().invoke(main, ["report", "--week", WEEK, "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["windows"][0]["score"] == 83.0
    from callback.results.publication import publish_week

    published = publish_week(session, hall, WEEK, "张主任", REPORT_AT)
    assert published.figures["windows"][0]["sources"]["evaluator"] == {"n": 10, "score": 86.0, "S": 8, "B": 1, "U": 1}
    blob = json.dumps(published.figures, ensure_ascii=False)
    assert "刘洋" not in blob and "王芳" not in blob  # the staff members the device recorded stay out


def test_onsite_forms_entered_through_callback_onsite(session: Session) -> None:
    """Forms entered as `callback onsite add` enters them (callback.responses.onsite.add_form): 税务 gets 111111
    (100) and 332111 (60) on Wednesday 09-30 beside build_week's 100 and 83.33 → (343.33) / 4 = 85.8, like the
    hand-made rows above; the 332111 form opens its own rectification case, counted for the window."""
    from callback.responses.entry import read_answers
    from callback.responses.onsite import OnsiteForm, add_form

    hall = build_week(session)
    for keys in ("111111", "332111"):
        add_form(session, hall, OnsiteForm(TAX, date(2026, 9, 30), read_answers(keys)),
                 REPORT_AT, actor="督查科")
    report = weekly_report(session, hall, WEEK, REPORT_AT)
    tax = report["windows"][1]
    assert (tax["drawn"], tax["onsite"], tax["n"], tax["score"], tax["satisfied"]) == (4, 2, 4, 85.8, 3)
    assert tax["rectifications"]["opened"] == 2
    assert report["onsite"] == {"forms": 2, "target": 5, "missing": 3}
