"""`callback demo` (what `make demo` runs): the whole simulated week, with nothing personal left unmasked, told in
Chinese, ending with where the week is kept, what to try next, and how to open the console on the demo data
with one account per role (passwords generated for the run, printed once, stored only as scrypt hashes)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from werkzeug.security import check_password_hash

import callback.cli.demo
from callback.cli import main
from callback.db import dispose_all, session_factory
from callback.models import User
from callback.web.app import create_app
from tests.callback.web.console.helpers import login, text_of

ACCOUNT_LINE = re.compile(r"^ {2}(\S+) +(\S+) +用户名 (\S+) +密码 (\S+)(?: +(\S+))?$", re.M)


@dataclass
class DemoRun:
    output: str
    instance: Path

    @property
    def database(self) -> Path:
        return self.instance / "demo" / "demo.sqlite3"

    @property
    def ending(self) -> str:
        return self.output[self.output.index("演示结束"):]

    @property
    def console(self) -> str:
        return self.output[self.output.index("== 监督工作台"):]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    """The demo run once for this module, on its own SQLite file (the demo's default)."""
    instance = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(callback.cli.demo, "DEFAULT_INSTANCE", instance)
        mp.delenv("DATABASE_URL", raising=False)
        for name in ("SIMULATOR_CITIZENS", "SIMULATOR_STATE_DIR"):  # the demo sets these; undone after
            mp.setenv(name, "")
        result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    yield DemoRun(result.output, instance)
    dispose_all()


def serve_environment(console: str) -> dict[str, str]:
    """The variables the printed `callback serve` command sets (lines ``NAME=value \\`` before ``… serve``)."""
    block = console[console.index("启动 Web 服务"):console.index("然后用浏览器打开")]
    command = shlex.split(block.split("：", 1)[1].replace("\\\n", " "))
    assert command[-1] == "serve" and command[-2].endswith("callback"), command
    return dict(word.split("=", 1) for word in command[:-2])


def accounts(console: str) -> dict[str, tuple[str, str, str, str | None]]:
    """username → (role label, display name, password, window) as printed."""
    return {m[3]: (m[1], m[2], m[4], m[5]) for m in ACCOUNT_LINE.finditer(console)}


def test_demo_runs_the_whole_week_masked(demo_run: DemoRun) -> None:
    out = demo_run.output
    assert "新增 72" in out and "第 75 行被拒绝" in out  # the bundled ledger, bad rows named by row number
    assert re.search(r"回访#\d+ +SF\d+ .*1\d\d\*\*\*\*\d{4}", out)  # the masked sample
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", out)  # no mobile number in clear, anywhere
    totals = re.search(r"合计 +抽取 +(\d+)[ =]+电话 +(\d+) +短信 +(\d+)", out)
    assert totals and int(totals[1]) == 20 and int(totals[2]) > 0 and int(totals[3]) > 0
    assert "【超期反馈】" in out and "超期督办" in out  # one case fed back late, escalated first
    # the draw's exclusions in words, each reason with its count — never a Python dict
    excluded = re.search(r"排除：无可拨号码 (\d+) 件，已退订 \d+ 件，内部/禁拨号码 \d+ 件，已被抽过 \d+ 件，"
                         r"近期已联系 \d+ 件", out)
    assert excluded and int(excluded[1]) == 3 and "{'" not in out and "no_dialable_number" not in out
    # it ends with the database it wrote and the commands to try next, pointed at that database
    database = demo_run.database
    assert database.exists() and f"本次演示的数据库：{database}" in demo_run.ending
    assert f"export DATABASE_URL=sqlite:///{database}" in demo_run.ending
    assert "callback callbacks --week 2026-W48" in demo_run.ending
    assert "callback report --week 2026-W48 --xlsx out.xlsx" in demo_run.ending


def test_the_week_has_an_on_site_form_counted_in_the_report(demo_run: DemoRun) -> None:
    """篇2 三(二): a paper form of the comprehensive window, entered as an on-site response; its 基本满意 opens a
    rectification case; the report counts one form against the target of 5 and shows it in the window's row."""
    out = demo_run.output
    form = re.search(r"综合受理窗口 11月25日 纸质征求意见表：答案 112111，意见“[^”]+” → 完成.*\n +有“基本满意”，开立整改#(\d+)", out)
    assert form, out[out.index("5b."):][:400]
    report = out[out.index("== 6."):out.index("== 7.")]
    assert "现场征求意见表：本周 1 份，目标 5 份，尚缺 4 份" in report
    row = re.search(r"^综合受理窗口 .*现场 +(\d+) .*未到期 (\d+)）", report, re.M)
    assert row and row[1] == "1" and int(row[2]) >= 1  # its case, opened on entry, not due yet


def test_demo_ends_with_how_to_open_the_console(demo_run: DemoRun) -> None:
    console = demo_run.console
    assert demo_run.output.endswith(console) and "\n== " not in console  # the last block
    env = serve_environment(console)
    assert env["DATABASE_URL"] == f"sqlite:///{demo_run.database}"
    assert Path(env["SIMULATOR_STATE_DIR"]) == demo_run.instance / "demo" / "simulator"
    assert re.fullmatch(r"[0-9a-f]{64}", env["SECRET_KEY"])
    assert "http://127.0.0.1:5000/console/\n" in console
    assert "http://127.0.0.1:5000/console/week?week=2026-W48" in console
    printed = accounts(console)
    assert {(role, username) for username, (role, *_) in printed.items()} == {
        ("督查科", "demo-supervisor"), ("窗口负责人", "demo-window"), ("中心领导", "demo-leader"), ("管理员", "demo-admin")}
    assert printed["demo-window"][3] == "综合受理窗口"
    passwords = [password for _, _, password, _ in printed.values()]
    assert len(set(passwords)) == 4 and all(len(p) >= 16 for p in passwords)
    source = Path(callback.cli.demo.__file__).read_text(encoding="utf-8")
    assert not any(p in source for p in passwords)  # generated, not written in the code
    assert demo_run.output.count(passwords[0]) == 1  # printed once


@pytest.fixture
def demo_console(demo_run: DemoRun, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """The console app as the printed command starts it (its database, simulator folder and secret key)."""
    env = serve_environment(demo_run.console)
    monkeypatch.setenv("SIMULATOR_STATE_DIR", env["SIMULATOR_STATE_DIR"])
    return create_app({"database_url": env["DATABASE_URL"], "secret_key": env["SECRET_KEY"]})


def test_every_demo_account_logs_in_and_sees_the_demo_week(demo_run: DemoRun, demo_console) -> None:  # noqa: ANN001
    printed = accounts(demo_run.console)
    clients = {}
    for username, (_, name, password, _) in printed.items():
        client = demo_console.test_client()
        assert login(client, username, "not-" + password).status_code != 302  # the password is checked
        response = login(client, username, password)
        assert response.status_code == 302 and response.headers["Location"].endswith("/console/"), username
        assert name in text_of(client.get("/console/").get_data(as_text=True))
        clients[username] = client
    week = text_of(clients["demo-supervisor"].get("/console/week?week=2026-W48").get_data(as_text=True))
    assert "示范县政务服务中心" in week and "1 / 5" in week and "综合受理窗口" in week  # the on-site form
    listing = clients["demo-supervisor"].get("/console/callbacks?week=2026-W48").get_data(as_text=True)
    ids = sorted({int(i) for i in re.findall(r"/console/callbacks/(\d+)\"", listing)})
    assert len(ids) >= 20
    recordings = [i for i in ids if f"/console/callbacks/{i}/recording" in
                  clients["demo-supervisor"].get(f"/console/callbacks/{i}").get_data(as_text=True)]
    assert recordings, "no callback of the demo week has a recording"
    played = clients["demo-supervisor"].get(f"/console/callbacks/{recordings[0]}/recording")
    assert played.status_code == 200 and played.mimetype.startswith("audio/")  # through SIMULATOR_STATE_DIR
    queue = text_of(clients["demo-window"].get("/console/rectifications").get_data(as_text=True))
    assert "待整改" in queue and "材料清单" in queue  # the on-site form's case, for its window's lead
    assert clients["demo-window"].get("/console/callbacks").status_code == 403
    results = text_of(clients["demo-leader"].get("/console/results?week=2026-W48").get_data(as_text=True))
    assert "综合受理窗口" in results
    users = text_of(clients["demo-admin"].get("/console/admin/users").get_data(as_text=True))
    assert all(username in users for username in printed)


def test_no_demo_password_is_stored_in_clear(demo_run: DemoRun) -> None:
    printed = accounts(demo_run.console)
    stored = b"".join(path.read_bytes() for path in demo_run.database.parent.glob("demo.sqlite3*"))
    folder = b"".join(p.read_bytes() for p in demo_run.instance.rglob("*") if p.is_file())
    with session_factory(f"sqlite:///{demo_run.database}")() as session:
        users = {u.username: u for u in session.scalars(select(User))}
    for username, (_, _, password, _) in printed.items():
        assert password.encode() not in stored and password.encode() not in folder
        digest = users[username].password_hash
        assert digest.startswith("scrypt:") and check_password_hash(digest, password)


def test_demo_into_a_given_database_names_it_without_asking_to_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(callback.cli.demo, "DEFAULT_INSTANCE", tmp_path)
    for name in ("SIMULATOR_CITIZENS", "SIMULATOR_STATE_DIR"):
        monkeypatch.setenv(name, "")
    url = f"sqlite:///{tmp_path / 'mine.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    ending = result.output[result.output.index("演示结束"):]
    assert f"DATABASE_URL 指向的数据库：{url}" in ending and "export" not in ending
    assert "callback report --week 2026-W48 --xlsx out.xlsx" in ending
    console = ending[ending.index("== 监督工作台"):]
    assert "使用当前的 DATABASE_URL" in console and "DATABASE_URL" not in serve_environment(console)
    assert len(accounts(console)) == 4
    # that database now holds the demo week: running it again there is refused in one line, nothing written
    again = CliRunner().invoke(main, ["demo"])
    assert again.exit_code == 2 and "已有演示周 2026-W48" in again.output and "Traceback" not in again.output
    assert "导入受理台账" not in again.output
    dispose_all()
