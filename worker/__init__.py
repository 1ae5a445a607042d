"""Celery: the app and beat schedule (`worker.celery_app`), thin tasks (`worker.tasks`), and the database side
of dispatching (`worker.dispatch`). Start with `celery -A worker.celery_app worker` and `… beat`."""
