"""SMS survey tasks (docs/architecture.md §Source of truth): thin — ids in, one ivr.sms_survey service call.

The beat tick (worker.tasks.tick) already claims every due ``sms`` callback and runs worker.tasks.advance_sms,
which sends the survey, the reminder or the expiry, whichever is due — so no beat entry is added here. These are
the named entry points for the rest:

* ``send_sms_survey(callback_id)`` — text one callback's survey now (idempotent: the outbox row and an atomic
  receipt make a redelivered task a no-op; outside SMS hours it only moves ``next_action_at``);
* ``expire_sms_surveys()`` — a sweep that ends every SMS survey past ``SMS_SURVEY_HOURS`` (partial or
  unreachable), independent of claims; safe to run at any time.

A worker must import this module to know the tasks: ``celery -A worker.celery_app worker -I worker.sms_tasks``
(or add it to the app's ``include``).
"""

from __future__ import annotations

from celery import Task, shared_task

from callback.db import transaction
from callback.models import utcnow
from worker.tasks import _provider, _settings, _step


@shared_task(bind=True, name="worker.sms_tasks.send_sms_survey", acks_late=True, ignore_result=True)
def send_sms_survey(self: Task, callback_id: int) -> str:
    """Send one callback's SMS survey if it is waiting for it (ivr.sms_survey.send_sms_survey)."""
    from ivr.sms_survey import send_sms_survey as send

    settings = _settings(self)
    return _step(settings, callback_id,
                 lambda session: send(session, callback_id, _provider(settings), settings, utcnow()).result)


@shared_task(bind=True, name="worker.sms_tasks.expire_sms_surveys", acks_late=True, ignore_result=True)
def expire_sms_surveys(self: Task) -> int:
    """End every SMS survey past its expiry (ivr.sms_survey.expire_sms_surveys); returns how many ended."""
    from ivr.sms_survey import expire_sms_surveys as expire

    settings = _settings(self)
    with transaction(settings.database_url) as session:
        return len(expire(session, utcnow()))
