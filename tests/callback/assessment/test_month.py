"""A staff member's 篇3 month through the application: supervisors' entries and the system's own figures (the
evaluator, 二次回访 across a month boundary, an overdue case, the 综合受理 volume), every figure worked out below
from the clauses — not copied from the output."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from callback.assessment.entries import EntryInput, add_entry
from callback.assessment.services import monthly_assessment
from tests.callback.assessment.builders import (
    COMPREHENSIVE,
    ISSUING,
    TAX,
    cases,
    hall,
    presses,
    revisited,
    shanghai,
    staff_member,
    window,
)

NOW = datetime(2026, 12, 10, 4, 0, tzinfo=UTC)


def entry(session: Session, staff: str, clause: str, **given: object) -> None:
    add_entry(session, hall(session), EntryInput(staff=staff, clause=clause, month=given.pop("month", "2026-11"),
                                                 **given), NOW, actor="督查科")


def row_of(report: dict, name: str) -> dict:
    [row] = [r for r in report["staff"] if r["name"] == name]
    return row


def build_zhang(session: Session) -> None:
    """张伟 at the 综合受理窗口, November 2026."""
    zhang = staff_member(session, "张伟", COMPREHENSIVE, role="comprehensive")
    window(session, TAX)  # role other: cases there earn no volume bonus
    # (一) attendance: 一1 late without the fingerprint −2; 一3 off post 130 minutes > 2 h → 旷工 −4
    entry(session, "张伟", "一1", grade="not_recorded")
    entry(session, "张伟", "一3", minutes=130, day=date(2026, 11, 12))
    # (三) dress: 三2 not in uniform twice −1 each, slippers once −2
    entry(session, "张伟", "三2", grade="dress", count=2)
    entry(session, "张伟", "三2", grade="improper")
    # (五)4: a district callback 基本满意 −0.5, an above-district one 不满意 −4
    entry(session, "张伟", "五4", source="district", rating="B")
    entry(session, "张伟", "五4", source="above_district", rating="U")
    # (七)1 two full weeks +2 each; (七)4 five pennants +0.5 each, at most 2 a month
    entry(session, "张伟", "七1", count=2)
    entry(session, "张伟", "七4", count=5)
    # (五)1 evaluator: three 满意 (nothing), three 基本满意 −0.5 each, two 不满意 −1 each; one October press is not November's
    presses(session, zhang, COMPREHENSIVE, "SSSBBBUU", shanghai(2026, 11, 20, 10))
    presses(session, zhang, COMPREHENSIVE, "U", shanghai(2026, 10, 31, 23, 59))
    # (五)2: then 满意 twice in October (no deduction yet), twice in November — the running total passes 3 in
    # November: −1; still not 满意 once in November −2; a result at 00:30 on 12-01 is December's
    revisited(session, zhang, "B", "S", shanghai(2026, 10, 20, 10))
    revisited(session, zhang, "U", "S", shanghai(2026, 10, 31, 23, 30))
    revisited(session, zhang, "B", "S", shanghai(2026, 11, 1, 0, 30))
    revisited(session, zhang, "U", "S", shanghai(2026, 11, 18, 10))
    revisited(session, zhang, "B", "U", shanghai(2026, 11, 25, 10))
    revisited(session, zhang, "B", "U", shanghai(2026, 12, 1, 0, 30))
    # (七)9 at the 综合受理窗口: 52 承诺件 → 5 tens × 1 = 5; 25 即办件 → 2 tens × 0.2 = 0.4; 5.4 > 5 → 5.
    promised = cases(session, zhang, COMPREHENSIVE, 52, kind="承诺件")
    cases(session, zhang, COMPREHENSIVE, 25, kind="即办件")
    cases(session, zhang, TAX, 30, kind="承诺件")  # not a 综合受理/出件 window: no bonus
    # (四)7: one 承诺件 promised for 11-20 and completed on 11-23 → overdue −5; one on time
    promised[0].promised_at, promised[0].completed_at = shanghai(2026, 11, 20, 17), shanghai(2026, 11, 23, 9)
    promised[1].promised_at, promised[1].completed_at = shanghai(2026, 11, 20, 17), shanghai(2026, 11, 19, 9)
    session.flush()


def test_a_staff_month_worked_out_from_the_clauses(session: Session) -> None:
    build_zhang(session)
    row = row_of(monthly_assessment(session, hall(session), "2026-11", NOW), "张伟")
    expected_sections = {
        "一": 15 - 2 - 4,  # 一1 −2, 一3 旷工 −4
        "二": 20,
        "三": 20 - 2 * 1 - 2,  # 三2 ×2 −1, 三2 improper −2
        "四": 20 - 5,  # 四7 one overdue case
        "五": 15 - 3 * 0.5 - 2 * 1 - 1 - 2 - 0.5 - 4,  # 五1 B×3, U×2; 五2 then 满意 (3rd of the year), still ×1; 五4
        "六": 10,
    }
    assert row["sections"] == expected_sections
    bonus = 2 * 2 + 2 + 5  # 七1 two weeks; 七4 2.5 capped at 2; 七9 5.4 capped at 5
    assert row["bonus"] == bonus and row["bonus_uncapped"] == bonus
    assert row["total"] == sum(expected_sections.values()) + bonus == 85.0
    caps = {item["clause"]: (item["uncapped"], item["points"]) for item in row["bonus_items"]}
    assert caps == {"七1": (4.0, 4.0), "七4": (2.5, 2.0), "七9": (5.4, 5.0)}


def test_every_automatic_figure_says_where_it_came_from(session: Session) -> None:
    build_zhang(session)
    row = row_of(monthly_assessment(session, hall(session), "2026-11", NOW), "张伟")
    figures = {(f["clause"], f["grade"]): f for f in row["figures"]}
    assert {k: f["count"] for k, f in figures.items()} == {
        ("五1", "basic"): 3, ("五1", "unsatisfied"): 2, ("五2", "then_satisfied"): 2, ("五2", "still_unsatisfied"): 1,
        ("四7", "each"): 1, ("七9", "promised"): 52, ("七9", "accepted"): 25,
    }
    for key in [("五1", "basic"), ("五1", "unsatisfied"), ("五2", "then_satisfied"), ("四7", "each")]:
        assert len(figures[key]["ids"]) == figures[key]["count"]
    assert figures[("七9", "promised")]["windows"] == [{"window": COMPREHENSIVE, "role": "comprehensive", "cases": 52}]
    rules = {(r["clause"], r["grade"]): r for r in row["rules"]}
    assert rules[("五2", "then_satisfied")]["points"] == -1.0
    assert rules[("五4", "above_unsatisfied")]["sources"][0]["source"] == "entry"
    assert [s["source"] for s in rules[("五1", "basic")]["sources"]] == ["evaluator"]
    events = {e["code"]: e for e in row["events"]}
    assert (events["revisit_then_satisfied"]["carried_in"], events["revisit_then_satisfied"]["year_to_date"]) == (2, 4)
    assert row["volume"]["promised"] == 52 and row["volume"]["bonus"] == 5.0


def test_the_boundary_results_count_in_their_own_months(session: Session) -> None:
    """October: then 满意 twice → no deduction (running total 2); the U press at 23:59 on 10-31 is October's.
    December: the still-not-满意 result at 00:30 on 12-01 → −2."""
    build_zhang(session)
    october = row_of(monthly_assessment(session, hall(session), "2026-10", NOW), "张伟")
    assert october["sections"]["五"] == 15 - 1  # one U press
    assert [(r["clause"], r["grade"], r["count"], r["points"]) for r in october["rules"] if r["clause"] == "五2"] == [
        ("五2", "then_satisfied", 2, 0.0)]
    december = row_of(monthly_assessment(session, hall(session), "2026-12", NOW), "张伟")
    assert december["sections"]["五"] == 15 - 2


def test_an_issuing_window_earns_its_own_rate_and_other_windows_none(session: Session) -> None:
    staff_member(session, "赵敏", ISSUING, role="issuing")
    zhao = staff_member(session, "刘洋", TAX)
    issued = staff_member(session, "李娜", ISSUING, role="issuing")
    cases(session, issued, ISSUING, 35, kind="承诺件")  # 出件: every case, 3 tens × 0.1
    cases(session, zhao, TAX, 60, kind="承诺件")
    report = monthly_assessment(session, hall(session), "2026-11", NOW)
    assert row_of(report, "李娜")["bonus"] == 0.3
    assert row_of(report, "刘洋")["bonus"] == 0.0
    assert row_of(report, "赵敏")["assessed"] is False and row_of(report, "赵敏")["total"] is None
    assert report["not_assessed"] == ["赵敏"]


def test_a_maternity_month_scores_the_base(session: Session) -> None:
    """篇3 二: 产假人员以基本分作为个人每月考核分数 — full sections, no bonus, entries of the month not scored."""
    staff_member(session, "陈静", TAX)
    entry(session, "陈静", "产假")
    entry(session, "陈静", "一1", grade="self_recorded", count=3)
    entry(session, "陈静", "七7")
    row = row_of(monthly_assessment(session, hall(session), "2026-11", NOW), "陈静")
    assert row["maternity"] is True and row["total"] == 100.0 and row["bonus"] == 0.0
    assert row["sections"] == {"一": 15, "二": 20, "三": 20, "四": 20, "五": 15, "六": 10}
    assert row["ignored_entries"] == 2


def test_an_open_case_is_overdue_once_its_promise_has_passed(session: Session) -> None:
    """篇3 四7 from the ledger: a 承诺件 promised for 11-27 17:00 and still open is overdue from that moment on;
    即办件 without a promised time never are."""
    li = staff_member(session, "李娜", TAX)
    [case] = cases(session, li, TAX, 1, kind="承诺件")
    case.promised_at = shanghai(2026, 11, 27, 17)
    cases(session, li, TAX, 3, kind="即办件")
    session.flush()
    before = row_of(monthly_assessment(session, hall(session), "2026-11", shanghai(2026, 11, 27, 16)), "李娜")
    after = row_of(monthly_assessment(session, hall(session), "2026-11", shanghai(2026, 11, 27, 18)), "李娜")
    assert (before["sections"]["四"], after["sections"]["四"]) == (20, 15)
    assert [f["ids"] for f in after["figures"] if f["clause"] == "四7"] == [[case.id]]


def test_what_names_no_staff_member_is_counted_but_never_scored(session: Session) -> None:
    li = staff_member(session, "李娜", TAX)
    [loose] = cases(session, li, TAX, 1, kind="承诺件")
    loose.staff_id, loose.promised_at = None, shanghai(2026, 11, 5, 17)
    session.flush()
    report = monthly_assessment(session, hall(session), "2026-11", NOW)
    assert [(f["clause"], f["ids"]) for f in report["unattributed"]["figures"] if f["clause"] == "四7"] == [
        ("四7", [loose.id])]
    assert [r["name"] for r in report["staff"]] == ["李娜"] and report["not_assessed"] == ["李娜"]
