"""The weekly random draw of applicants to call back (篇2 三(一); docs/architecture.md §Draw eligibility).

篇2 三(一): 每周，由督查科负责从各窗口当月受理台账中随机抽取20个回访对象进行电话访问.

Candidates, as of the draw time T (`now`):

* the hall's cases accepted in the ledger window: the current month (hall time zone) up to T — or up to the end
  of the drawn week when a past week is drawn late. A draw made on day 1–7 of a month ("the first week of a
  month") also takes the previous month, so cases accepted after the last draw of that month are not lost.
  Only ledger rows stored by T count (`Case.created_at`), so a late import cannot disturb the re-derivation.
* minus exclusions, each case counted once under the first reason that applies, in this order:
  ``no_dialable_number``, ``opted_out``, ``deny_listed`` (Settings.deny_list: internal numbers and the like),
  ``already_drawn``, ``contacted_recently`` (Settings.contact_cooldown_days: a call attempt, an outgoing SMS,
  `Contact.last_contacted_at`, or a draw of the number within the cooldown).

Sampling is a simple random sample of cases (every candidate equally likely) walked from a Fisher–Yates
shuffle driven by ``random.Random(int(seed, 16))`` over the candidates in canonical order (case id ascending);
a case whose number is already in the sample is passed over, so a draw calls each number at most once.
``per_window`` draws that many from each window instead. The seed and a SHA-256 fingerprint of the ordered
candidate set are stored, so `verify_draw` can re-derive the set as of T and check that the seed gives the
same sample (tamper-evident).

Services take the session and the clock and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import random
import re
import secrets
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Select,
    and_,
    case,
    false,
    func,
    or_,
    select,
    text,
    union,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callback.config import Settings
from callback.ledger.values import normalise_phone
from callback.models import Attempt, AuditEvent, Callback, Case, Contact, Draw, Hall, Message, Window
from callback.responses.states import INITIAL, CallbackState, checked_move
from callback.retention.services import RetentionPolicy, restore_returning_numbers
from survey.privacy import mask_phone
from survey.weeks import PeriodError, aware, local_midnight, parse_week, week_bounds

DIALABLE_KINDS = ("mobile", "landline")
EXCLUSION_REASONS = ("no_dialable_number", "opted_out", "deny_listed", "already_drawn", "contacted_recently")
_SEED_RE = re.compile(r"^[0-9a-f]{1,64}$")
_LOCK_NAMESPACE = 0x4452  # pg_advisory_xact_lock(namespace, hall_id): one draw per hall at a time
_STREAM_ROWS = 50_000  # candidate rows fetched at a time (a server-side cursor on PostgreSQL)


class DrawError(ValueError):
    """A draw request that cannot be honoured. The message is for people (Simplified Chinese)."""


class CallPolicy(Protocol):
    def next_call_moment(self, at: datetime) -> datetime: ...


# --------------------------------------------------------------------------------------------- ISO weeks


def _checked_week(week: str) -> None:
    """A draw is about a real ISO week (survey.weeks); anything else is a DrawError for the caller."""
    try:
        parse_week(week)
    except PeriodError as exc:
        raise DrawError(str(exc)) from None



def ledger_window(week: str, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The half-open ``[since, until)`` of accepted times a draw of ``week`` made at ``now`` takes.

    ``until`` is ``now``, or the end of the week when a past week is drawn. ``since`` is the first of the month
    of ``until`` (local time), or of the month before when that day is in the month's first seven days
    (篇2 三(一) "当月受理台账"; in a month's first week the previous month's cases also count: docs/architecture.md
    §Draw eligibility).
    """
    start, end = week_bounds(week, tz)
    now = aware(now)
    if now <= start:
        raise DrawError(f"{week} 尚未开始，不能抽取")
    until = min(now, end)
    last_day = (until - timedelta(microseconds=1)).astimezone(tz).date()
    month_start = last_day.replace(day=1)
    if last_day.day <= 7:
        month_start = (month_start - timedelta(days=1)).replace(day=1)
    return local_midnight(month_start, tz), until


# ------------------------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class DrawParams:
    """Everything besides the ledger that decides a draw's candidate set; stored with the draw."""

    since: datetime
    until: datetime
    as_of: datetime
    cooldown_days: int
    deny_list: tuple[str, ...] = ()

    @classmethod
    def build(cls, week: str, now: datetime, tz: ZoneInfo, settings: Settings) -> DrawParams:
        since, until = ledger_window(week, now, tz)
        return cls(since, until, now, settings.contact_cooldown_days, parse_deny_list(settings.deny_list))

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "as_of": self.as_of.isoformat(),
            "cooldown_days": self.cooldown_days,
            "deny_list": list(self.deny_list),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DrawParams:
        moments = (datetime.fromisoformat(data[k]) for k in ("since", "until", "as_of"))
        return cls(*moments, int(data["cooldown_days"]), tuple(data.get("deny_list", ())))


def parse_deny_list(raw: str) -> tuple[str, ...]:
    """Settings.deny_list ("+8613800000000, 0771-1234567, …") as the sorted stored forms of those numbers.

    Each entry is matched both normalised to E.164 (as contacts store dialable numbers) and as written.
    """
    numbers: set[str] = set()
    for entry in (e.strip() for e in re.split(r"[,，;；\n]+", raw or "")):
        if entry:
            numbers.add(entry)
            phone = normalise_phone(entry)
            if phone.e164 is not None:
                numbers.add(phone.e164)
    return tuple(sorted(numbers))


# ------------------------------------------------------------------------------------------- candidates


@dataclass(frozen=True, slots=True)
class Candidate:
    case_id: int
    case_no: str
    window_id: int
    contact_id: int


@dataclass(frozen=True)
class CandidateSet:
    """The sampling frame — eligible cases in canonical order, case id ascending — and the exclusions.

    ``case_ids[i]`` is the i-th candidate, ``window_ids[i]`` and ``contact_ids[i]`` its window and number;
    ``fingerprint`` is the SHA-256 over the ordered ``<case id>\\t<case no>\\n`` lines (`fingerprint_lines`).
    Held as compact integer arrays: a big hall's month is a million cases.
    """

    case_ids: Sequence[int]
    excluded: dict[str, int]
    fingerprint: str
    window_ids: Sequence[int]
    contact_ids: Sequence[int]

    def __len__(self) -> int:
        return len(self.case_ids)

    def case_id(self, position: int) -> int:
        return self.case_ids[position]


def fingerprint_lines(lines: Iterable[tuple[int, str]]) -> str:
    """SHA-256 (hex) over ``<case id>\\t<case no>\\n`` for each ``(case id, case no)`` in the given order."""
    digest = hashlib.sha256()
    for case_id, case_no in lines:
        digest.update(_fingerprint_line(case_id, case_no))
    return digest.hexdigest()


def _fingerprint_line(case_id: int, case_no: str) -> bytes:
    return f"{case_id}\t{case_no}\n".encode()  # UTF-8


def derive_candidates(session: Session, hall_id: int, params: DrawParams) -> CandidateSet:
    """The candidate set of a hall as of ``params.as_of``: every stored case of the ledger window, classified
    under the first exclusion that applies (`_exclusion_code`).

    The few excluded contacts and drawn cases are read first (`_excluded_contacts`, `_drawn_case_ids`: tens of
    thousands at most, found through indexes); then the window's cases stream in case-id order, in batches,
    straight from the (hall_id, id) index, and each is classified against those two as it passes — the
    eligible ones hashed into the fingerprint and kept as integer arrays. Keeping the exclusions out of the
    cases query leaves PostgreSQL one plan whatever its statistics: it cannot choose a nested loop over a
    mis-estimated exclusion set or a scan of every hall's cases (README, "Benchmarks"). A million-case month
    takes 2–3 s on a 2-core machine, most of it in Python (fetching, hashing)."""
    excluded_contacts: dict[int, int] = dict(session.execute(_excluded_contacts(hall_id, params)).all())
    drawn_cases = set(session.scalars(_drawn_case_ids(hall_id, params.as_of)))
    c = Case.__table__.c
    rows = session.execute(
        select(c.id, c.case_no, c.window_id, c.contact_id).where(*_in_window(hall_id, params)).order_by(c.id)
        .execution_options(yield_per=_STREAM_ROWS)
    )
    excluded = dict.fromkeys(EXCLUSION_REASONS, 0)
    digest = hashlib.sha256()
    case_ids, window_ids, contact_ids = array("i"), array("i"), array("i")
    for case_id, case_no, window_id, contact_id in rows:
        code = _exclusion_code(case_id, contact_id, excluded_contacts, drawn_cases)
        if code is None:
            digest.update(_fingerprint_line(case_id, case_no))
            case_ids.append(case_id)
            window_ids.append(window_id)
            contact_ids.append(contact_id)
        else:
            excluded[EXCLUSION_REASONS[code - 1]] += 1
    return CandidateSet(case_ids, excluded, digest.hexdigest(), window_ids, contact_ids)


def _exclusion_code(case_id: int, contact_id: int | None, excluded_contacts: dict[int, int],
                   drawn_cases: set[int]) -> int | None:
    """The code (1-based index into EXCLUSION_REASONS) of the first exclusion that applies to a case, None when
    it is eligible. ``excluded_contacts`` maps an excluded contact to its own first reason (`_excluded_contacts`);
    a drawn case comes after the number's own reasons and before its cooldown (the order of EXCLUSION_REASONS)."""
    if contact_id is None:
        return _NO_NUMBER
    code = excluded_contacts.get(contact_id)
    if case_id in drawn_cases and (code is None or code > _ALREADY_DRAWN):
        return _ALREADY_DRAWN
    return code


def _in_window(hall_id: int, p: DrawParams) -> tuple[Any, ...]:
    """The hall's cases accepted in the ledger window and stored by the draw time."""
    c = Case.__table__.c
    return c.hall_id == hall_id, c.accepted_at >= p.since, c.accepted_at < p.until, c.created_at <= p.as_of


def _code(reason: str) -> int:
    return EXCLUSION_REASONS.index(reason) + 1


_NO_NUMBER, _ALREADY_DRAWN = _code("no_dialable_number"), _code("already_drawn")


def _excluded_contacts(hall_id: int, p: DrawParams) -> Select[Any]:
    """The hall's contacts excluded as of ``p.as_of``, with their reason code: a few percent of all contacts,
    found through partial indexes (see `Contact`) and the recent callbacks, never by reading every number."""
    ct = Contact.__table__.c
    cooldown_start = p.as_of - timedelta(days=p.cooldown_days)
    undialable = ct.kind.not_in(DIALABLE_KINDS)
    opted_out = and_(ct.opted_out_at.is_not(None), ct.opted_out_at <= p.as_of)
    denied = ct.phone.in_(p.deny_list) if p.deny_list else false()
    contacted = and_(ct.last_contacted_at.is_not(None), ct.last_contacted_at >= cooldown_start,
                     ct.last_contacted_at < p.as_of)
    code = case((undialable, _code("no_dialable_number")), (opted_out, _code("opted_out")),
                (denied, _code("deny_listed")), else_=_code("contacted_recently"))
    flagged = select(ct.id, code.label("code")).where(
        ct.hall_id == hall_id, or_(undialable, opted_out, denied, contacted)
    )
    recent = _recent_contact_ids(hall_id, cooldown_start, p.as_of).subquery("recent")
    via_callbacks = (
        select(ct.id, code.label("code"))
        .select_from(Contact.__table__.join(recent, recent.c.contact_id == ct.id))
        .where(ct.hall_id == hall_id)
    )
    both = union_all(flagged, via_callbacks).subquery("flagged")
    return select(both.c.id, func.min(both.c.code).label("code")).group_by(both.c.id)


def _live_at(as_of: datetime) -> Any:
    """A draw that existed and was not yet replaced at ``as_of``."""
    d = Draw.__table__.c
    return and_(d.drawn_at < as_of, or_(d.superseded_at.is_(None), d.superseded_at > as_of))


def _drawn_case_ids(hall_id: int, as_of: datetime) -> Select[Any]:
    cb, d = Callback.__table__.c, Draw.__table__.c
    manual = and_(cb.draw_id.is_(None), cb.case_id.is_not(None), cb.created_at < as_of)  # not an on-site form
    return (
        select(cb.case_id)
        .select_from(Callback.__table__.outerjoin(Draw.__table__, d.id == cb.draw_id))
        .where(cb.hall_id == hall_id, or_(manual, _live_at(as_of)))
    )


def _recent_contact_ids(hall_id: int, start: datetime, end: datetime) -> Any:
    """Contacts drawn, called or texted in ``[start, end)``."""
    cb, d, a, m = Callback.__table__.c, Draw.__table__.c, Attempt.__table__.c, Message.__table__.c
    drawn = (
        select(cb.contact_id)
        .select_from(Callback.__table__.join(Draw.__table__, d.id == cb.draw_id))
        .where(cb.hall_id == hall_id, d.drawn_at >= start, _live_at(end))
    )
    manual = select(cb.contact_id).where(
        cb.hall_id == hall_id, cb.draw_id.is_(None), cb.contact_id.is_not(None), cb.created_at >= start,
        cb.created_at < end,
    )
    placed = func.coalesce(a.placed_at, a.created_at)
    called = (
        select(cb.contact_id)
        .select_from(Attempt.__table__.join(Callback.__table__, cb.id == a.callback_id))
        .where(cb.hall_id == hall_id, placed >= start, placed < end)
    )
    texted = (
        select(cb.contact_id)
        .select_from(Message.__table__.join(Callback.__table__, cb.id == m.callback_id))
        .where(cb.hall_id == hall_id, m.direction == "out", m.created_at >= start, m.created_at < end)
    )
    return union(drawn, manual, called, texted)


# --------------------------------------------------------------------------------------------- sampling

def new_seed() -> str:
    return secrets.token_hex(16)


def normalise_seed(seed: str) -> str:
    """A seed as stored: lower-case hex, at most 64 digits."""
    value = seed.strip().lower().removeprefix("0x")
    if not _SEED_RE.match(value):
        raise DrawError(f"种子应为不超过 64 位的十六进制数：{seed!r}")
    return value


def draw_sample(cands: CandidateSet, seed: str, size: int, per_window: int | None) -> list[int]:
    """Frame positions of the sample a seed gives, in draw order: a simple random sample of cases (each
    eligible case equally likely to come up) in which a phone number already drawn is passed over, so no
    number is called twice. Fewer eligible numbers than asked → all of them.

    ``per_window``: that many from each window, windows in id order, each with its own generator
    (``Random("<seed>:<window id>")``) so one window's draw cannot shift another's.
    """
    taken: set[int] = set()
    if per_window is None:
        return _pick(random.Random(int(seed, 16)), range(len(cands)), size, cands.contact_ids, taken)
    by_window: dict[int, list[int]] = {}
    for position, window_id in enumerate(cands.window_ids):
        by_window.setdefault(window_id, []).append(position)
    return [p for wid in sorted(by_window)
            for p in _pick(random.Random(f"{seed}:{wid}"), by_window[wid], per_window, cands.contact_ids, taken)]


def _pick(rng: random.Random, positions: Sequence[int], k: int, contacts: Sequence[int],
          taken: set[int]) -> list[int]:
    """Walk a seeded shuffle of ``positions`` and keep the first ``k`` whose number is not ``taken`` yet."""
    picked: list[int] = []
    for position in _shuffled(rng, positions):
        if len(picked) == k:
            break
        if contacts[position] not in taken:
            taken.add(contacts[position])
            picked.append(position)
    return picked


def _shuffled(rng: random.Random, items: Sequence[int]) -> Iterator[int]:
    """Fisher–Yates, lazily: yields ``items`` in shuffled order, touching only the slots it visits (swaps
    kept in a dict), so the first few of a million cost no more than the first few of ten.

    Only ``rng.random()`` is used: Python guarantees its sequence for a given seed across versions, unlike
    ``sample``/``randrange`` (random module docs, "Notes on Reproducibility").
    """
    n = len(items)
    swapped: dict[int, int] = {}
    for i in range(n):
        j = i + min(int(rng.random() * (n - i)), n - i - 1)
        yield items[swapped.get(j, j)]
        swapped[j] = swapped.get(i, i)


def _is_short(cands: CandidateSet, picked: int, size: int, per_window: int | None) -> bool:
    if per_window is None:
        return picked < size
    windows = len(set(cands.window_ids))
    return windows == 0 or picked < per_window * windows


# ------------------------------------------------------------------------------------------------ draws


@dataclass(frozen=True)
class DrawnCase:
    callback_id: int
    case_id: int
    case_no: str
    window: str
    phone: str  # masked, always

    def to_json(self) -> dict[str, Any]:
        return {"callback_id": self.callback_id, "case_no": self.case_no, "window": self.window,
                "phone": self.phone}


@dataclass(frozen=True)
class DrawResult:
    """A draw and its sample. ``created`` is False when an existing draw of the week was returned."""

    draw: Draw
    created: bool
    sample: list[DrawnCase]

    @property
    def short(self) -> bool:
        """Fewer candidates than asked, so every candidate was drawn."""
        return bool(self.draw.params.get("short"))

    def to_json(self) -> dict[str, Any]:
        d = self.draw
        return {
            "draw_id": d.id,
            "week": d.week,
            "seed": d.seed,
            "fingerprint": d.fingerprint,
            "candidates": d.candidates,
            "excluded": dict(d.excluded),
            "sample": [s.to_json() for s in self.sample],
            "short": self.short,
        }


def live_draw(session: Session, hall_id: int, week: str) -> Draw | None:
    """The week's draw that has not been replaced, if any."""
    return session.scalar(
        select(Draw).where(Draw.hall_id == hall_id, Draw.week == week, Draw.superseded_at.is_(None))
    )


def draw_weekly_sample(
    session: Session,
    hall: Hall,
    week: str,
    *,
    size: int = 20,
    per_window: int | None = None,
    seed: str | None = None,
    now: datetime,
    settings: Settings,
    redraw_reason: str | None = None,
    policy: CallPolicy | None = None,
    actor: str = "system",
) -> DrawResult:
    """Draw a hall's week (篇2 三(一)): one callback row per drawn case, state ``drawn``, due at the next
    allowed calling moment. An existing draw of the week is returned unchanged unless ``redraw_reason`` is
    given; then it is superseded and the reason kept. Safe when two workers draw the same hall and week.
    """
    _validate(week, size, per_window, redraw_reason)
    _lock_hall(session, hall.id)
    existing = live_draw(session, hall.id, week)
    if existing is not None and redraw_reason is None:
        return _result(session, existing, created=False)
    try:
        with session.begin_nested():
            if existing is not None:
                _supersede(session, existing, now)  # before deriving: its cases go back to the pool
            draw, picked = _new_draw(session, hall, week, size, per_window, seed, now, settings, redraw_reason)
            _store(session, draw, picked, existing, now, policy or _policy(session, settings, hall), actor)
    except IntegrityError:
        # Another worker drew this week first (uq_draws_live_week): theirs stands.
        winner = live_draw(session, hall.id, week)
        if winner is None:
            raise
        return _result(session, winner, created=False)
    return _result(session, draw, created=True)


def _new_draw(session: Session, hall: Hall, week: str, size: int, per_window: int | None, seed: str | None,
              now: datetime, settings: Settings, reason: str | None) -> tuple[Draw, list[Candidate]]:
    """Derive the candidates, sample them, and return the unsaved draw with the drawn cases."""
    params = DrawParams.build(week, now, _hall_tz(hall, settings), settings)
    # a number a retention purge had hashed and the ledger brought back gets its old contact row (and opt-out)
    restore_returning_numbers(session, hall.id, RetentionPolicy.from_settings(settings).key, params.since, now)
    cands = derive_candidates(session, hall.id, params)
    seed = normalise_seed(seed) if seed else new_seed()
    positions = draw_sample(cands, seed, size, per_window)
    picked = _picked_cases(session, [cands.case_id(i) for i in positions])
    params_json = params.to_json() | {"short": _is_short(cands, len(picked), size, per_window)}
    draw = Draw(hall_id=hall.id, week=week, drawn_at=now, seed=seed, fingerprint=cands.fingerprint, size=size,
                per_window=per_window, candidates=len(cands), excluded=cands.excluded, params=params_json,
                sample_case_ids=[c.case_id for c in picked], reason=reason)
    return draw, picked


def _validate(week: str, size: int, per_window: int | None, redraw_reason: str | None) -> None:
    _checked_week(week)
    if size < 1 or (per_window is not None and per_window < 1):
        raise DrawError("抽取数量必须是正整数")
    if redraw_reason is not None and not redraw_reason.strip():
        raise DrawError("重新抽取必须说明原因（--reason）")


def _hall_tz(hall: Hall, settings: Settings) -> ZoneInfo:
    return ZoneInfo(hall.timezone or settings.timezone)


def _lock_hall(session: Session, hall_id: int) -> None:
    """Serialise draws of one hall: an advisory lock on PostgreSQL, SQLite's write lock taken up front."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:ns, :hall)"), {"ns": _LOCK_NAMESPACE, "hall": hall_id})
    else:
        stmt = update(Hall).where(Hall.id == hall_id).values(code=Hall.code)
        session.execute(stmt.execution_options(synchronize_session=False))


def _policy(session: Session, settings: Settings, hall: Hall) -> CallPolicy:
    from callback.calendar.policy import CallingPolicy
    from callback.calendar.services import load_calendar

    return CallingPolicy.from_settings(settings, load_calendar(session), timezone=hall.timezone or None)


def _picked_cases(session: Session, case_ids: list[int]) -> list[Candidate]:
    """The drawn cases with their window and contact, in draw order."""
    rows = session.execute(
        select(Case.id, Case.case_no, Case.window_id, Case.contact_id).where(Case.id.in_(case_ids))
    ).all()
    by_id = {row[0]: Candidate(*row) for row in rows}
    return [by_id[case_id] for case_id in case_ids]


def _store(session: Session, draw: Draw, picked: list[Candidate], existing: Draw | None, now: datetime,
           policy: CallPolicy, actor: str) -> None:
    session.add(draw)
    session.flush()
    due = policy.next_call_moment(now)
    session.add_all(
        Callback(hall_id=draw.hall_id, draw_id=draw.id, case_id=c.case_id, contact_id=c.contact_id,
                 window_id=c.window_id, week=draw.week, state=INITIAL, next_action_at=due,
                 token=secrets.token_urlsafe(16))
        for c in picked
    )
    detail = {"week": draw.week, "sampled": len(picked), "candidates": draw.candidates}
    if existing is not None:
        detail |= {"superseded_draw_id": existing.id, "reason": draw.reason}
    session.add(AuditEvent(hall_id=draw.hall_id, actor=actor, entity="draw", entity_id=draw.id,
                           action="redraw" if existing is not None else "draw", detail=detail))
    session.flush()


def _supersede(session: Session, old: Draw, now: datetime) -> None:
    """Replace a draw: its callbacks nobody has started on are withdrawn; calls already made stand."""
    old.superseded_at = now
    session.execute(
        update(Callback)
        .where(Callback.draw_id == old.id, Callback.state == CallbackState.DRAWN, Callback.attempts_used == 0)
        .values(state=checked_move(CallbackState.DRAWN, CallbackState.SUPERSEDED), next_action_at=None,
                claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    session.flush()


def drawn_sample(session: Session, draw: Draw) -> list[DrawnCase]:
    """A draw's sample in draw order, numbers masked (the console's draw page)."""
    return _result(session, draw, created=False).sample


def _result(session: Session, draw: Draw, *, created: bool) -> DrawResult:
    rows = session.execute(
        select(Callback.id, Case.id, Case.case_no, Window.name, Contact.phone)
        .join(Case, Case.id == Callback.case_id)
        .join(Window, Window.id == Callback.window_id)
        .join(Contact, Contact.id == Callback.contact_id)
        .where(Callback.draw_id == draw.id)
    ).all()
    position = {case_id: i for i, case_id in enumerate(draw.sample_case_ids)}
    rows.sort(key=lambda r: position.get(r[1], len(position)))
    sample = [DrawnCase(cb_id, case_id, case_no, window, mask_phone(phone))
              for cb_id, case_id, case_no, window, phone in rows]
    return DrawResult(draw, created, sample)


# ------------------------------------------------------------------------------------------ verification

_VERIFY_MESSAGES = {
    "no_draw": "该周没有抽取记录",
    "candidate_set_changed": "按抽取时刻重新推导的候选集与存档指纹不一致（台账或排除条件被改动）",
    "sample_mismatch": "用存档种子重新抽样得到的样本与存档样本不一致",
    "callbacks_mismatch": "回访记录与存档样本不一致",
    "candidate_count_mismatch": "存档的候选数与重新推导的不一致",
}


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    reason: str | None = None
    draw_id: int | None = None

    @property
    def message(self) -> str:
        return "抽样核验通过" if self.ok else _VERIFY_MESSAGES.get(self.reason or "", self.reason or "")

    def to_json(self) -> dict[str, Any]:
        return {"ok": True} if self.ok else {"ok": False, "reason": self.reason}


def verify_draw(session: Session, hall: Hall, week: str) -> VerifyResult:
    """Re-derive the week's candidate set as of its draw and check that the stored seed gives the stored
    sample, and that the callbacks are exactly that sample."""
    _checked_week(week)
    draw = live_draw(session, hall.id, week)
    if draw is None:
        return VerifyResult(False, "no_draw")
    params = DrawParams.from_json(draw.params)
    cands = derive_candidates(session, hall.id, params)
    if cands.fingerprint != draw.fingerprint:
        return VerifyResult(False, "candidate_set_changed", draw.id)
    if len(cands) != draw.candidates:
        return VerifyResult(False, "candidate_count_mismatch", draw.id)
    expected = [cands.case_id(i) for i in draw_sample(cands, draw.seed, draw.size, draw.per_window)]
    if expected != list(draw.sample_case_ids):
        return VerifyResult(False, "sample_mismatch", draw.id)
    called = session.scalars(select(Callback.case_id).where(Callback.draw_id == draw.id)).all()
    if sorted(called) != sorted(expected):
        return VerifyResult(False, "callbacks_mismatch", draw.id)
    return VerifyResult(True, None, draw.id)
