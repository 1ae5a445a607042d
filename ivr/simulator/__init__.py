"""The local Twilio simulator, the default provider (TELEPHONY=simulator). See provider.py for the API,
citizens.py for the scripted citizens and the registry file, voice.py for what the TwiML interpreter does."""

from ivr.simulator import citizens
from ivr.simulator.agents import Agent, GatherContext, Input, RecordContext, ScriptedAgent
from ivr.simulator.citizens import Citizen, CitizenRegistry, default_citizen
from ivr.simulator.provider import RECORDING_HOST, SimulatorProvider
from ivr.simulator.sms import SmsMessage
from ivr.simulator.voice import LogEntry, SimCall

__all__ = [
    "RECORDING_HOST",
    "Agent",
    "Citizen",
    "CitizenRegistry",
    "GatherContext",
    "Input",
    "LogEntry",
    "RecordContext",
    "ScriptedAgent",
    "SimCall",
    "SimulatorProvider",
    "SmsMessage",
    "citizens",
    "default_citizen",
]
