"""Security headers on every response, cookie flags, no inline script or style, and a production server banner
that names no version (docs/architecture.md §Privacy and security)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from flask import Flask, session
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from callback.web.app import create_app
from callback.web.security import CONTENT_SECURITY_POLICY
from ivr.signing import sign_request
from tests.callback.test_production_settings import REAL_SECRET, REAL_TOKEN, clean_env

HTTP_BASE = "http://127.0.0.1:5000"
HTTPS_BASE = "https://hall.example.cn"
ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "callback" / "web" / "templates"


def make(database_url: str, base: str) -> Flask:
    app = create_app({"database_url": database_url, "public_base_url": base, "twilio_auth_token": REAL_TOKEN,
                      "secret_key": REAL_SECRET})

    @app.get("/_session")
    def set_session() -> str:
        session["seen"] = True
        return "ok"

    return app


def assert_secure_headers(response: TestResponse, https: bool) -> None:
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] in ("same-origin", "no-referrer")
    assert ("Strict-Transport-Security" in headers) is https
    if https:
        assert re.fullmatch(r"max-age=\d{7,}.*", headers["Strict-Transport-Security"])


@pytest.fixture(params=[False, True], ids=["http", "https"])
def https(request: pytest.FixtureRequest) -> bool:
    return request.param


@pytest.fixture
def client(database_url: str, https: bool) -> FlaskClient:
    return make(database_url, HTTPS_BASE if https else HTTP_BASE).test_client()


def test_the_board_a_404_and_the_health_page_carry_the_headers(client: FlaskClient, https: bool) -> None:
    board = client.get("/board")
    assert board.mimetype == "text/html"
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    for response in (board, missing, client.get("/board/2026-W45"), client.get("/healthz")):
        assert_secure_headers(response, https)


def test_webhook_responses_carry_the_headers(database_url: str) -> None:
    client = make(database_url, HTTPS_BASE).test_client()
    form = {"From": "+8613900001111", "To": "+861080000000", "Body": "你好", "MessageSid": "SM" + "1" * 32}
    signature = sign_request(f"{HTTPS_BASE}/sms/inbound", form, REAL_TOKEN)
    answered = client.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": signature})
    assert answered.status_code == 200 and answered.mimetype == "text/xml"
    refused = client.post("/sms/inbound", data=form)  # unsigned
    assert refused.status_code == 403
    for response in (answered, refused):
        assert_secure_headers(response, https=True)


def test_session_cookies_are_httponly_samesite_lax_and_secure_on_https(client: FlaskClient, https: bool) -> None:
    cookie = client.get("/_session").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("Secure" in cookie) is https


def test_the_template_check_below_sees_the_templates() -> None:
    assert len(list(TEMPLATES.rglob("*.html"))) >= 4  # else the parametrized check would silently check nothing


# Also written as a file to print or send (`callback assess bulletin --html`): its CSS is inlined only when no
# stylesheet URL is given; the console serves it with a <link> (test_assessment_pages checks the served page).
STANDALONE = {"assessment/bulletin.html"}


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: p.name)
def test_templates_hold_no_inline_script_or_style(template: Path) -> None:
    """The policy forbids inline code; a template that brought some back would silently lose it in browsers."""
    html = template.read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    if template.relative_to(TEMPLATES).as_posix() in STANDALONE:
        html = re.sub(r"\{% else %\}<style>.*?</style>\{% endif %\}", "", html, flags=re.S)
    assert "<style" not in html
    assert not re.search(r"\s(style|on[a-z]+)=", html)
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "style-src 'self'" in CONTENT_SECURITY_POLICY


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("config", [str(ROOT / "gunicorn.conf.py"), "python:callback.web.gunicorn_conf"],
                         ids=["checkout", "package"])
def test_the_production_server_banner_names_no_version(config: str, tmp_path: Path) -> None:
    """gunicorn with the production config (the file in a checkout, or the module `callback serve --production`
    uses): its Server header is bare `gunicorn`, and it runs gthread workers."""
    port = free_port()
    env = clean_env(DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    command = [sys.executable, "-m", "gunicorn", "-c", config, "--bind", f"127.0.0.1:{port}",
               "callback.web.app:create_app()"]
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        response = wait_for(f"http://127.0.0.1:{port}/healthz", server)
        assert response.status_code == 200 and response.text == "ok\n"
        assert response.headers["Server"] == "gunicorn"
        assert "Python" not in str(response.headers) and "Werkzeug" not in str(response.headers)
        assert_secure_headers_raw(response.headers)
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert output.count("Booting worker") == 2 and "gthread" in output


def assert_secure_headers_raw(headers: requests.structures.CaseInsensitiveDict) -> None:
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY and headers["X-Frame-Options"] == "DENY"


def wait_for(url: str, server: subprocess.Popen, seconds: float = 30) -> requests.Response:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the server exited: {server.stdout.read() if server.stdout else ''}")
        try:
            return requests.get(url, timeout=10)
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still booting on a busy machine
            time.sleep(0.2)
    pytest.fail("the server did not answer")
