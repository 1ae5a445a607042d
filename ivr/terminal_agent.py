"""A person at the terminal plays the citizen on a simulated call (`callback call-me`)."""

from __future__ import annotations

from collections.abc import Callable

import click

from ivr.simulator import GatherContext, Input, RecordContext

HELP = "（输入按键后回车；直接回车 = 不按键；h = 挂断）"


class TerminalAgent:
    """Implements the simulator's Agent protocol by asking the person at the keyboard."""

    def __init__(self, ask: Callable[[str], str] | None = None, say: Callable[[str], None] = click.echo) -> None:
        self._ask = ask or (lambda text: click.prompt(text, default="", show_default=False))
        self._say = say

    def heard(self, text: str) -> None:
        self._say(f"🔊 {text}")

    def gather(self, context: GatherContext) -> Input:
        if "dtmf" in context.inputs:
            reply = self._ask(f"按键{HELP}").strip()
            return self._keys(reply)
        reply = self._ask("请说出您的意见建议（输入文字；直接回车 = 不说；h = 挂断）").strip()
        return self._speech(reply)

    def record(self, context: RecordContext) -> Input:
        reply = self._ask(f"录音（最长 {context.max_length} 秒）：请再说一遍（输入文字；直接回车 = 不说）").strip()
        return self._speech(reply, recording=True)

    @staticmethod
    def _keys(reply: str) -> Input:
        if reply.lower() == "h":
            return Input("hangup")
        return Input("dtmf", digits=reply) if reply else Input("silence")

    @staticmethod
    def _speech(reply: str, recording: bool = False) -> Input:
        if reply.lower() == "h":
            return Input("hangup")
        if not reply:
            return Input("silence")
        seconds = max(1, len(reply) // 4) if recording else 0
        return Input("speech", speech=reply, confidence=1.0, seconds=seconds)
