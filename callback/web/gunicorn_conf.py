"""gunicorn settings for production, sized for a 2-core machine (README "Running in production / 生产部署").

    gunicorn -c gunicorn.conf.py 'callback.web.app:create_app()'               # from a checkout (that file imports this)
    gunicorn -c python:callback.web.gunicorn_conf 'callback.web.app:create_app()'  # from an installed package
    callback serve --production --host 127.0.0.1 --port 8000               # the same, through the CLI

Command-line flags override these (``--workers 4 --threads 16``). Keep ``DB_POOL_SIZE`` (default 10) at least
``threads``: each thread holds a database connection while it serves a request (callback/db.py ``pool_limits``).

Before any worker starts, the master checks the settings (callback.config.check_production_settings) and exits 2
with one line on stderr when a production deployment still holds a development secret. gunicorn's ``Server``
header is ``gunicorn`` with no version, and it names no Python version.
"""

from __future__ import annotations

import sys
from typing import Any

from callback.config import InsecureSettings, Settings, check_production_settings

bind = "127.0.0.1:8000"  # nginx in front terminates TLS and proxies here
workers = 2  # one per core
worker_class = "gthread"
threads = 8  # a webhook waits mostly on the database: threads keep the cores busy
timeout = 30  # Twilio gives a webhook 15 s; a request still running after 30 s is stuck
graceful_timeout = 30
keepalive = 5  # seconds; nginx reuses the upstream connection
# Recycle a worker now and then (bounded memory growth), rarely: while one restarts (about a second: the import and
# create_app), the other carries every request. At 5,000 that happened every ~50 s at the benchmark's 200 requests/s
# and queued answers for up to 0.9 s (README "Benchmarks"); at a province's peak (~10 requests/s) 100,000 is a few
# hours. The jitter keeps both workers from restarting together.
max_requests = 100_000
max_requests_jitter = 10_000
accesslog = None  # nginx keeps the access log; the URLs carry callback tokens, never personal data
errorlog = "-"
loglevel = "info"


def on_starting(server: Any) -> None:
    """Refuse development secrets before the first worker forks: one line, exit 2."""
    try:
        check_production_settings(Settings.from_env())
    except InsecureSettings as exc:
        print(exc, file=sys.stderr, flush=True)
        sys.exit(2)
