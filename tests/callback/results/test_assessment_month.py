"""`callback assess`: the month's 篇3 figures per staff member (四7 overdue, 五2 revisits, 七9 volume).

Every expected figure below is worked out by hand from the rows each test builds.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import Case, Contact, Hall, Staff, Window
from callback.models.rectification import Rectification
from callback.rectification.services import give_feedback, open_for_callback, rectify, schedule_revisit
from callback.results.assessment import UNREGISTERED, monthly_assessment
from survey.weeks import PeriodError
from tests.callback.rectification.test_rectification import ALL_GOOD, _answer_revisit, make_callback
from tests.factories import make_case, make_hall, make_window

MARKET, TAX = "市场监管窗口", "税务窗口"
NOW = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)  # Thu 12:00 Shanghai
OPENED_NOV = datetime(2026, 11, 4, 2, 0, tzinfo=UTC)  # Wed 10:00 Shanghai
OPENED_OCT = datetime(2026, 10, 28, 2, 0, tzinfo=UTC)


def shanghai(*args: int) -> datetime:
    """A wall-clock time in Asia/Shanghai (UTC+8, no DST) as an aware UTC datetime."""
    return datetime(*args, tzinfo=UTC) - timedelta(hours=8)


def make_staff(session: Session, hall: Hall, name: str, window: Window | None = None) -> Staff:
    staff = Staff(hall_id=hall.id, name=name, window_id=window.id if window else None)
    session.add(staff)
    session.flush()
    return staff


def ledger_case(
    session: Session,
    staff: Staff | None,
    window: str,
    *,
    promised: datetime | None,
    completed: datetime | None,
    accepted: datetime = datetime(2026, 11, 2, 2, 0, tzinfo=UTC),
) -> Case:
    hall = make_hall(session)
    case = make_case(session, hall, make_window(session, hall, window), accepted_at=accepted)
    case.staff_id = staff.id if staff else None
    case.item_kind = "承诺件" if promised else "即办件"
    case.promised_at, case.completed_at = promised, completed
    session.flush()
    return case


def revisited(
    session: Session, staff: Staff | None, first: str, second: str | None, opened: datetime = OPENED_NOV,
    *, window: str = MARKET, first_answers: dict[str, str] | None = None,
) -> Rectification:
    """A first callback rated ``first`` overall about a case of ``staff``, its rectification opened at
    ``opened``, fed back, and a 二次回访 answered ``second`` overall (None: scheduled, not answered yet)."""
    callback = make_callback(session, first_answers or ALL_GOOD | {"overall": first}, window=window)
    session.get(Case, callback.case_id).staff_id = staff.id if staff else None
    case = open_for_callback(session, callback, opened)
    assert case is not None
    rectify(session, case, "已整改", opened + timedelta(days=1), actor="窗口负责人")
    give_feedback(session, case, "已电话告知", opened + timedelta(days=1), actor="窗口负责人", via="phone")
    revisit = schedule_revisit(session, case, opened + timedelta(days=2), actor="督查科")
    if second is not None:
        _answer_revisit(session, revisit, ALL_GOOD | {"overall": second})
        open_for_callback(session, revisit, opened + timedelta(days=3))
    return case


def row_of(report: dict, name: str) -> dict:
    [row] = [r for r in report["staff"] if r["name"] == name]
    return row


def events_of(row: dict) -> dict[str, tuple[int, float]]:
    return {e["code"]: (e["count"], e["points"]) for e in row["events"]}


# --- (四)7 overdue -----------------------------------------------------------------------------------------


def build_overdue(session: Session) -> Hall:
    """王芳 (市场监管窗口): promised in November — completed late, still open and past, on time, completed exactly at
    the promise, still open but not yet due at NOW; a 即办件 never completed; a case promised in October.
    李强 (税务窗口): one completed late. No staff: one completed late. → 王芳 2, 李强 1, unregistered 1."""
    hall = make_hall(session)
    market, tax = make_window(session, hall, MARKET), make_window(session, hall, TAX)
    wang, li = make_staff(session, hall, "王芳", market), make_staff(session, hall, "李强", tax)
    ledger_case(session, wang, MARKET, promised=shanghai(2026, 11, 10, 17), completed=shanghai(2026, 11, 11, 9))
    ledger_case(session, wang, MARKET, promised=shanghai(2026, 11, 20, 17), completed=None)
    ledger_case(session, wang, MARKET, promised=shanghai(2026, 11, 12, 17), completed=shanghai(2026, 11, 12, 10))
    ledger_case(session, wang, MARKET, promised=shanghai(2026, 11, 16, 17), completed=shanghai(2026, 11, 16, 17))
    ledger_case(session, wang, MARKET, promised=shanghai(2026, 11, 27, 17), completed=None)
    ledger_case(session, wang, MARKET, promised=None, completed=None)
    ledger_case(session, wang, MARKET, promised=shanghai(2026, 10, 30, 17), completed=shanghai(2026, 11, 3, 9),
                accepted=shanghai(2026, 10, 20, 9))
    ledger_case(session, li, TAX, promised=shanghai(2026, 11, 5, 17), completed=shanghai(2026, 11, 9, 9))
    ledger_case(session, None, TAX, promised=shanghai(2026, 11, 6, 17), completed=shanghai(2026, 11, 7, 9))
    session.flush()
    return hall


def test_overdue_cases_by_staff(session: Session) -> None:
    report = monthly_assessment(session, build_overdue(session), "2026-11", NOW)
    wang, li, nobody = row_of(report, "王芳"), row_of(report, "李强"), row_of(report, UNREGISTERED)
    assert events_of(wang) == {"overdue": (2, -10.0)}
    assert events_of(li) == {"overdue": (1, -5.0)}
    assert events_of(nobody) == {"overdue": (1, -5.0)}
    assert (wang["section_four"]["score"], wang["section_four"]["loss"]) == (10.0, 10.0)
    assert (li["section_four"]["score"], nobody["section_four"]["score"]) == (15.0, 15.0)
    assert wang["section_five"]["score"] == 15.0 and wang["section_four"]["label"] == "本系统可计部分"
    assert (wang["windows"], li["windows"], nobody["windows"]) == ([MARKET], [TAX], [TAX])
    assert [r["name"] for r in report["staff"]] == sorted(["王芳", "李强"]) + [UNREGISTERED]
    assert report["summary"] == {
        "staff": 2, "unregistered_group": True,
        "events": {"overdue": 4, "revisit_still_unsatisfied": 0, "revisit_then_satisfied": 0},
    }


def test_an_open_case_becomes_overdue_once_its_promise_passes(session: Session) -> None:
    hall = build_overdue(session)
    # At 2026-11-28 the case promised for 11-27 17:00 and still open has passed its promise as well.
    later = monthly_assessment(session, hall, "2026-11", shanghai(2026, 11, 28, 9))
    assert events_of(row_of(later, "王芳")) == {"overdue": (3, -15.0)}
    # Before 11-20 17:00 the open case promised then is not overdue yet.
    earlier = monthly_assessment(session, hall, "2026-11", shanghai(2026, 11, 20, 16))
    assert events_of(row_of(earlier, "王芳")) == {"overdue": (1, -5.0)}


def test_october_promises_count_in_october(session: Session) -> None:
    report = monthly_assessment(session, build_overdue(session), "2026-10", NOW)
    assert events_of(row_of(report, "王芳")) == {"overdue": (1, -5.0)}
    assert events_of(row_of(report, "李强")) == {}
    assert report["summary"]["unregistered_group"] is False
    assert [r["name"] for r in report["staff"]] == sorted(["王芳", "李强"])


def test_month_boundary_is_the_shanghai_month(session: Session) -> None:
    hall = make_hall(session)
    wang = make_staff(session, hall, "王芳", make_window(session, hall, MARKET))
    # 2026-11-30 23:30 Shanghai = 15:30 UTC the same day: November.
    november = ledger_case(session, wang, MARKET, promised=shanghai(2026, 11, 30, 23, 30),
                           completed=shanghai(2026, 12, 1, 9))
    assert november.promised_at == datetime(2026, 11, 30, 15, 30, tzinfo=UTC)
    # 2026-12-01 00:30 Shanghai = 2026-11-30 16:30 UTC: December, although the UTC date is still November.
    december = ledger_case(session, wang, MARKET, promised=shanghai(2026, 12, 1, 0, 30),
                           completed=shanghai(2026, 12, 2, 9))
    assert december.promised_at == datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
    at = datetime(2026, 12, 10, tzinfo=UTC)
    assert events_of(row_of(monthly_assessment(session, hall, "2026-11", at), "王芳")) == {"overdue": (1, -5.0)}
    assert events_of(row_of(monthly_assessment(session, hall, "2026-12", at), "王芳")) == {"overdue": (1, -5.0)}
    report = monthly_assessment(session, hall, "2026-11", at)
    assert report["period"] == {"start": "2026-11-01T00:00:00+08:00", "end": "2026-12-01T00:00:00+08:00"}


# --- (五)2 second callbacks ----------------------------------------------------------------------------------


def test_revisit_still_unsatisfied_costs_two_each(session: Session) -> None:
    hall = make_hall(session)
    wang = make_staff(session, hall, "王芳", make_window(session, hall, MARKET))
    revisited(session, wang, "U", "U")
    revisited(session, wang, "B", "B")
    revisited(session, wang, "U", None)  # 二次回访 not answered yet: nothing to count
    revisited(session, wang, "U", "U", OPENED_OCT)  # first callback in October
    # Opened for 体外循环 with an overall 满意: not a (五)2 pair, whatever the revisit says.
    revisited(session, wang, "S", "U", first_answers=ALL_GOOD | {"in_hall": "N"})
    row = row_of(monthly_assessment(session, hall, "2026-11", NOW), "王芳")
    assert events_of(row) == {"revisit_still_unsatisfied": (2, -4.0)}
    assert (row["section_five"]["score"], row["section_five"]["loss"]) == (11.0, 4.0)
    assert row["section_four"]["score"] == 20.0
    october = row_of(monthly_assessment(session, hall, "2026-10", NOW), "王芳")
    assert events_of(october) == {"revisit_still_unsatisfied": (1, -2.0)}


@pytest.mark.parametrize(("times", "points", "five"), [(2, 0.0, 15.0), (3, -1.0, 14.0), (4, -1.0, 14.0)])
def test_revisit_then_satisfied_costs_one_per_three(session: Session, times: int, points: float, five: float) -> None:
    hall = make_hall(session)
    li = make_staff(session, hall, "李强", make_window(session, hall, TAX))
    for n in range(times):
        revisited(session, li, "U" if n % 2 else "B", "S", window=TAX)
    report = monthly_assessment(session, hall, "2026-11", NOW)
    row = row_of(report, "李强")
    assert events_of(row) == {"revisit_then_satisfied": (times, points)}
    assert row["section_five"]["score"] == five
    assert report["summary"]["events"]["revisit_then_satisfied"] == times


def test_revisits_are_attributed_to_the_staff_of_the_case(session: Session) -> None:
    hall = make_hall(session)
    market = make_window(session, hall, MARKET)
    wang, zhao = make_staff(session, hall, "王芳", market), make_staff(session, hall, "赵敏", market)
    revisited(session, wang, "U", "B")
    revisited(session, zhao, "B", "S")
    revisited(session, zhao, "U", "U")
    revisited(session, None, "U", "U", window=TAX)
    report = monthly_assessment(session, hall, "2026-11", NOW)
    assert events_of(row_of(report, "王芳")) == {"revisit_still_unsatisfied": (1, -2.0)}
    assert events_of(row_of(report, "赵敏")) == {
        "revisit_still_unsatisfied": (1, -2.0), "revisit_then_satisfied": (1, 0.0),
    }
    nobody = row_of(report, UNREGISTERED)
    assert events_of(nobody) == {"revisit_still_unsatisfied": (1, -2.0)} and nobody["windows"] == [TAX]
    assert report["summary"]["events"] == {
        "overdue": 0, "revisit_still_unsatisfied": 3, "revisit_then_satisfied": 1,
    }


# --- (七)9 volume and inputs ---------------------------------------------------------------------------------


def test_volume_bonus_from_the_cases_accepted_in_the_month(session: Session) -> None:
    hall = make_hall(session)
    wang = make_staff(session, hall, "王芳", make_window(session, hall, MARKET))
    day = shanghai(2026, 11, 3, 9)
    for _ in range(12):
        ledger_case(session, wang, MARKET, promised=None, completed=day, accepted=day)
    for _ in range(10):
        ledger_case(session, wang, MARKET, promised=day + timedelta(days=5), completed=day, accepted=day)
    # Accepted on 11-01 00:30 Shanghai (still October 31 in UTC): November. Accepted 10-31 23:30: October.
    ledger_case(session, wang, MARKET, promised=None, completed=day, accepted=shanghai(2026, 11, 1, 0, 30))
    ledger_case(session, wang, MARKET, promised=None, completed=day, accepted=shanghai(2026, 10, 31, 23, 30))
    volume = row_of(monthly_assessment(session, hall, "2026-11", NOW), "王芳")["volume"]
    # 13 non-promised → one whole ten → 0.2; 10 promised → 1.
    assert volume == {"clause": "篇3 七9", "accepted": 13, "promised": 10, "online": 0, "issued": 0, "bonus": 1.2}


def test_inputs_needed_list_what_supervisors_must_add(session: Session) -> None:
    report = monthly_assessment(session, make_hall(session), "2026-11", NOW)
    needed = {item["code"]: item["clause"] for item in report["inputs_needed"]}
    assert {code: needed[code] for code in ("evaluator_basic", "evaluator_unsatisfied", "exposure", "district_basic",
                                            "district_unsatisfied", "above_district_basic",
                                            "above_district_unsatisfied")} == {
        "evaluator_basic": "篇3 五1", "evaluator_unsatisfied": "篇3 五1", "exposure": "篇3 五3",
        "district_basic": "篇3 五4", "district_unsatisfied": "篇3 五4", "above_district_basic": "篇3 五4",
        "above_district_unsatisfied": "篇3 五4",
    }
    assert {"attendance", "work_discipline", "service_conduct", "safety"} <= set(needed)
    assert not {"overdue", "revisit_still_unsatisfied", "revisit_then_satisfied"} & set(needed)
    assert all(item["description"] for item in report["inputs_needed"])
    assert report["staff"] == [] and report["summary"]["staff"] == 0


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "abc", "2026-1", "2026/11", ""])
def test_malformed_month_is_refused(session: Session, month: str) -> None:
    with pytest.raises(PeriodError, match="月份格式不正确"):
        monthly_assessment(session, make_hall(session), month, NOW)


# --- CLI -----------------------------------------------------------------------------------------------------


def _cli(database_url: str, monkeypatch: pytest.MonkeyPatch, *args: str):  # noqa: ANN202
    from click.testing import CliRunner

    import callback.results.cli_assess as cli_assess
    from callback.cli import main

    monkeypatch.setattr(cli_assess, "now", lambda: NOW)
    env = {"DATABASE_URL": database_url, "DEFAULT_HALL": "DEMO"}
    return CliRunner().invoke(main, ["assess", *args], env=env)


def _build_all(session: Session) -> None:
    hall = build_overdue(session)
    wang = session.scalar(select(Staff).where(Staff.hall_id == hall.id, Staff.name == "王芳"))
    revisited(session, wang, "U", "U")
    revisited(session, wang, "U", "U")
    session.commit()


def test_cli_json(session: Session, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _build_all(session)
    result = _cli(database_url, monkeypatch, "--month", "2026-11", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload) == {"month", "hall", "hall_name", "timezone", "period", "generated_at", "scope",
                            "volume_note", "staff", "summary", "inputs_needed"}
    assert (payload["month"], payload["hall"], payload["timezone"]) == ("2026-11", "DEMO", "Asia/Shanghai")
    wang = row_of(payload, "王芳")
    assert set(wang) == {"staff_id", "name", "windows", "events", "section_four", "section_five", "volume"}
    assert set(wang["events"][0]) == {"code", "label", "clause", "description", "count", "points"}
    assert events_of(wang) == {"overdue": (2, -10.0), "revisit_still_unsatisfied": (2, -4.0)}
    assert (wang["section_four"]["score"], wang["section_five"]["score"]) == (10.0, 11.0)
    assert "monthly_score" not in json.dumps(payload)


def test_cli_human_output_without_personal_data(session: Session, database_url: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _build_all(session)
    result = _cli(database_url, monkeypatch, "--month", "2026-11")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    [wang] = [line for line in lines if line.startswith("王芳")]
    assert MARKET in wang and "四 10/20" in wang and "五 11/15" in wang
    assert "超时 2 次 −10" in wang and "二次回访仍不满意 2 次 −4" in wang
    [li] = [line for line in lines if line.startswith("李强")]
    assert "超时 1 次 −5" in li and "二次回访" not in li
    assert any(line.startswith(UNREGISTERED) for line in lines)
    assert "仍需补录" in result.output and "篇3 五1" in result.output and "篇3 五4" in result.output
    json_output = _cli(database_url, monkeypatch, "--month", "2026-11", "--json").output
    applicants = set(session.scalars(select(Case.applicant).where(Case.applicant.is_not(None))))
    phones = set(session.scalars(select(Contact.phone)))
    assert applicants and phones
    for output in (result.output, json_output):
        for secret in applicants | phones | {p[-8:] for p in phones}:
            assert secret not in output


@pytest.mark.parametrize("month", ["2026-13", "abc"])
def test_cli_refuses_a_malformed_month(session: Session, database_url: str, monkeypatch: pytest.MonkeyPatch,
                                       month: str) -> None:
    make_hall(session)
    session.commit()
    result = _cli(database_url, monkeypatch, "--month", month)
    assert result.exit_code == 2
    assert "月份格式不正确" in result.output and "YYYY-MM" in result.output


def test_cli_unknown_hall(session: Session, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _cli(database_url, monkeypatch, "--month", "2026-11", "--hall", "NOPE")
    assert result.exit_code == 2 and "未知的中心代码" in result.output
