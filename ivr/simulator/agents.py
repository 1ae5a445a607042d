"""The citizen's side of a live call: what they do at each <Gather> and <Record>.

`ScriptedAgent` plays a `Citizen` script. Anything with the same three methods can play the citizen instead —
e.g. a terminal prompt for `callback call-me` (see `SimulatorProvider.attach_agent`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from ivr.simulator.citizens import Citizen

InputKind = Literal["dtmf", "speech", "silence", "hangup"]


@dataclass(frozen=True)
class Input:
    """What the citizen does at one prompt. `during_prompt`: pressed/spoke before the nested prompt finished."""

    kind: InputKind
    digits: str = ""
    speech: str = ""
    confidence: float = 0.0
    seconds: int = 0  # for <Record>: how long they speak
    during_prompt: bool = False


SILENCE = Input("silence")
HANGUP = Input("hangup")


@dataclass(frozen=True)
class GatherContext:
    index: int  # 0-based count of <Gather> verbs met in this call
    inputs: tuple[str, ...]  # ("dtmf",), ("speech",) or ("dtmf", "speech")
    num_digits: int | None
    finish_on_key: str
    timeout: int
    language: str
    prompts: tuple[str, ...] = field(default_factory=tuple)  # nested <Say> texts, in order


@dataclass(frozen=True)
class RecordContext:
    max_length: int
    timeout: int
    finish_on_key: str


class Agent(Protocol):
    def heard(self, text: str) -> None: ...

    def gather(self, context: GatherContext) -> Input: ...

    def record(self, context: RecordContext) -> Input: ...


class ScriptedAgent:
    """Plays a Citizen script for one call (see citizens.py for what each behaviour does)."""

    def __init__(self, citizen: Citizen) -> None:
        self.citizen = citizen
        self.presses = 0
        self._queue = self._key_queue(citizen)

    @staticmethod
    def _key_queue(citizen: Citizen) -> list[str]:
        keys = citizen.key_list()
        if citizen.behaviour == "wrong_keys_then_valid":
            return [k for key in keys for k in [citizen.wrong] * (citizen.times or 1) + [key]]
        if citizen.behaviour == "opt_out":
            return ["9"]
        return keys

    def heard(self, text: str) -> None:
        """A scripted citizen does not react to what it hears."""

    def gather(self, context: GatherContext) -> Input:
        if self._hangs_up_now():
            return HANGUP
        if self.citizen.behaviour in ("silent", "voicemail") or (
            self.citizen.behaviour == "opt_out" and self.presses
        ):
            return SILENCE
        if "dtmf" in context.inputs:
            return self._press()
        if "speech" in context.inputs:
            return Input(
                "speech",
                speech=self.citizen.speech,
                confidence=self.citizen.confidence,
                during_prompt=self.citizen.barge_in,
            )
        return SILENCE

    def record(self, context: RecordContext) -> Input:
        if self._hangs_up_now():
            return HANGUP
        if self.citizen.behaviour in ("silent", "voicemail", "opt_out"):
            return SILENCE
        seconds = max(1, min(self.citizen.record_seconds, context.max_length))
        return Input("speech", speech=self.citizen.speech, seconds=seconds)

    def _hangs_up_now(self) -> bool:
        return self.citizen.behaviour == "hangs_up_after" and self.presses >= self.citizen.n

    def _press(self) -> Input:
        index = min(self.presses, len(self._queue) - 1)
        self.presses += 1
        return Input("dtmf", digits=self._queue[index], during_prompt=self.citizen.barge_in)
