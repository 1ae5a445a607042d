"""The web app on a loopback port in a background thread, and a clock that can jump ahead.

Used where the simulator must reach our real webhooks over HTTP from the same process: `callback run-week
--simulate`, `callback call-me` and the end-to-end tests. Production runs the app under gunicorn instead.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class SimClock:
    """Real time that runs on from ``start`` and can be moved forward (never back) to skip a retry's wait."""

    def __init__(self, start: datetime | None = None) -> None:
        self._origin = start or datetime.now(UTC)
        self._t0 = time.monotonic()
        self._skipped = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._origin + timedelta(seconds=time.monotonic() - self._t0) + self._skipped

    __call__ = now

    def advance_to(self, moment: datetime) -> datetime:
        """Jump to ``moment`` if it lies ahead; returns the time after the jump."""
        with self._lock:
            current = self._origin + timedelta(seconds=time.monotonic() - self._t0) + self._skipped
            if moment > current:
                self._skipped += moment - current
        return self.now()


class _QuietHandler(WSGIRequestHandler):
    """No access log: the transcript tells the story, and a request line never carries personal data anyway."""

    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


class LocalServer:
    """Serve ``app`` on ``host``:``port`` (0 = any free port) and point its PUBLIC_BASE_URL at that address."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True,
                                                   request_handler=_QuietHandler)
        self.url = f"http://{host}:{self._server.server_port}"
        app.config["SETTINGS"] = replace(app.config["SETTINGS"], public_base_url=self.url)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-server", daemon=True)

    @property
    def settings(self):  # noqa: ANN201
        return self.app.config["SETTINGS"]

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
