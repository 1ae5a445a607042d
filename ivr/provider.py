"""Choosing a telephony adapter (``TELEPHONY``) for the port `callback.telephony.Provider`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from callback.config import Settings
    from callback.telephony import Provider


def wait_until_idle(provider: object, timeout: float) -> None:
    """Let a provider that works in this process's background threads (the simulator: its calls, deliveries and
    citizens' replies) finish before a command exits or moves its clock; a real provider returns at once."""
    wait_idle = getattr(provider, "wait_idle", None)
    if callable(wait_idle):
        wait_idle(timeout)


def get_provider(settings: Settings) -> Provider:
    """The provider chosen by TELEPHONY (simulator by default)."""
    if settings.telephony == "twilio":
        from ivr.twilio_provider import TwilioProvider

        return TwilioProvider.from_settings(settings)
    if settings.telephony == "simulator":
        from ivr.simulator import SimulatorProvider

        return SimulatorProvider.from_settings(settings)
    raise ValueError(f"unknown TELEPHONY={settings.telephony!r}; use 'simulator' or 'twilio'")
