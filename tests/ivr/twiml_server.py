"""A tiny Flask app on a loopback port (werkzeug `make_server(port=0)` in a thread) that stands in for our
webhooks in the simulator's own tests: it checks X-Twilio-Signature with ivr/signing.py (403 when wrong, as the
real blueprint must), records every request, and answers with canned TwiML built by the twilio library.

    with TwimlServer(token) as server:
        server.route("/voice", lambda form: VoiceResponse().say("你好"))
        ...
        server.hits_to("/status")   # the recorded requests, in order
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request
from werkzeug.serving import make_server

from ivr.signing import SIGNATURE_HEADER, is_valid_request

Handler = Callable[[dict[str, str]], Any]


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    url: str
    form: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    signed_ok: bool

    @property
    def values(self) -> dict[str, str]:
        return self.query | self.form


class TwimlServer:
    def __init__(self, auth_token: str) -> None:
        self.auth_token = auth_token
        self.hits: list[Hit] = []
        self.routes: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self.app = Flask("twiml_server")
        self.app.add_url_rule("/<path:path>", "any", self._handle, methods=["GET", "POST"])

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def twiml(self, path: str, response: Any) -> None:
        """Always answer `path` with this TwiML (a VoiceResponse/MessagingResponse or a string)."""
        self.routes[path] = lambda form: response

    def hits_to(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    def url_for(self, path: str) -> str:
        return self.url + path

    def _handle(self, path: str) -> Response:
        signed_ok = is_valid_request(
            request.url, request.form, request.headers.get(SIGNATURE_HEADER), self.auth_token
        )
        hit = Hit(
            method=request.method,
            path="/" + path,
            url=request.url,
            form=request.form.to_dict(),
            query=request.args.to_dict(),
            headers=dict(request.headers),
            signed_ok=signed_ok,
        )
        with self._lock:
            self.hits.append(hit)
        if not signed_ok:
            return Response("forged", status=403)
        handler = self.routes.get(hit.path)
        if handler is None:
            return Response("", status=204)
        body = handler(hit.values)
        if isinstance(body, Response):
            return body
        return Response(str(body), mimetype="text/xml")

    def __enter__(self) -> TwimlServer:
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(5)
