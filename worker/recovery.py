"""The settings that bound recovery, in one place, and the worst-case time to recover they give
(docs/architecture.md §Source of truth).

Nothing is repaired by hand after a crash: beat's periodic tasks and the expiry of leases and locks do it. Each
kind of leftover a fault can leave behind is found again by one of them, within a time these settings bound:

================================  =======================  ==================================================
what a fault leaves behind         who finds it              when, at the latest (after the fault at t)
================================  =======================  ==================================================
a call whose final status never    ``reconcile`` asks the    t + STALE_CALL_SECONDS + RECONCILE_SECONDS
came (worker killed mid-call, a    provider, applies the     (a call the provider still reports live is closed
webhook lost to a database fault)  answer, or releases an    as failed after GIVE_UP_CALL_SECONDS: the "stuck
                                   attempt never accepted    call" limit)
a claimed callback whose task was  ``reconcile`` re-enqueues t + LOCK_SECONDS + CLAIM_LEASE_SECONDS
lost (worker killed, Redis         claims older than the     + RECONCILE_SECONDS (a re-enqueued task that finds
flushed or restarted, a task       lease                     the dead worker's lock still held leaves the claim
failed on a dropped connection)                              for the next round; LOCK ≤ CLAIM_LEASE makes that
                                                             round find it free)
due work while beat is down        ``tick`` once beat is     t + RESTART_SECONDS + TICK_SECONDS
                                   back
a redelivered message              the task itself: ids in,  CELERY_VISIBILITY_TIMEOUT — a duplicate, never the
(``acks_late``)                    state re-checked          only way back (the lease above comes first)
================================  =======================  ==================================================

So, after any single fault, every callback is back in its normal course within

    T_recover = max(STALE_CALL, LOCK + CLAIM_LEASE) + RECONCILE + TICK + RESTART + SLACK

where RESTART is how long the process supervisor takes to start a killed beat again (systemd ``RestartSec`` plus
start-up) and SLACK the time a re-enqueued task waits and runs (queue and the calls-per-second limiter). With the
defaults: max(900, 300 + 600) + 300 + 30 + 30 + 30 = 1290 s, about 22 minutes. The chaos run
(``make chaos``, tests/chaos) sets them to seconds and checks every fault settles within this bound.

Every value comes from the environment (seconds), read once when the Celery app is built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from datetime import timedelta

from callback.config import ConfigError
from ivr.dialer import GIVE_UP_AFTER, STALE_AFTER
from worker.dispatch import CLAIM_LEASE, LOCK_SECONDS


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    if not raw.strip():
        return float(default)
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} 应为秒数，而不是 {raw!r}（{name} must be a number of seconds）") from None


@dataclass(frozen=True)
class RecoverySettings:
    """Seconds. The names are the environment variables that set them (upper case)."""

    tick_seconds: float = 30.0
    reconcile_seconds: float = 300.0
    claim_lease_seconds: float = CLAIM_LEASE.total_seconds()
    lock_seconds: float = float(LOCK_SECONDS)
    stale_call_seconds: float = STALE_AFTER.total_seconds()
    give_up_call_seconds: float = GIVE_UP_AFTER.total_seconds()
    celery_visibility_timeout: float = 3600.0
    restart_seconds: float = 30.0
    slack_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.lock_seconds > self.claim_lease_seconds:
            raise ConfigError("LOCK_SECONDS 不得大于 CLAIM_LEASE_SECONDS（LOCK_SECONDS must not exceed "
                              "CLAIM_LEASE_SECONDS: a claim re-enqueued while the dead worker's lock is still held "
                              "would wait a whole lease more）")
        for f in fields(self):
            if not getattr(self, f.name) > 0:  # also refuses NaN
                raise ConfigError(f"{f.name.upper()} 应为正的秒数（recovery settings are positive numbers of seconds）")

    @classmethod
    def from_env(cls) -> RecoverySettings:
        defaults = cls()
        return cls(**{f.name: _env_seconds(f.name.upper(), getattr(defaults, f.name)) for f in fields(cls)})

    @property
    def claim_lease(self) -> timedelta:
        return timedelta(seconds=self.claim_lease_seconds)

    @property
    def stale_call(self) -> timedelta:
        return timedelta(seconds=self.stale_call_seconds)

    @property
    def give_up_call(self) -> timedelta:
        return timedelta(seconds=self.give_up_call_seconds)

    @property
    def lock_timeout(self) -> int:
        """Redis lock timeout in whole seconds (at least one)."""
        return max(1, round(self.lock_seconds))

    def worst_case_recovery(self) -> float:
        """T_recover in seconds (module docstring): every callback back in its normal course after one fault."""
        found = max(self.stale_call_seconds, self.lock_seconds + self.claim_lease_seconds)
        return found + self.reconcile_seconds + self.tick_seconds + self.restart_seconds + self.slack_seconds

    def formula(self) -> str:
        """The bound written out with these values, for the README and the chaos run's table."""
        return (f"max(STALE_CALL {self.stale_call_seconds:g}, LOCK {self.lock_seconds:g} + CLAIM_LEASE "
                f"{self.claim_lease_seconds:g}) + RECONCILE {self.reconcile_seconds:g} + TICK {self.tick_seconds:g}"
                f" + RESTART {self.restart_seconds:g} + SLACK {self.slack_seconds:g}"
                f" = {self.worst_case_recovery():g} s")
