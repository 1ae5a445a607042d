"""The simulator's ledger of what happened, and the invariants the chaos run checks against the database.

The simulated network keeps its own records on disk (ivr/simulator/state.py): every call with what the citizen
heard, pressed and said and how each webhook answered, every SMS either way. Those records are the ledger the
database must agree with: an answer the simulator saw accepted (HTTP 200) must be stored; an attempt must be
dialled at most once; an SMS sent at most once; nothing outside the allowed hours; and the week's report must
count exactly what the ledger says happened.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.calendar.policy import CallingPolicy
from callback.calendar.services import load_calendar
from callback.config import Settings
from callback.models import Answer, Attempt, Callback, Contact, Hall, Message
from callback.results.report import weekly_report
from ivr.simulator import SimCall, SmsMessage
from survey.questionnaire import ITEMS, ITEMS_BY_CODE, interpret_key

FINAL = {"complete", "partial", "break_off", "refused", "opted_out", "unreachable"}
CLOSED = {"completed", "busy", "no-answer", "failed", "canceled", "not_placed"}
OPT_OUT_WORDS = {"TD", "T", "退订", "STOP", "UNSUBSCRIBE"}
_ITEM_PATH = re.compile(r"^/ivr/[^/]+/item/([a-z_]+)")
CATEGORY_OF_STATE = {"complete": "reached", "partial": "reached", "break_off": "break_off", "refused": "break_off",
                     "opted_out": "opted_out", "unreachable": "unreachable"}


@dataclass
class Facts:
    """What the simulator saw happen to one number."""

    keys: dict[str, str] = field(default_factory=dict)  # item → the last valid key a webhook accepted (200)
    voice_opt_out: bool = False
    surveyed: bool = False  # a person answered and the answer webhook opened the survey (HTTP 200)
    # The process playing a call died (a worker killed mid-call): the one webhook it had sent may have been handled
    # without the simulator hearing the answer — the answer webhook (the survey may have opened), or the key just
    # pressed (one more answer, or an opt-out).
    maybe_surveyed: bool = False
    in_flight: str = ""  # the key pressed whose webhook never answered
    sms_replies: list[str] = field(default_factory=list)

    @property
    def opted_out(self) -> bool:
        return self.voice_opt_out or any(r.strip().upper() in OPT_OUT_WORDS for r in self.sms_replies)

    def sms_keys(self) -> dict[str, str]:
        """The items a digit reply answers, in questionnaire order (``112111 排队太久``)."""
        for reply in self.sms_replies:
            digits = "".join(re.findall(r"\d", reply.split(" ")[0]))
            pairs = {item.code: d for item, d in zip(ITEMS, digits, strict=False) if interpret_key(item, d)}
            if pairs:
                return pairs
        return {}

    def categories(self) -> set[str]:
        """How the report must count this number: one category, or two when a webhook was in flight at a kill."""
        if self.opted_out:
            return {"opted_out"}
        if self.keys:
            return {"reached_phone"}
        if self.sms_keys():
            return {"reached_sms"}
        found = {"break_off"} if self.surveyed else {"unreachable"}
        if self.maybe_surveyed:
            found.add("break_off")
        if self.in_flight:
            found.add("opted_out" if self.in_flight == "9" and not self.surveyed else "reached_phone")
        return found


def voice_facts(calls: list[SimCall], facts: dict[str, Facts]) -> None:
    for call in sorted(calls, key=lambda c: c.placed_at):
        mine = facts.setdefault(call.to, Facts())
        for entry in call.log:
            if entry.kind == "request":
                _request(entry.text, entry.data, mine, human=call.answered_by == "human")
        last = call.log[-1] if call.log else None
        if call.final or last is None:
            continue
        if last.kind == "status" and last.text == "in-progress" and call.answered_by == "human":
            mine.maybe_surveyed = True
        elif last.kind == "pressed":
            mine.in_flight = last.text[:1] or " "


def _request(path: str, data: dict[str, Any], mine: Facts, human: bool) -> None:
    if data.get("status") != 200:
        return
    digits = (data.get("params") or {}).get("Digits", "")
    step = urlsplit(path).path
    mine.surveyed |= human and (step.endswith("/answer") or step.endswith("/consent"))
    if step.endswith("/consent"):
        mine.voice_opt_out |= digits[:1] == "9"
        return
    item = _ITEM_PATH.match(path)
    if item and digits and interpret_key(ITEMS_BY_CODE[item.group(1)], digits[:1]) is not None:
        mine.keys[item.group(1)] = digits[:1]


def sms_facts(messages: list[SmsMessage], facts: dict[str, Facts]) -> None:
    for message in messages:
        if message.direction == "inbound":
            facts.setdefault(message.from_, Facts()).sms_replies.append(message.body)


# --- invariants -------------------------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    held: bool
    detail: str


def _callbacks(session: Session) -> list[tuple[Callback, str]]:
    rows = session.execute(select(Callback, Contact.phone).join(Contact, Contact.id == Callback.contact_id)
                           .order_by(Callback.id))
    return [(callback, phone) for callback, phone in rows]


def every_callback_final(session: Session) -> Check:
    states = Counter(c.state for c, _ in _callbacks(session))
    open_ = {s: n for s, n in states.items() if s not in FINAL}
    calls = Counter(session.scalars(select(Attempt.status)))
    live = {s: n for s, n in calls.items() if s not in CLOSED}
    return Check("every drawn callback reached a final state", not open_ and not live and sum(states.values()) > 0,
                 f"{sum(states.values())} callbacks: {dict(sorted(states.items()))}; calls still open: {live}")


def attempt_of(call: SimCall) -> int:
    """The attempt a simulated call was placed for: its id travels in the answer URL (``?a=``)."""
    return int(parse_qs(urlsplit(call.url).query)["a"][0])


def dialled_once(session: Session, calls: list[SimCall], killed_pids: Collection[int] = ()) -> Check:
    """Every call the simulator placed is the one call of an attempt the product counted. One exception, named in
    the detail: a call the SIGKILLed worker had just placed and was still simulating, killed with it before the
    call rang (still queued or initiated) and before the worker wrote its sid. The simulator runs a call
    inside the worker that placed it; a real provider would carry on and its status callbacks would bring the sid
    (ivr.status), so the reconciler giving that attempt back and the callback dialled again is the product's
    right answer to what it saw — the number rang once."""
    per_attempt = Counter(attempt_of(c) for c in calls)
    twice = [a for a, n in per_attempt.items() if n > 1]
    by_sid = {c.sid: c for c in calls}
    accepted = session.scalars(select(Attempt).where(Attempt.provider_call_id.is_not(None))).all()
    missing = [a.id for a in accepted if a.provider_call_id not in by_sid or per_attempt[a.id] != 1]
    used = [(c.id, c.attempts_used, n) for c, n in _accepted_per_callback(session).items() if c.attempts_used != n]
    sids = {a.provider_call_id for a in accepted}
    unrecorded = [(attempt_of(c), c.status, c.owner_pid, len(c.log))
                  for c in calls if c.sid not in sids]
    died_unrung = [u for u in unrecorded if u[2] in killed_pids and u[1] in ("queued", "initiated")]
    held = not twice and not missing and not used and len(unrecorded) == len(died_unrung)
    return Check("no number dialled twice for the same attempt", held,
                 f"{len(calls)} calls for {len(per_attempt)} attempts; dialled twice {twice}; accepted attempts "
                 f"without their one call {missing}; attempts_used ≠ accepted {used}; calls whose attempt never "
                 f"learned its sid (attempt, status, simulating pid, log entries) {unrecorded}, of them killed with the "
                 f"worker before they rang {died_unrung}")


def _accepted_per_callback(session: Session) -> dict[Callback, int]:
    counts: dict[Callback, int] = {}
    for callback, _ in _callbacks(session):
        counts[callback] = sum(a.provider_call_id is not None for a in callback.attempts)
    return counts


def sms_once(session: Session, messages: list[SmsMessage]) -> Check:
    sent = [m for m in messages if m.direction == "outbound" and m.source == "api"]
    twice = [(m.to[-4:], m.body[:12]) for m in sent
             if sum(1 for o in sent if (o.to, o.body) == (m.to, m.body)) > 1]
    stored = set(session.scalars(select(Message.provider_sid).where(Message.direction == "out",
                                                                   Message.provider_sid.is_not(None))))
    unrecorded = [m.sid for m in sent if m.sid not in stored]
    return Check("no SMS sent twice", not twice and not unrecorded,
                 f"{len(sent)} texts sent through the API; the same text twice to one number: {sorted(set(twice))}; "
                 f"sent but not recorded: {unrecorded}")


def within_hours(session: Session, settings: Settings, calls: list[SimCall], messages: list[SmsMessage]) -> Check:
    policy = CallingPolicy.from_settings(settings, load_calendar(session))
    outside = [_local(c.placed_at) for c in calls if not policy.may_call(datetime.fromisoformat(c.placed_at))]
    sms_outside = [_local(m.at) for m in messages if m.direction == "outbound" and m.source == "api"
                   and not policy.may_sms(datetime.fromisoformat(m.at))]
    return Check("no call outside calling hours (nor SMS outside SMS hours)", not outside and not sms_outside,
                 f"{len(calls)} calls, {len(messages)} texts checked against {settings.call_hours} / "
                 f"{settings.sms_hours} ({settings.call_days}); outside: {outside + sms_outside}")


def _local(stamp: str) -> str:
    return datetime.fromisoformat(stamp).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M:%S.%f")[:-3]


def answers_kept(session: Session, facts: dict[str, Facts]) -> Check:
    lost, extra, given = [], [], 0
    for callback, phone in _callbacks(session):
        mine = facts.get(phone, Facts())
        expected = mine.keys or mine.sms_keys()
        stored = {a.item: a.key for a in session.scalars(select(Answer).where(Answer.callback_id == callback.id))}
        given += len(expected)
        lost += [(callback.id, item) for item, key in expected.items() if stored.get(item) != key]
        surplus = set(stored) - set(expected)
        if len(surplus) > (1 if mine.in_flight.strip() else 0):
            extra.append((callback.id, sorted(surplus)))
    return Check("no answer lost that the simulator says was given", not lost and not extra,
                 f"{given} answers given and accepted, all stored; lost {lost}; stored without the simulator "
                 f"seeing them accepted {extra}")


def report_matches(session: Session, facts: dict[str, Facts], week: str, now: datetime) -> Check:
    expected: Counter[str] = Counter()
    items: Counter[tuple[str, str]] = Counter()
    wrong = []
    for callback, phone in _callbacks(session):
        mine = facts.get(phone, Facts())
        allowed = mine.categories()
        actual = _category(callback)
        if actual not in allowed:
            wrong.append((callback.id, phone[-4:], actual, sorted(allowed)))
        chosen = actual if actual in allowed else sorted(allowed)[0]
        expected[chosen] += 1
        if chosen.startswith("reached"):
            for code, key in (mine.keys or mine.sms_keys()).items():
                answer = interpret_key(code, key)
                items[(code, (answer.rating or answer.yes_no).value)] += 1
    totals, report_items = _report_totals(session, week, now)
    item_wrong = {k: (items[k], report_items[k]) for k in set(items) | set(report_items) if items[k] != report_items[k]}
    fields = ("reached_phone", "reached_sms", "opted_out", "break_off", "unreachable", "pending")
    count_wrong = {f: (expected[f], totals[f]) for f in fields if expected[f] != totals[f]}
    held = not wrong and not count_wrong and not item_wrong and totals["drawn"] == sum(expected.values())
    summary = ", ".join(f"{f} {totals[f]}" for f in ("drawn", *fields))
    return Check("counts in the report equal the simulator's ledger", held,
                 f"report: {summary}; per-callback mismatches {wrong}; counts (ledger, report) {count_wrong}; "
                 f"item counts (ledger, report) {item_wrong}")


def _category(callback: Callback) -> str:
    category = CATEGORY_OF_STATE.get(callback.state, "pending")
    if category == "reached":
        return "reached_sms" if callback.channel == "sms" else "reached_phone"
    return category


def _report_totals(session: Session, week: str, now: datetime) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    totals: Counter[str] = Counter()
    items: Counter[tuple[str, str]] = Counter()
    for hall in session.scalars(select(Hall).order_by(Hall.id)):
        figures = weekly_report(session, hall, week, now)["totals"]
        totals.update({k: v for k, v in figures.items() if isinstance(v, int) and not isinstance(v, bool)})
        for code, values in figures["items"].items():
            items.update({(code, value): n for value, n in values.items() if n})
    return totals, items


def gather_facts(calls: list[SimCall], messages: list[SmsMessage]) -> dict[str, Facts]:
    facts: dict[str, Facts] = defaultdict(Facts)
    voice_facts(calls, facts)
    sms_facts(messages, facts)
    return dict(facts)
