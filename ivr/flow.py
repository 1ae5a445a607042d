"""The voice survey flow: one function per webhook turn, returning the TwiML to speak next.

Rules (篇2 二; docs/architecture.md §Keys):
- the call identifies the centre and the item (事项名称) only, never personal data; a consent step comes first:
  1 starts the survey, 9 opts the number out for good;
- the six items of 篇2 二 in order, each prompt nested in its ``<Gather numDigits=1>`` so a caller may press during
  it; ``*`` repeats; an invalid key or silence re-prompts at most twice, then the item is left unanswered and the
  flow moves on — a missed key never ends the call (``actionOnEmptyResult`` plus a ``<Redirect>`` after every
  ``<Gather>``);
- the suggestion (篇2 二六) by Mandarin speech (``SpeechResult``/``Confidence`` kept), then a length-limited
  ``<Record>`` of the same answer so a person can listen (Twilio's transcription does not serve Chinese);
- every answer is saved as it arrives, so a hang-up after item 3 keeps items 1–3.

Services take their collaborators (session, settings, clock) and never commit: the webhook view commits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, select
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from callback.config import Settings
from callback.models import Attempt, Callback, Case, Contact, Hall
from callback.responses.answers import finish_survey, raise_integrity_alert, save_answer
from callback.responses.optout import opt_out
from callback.responses.receipts import first_delivery
from callback.responses.states import (
    LATE_ANSWERS,
    LIVE_CALL,
    SURVEY_ENDS,
    CallbackState,
    flags_of,
    move_to,
    set_flags,
)
from callback.responses.transcript import add_event
from ivr.prompts import Catalog, Prompt, load_catalog
from ivr.urls import webhook_url
from survey.complaints import complaint_signals
from survey.questionnaire import ITEMS, ITEMS_BY_CODE, Item, interpret_key
from survey.questionnaire import Answer as KeyAnswer

MAX_REPROMPTS = 2  # an item is asked at most 1 + 2 times
MAX_REPEATS = 3  # `*` repeats that do not count as a try
GATHER_TIMEOUT = 8  # seconds of silence before the Gather gives up
RECORD_MAX_SECONDS = 60
LATE_ANSWER_WINDOW = timedelta(minutes=10)
MACHINE_ANSWERS = frozenset(
    {"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax"}
)
STEPS = ("answer", "consent", "item", "suggestion", "recording")
CONSENT_MEANINGS = {"1": "同意参加回访", "9": "今后不再接受回访（退订）"}


@dataclass(frozen=True)
class VoiceTurn:
    """One voice webhook request, parsed: where the caller is in the flow and what Twilio reported."""

    token: str
    step: str
    call_sid: str = ""
    attempt_id: int | None = None
    item: str | None = None
    tries: int = 0
    repeats: int = 0
    digits: str = ""
    speech: str = ""
    confidence: float | None = None
    recording_url: str = ""
    recording_duration: int | None = None
    answered_by: str = ""
    url: str = ""  # the public URL Twilio requested; with the inputs it identifies a delivery

    @property
    def key(self) -> str:
        """The first key pressed ("" for silence)."""
        return self.digits.strip()[:1]

    @property
    def delivery_key(self) -> str:
        raw = "|".join((self.call_sid, self.url, self.digits, self.speech, self.recording_url, self.answered_by))
        return "voice:" + hashlib.sha256(raw.encode()).hexdigest()


class Voice(Protocol):
    """What the TwiML builders need: where the next webhook goes and how a prompt is spoken (and logged)."""

    settings: Settings
    catalog: Catalog

    def url(self, path: str, **params: object) -> str: ...

    def speak(self, node: Any, key: str, **values: str) -> Prompt: ...


@dataclass
class _Ctx:
    """Collaborators of one turn. ``fresh`` is False for a repeated delivery: it gets the same TwiML, changes nothing."""

    session: Session
    callback: Callback
    attempt: Attempt | None
    settings: Settings
    now: datetime
    catalog: Catalog
    turn: VoiceTurn
    fresh: bool

    def log(self, kind: str, text: str, **data: Any) -> None:
        if self.fresh:
            add_event(
                self.session, hall_id=self.callback.hall_id, callback_id=self.callback.id, kind=kind, text=text,
                at=self.now, attempt_id=self.attempt.id if self.attempt else None, data=data,
            )

    def url(self, path: str, **params: object) -> str:
        return webhook_url(self.settings, self.callback.token, path, a=self.attempt.id if self.attempt else None,
                           **params)

    def speak(self, node: Any, key: str, **values: str) -> Prompt:
        prompt = render_prompt(node, self.catalog, self.settings, key, **values)
        self.log("prompt", prompt.text, prompt=key)
        return prompt


def render_prompt(node: Any, catalog: Catalog, settings: Settings, key: str, **values: str) -> Prompt:
    """``<Play>`` the prompt's recording when the catalog has one, else ``<Say>`` its text in the Mandarin voice."""
    prompt = catalog.prompt(key, **values)
    if prompt.audio_url:
        node.play(prompt.audio_url)
    else:
        node.say(prompt.text, voice=catalog.voice(settings.tts_voice),
                 language=catalog.say_language(settings.tts_language))
    return prompt


def handle_turn(
    session: Session, turn: VoiceTurn, settings: Settings, now: datetime, catalog: Catalog | None = None
) -> VoiceResponse:
    """Advance the survey by one webhook turn and return the TwiML to play next. Does not commit."""
    found = _locked_callback(session, turn)
    if found is None or turn.step not in STEPS:
        return _hangup_only()
    callback, attempt = found
    attempt = _attempt_for(session, callback, attempt, turn)
    fresh = first_delivery(session, turn.delivery_key)
    ctx = _Ctx(session, callback, attempt, settings, now, catalog or load_catalog(), turn, fresh)
    if turn.step == "answer":
        return _on_answer(ctx)
    if not _accepting(ctx):
        ctx.log("note", f"通话已结束（{callback.state}），忽略迟到的请求")
        return _hangup_only()
    late = callback.state != CallbackState.IN_SURVEY
    response = _HANDLERS[turn.step](ctx)
    if late and fresh and callback.state in SURVEY_ENDS:
        finish_survey(session, callback, now, attempt=attempt)  # a late answer may change the outcome
    return response


def _locked_callback(session: Session, turn: VoiceTurn) -> tuple[Callback, Attempt | None] | None:
    """The callback, row-locked for this turn, with the attempt named in the URL — one round trip."""
    query = (
        select(Callback, Attempt)
        .outerjoin(Attempt, and_(Attempt.callback_id == Callback.id, Attempt.id == (turn.attempt_id or -1)))
        .where(Callback.token == turn.token)
        .with_for_update(of=Callback)
    )
    row = session.execute(query).first()
    return (row[0], row[1]) if row is not None else None


def _attempt_for(session: Session, callback: Callback, attempt: Attempt | None, turn: VoiceTurn) -> Attempt | None:
    if attempt is None:
        attempt = _attempt_by_sid(session, callback, turn.call_sid)
    if attempt is not None and attempt.provider_call_id is None and turn.call_sid:
        attempt.provider_call_id = turn.call_sid  # the webhook may beat the dialer's own write of the sid
    return attempt


def _attempt_by_sid(session: Session, callback: Callback, call_sid: str) -> Attempt | None:
    if call_sid:
        found = session.scalar(select(Attempt).where(Attempt.provider_call_id == call_sid))
        if found is not None and found.callback_id == callback.id:
            return found
    return session.scalar(
        select(Attempt).where(Attempt.callback_id == callback.id).order_by(Attempt.id.desc()).limit(1)
    )


def _accepting(ctx: _Ctx) -> bool:
    """In a survey; or just finished by this call's hang-up, whose status callback overtook the last answer."""
    cb = ctx.callback
    if cb.state == CallbackState.IN_SURVEY:
        return True
    late = cb.state in LATE_ANSWERS and cb.finished_at is not None
    flags = flags_of(cb)
    same_call = ctx.attempt is not None and flags.finished_by_attempt == ctx.attempt.id
    return late and same_call and not flags.reached_end and ctx.now - cb.finished_at < LATE_ANSWER_WINDOW


# --- turns -------------------------------------------------------------------------------------------------------


def _on_answer(ctx: _Ctx) -> VoiceResponse:
    cb, attempt, turn = ctx.callback, ctx.attempt, ctx.turn
    if turn.answered_by in MACHINE_ANSWERS:
        if attempt is not None:
            attempt.answered_by = turn.answered_by
        ctx.log("status", "答录机/传真应答，挂断", answered_by=turn.answered_by)
        return _hangup_only()
    if cb.state not in LIVE_CALL:
        ctx.log("note", f"回访状态为 {cb.state}，不进行调查")
        return _hangup_only()
    _mark_answered(ctx)
    return _ask_consent(ctx)


def _mark_answered(ctx: _Ctx) -> None:
    cb, attempt = ctx.callback, ctx.attempt
    if cb.state == CallbackState.CALLING:  # a repeated answer webhook finds it in_survey already
        ctx.log("status", "电话已接通")
        move_to(cb, CallbackState.IN_SURVEY)
    if attempt is not None:
        attempt.answered_at = attempt.answered_at or ctx.now
        attempt.answered_by = ctx.turn.answered_by or attempt.answered_by
    contact = ctx.session.get(Contact, cb.contact_id)
    if contact is not None:
        contact.last_contacted_at = ctx.now


def _on_consent(ctx: _Ctx) -> VoiceResponse:
    key, turn = ctx.turn.key, ctx.turn
    if key in CONSENT_MEANINGS:
        ctx.log("key", f"{key}：{CONSENT_MEANINGS[key]}", key=key, meaning=CONSENT_MEANINGS[key])
    if key == "1":
        set_flags(ctx.callback, consent=True)
        return _ask_item(ctx, ITEMS[0])
    if key == "9":
        opt_out(ctx.session, ctx.callback, ctx.now, source="ivr_key9")
        ctx.log("status", "已退订：今后不再回访")
        return _say_and_hangup(ctx, "opted_out")
    if key == "*" and turn.repeats < MAX_REPEATS:
        ctx.log("key", "*：重听", key="*", meaning="重听")
        return _ask_consent(ctx, tries=turn.tries, repeats=turn.repeats + 1)
    _log_bad_key(ctx, key)
    if turn.tries < MAX_REPROMPTS:
        return _ask_consent(ctx, tries=turn.tries + 1, preface="invalid" if key else "silence")
    if ctx.fresh:  # a repeat of this request finds the survey ended already, and must not end it again
        finish_survey(ctx.session, ctx.callback, ctx.now, attempt=ctx.attempt)
    return _say_and_hangup(ctx, "no_consent")


def _on_item(ctx: _Ctx) -> VoiceResponse:
    turn = ctx.turn
    item = ITEMS_BY_CODE.get(turn.item or "")
    if item is None:
        return _hangup_only()
    if turn.key == "*" and turn.repeats < MAX_REPEATS:
        ctx.log("key", "*：重听", key="*", meaning="重听", item=item.code)
        return _ask_item(ctx, item, tries=turn.tries, repeats=turn.repeats + 1)
    answer = interpret_key(item, turn.key) if turn.key else None
    if answer is not None:
        _record_answer(ctx, item, answer)
        return ask_after(ctx, item)
    _log_bad_key(ctx, turn.key, item)
    if turn.tries < MAX_REPROMPTS:
        return _ask_item(ctx, item, tries=turn.tries + 1, preface="invalid" if turn.key else "silence")
    ctx.log("note", f"{item.label}：{MAX_REPROMPTS + 1} 次未获有效按键，本题跳过", item=item.code)
    return ask_after(ctx, item, preface="skipped")


def _on_suggestion(ctx: _Ctx) -> VoiceResponse:
    cb, turn = ctx.callback, ctx.turn
    speech = turn.speech.strip()
    if not speech:
        ctx.log("note", "未提出意见建议")
        return _thank(ctx)
    if ctx.fresh:
        cb.suggestion, cb.suggestion_confidence = speech, turn.confidence
        signals = complaint_signals(speech)
        set_flags(cb, complaint=bool(signals.complaint), integrity_in_suggestion=bool(signals.integrity))
    ctx.log("speech", speech, confidence=turn.confidence, item="suggestion")
    return _ask_recording(ctx)


def _on_recording(ctx: _Ctx) -> VoiceResponse:
    cb, turn = ctx.callback, ctx.turn
    if turn.recording_url:
        cb.recording_url, cb.recording_duration = turn.recording_url, turn.recording_duration
        ctx.log("recording", "意见建议录音", url=turn.recording_url, duration=turn.recording_duration)
    return _thank(ctx)


_HANDLERS = {"consent": _on_consent, "item": _on_item, "suggestion": _on_suggestion, "recording": _on_recording}


# --- saving ------------------------------------------------------------------------------------------------------


def _record_answer(ctx: _Ctx, item: Item, answer: KeyAnswer) -> None:
    save_answer(ctx.session, ctx.callback, answer, channel="voice", now=ctx.now)
    text, data = key_event(item, answer)
    ctx.log("key", text, **data)
    if answer.alert and ctx.fresh:
        raise_integrity_alert(ctx.session, ctx.callback, ctx.now, source="ivr")
        ctx.log("note", "廉洁自律问题：已即时提醒督查科", item=item.code)


def key_event(item: Item, answer: KeyAnswer) -> tuple[str, dict[str, str]]:
    """The transcript line for a key that answered an item: its text and data."""
    text = f"{item.label}：按 {answer.key}（{answer.label}）"
    return text, {"key": answer.key, "meaning": answer.label, "item": item.code}


def _log_bad_key(ctx: _Ctx, key: str, item: Item | None = None) -> None:
    code = item.code if item else "consent"
    if key:
        ctx.log("key", f"按 {key}：无效按键", key=key, meaning="无效", item=code)
    else:
        ctx.log("key", "未按键（超时）", key="", meaning="无输入", item=code)


# --- TwiML -------------------------------------------------------------------------------------------------------


def _ask(ctx: Voice, action: str, prompts: list[tuple[str, dict[str, str]]]) -> VoiceResponse:
    """Prompts nested in a one-digit Gather, then a Redirect so a missed key never ends the call."""
    response = VoiceResponse()
    gather = response.gather(num_digits=1, action=action, method="POST", timeout=GATHER_TIMEOUT,
                             action_on_empty_result=True)
    for key, values in prompts:
        ctx.speak(gather, key, **values)
    response.redirect(action, method="POST")
    return response


def _ask_consent(ctx: _Ctx, tries: int = 0, repeats: int = 0, preface: str | None = None) -> VoiceResponse:
    centre, item_name = _names(ctx)
    intro = ("intro", {"centre": centre, "item": item_name}) if item_name else ("intro_no_item", {"centre": centre})
    prompts = ([(preface, {})] if preface else []) + [intro]
    return _ask(ctx, ctx.url("consent", n=tries, r=repeats), prompts)


def _ask_item(
    ctx: _Ctx, item: Item, tries: int = 0, repeats: int = 0, preface: str | None = None
) -> VoiceResponse:
    prompts = ([(preface, {})] if preface else []) + [(f"item.{item.code}", {})]
    return _ask(ctx, ctx.url(f"item/{item.code}", n=tries, r=repeats), prompts)


def ask_after(ctx: Voice, item: Item, preface: str | None = None) -> VoiceResponse:
    position = ITEMS.index(item)
    if position + 1 < len(ITEMS):
        return _ask_item(ctx, ITEMS[position + 1], preface=preface)
    return _ask_suggestion(ctx, preface)


def _ask_suggestion(ctx: Voice, preface: str | None = None) -> VoiceResponse:
    response = VoiceResponse()
    action = ctx.url("suggestion")
    language = ctx.catalog.speech_language(ctx.settings.speech_language)
    gather = response.gather(input="speech", language=language, speech_timeout="auto", timeout=GATHER_TIMEOUT,
                             action=action, method="POST", action_on_empty_result=True)
    if preface:
        ctx.speak(gather, preface)
    ctx.speak(gather, "suggestion")
    response.redirect(action, method="POST")
    return response


def _ask_recording(ctx: _Ctx) -> VoiceResponse:
    response = VoiceResponse()
    action = ctx.url("recording")
    ctx.speak(response, "record")
    response.record(action=action, method="POST", max_length=RECORD_MAX_SECONDS, finish_on_key="#",
                    play_beep=True, timeout=5, trim="trim-silence")
    response.redirect(action, method="POST")
    return response


def _thank(ctx: _Ctx) -> VoiceResponse:
    if ctx.fresh or ctx.callback.state == CallbackState.IN_SURVEY:
        finish_survey(ctx.session, ctx.callback, ctx.now, attempt=ctx.attempt, reached_end=True)
    return _say_and_hangup(ctx, "thanks")


def _say_and_hangup(ctx: _Ctx, key: str) -> VoiceResponse:
    response = VoiceResponse()
    ctx.speak(response, key)
    response.hangup()
    return response


def _hangup_only() -> VoiceResponse:
    response = VoiceResponse()
    response.hangup()
    return response


def _names(ctx: _Ctx) -> tuple[str, str]:
    hall = ctx.session.get(Hall, ctx.callback.hall_id)
    case = ctx.session.get(Case, ctx.callback.case_id)
    return (hall.name if hall else ""), ((case.item_name or "") if case else "")
