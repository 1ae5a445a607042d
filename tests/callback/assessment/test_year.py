"""The year (篇3 三): the mean of the months assessed, the 25% of 优秀服务标兵 (a tie at the cut, a barred award),
and the windows' yearly 综合考评 with their 红旗窗口 months."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from callback.assessment.annual import year_payload
from callback.assessment.entries import EntryInput, add_entry
from callback.assessment.services import assess_year
from tests.callback.assessment.builders import TAX, cases, hall, presses, shanghai, staff_member

NOW = datetime(2027, 1, 5, 2, 0, tzinfo=UTC)
NAMES = ("甲", "乙", "丙", "丁", "戊", "己", "庚", "辛")


def entry(session: Session, staff: str, clause: str, month: str, **given: object) -> None:
    add_entry(session, hall(session), EntryInput(staff=staff, clause=clause, month=month, **given), NOW,
              actor="督查科")


def year(session: Session) -> dict:
    return year_payload(session, assess_year(session, hall(session), 2026, 12, NOW))


def eight_staff(session: Session) -> dict[str, object]:
    """Eight staff with a case each in October and November: assessed both months."""
    made = {}
    for name in NAMES:
        member = made[name] = staff_member(session, name, TAX)
        for month in (10, 11):
            cases(session, member, TAX, 1, accepted=shanghai(2026, month, 5, 10))
    return made


def test_the_annual_score_is_the_mean_of_the_months_assessed(session: Session) -> None:
    eight_staff(session)
    entry(session, "甲", "二1", "2026-10")  # October 95
    entry(session, "甲", "一2", "2026-11", count=3)  # November 98.5
    entry(session, "乙", "产假", "2026-12")  # December: 产假 100, a third month assessed
    rows = {r["name"]: r for r in year(session)["staff"]}
    assert rows["甲"]["months"] == {"2026-10": 95.0, "2026-11": 98.5}
    assert rows["甲"]["score"] == round((95 + 98.5) / 2, 2) == 96.75
    assert rows["乙"]["months"] == {"2026-10": 100.0, "2026-11": 100.0, "2026-12": 100.0}
    assert rows["乙"]["maternity_months"] == ["2026-12"]


def test_the_25_percent_cut_falls_on_a_tie(session: Session) -> None:
    """8 staff → 2 places (8 × 25%). 甲 100 takes one; 乙 and 丙 tie at 99.5 for the last place: neither is
    taken by chance — both are listed as tied and the place is left to the centre (篇3 三(二)3 择优)."""
    eight_staff(session)
    for name in NAMES[1:]:
        entry(session, name, "一2", "2026-10")  # −0.5 in October
    for name in NAMES[3:]:
        entry(session, name, "一2", "2026-11", count=2)  # −1 in November
    awards = year(session)["awards"]
    assert (awards["quota"], awards["awarded"], set(awards["tied_at_cut"]), awards["open_places"]) == (
        2, ["甲"], {"乙", "丙"}, 1)


def test_a_barred_award_gives_the_place_to_the_next(session: Session) -> None:
    """甲 ties for the best annual score, (100 + 102) / 2 = 101, but drank at noon in October (篇3 二6: −10 and no
    award that year; a national commendation, 七3 +5 ×2, makes up the points). 8 staff → 2 places: 乙
    (100 + 102) / 2 = 101 and 丙 (100 + 101) / 2 = 100.5; the other five have 100."""
    eight_staff(session)
    entry(session, "甲", "二6", "2026-10")  # −10, 取消当年评先树优资格
    entry(session, "甲", "七3", "2026-10", grade="national", count=2)  # +10: October 100
    entry(session, "甲", "七8", "2026-11", count=1)  # +2: November 102
    entry(session, "乙", "七7", "2026-11")  # +2: November 102 → year 101
    entry(session, "丙", "七2", "2026-11")  # +1: year 100.5
    payload = year(session)
    rows = {r["name"]: r for r in payload["staff"]}
    assert rows["甲"]["score"] == 101.0 and rows["甲"]["award_eligible"] is False
    assert [bar["clause"] for bar in rows["甲"]["award_bars"]] == ["二6"]
    assert payload["awards"]["barred"] == ["甲"]
    assert payload["awards"]["awarded"] == ["乙", "丙"]


def test_an_exposure_bars_the_award_even_in_a_maternity_month(session: Session) -> None:
    """篇3 五3: an exposure cancels the year's 评先树优; a 产假 month scores 100, but the bar is not points."""
    eight_staff(session)
    entry(session, "甲", "产假", "2026-11")
    entry(session, "甲", "五3", "2026-11")
    rows = {r["name"]: r for r in year(session)["staff"]}
    assert rows["甲"]["months"]["2026-11"] == 100.0 and rows["甲"]["award_eligible"] is False


def test_leave_days_over_the_threshold_bar_the_award(session: Session) -> None:
    """篇3 一7: 因私请假 over 20 days in the year (12 + 9 = 21) cancels 评先树优 and the vacation (超过20天)."""
    eight_staff(session)
    entry(session, "丁", "一7", "2026-10", grade="personal", count=12)
    entry(session, "丁", "一7", "2026-11", grade="personal", count=9)
    row = next(r for r in year(session)["staff"] if r["name"] == "丁")
    assert [bar["clause"] for bar in row["award_bars"]] == ["一7"]
    assert row["vacation_cancelled"] and row["score"] == 100.0


def test_the_windows_yearly_score_and_red_flag_months(session: Session) -> None:
    """Evaluator presses only: 税务 October 10 S → 100, November 8 S 2 B → (800 + 120) / 10 = 92 → year 96.0;
    市场 November 10 U → 0; 公安 a single press in October (样本不足, left out) and 10 S in November → 100."""
    eight_staff(session)
    jia = staff_member(session, "壬", TAX)
    presses(session, jia, TAX, "S" * 10, shanghai(2026, 10, 10, 10))
    presses(session, jia, TAX, "S" * 8 + "BB", shanghai(2026, 11, 10, 10))
    presses(session, jia, "市场窗口", "U" * 10, shanghai(2026, 11, 10, 10))
    presses(session, jia, "公安窗口", "U", shanghai(2026, 10, 10, 10))
    presses(session, jia, "公安窗口", "S" * 10, shanghai(2026, 11, 10, 10))
    payload = year(session)
    rows = {w["window"]: w for w in payload["windows"]["rows"]}
    assert (rows[TAX]["score"], rows[TAX]["months_graded"], rows[TAX]["grade"]) == (96.0, 2, "优秀")
    assert (rows["公安窗口"]["score"], rows["公安窗口"]["months_graded"]) == (100.0, 1)
    assert rows["市场窗口"]["score"] == 0.0 and rows["市场窗口"]["grade"] == "不合格"
    assert rows[TAX]["red_flag_months"] == ["2026-10", "2026-11"]
    assert [f["window"] for f in payload["red_flags"]["2026-11"]] == ["公安窗口", TAX, "市场窗口"]
