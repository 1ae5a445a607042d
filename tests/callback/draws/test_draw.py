"""The weekly draw (篇2 三(一); docs/architecture.md §Draw eligibility): candidates and exclusions as of the draw
time, the seeded sample, tamper-evident verification, redraws, per-window draws, and safety under concurrent
workers."""

from __future__ import annotations

import hashlib
import random
import re
import threading
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import callback.draws.services as draw_module
from callback.config import Settings
from callback.db import session_factory
from callback.draws.services import (
    CandidateSet,
    DrawError,
    DrawParams,
    derive_candidates,
    draw_sample,
    draw_weekly_sample,
    fingerprint_lines,
    ledger_window,
    parse_deny_list,
    verify_draw,
)
from callback.models import Attempt, AuditEvent, Callback, Case, Contact, Draw, Hall, Message
from tests.factories import make_case, make_hall, make_window

SH = ZoneInfo("Asia/Shanghai")
WEEK = "2026-W48"  # Monday 2026-11-23 to Sunday 2026-11-29
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=SH)  # the scheduled time: Monday 09:00
ACCEPTED = datetime(2026, 11, 10, 10, 0, tzinfo=SH)
SETTINGS = Settings()
MASKED = re.compile(r"^1\d{2}\*{4}\d{4}$")


def add_case(session: Session, hall: Hall, window=None, *, accepted: datetime = ACCEPTED,
             stored: datetime | None = None, **kwargs) -> Case:
    """A ledger case stored (imported) at ``stored``, by default when it was accepted."""
    case = make_case(session, hall, window, accepted_at=accepted, **kwargs)
    case.created_at = stored or accepted
    session.flush()
    return case


def add_cases(session: Session, hall: Hall, n: int, window=None, **kwargs) -> list[Case]:
    return [add_case(session, hall, window, accepted=ACCEPTED + timedelta(minutes=i), **kwargs) for i in range(n)]


def draw(session: Session, hall: Hall, week: str = WEEK, **kwargs):
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("settings", SETTINGS)
    return draw_weekly_sample(session, hall, week, **kwargs)


def prior_callback(session: Session, case: Case, drawn_at: datetime, week: str = "2026-W47") -> Callback:
    """A callback of an earlier live draw of ``case`` (as the draw itself would leave it)."""
    old = session.scalar(select(Draw).where(Draw.hall_id == case.hall_id, Draw.week == week))
    if old is None:
        old = Draw(hall_id=case.hall_id, week=week, drawn_at=drawn_at, seed="1", fingerprint="0", size=20,
                   candidates=0, excluded={}, params={}, sample_case_ids=[])
        session.add(old)
        session.flush()
    callback = Callback(hall_id=case.hall_id, draw_id=old.id, case_id=case.id, contact_id=case.contact_id,
                        window_id=case.window_id, week=week, token=f"tok{case.id}")
    session.add(callback)
    session.flush()
    return callback


def candidate_ids(cands: CandidateSet) -> list[int]:
    return [cands.case_id(i) for i in range(len(cands))]


# ---------------------------------------------------------------------------------------------- weeks


def test_ledger_window_is_the_month_up_to_the_draw() -> None:
    assert ledger_window(WEEK, NOW, SH) == (datetime(2026, 11, 1, tzinfo=SH), NOW)


def test_first_week_of_a_month_also_takes_the_previous_month() -> None:
    monday = datetime(2026, 12, 7, 9, tzinfo=SH)  # the first Monday of December
    assert ledger_window("2026-W50", monday, SH)[0] == datetime(2026, 11, 1, tzinfo=SH)
    assert ledger_window("2026-W51", monday + timedelta(days=7), SH)[0] == datetime(2026, 12, 1, tzinfo=SH)


def test_past_week_stops_at_its_end_and_future_week_is_refused() -> None:
    later = datetime(2026, 12, 2, 9, tzinfo=SH)
    assert ledger_window(WEEK, later, SH) == (datetime(2026, 11, 1, tzinfo=SH), datetime(2026, 11, 30, tzinfo=SH))
    with pytest.raises(DrawError):
        ledger_window("2026-W49", NOW, SH)


def test_deny_list_matches_numbers_however_written() -> None:
    assert "+8613800138000" in parse_deny_list("138 0013 8000， 8001")
    assert "8001" in parse_deny_list("138 0013 8000， 8001")
    assert parse_deny_list("") == ()


# ---------------------------------------------------------------------------------------------- draws


def test_draw_makes_twenty_callbacks_due_at_the_next_calling_moment(session: Session) -> None:
    hall = make_hall(session)
    cases = add_cases(session, hall, 30)
    noon = datetime(2026, 11, 23, 12, 0, tzinfo=SH)  # lunch break: calls start again at 14:00

    result = draw(session, hall, now=noon)
    session.commit()

    assert result.created and not result.short
    callbacks = session.scalars(select(Callback).where(Callback.draw_id == result.draw.id)).all()
    assert len(callbacks) == 20 == len({c.token for c in callbacks})
    assert {c.state for c in callbacks} == {"drawn"}
    assert {c.next_action_at for c in callbacks} == {datetime(2026, 11, 23, 14, 0, tzinfo=SH)}
    assert {c.case_id for c in callbacks} <= {c.id for c in cases}
    assert result.draw.candidates == 30
    assert result.draw.fingerprint == documented_fingerprint(session, [c.id for c in cases])
    audit = session.scalar(select(AuditEvent).where(AuditEvent.entity == "draw"))
    assert (audit.action, audit.entity_id) == ("draw", result.draw.id)


def test_json_has_the_documented_shape_and_masks_every_phone(session: Session) -> None:
    hall = make_hall(session)
    add_cases(session, hall, 25)
    payload = draw(session, hall).to_json()
    assert set(payload) == {"draw_id", "week", "seed", "fingerprint", "candidates", "excluded", "sample", "short"}
    assert payload["week"] == WEEK and payload["candidates"] == 25 and len(payload["sample"]) == 20
    for row in payload["sample"]:
        assert set(row) == {"callback_id", "case_no", "window", "phone"}
        assert MASKED.match(row["phone"]), row["phone"]
    raw = set(session.scalars(select(Contact.phone)))
    assert not any(number in str(payload) for number in raw)


def test_every_exclusion_is_counted_by_reason(session: Session) -> None:
    hall = make_hall(session)
    eligible = add_cases(session, hall, 3)
    # no dialable number: an invalid number, and a case whose number was missing (no contact at all)
    add_case(session, hall, kind="invalid", phone="12345")
    add_case(session, hall).contact_id = None
    # opted out before the draw; opting out after it does not change what the draw saw
    add_case(session, hall).contact.opted_out_at = NOW - timedelta(days=3)
    later_opt_out = add_case(session, hall)
    later_opt_out.contact.opted_out_at = NOW + timedelta(hours=1)
    # deny-listed (an internal number, written with spaces in the setting)
    add_case(session, hall, phone="+8613800138000")
    # already drawn in an earlier week
    drawn = add_case(session, hall)
    prior_callback(session, drawn, NOW - timedelta(days=7))
    # numbers contacted within the cooldown: drawn a week ago (another case), called, texted, or marked
    same_number = add_case(session, hall, phone=drawn.contact.phone)
    october = datetime(2026, 10, 20, tzinfo=SH)
    called_before = add_case(session, hall, accepted=october)
    manual = Callback(hall_id=hall.id, case_id=called_before.id, contact_id=called_before.contact_id,
                      window_id=called_before.window_id, week="2026-W43", token="manual",
                      created_at=NOW - timedelta(days=40))
    session.add(manual)
    session.flush()
    session.add(Attempt(hall_id=hall.id, callback_id=manual.id, number=1, placed_at=NOW - timedelta(days=5)))
    called = add_case(session, hall, phone=called_before.contact.phone)
    texted_before = add_case(session, hall, accepted=october)
    texted_cb = prior_callback(session, texted_before, NOW - timedelta(days=60), week="2026-W39")
    session.add(Message(hall_id=hall.id, callback_id=texted_cb.id, direction="out", body="回访短信",
                        created_at=NOW - timedelta(days=2)))
    texted = add_case(session, hall, phone=texted_before.contact.phone)
    marked = add_case(session, hall)
    marked.contact.last_contacted_at = NOW - timedelta(days=10)
    long_ago = add_case(session, hall)
    long_ago.contact.last_contacted_at = NOW - timedelta(days=45)  # outside the 30-day cooldown: eligible
    # not in the ledger window at all: last month, and a row imported after the draw
    add_case(session, hall, accepted=october)
    add_case(session, hall, stored=NOW + timedelta(hours=2))
    session.flush()

    settings = Settings(deny_list="138 0013 8000, 8001")
    params = DrawParams.build(WEEK, NOW, SH, settings)
    cands = derive_candidates(session, hall.id, params)

    assert cands.excluded == {"no_dialable_number": 2, "opted_out": 1, "deny_listed": 1, "already_drawn": 1,
                              "contacted_recently": 4}
    expected = [c.id for c in eligible] + [later_opt_out.id, long_ago.id]
    assert candidate_ids(cands) == sorted(expected)
    assert not {same_number.id, called.id, texted.id, marked.id} & set(candidate_ids(cands))


def test_a_drawn_case_counts_under_its_numbers_own_reason_first(session: Session) -> None:
    """The reasons' order decides: a drawn case whose number opted out since is `opted_out`; one whose number
    was only drawn recently is `already_drawn`; a drawn case long ago (outside the cooldown) is `already_drawn`."""
    hall = make_hall(session)
    opted = add_case(session, hall)
    prior_callback(session, opted, NOW - timedelta(days=7))
    opted.contact.opted_out_at = NOW - timedelta(days=1)
    recent = add_case(session, hall)
    prior_callback(session, recent, NOW - timedelta(days=7))
    old = add_case(session, hall)
    prior_callback(session, old, NOW - timedelta(days=60), week="2026-W40")
    session.flush()
    cands = derive_candidates(session, hall.id, DrawParams.build(WEEK, NOW, SH, Settings()))
    assert len(cands) == 0
    assert cands.excluded == {"no_dialable_number": 0, "opted_out": 1, "deny_listed": 0, "already_drawn": 2,
                              "contacted_recently": 0}


def test_cooldown_days_are_configurable(session: Session) -> None:
    hall = make_hall(session)
    case = add_case(session, hall)
    case.contact.last_contacted_at = NOW - timedelta(days=10)
    for days, excluded in ((30, 1), (7, 0)):
        params = DrawParams.build(WEEK, NOW, SH, Settings(contact_cooldown_days=days))
        assert derive_candidates(session, hall.id, params).excluded["contacted_recently"] == excluded


def test_a_phone_number_is_drawn_at_most_once(session: Session) -> None:
    hall = make_hall(session)
    phones = [f"+86139{n:08d}" for n in range(8)]
    for phone in phones:
        add_cases(session, hall, 4, phone=phone)
    result = draw(session, hall)
    drawn_phones = [c.contact_id for c in session.scalars(select(Callback).where(Callback.draw_id == result.draw.id))]
    assert len(drawn_phones) == len(set(drawn_phones)) == 8  # all eight numbers, one case each
    assert result.draw.candidates == 32 and result.short


def test_same_seed_same_sample_other_seed_other_sample(session: Session) -> None:
    hall = make_hall(session)
    add_cases(session, hall, 200)
    session.commit()
    samples = []
    for seed in ("c0ffee", "C0FFEE", "beef"):
        result = draw(session, hall, seed=seed)
        samples.append(list(result.draw.sample_case_ids))
        session.rollback()
    assert samples[0] == samples[1] != samples[2]
    assert len(set(samples[0])) == 20


def test_a_week_already_drawn_is_returned_not_drawn_again(session: Session) -> None:
    hall = make_hall(session)
    add_cases(session, hall, 30)
    first = draw(session, hall)
    session.commit()
    second = draw(session, hall, now=NOW + timedelta(hours=3), seed="ab")
    assert not second.created and second.draw.id == first.draw.id
    assert [s.callback_id for s in second.sample] == [s.callback_id for s in first.sample]
    assert session.scalar(select(func.count()).select_from(Callback)) == 20


def test_redraw_supersedes_the_draw_and_keeps_the_reason(session: Session) -> None:
    hall = make_hall(session)
    add_cases(session, hall, 30)
    first = draw(session, hall)
    session.commit()
    started = session.scalar(select(Callback).where(Callback.draw_id == first.draw.id).limit(1))
    started.state, started.attempts_used = "calling", 1  # a call already under way stands
    session.commit()

    with pytest.raises(DrawError):
        draw(session, hall, redraw_reason="  ")
    second = draw(session, hall, now=NOW + timedelta(hours=1), redraw_reason="台账导入有误，重新抽取")
    session.commit()

    session.refresh(first.draw)
    assert second.created and second.draw.id != first.draw.id
    assert first.draw.superseded_at == NOW + timedelta(hours=1)
    assert second.draw.reason == "台账导入有误，重新抽取"
    states = Counter(session.scalars(select(Callback.state).where(Callback.draw_id == first.draw.id)))
    assert states == {"superseded": 19, "calling": 1}
    assert second.draw.candidates == 30  # the withdrawn cases are back in the pool
    audit = session.scalar(select(AuditEvent).where(AuditEvent.action == "redraw"))
    assert audit.detail["superseded_draw_id"] == first.draw.id and audit.detail["reason"].startswith("台账")
    assert verify_draw(session, hall, WEEK).ok


def test_per_window_draws_that_many_from_each_window(session: Session) -> None:
    hall = make_hall(session)
    sizes = {"市场监管窗口": 6, "不动产窗口": 3, "社保窗口": 10}
    windows = {name: make_window(session, hall, name) for name in sizes}
    for name, n in sizes.items():
        add_cases(session, hall, n, windows[name])

    result = draw(session, hall, per_window=4)
    session.commit()

    per_window = Counter(s.window for s in result.sample)
    assert per_window == {"市场监管窗口": 4, "不动产窗口": 3, "社保窗口": 4}
    assert result.short  # 不动产窗口 had only three
    assert verify_draw(session, hall, WEEK).ok


def test_fewer_candidates_than_asked_draws_them_all(session: Session) -> None:
    hall = make_hall(session)
    cases = add_cases(session, hall, 5)
    result = draw(session, hall)
    assert result.short and result.to_json()["short"] is True
    assert sorted(result.draw.sample_case_ids) == sorted(c.id for c in cases)


def test_no_candidates_is_an_empty_draw_not_an_error(session: Session) -> None:
    hall = make_hall(session)
    result = draw(session, hall)
    assert result.created and result.sample == [] and result.draw.candidates == 0 and result.short


def test_draw_refuses_bad_requests(session: Session) -> None:
    hall = make_hall(session)
    for kwargs in ({"size": 0}, {"per_window": 0}, {"seed": "not-hex"}, {"now": NOW - timedelta(days=1)}):
        with pytest.raises(DrawError):
            draw(session, hall, **kwargs)


# --------------------------------------------------------------------------------------------- verify


def drawn_week(session: Session, n: int = 40) -> tuple[Hall, Draw, list[Case]]:
    """A committed draw of WEEK over ``n`` eligible cases and one whose number had opted out (cases[-1])."""
    hall = make_hall(session)
    cases = add_cases(session, hall, n)
    cases.append(add_case(session, hall))
    cases[-1].contact.opted_out_at = NOW - timedelta(days=5)
    result = draw(session, hall)
    session.commit()
    return hall, result.draw, cases


def test_verify_passes_after_life_goes_on(session: Session) -> None:
    hall, drawn, cases = drawn_week(session)
    # after the draw: calls are made, a number opts out, new cases are imported, next week is drawn
    callback = session.scalar(select(Callback).where(Callback.draw_id == drawn.id).limit(1))
    session.add(Attempt(hall_id=hall.id, callback_id=callback.id, number=1, placed_at=NOW + timedelta(hours=1)))
    session.get(Contact, callback.contact_id).last_contacted_at = NOW + timedelta(hours=1)
    cases[0].contact.opted_out_at = NOW + timedelta(days=1)
    add_case(session, hall, accepted=NOW - timedelta(hours=2), stored=NOW + timedelta(hours=3))
    session.commit()
    draw(session, hall, "2026-W49", now=NOW + timedelta(days=7))
    session.commit()

    assert verify_draw(session, hall, WEEK).to_json() == {"ok": True}


def test_verify_catches_a_tampered_sample(session: Session) -> None:
    hall, drawn, cases = drawn_week(session)
    outsider = next(c.id for c in cases if c.id not in drawn.sample_case_ids)
    drawn.sample_case_ids = [outsider, *drawn.sample_case_ids[1:]]
    session.commit()
    assert verify_draw(session, hall, WEEK).to_json() == {"ok": False, "reason": "sample_mismatch"}


def test_verify_catches_a_changed_seed(session: Session) -> None:
    hall, drawn, _ = drawn_week(session)
    drawn.seed = "1234"
    session.commit()
    assert verify_draw(session, hall, WEEK).reason == "sample_mismatch"


def test_verify_catches_swapped_callbacks(session: Session) -> None:
    hall, drawn, cases = drawn_week(session)
    outsider = next(c for c in cases if c.id not in drawn.sample_case_ids)
    callback = session.scalar(select(Callback).where(Callback.draw_id == drawn.id).limit(1))
    callback.case_id = outsider.id
    session.commit()
    assert verify_draw(session, hall, WEEK).reason == "callbacks_mismatch"


@pytest.mark.parametrize("tamper", ["backdated_case", "edited_case_no", "opt_out_erased", "window_edited"])
def test_verify_catches_a_tampered_candidate_set(session: Session, tamper: str) -> None:
    hall, drawn, cases = drawn_week(session)
    if tamper == "backdated_case":  # slipped into the ledger with an import time before the draw
        add_case(session, hall, stored=NOW - timedelta(days=1))
    elif tamper == "edited_case_no":
        cases[5].case_no = "BJ-EDITED"
    elif tamper == "opt_out_erased":  # to get a citizen who refused drawn after all
        cases[-1].contact.opted_out_at = None
    else:  # the stored ledger window narrowed after the fact
        drawn.params = {**drawn.params, "until": (ACCEPTED + timedelta(minutes=10)).isoformat()}
    session.commit()
    assert verify_draw(session, hall, WEEK).to_json() == {"ok": False, "reason": "candidate_set_changed"}


def test_verify_without_a_draw(session: Session) -> None:
    hall = make_hall(session)
    assert verify_draw(session, hall, WEEK).to_json() == {"ok": False, "reason": "no_draw"}


# --------------------------------------------------------------------------------------------- sampling


def frame(n: int, *, contacts: list[int] | None = None, windows: list[int] | None = None) -> CandidateSet:
    contact_ids = contacts or list(range(n))
    ids = list(range(1, n + 1))
    return CandidateSet(ids, {}, fingerprint_lines((i, f"BJ{i}") for i in ids), windows or [1] * n, contact_ids)


def test_sampling_is_uniform_over_eligible_cases() -> None:
    """Over many seeds every case is drawn at a rate consistent with uniform (chi-square, df = 49).

    The seeds are fixed, so the test is deterministic; 85.35 is the 0.999 quantile of chi-square(49).
    """
    n, k, runs = 50, 5, 4000
    cands = frame(n)
    counts = Counter(p for i in range(runs) for p in draw_sample(cands, f"{i:x}", k, None))
    expected = runs * k / n
    chi2 = sum((counts[p] - expected) ** 2 / expected for p in range(n))
    assert chi2 < 85.35, chi2
    first = Counter(draw_sample(cands, f"{i:x}", k, None)[0] for i in range(runs))
    chi2_first = sum((first[p] - runs / n) ** 2 / (runs / n) for p in range(n))
    assert chi2_first < 85.35, chi2_first  # the draw order is uniform too, not only the set


def test_per_window_sampling_is_uniform_within_each_window() -> None:
    windows = [1] * 12 + [2] * 8
    cands = frame(20, windows=windows)
    runs = 3000
    counts = Counter(p for i in range(runs) for p in draw_sample(cands, f"{i:x}", 20, 3))
    for members, bound in ((range(12), 31.26), (range(12, 20), 24.32)):  # chi-square 0.999 quantiles, df 11 and 7
        expected = runs * 3 / len(members)
        chi2 = sum((counts[p] - expected) ** 2 / expected for p in members)
        assert chi2 < bound, chi2


def test_sample_never_repeats_a_number() -> None:
    contacts = [i // 3 for i in range(60)]  # twenty numbers with three cases each
    cands = frame(60, contacts=contacts)
    for seed in ("1", "2", "abc"):
        sample = draw_sample(cands, seed, 20, None)
        assert len(sample) == 20 and len({contacts[p] for p in sample}) == 20
        assert len(draw_sample(cands, seed, 30, None)) == 20  # fewer numbers than asked: each of them once


def test_sampling_reproduces_the_documented_generator() -> None:
    """The sample is a Fisher–Yates walk driven by random.Random(int(seed, 16)).random() only."""
    cands = frame(10)
    rng = random.Random(int("5eed", 16))
    pool = list(range(10))
    for i in range(3):
        j = i + int(rng.random() * (10 - i))
        pool[i], pool[j] = pool[j], pool[i]
    assert draw_sample(cands, "5eed", 3, None) == pool[:3]


# ------------------------------------------------------------------------------------- PostgreSQL paths


@pytest.fixture
def pg_session(pg_database: str):
    from callback.db import get_engine
    from callback.models import Base

    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with get_engine(pg_database).begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    with session_factory(pg_database)() as session:
        yield session


def test_every_reason_and_their_precedence_give_the_documented_frame(session: Session) -> None:
    """Every exclusion reason at once, and cases to which several apply (counted under the first), with windows,
    a case number holding a tab, a backslash or a line break: the frame, its windows and numbers, the counts
    and the fingerprint are what the rules and the documented line format give, worked out here apart from
    the query."""
    hall = make_hall(session)
    windows = [make_window(session, hall, f"窗口{i}") for i in range(3)]
    settings = Settings(deny_list="+8613700000005, +8613700000006")
    cases = []
    for i in range(60):
        case = add_case(session, hall, windows[i % 3], accepted=ACCEPTED + timedelta(minutes=i),
                        phone=f"+86137{i % 45:08d}")
        cases.append(case)
        if i % 7 == 0:
            case.contact.last_contacted_at = NOW - timedelta(days=2)
        if i % 11 == 0:
            case.contact.opted_out_at = NOW - timedelta(days=2)
    drawn = (1, 5, 14, 22, 33)  # drawn before; 5 is also deny-listed, 14 contacted, 22 and 33 opted out
    for i in drawn:
        prior_callback(session, cases[i], NOW - timedelta(days=40), week="2026-W41")
    invalid = add_case(session, hall, kind="invalid", phone="999")
    no_number = add_case(session, hall, case_no="BJ\t制表符\\反斜杠")
    no_number.contact_id = None
    broken = add_case(session, hall, case_no="BJ\nWITH-A-BREAK")
    session.flush()

    def reason(i: int) -> str | None:
        """The first reason that applies to cases[i], in EXCLUSION_REASONS' order. Cases i and i + 45 share a
        number, so a mark on either case's contact is the number's."""
        sharing = [j for j in (i % 45, i % 45 + 45) if j < 60]
        if any(j % 11 == 0 for j in sharing):
            return "opted_out"
        if i % 45 in (5, 6):
            return "deny_listed"
        if i in drawn:  # 40 days ago: outside the 30-day cooldown, so only the case itself is out
            return "already_drawn"
        if any(j % 7 == 0 for j in sharing):
            return "contacted_recently"
        return None

    cands = derive_candidates(session, hall.id, DrawParams.build(WEEK, NOW, SH, settings))
    expected = [c for i, c in enumerate(cases) if reason(i) is None] + [broken]
    assert candidate_ids(cands) == [c.id for c in expected]
    assert list(cands.window_ids) == [c.window_id for c in expected]
    assert list(cands.contact_ids) == [c.contact_id for c in expected]
    counts = Counter(reason(i) for i in range(60))
    assert cands.excluded == {"no_dialable_number": 2, "opted_out": counts["opted_out"],
                              "deny_listed": counts["deny_listed"], "already_drawn": counts["already_drawn"],
                              "contacted_recently": counts["contacted_recently"]}
    assert all(cands.excluded.values())  # every reason occurs
    assert invalid.id not in candidate_ids(cands) and no_number.id not in candidate_ids(cands)
    assert cands.fingerprint == documented_fingerprint(session, cands.case_ids)


def documented_fingerprint(session: Session, case_ids) -> str:
    """SHA-256 of the ``<case id>\\t<case no>\\n`` lines in case-id order, computed here independently."""
    numbers = dict(session.execute(select(Case.id, Case.case_no).where(Case.id.in_(list(case_ids)))).all())
    text_ = "".join(f"{i}\t{numbers[i]}\n" for i in sorted(case_ids))
    return hashlib.sha256(text_.encode("utf-8")).hexdigest()


def _draw_in_thread(url: str, hall_id: int, results: list, barrier: threading.Barrier | None) -> None:
    with session_factory(url)() as session:
        hall = session.get(Hall, hall_id)
        if barrier is not None:
            barrier.wait(timeout=10)
        result = draw(session, hall)
        session.commit()
        results.append((result.created, result.draw.id))


def _draw_in_two_threads(url: str, hall_id: int, barrier: threading.Barrier | None) -> list:
    results: list = []
    threads = [threading.Thread(target=_draw_in_thread, args=(url, hall_id, results, barrier)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def _assert_one_draw_of_twenty(session: Session, results: list) -> None:
    """One thread created the draw, the other got the same one back; one draw and its 20 callbacks exist."""
    assert sorted(created for created, _ in results) == [False, True]
    assert len({draw_id for _, draw_id in results}) == 1
    assert session.scalar(select(func.count()).select_from(Draw)) == 1
    assert session.scalar(select(func.count()).select_from(Callback)) == 20


def test_two_workers_drawing_the_same_week_end_with_one_draw(pg_session: Session, pg_database: str) -> None:
    hall = make_hall(pg_session)
    add_cases(pg_session, hall, 50)
    pg_session.commit()
    results = _draw_in_two_threads(pg_database, hall.id, threading.Barrier(2))
    _assert_one_draw_of_twenty(pg_session, results)


def test_unique_index_backstop_when_the_lock_is_bypassed(pg_session: Session, pg_database: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Even without the advisory lock, the partial unique index decides: the loser returns the winner's draw."""
    hall = make_hall(pg_session)
    add_cases(pg_session, hall, 50)
    pg_session.commit()
    both_checked = threading.Barrier(2)
    original = draw_module.derive_candidates

    def derive_after_both_checked(*args, **kwargs):
        both_checked.wait(timeout=10)  # both workers have seen "no draw yet"
        return original(*args, **kwargs)

    monkeypatch.setattr(draw_module, "_lock_hall", lambda session, hall_id: None)
    monkeypatch.setattr(draw_module, "derive_candidates", derive_after_both_checked)
    results = _draw_in_two_threads(pg_database, hall.id, None)
    _assert_one_draw_of_twenty(pg_session, results)
