"""Browser tests: a real ``callback serve`` on a free loopback port and Debian's headless Chromium driven by
Playwright (issue 14 §Tests).

* ``console_server`` (one per test module): a fresh, migrated SQLite database with the hall 潍坊高新区政务服务中心
  (windows 市场监管窗口 and 税务窗口) and one account per role (``ACCOUNTS``, password ``PASSWORD``), then
  ``callback serve`` as a child process on 127.0.0.1; ``console_server.url(path)``. The server's output is kept and
  shown when a test fails to start it.
* ``browser`` (one per session): /usr/bin/chromium (``make test`` installs it: scripts/ensure-services.sh) started
  with the flags below; Playwright never downloads a browser (no ``playwright install``).
* ``page`` (desktop, 1280×800) and ``phone`` (390×844, touch, as a window lead holds it): a fresh context each,
  Chinese locale and Asia/Shanghai; every console message of the page is collected, and a test fails if the page
  logged an error (a Content-Security-Policy violation, a missing file).
* ``shot(page, name)`` saves a full-page screenshot as ``test-output/screenshots/<name>.png`` (gitignored).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from callback.accounts.roles import Role
from callback.db import dispose_all, session_factory
from callback.migrate import upgrade_to_head
from tests.callback.web.console.helpers import PASSWORD, make_user
from tests.factories import make_hall, make_window

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
HALL = "潍坊高新区政务服务中心"
# username → (role, display name, window)
ACCOUNTS = {
    "zhang": (Role.SUPERVISOR, "张督查", None),
    "li": (Role.WINDOW_LEAD, "李窗口", "市场监管窗口"),
    "wang": (Role.LEADER, "王主任", None),
    "admin": (Role.ADMIN, "赵管理", None),
}
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base: str
    process: subprocess.Popen[str]
    log: Path

    def url(self, path: str = "/console/") -> str:
        return self.base + path


def _seed(database_url: str) -> None:
    upgrade_to_head(database_url)
    with session_factory(database_url).begin() as s:
        hall = make_hall(s, "WF01", HALL)
        for window in ("市场监管窗口", "税务窗口"):
            make_window(s, hall, window)
        for username, (role, name, window) in ACCOUNTS.items():
            make_user(s, hall, role, username=username, name=name, window=window, phone="0536-8881234")
    dispose_all()


def _callback_command() -> list[str]:
    script = Path(sys.executable).with_name("callback")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from callback.cli import main; main()"]


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("browser")
    database_url = f"sqlite:///{folder / 'console.sqlite3'}"
    _seed(database_url)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           "SECRET_KEY": os.urandom(16).hex(), "CALLBACK_INSTANCE": str(folder), "REDIS_URL": "",
           "TELEPHONY": "simulator", "DEFAULT_HALL": "WF01"}
    log = folder / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen([*_callback_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
                                   cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_until_up(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_up(server: Server, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"callback serve exited ({server.process.returncode}):\n{server.log.read_text()}")
        try:
            if requests.get(server.url("/console/login"), timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    pytest.fail(f"callback serve did not answer within {seconds} s:\n{server.log.read_text()}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: run `make services` (scripts/ensure-services.sh installs Debian's chromium)")
    from playwright.sync_api import expect, sync_playwright

    # expect(...) waits for a page to settle after a click navigates (a bare is_visible() reads the page as it is,
    # which raced the navigation on a loaded CI machine); the wait is generous because two test processes share
    # two cores, and it never passes a test that would fail.
    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@dataclass
class PageProblems:
    """What the browser complained about while a test ran: console errors and failed requests."""

    messages: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.messages.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.messages.append(f"request failed: {r.url} {r.failure}"))
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        # Chromium also logs every 4xx page it loads; a refused login (401) or a 403 page is what a test expects,
        # and a missing stylesheet or image is caught by _response with its URL.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.messages.append(f"console: {message.text}")

    def _response(self, response: Any) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            self.messages.append(f"{response.status} for {response.url}")


def _page(browser: Any, viewport: dict[str, int], **options: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai", **options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems = PageProblems()
    problems.watch(page)
    yield page
    context.close()
    assert problems.messages == [], "the browser reported problems"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    yield from _page(browser, DESKTOP)


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    yield from _page(browser, PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)


@pytest.fixture(scope="session")
def shot() -> Callable[[Any, str], Path]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def log_in(page: Any, server: Server, username: str, password: str = PASSWORD) -> None:
    """Fill the login form as a person would (labels, not selectors) and submit it."""
    page.goto(server.url("/console/login"))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()

