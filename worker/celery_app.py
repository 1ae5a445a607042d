"""The Celery app (docs/architecture.md §Source of truth), built from `Settings` so web, CLI and worker share
one configuration.

    celery -A worker.celery_app worker --loglevel=info     # executes tasks
    celery -A worker.celery_app beat --loglevel=info       # the schedule below (run exactly one)

* ``REDIS_URL`` set: Redis is the broker; nothing is stored in it that the database does not also know.
* ``REDIS_URL`` unset (the embedded default): ``task_always_eager`` — ``.delay()`` runs the task inline, so the
  CLI and the demo need no Redis and no worker.

Beat schedule (times in the app time zone, Asia/Shanghai by default):

* ``weekly-draw`` — Monday 09:00: the week's draw for every hall (篇2 三(一) 每周抽取);
* ``tick`` — every ``TICK_SECONDS`` (30 s): claim due callbacks (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and
  enqueue one dial / SMS task per id;
* ``reconcile`` — every ``RECONCILE_SECONDS`` (5 min): re-enqueue work whose time passed without progress (claims
  never picked up, calls whose final status never came, a week's draw that never happened);
* ``rectification-deadlines`` — every 15 min: rectification deadlines, reminders, escalations, due 二次回访 and
  the daily alerts (篇2 五); ``rectification-alerts`` — every minute: send pending alerts (SMS, e-mail);
* ``retention-purge`` — daily 03:30: recordings and personal data past their retention period
  (callback.retention, 个人信息保护法).

The intervals, leases and timeouts that bound recovery after a crash are documented together, with the worst-case
time to recover, in worker/recovery.py.

A worker or beat whose settings still hold a development secret in production (``TELEPHONY=twilio`` or an https
``PUBLIC_BASE_URL``; callback.config.check_production_settings) refuses to start: one line on stderr, exit 2.

Broker tuning comes from the environment too: ``CELERY_VISIBILITY_TIMEOUT`` (seconds before a message taken by a
worker that died is delivered again; default 3600 — every task is idempotent, so a redelivery is harmless, only
later; worker/recovery.py).
"""

from __future__ import annotations

import sys
from typing import Any

from celery import Celery, signals
from celery.schedules import crontab

from callback.config import ConfigError, InsecureSettings, Settings, check_production_settings
from worker.recovery import RecoverySettings

SETTINGS_KEY = "callback_settings"
RECOVERY_KEY = "callback_recovery"


def beat_schedule(recovery: RecoverySettings | None = None) -> dict[str, dict[str, Any]]:
    recovery = recovery or RecoverySettings()
    tick, reconcile = recovery.tick_seconds, recovery.reconcile_seconds
    return {
        "weekly-draw": {
            "task": "worker.tasks.weekly_draw_all",
            "schedule": crontab(minute=0, hour=9, day_of_week="mon"),
            "options": {"expires": 6 * 3600},
        },
        # a tick or reconcile message older than its interval is dropped: the next one does its work
        "tick": {"task": "worker.tasks.tick", "schedule": tick, "options": {"expires": tick * 0.9}},
        "reconcile": {"task": "worker.tasks.reconcile", "schedule": reconcile,
                      "options": {"expires": reconcile * 0.95}},
        "rectification-deadlines": {"task": "worker.tasks.rectification_deadlines", "schedule": 900.0,
                                    "options": {"expires": 890}},
        "rectification-alerts": {"task": "worker.tasks.rectification_alerts", "schedule": 60.0,
                                 "options": {"expires": 55}},
        "sms-expiry": {"task": "worker.sms_tasks.expire_sms_surveys", "schedule": 900.0, "options": {"expires": 890}},
        "retention-purge": {"task": "worker.tasks.purge", "schedule": crontab(minute=30, hour=3),
                            "options": {"expires": 6 * 3600}},
    }


def _transport_options(recovery: RecoverySettings) -> dict[str, Any]:
    visibility = max(1, int(recovery.celery_visibility_timeout))
    # Sweep for messages of dead workers often enough to notice them soon after they become visible again.
    return {"visibility_timeout": visibility, "unacked_restore_interval": max(1, min(10, visibility // 2)),
            "unacked_restore_throttle": 1}


def create_celery(settings: Settings | None = None, recovery: RecoverySettings | None = None) -> Celery:
    """A Celery app for these settings; tasks find the settings in ``app.conf[SETTINGS_KEY]`` and the recovery
    settings (worker/recovery.py) in ``app.conf[RECOVERY_KEY]``."""
    settings = settings or Settings.from_env()
    recovery = recovery or RecoverySettings.from_env()
    app = Celery("callback", include=["worker.tasks", "worker.sms_tasks"])
    app.conf.update(
        broker_url=settings.redis_url or "memory://",
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(recovery),
        task_always_eager=not settings.redis_url,
        task_eager_propagates=True,
        task_ignore_result=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        timezone=settings.timezone,
        enable_utc=True,
        beat_schedule=beat_schedule(recovery),
    )
    app.conf[SETTINGS_KEY] = settings
    app.conf[RECOVERY_KEY] = recovery
    return app


@signals.worker_init.connect
@signals.beat_init.connect
def refuse_development_secrets(sender: Any = None, **_: Any) -> None:
    """Before a worker or beat does anything: exit 2 with one clear line when its settings are not fit for
    production (the same rule as the web app)."""
    conf = getattr(getattr(sender, "app", None), "conf", None)
    settings = conf.get(SETTINGS_KEY) if conf is not None else None
    try:
        check_production_settings(settings or Settings.from_env())
    except InsecureSettings as exc:
        print(exc, file=sys.stderr, flush=True)
        sys.exit(2)


def _app_or_exit() -> Celery:
    """The module's app, built when `celery -A worker.celery_app` loads it: settings it cannot run with (a
    recovery time that is not a positive number, say) end in one line on stderr and exit 2, not a traceback."""
    try:
        return create_celery()
    except ConfigError as exc:
        print(exc, file=sys.stderr, flush=True)
        sys.exit(2)


app = _app_or_exit()
