"""Celery tasks: thin — ids in, one service call, nothing else (docs/architecture.md §Source of truth).

Every task is idempotent: it re-reads the rows it acts on and does nothing when the work is already done, so a
redelivered message (a worker killed mid-task, ``acks_late``) or a duplicate from the reconciler is harmless.
Per-callback tasks also take `callback_lock`, so two workers never act on the same callback at once.
Queueing happens only after the transaction that decided it has committed.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from celery import Task, shared_task
from sqlalchemy.exc import OperationalError

from callback.config import Settings
from callback.db import session_factory, transaction
from callback.draws.services import DrawError, draw_weekly_sample
from callback.models import Hall, utcnow
from callback.responses.states import CallbackState
from survey.weeks import week_of
from worker.celery_app import RECOVERY_KEY, SETTINGS_KEY
from worker.dispatch import (
    LOCK_SECONDS,
    WAITING_STATES,
    callback_lock,
    claim_due,
    current_weeks,
    reclaim_stale,
    release_claim,
    weeks_to_draw,
)
from worker.recovery import RecoverySettings

log = logging.getLogger(__name__)
STEP_TASKS = {CallbackState.DRAWN: "worker.tasks.dial", CallbackState.SMS: "worker.tasks.advance_sms"}


def _settings(task: Task) -> Settings:
    return task.app.conf.get(SETTINGS_KEY) or Settings.from_env()


def _recovery(task: Task) -> RecoverySettings:
    return task.app.conf.get(RECOVERY_KEY) or RecoverySettings.from_env()


def _enqueue(task: Task, name: str, *args: Any) -> None:
    task.app.tasks[name].delay(*args)  # through the app, so eager mode runs it inline


@lru_cache(maxsize=4)
def _provider(settings: Settings) -> Any:
    from ivr.provider import get_provider

    return get_provider(settings)


# ------------------------------------------------------------------------------------------------ draws


@shared_task(bind=True, name="worker.tasks.weekly_draw_all", ignore_result=True)
def weekly_draw_all(self: Task) -> int:
    """Beat, Monday 09:00: one weekly draw task per hall, for the week current in the hall's time zone."""
    settings = _settings(self)
    with transaction(settings.database_url) as session:
        weeks = current_weeks(session, settings, utcnow())
    for hall_id, week in weeks:
        _enqueue(self, "worker.tasks.weekly_draw", hall_id, week)
    return len(weeks)


@shared_task(bind=True, name="worker.tasks.weekly_draw", acks_late=True, autoretry_for=(OperationalError,),
             retry_backoff=True, max_retries=5, ignore_result=True)
def weekly_draw(self: Task, hall_id: int, week: str | None = None) -> int | None:
    """Draw a hall's week (篇2 三(一)); an existing draw of the week is kept, so running it twice is safe."""
    settings = _settings(self)
    now = utcnow()
    try:
        with transaction(settings.database_url) as session:
            hall = session.get(Hall, hall_id)
            if hall is None:
                return None
            week = week or week_of(now, ZoneInfo(hall.timezone or settings.timezone))
            result = draw_weekly_sample(session, hall, week, now=now, settings=settings, actor="worker")
            draw_id, created, sampled = result.draw.id, result.created, len(result.sample)
    except DrawError as exc:
        log.warning("weekly draw of hall %s week %s refused: %s", hall_id, week, exc)
        return None
    log.info("weekly draw hall=%s week=%s draw=%s created=%s sampled=%s", hall_id, week, draw_id, created, sampled)
    return draw_id


# ------------------------------------------------------------------------------------------ dispatching


@shared_task(bind=True, name="worker.tasks.tick", ignore_result=True)
def tick(self: Task) -> dict[str, int]:
    """Beat, every 30 s: claim the callbacks that are due and enqueue one step task per id."""
    settings = _settings(self)
    with transaction(settings.database_url) as session:
        claimed = {state: claim_due(session, state, utcnow()) for state in WAITING_STATES}
    for state, ids in claimed.items():
        for callback_id in ids:
            _enqueue(self, STEP_TASKS[state], callback_id)
    return {state: len(ids) for state, ids in claimed.items()}


@shared_task(bind=True, name="worker.tasks.reconcile", ignore_result=True)
def reconcile(self: Task) -> dict[str, int]:
    """Beat, every RECONCILE_SECONDS: re-enqueue what a lost task left behind; close calls whose status never
    came (the leases and limits are worker/recovery.py's)."""
    settings, recovery = _settings(self), _recovery(self)
    now = utcnow()
    with transaction(settings.database_url) as session:
        stale = {state: reclaim_stale(session, state, now, lease=recovery.claim_lease) for state in WAITING_STATES}
        missing = weeks_to_draw(session, settings, now)
    for state, ids in stale.items():
        for callback_id in ids:
            _enqueue(self, STEP_TASKS[state], callback_id)
    for hall_id, week in missing:
        _enqueue(self, "worker.tasks.weekly_draw", hall_id, week)
    closed = _reconcile_calls(settings, recovery)
    return {"drawn": len(stale[CallbackState.DRAWN]), "sms": len(stale[CallbackState.SMS]), "draws": len(missing), "calls": closed}


@shared_task(bind=True, name="worker.tasks.rectification_deadlines", ignore_result=True)
def rectification_deadlines(self: Task) -> dict[str, int]:
    """Beat, every 15 min: deadlines follow the calendar, remind one working day before a rectification is due,
    escalate when overdue, place due 二次回访, queue the daily alerts (篇2 五; callback.rectification.services.
    run_deadlines, idempotent) — then send the alerts."""
    from callback.rectification.services import run_deadlines

    settings = _settings(self)
    with transaction(settings.database_url) as session:
        run = run_deadlines(session, utcnow(), settings=settings)
    sent = _deliver_alerts(settings)
    return {"reminded": len(run.reminded), "escalated": len(run.escalated), "revisits": len(run.revisits),
            "alerts": len(run.alerts), "emailed": len(sent.emailed), "texts": sent.texts}


@shared_task(bind=True, name="worker.tasks.rectification_alerts", ignore_result=True)
def rectification_alerts(self: Task) -> dict[str, int]:
    """Beat, every minute: send pending alerts to supervisors (an integrity report within a minute of the call;
    callback.rectification.alerts.deliver_alerts — each channel of an alert is sent once)."""
    sent = _deliver_alerts(_settings(self))
    return {"emailed": len(sent.emailed), "texts": sent.texts, "waiting": len(sent.waiting)}


def _deliver_alerts(settings: Settings) -> Any:
    from callback.rectification.alerts import deliver_alerts, mailer_from_settings

    with transaction(settings.database_url) as session:
        return deliver_alerts(session, utcnow(), settings=settings, provider=_provider(settings),
                              mailer=mailer_from_settings(settings))


@shared_task(bind=True, name="worker.tasks.purge", ignore_result=True)
def purge(self: Task) -> dict[str, Any]:
    """Beat, daily 03:30: recordings and personal data past their retention period (callback.retention)."""
    from callback.retention.services import purge as run

    settings = _settings(self)
    with session_factory(settings.database_url)() as session:  # commits per deleted recording
        return run(session, _provider(settings), settings, utcnow(), actor="worker").as_json()


def _reconcile_calls(settings: Settings, recovery: RecoverySettings) -> int:
    from ivr.dialer import reconcile_stale_calls

    with session_factory(settings.database_url)() as session:  # the dialer commits per attempt
        return len(reconcile_stale_calls(session, _provider(settings), settings, utcnow(),
                                         stale_after=recovery.stale_call, give_up_after=recovery.give_up_call))


# ----------------------------------------------------------------------------------------- per callback


@shared_task(bind=True, name="worker.tasks.dial", acks_late=True, ignore_result=True)
def dial(self: Task, callback_id: int) -> str:
    """Place the next call of one callback if it is still due (ivr.dialer.dial_callback is idempotent)."""
    from ivr.dialer import dial_callback

    settings = _settings(self)
    return _step(settings, callback_id,
                 lambda session: dial_callback(session, callback_id, _provider(settings), settings, utcnow()).result,
                 lock_timeout=_recovery(self).lock_timeout)


@shared_task(bind=True, name="worker.tasks.advance_sms", acks_late=True, ignore_result=True)
def advance_sms(self: Task, callback_id: int) -> str:
    """Send, remind or expire one SMS survey, whichever is due (ivr.sms_survey.advance_sms is idempotent)."""
    from ivr.sms_survey import advance_sms as advance

    settings = _settings(self)
    return _step(settings, callback_id,
                 lambda session: advance(session, callback_id, _provider(settings), settings, utcnow()).result,
                 lock_timeout=_recovery(self).lock_timeout)


def _step(settings: Settings, callback_id: int, action: Any, lock_timeout: int = LOCK_SECONDS) -> str:
    """Run one service step under the callback's lock, then give up the tick's claim."""
    with callback_lock(settings, callback_id, timeout=lock_timeout) as held:
        if not held:
            return "locked"  # another worker is on it; its own step will release the claim
        with session_factory(settings.database_url)() as session:
            try:
                return action(session)  # the IVR services commit their own short transactions
            finally:
                session.rollback()
                release_claim(session, callback_id)
                session.commit()
