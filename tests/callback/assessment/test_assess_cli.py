"""`callback assess` and `callback hall window-role` end to end: user errors are one line and exit 2, the JSON
keeps the fields scripts read, files are written where asked."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook
from sqlalchemy.orm import Session

import callback.assessment.cli as assess_cli
import callback.halls.cli as halls_cli
from callback.cli import main
from tests.callback.assessment.builders import COMPREHENSIVE, TAX, cases, staff_member
from tests.callback.assessment.test_template import GOOD, filled

NOW = datetime(2026, 12, 10, 4, 0, tzinfo=UTC)


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setattr(assess_cli, "now", lambda: NOW)
    monkeypatch.setattr(halls_cli, "now", lambda: NOW)

    def invoke(*args: str) -> Result:
        env = {"DATABASE_URL": database_url, "DEFAULT_HALL": "DEMO", "CALLBACK_ACTOR": "督查科"}
        return CliRunner().invoke(main, list(args), env=env)
    return invoke


@pytest.fixture
def staff(session: Session) -> None:
    for name in ("张伟", "李娜"):
        cases(session, staff_member(session, name, TAX), TAX, 1)
    staff_member(session, "王芳", COMPREHENSIVE)
    session.commit()


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def refused(result: Result, words: str) -> None:
    assert result.exit_code == 2 and words in result.output and len(result.output.strip().splitlines()) == 1, (
        result.output)


def test_window_role_lists_sets_and_refuses(run, staff) -> None:  # noqa: ANN001
    ok(run("hall", "window-role", COMPREHENSIVE, "--role", "comprehensive"))
    roles = json.loads(ok(run("hall", "window-role", "--json")).output)
    assert {r["window"]: r["role"] for r in roles} == {COMPREHENSIVE: "comprehensive", TAX: "other"}
    refused(run("hall", "window-role", "不存在窗口", "--role", "issuing"), "没有名为")
    refused(run("hall", "window-role", COMPREHENSIVE), "--role")


def test_add_correct_and_the_month(run, staff) -> None:  # noqa: ANN001
    added = json.loads(ok(run("assess", "add", "--staff", "张伟", "--month", "2026-11", "--clause", "一1",
                              "--grade", "self_recorded", "--count", "2", "--note", "迟到", "--json")).output)
    ok(run("assess", "add", "--staff", "李娜", "--date", "2026-11-05", "--clause", "五4", "--source",
           "above_district", "--rating", "B"))
    refused(run("assess", "add", "--staff", "张伟", "--month", "2026-11", "--clause", "一1"), "等次")
    refused(run("assess", "add", "--staff", "张伟", "--month", "2026-13", "--clause", "一2"), "月份")
    ok(run("assess", "correct", str(added["id"]), "--count", "1", "--reason", "核实为一次"))
    refused(run("assess", "correct", str(added["id"]), "--count", "1", "--reason", "再改"), "已被")
    payload = json.loads(ok(run("assess", "--month", "2026-11", "--json")).output)
    rows = {r["name"]: r for r in payload["staff"]}
    assert rows["张伟"]["sections"]["一"] == 14.0 and rows["张伟"]["total"] == 99.0
    assert rows["李娜"]["total"] == 98.0 and rows["王芳"]["assessed"] is False
    assert {"sections", "bonus", "total", "rules", "events", "volume", "windows", "staff_id"} <= set(rows["张伟"])
    assert set(payload["summary"]["events"]) == {"overdue", "revisit_still_unsatisfied", "revisit_then_satisfied"}
    human = ok(run("assess", "--month", "2026-11")).output
    assert "张伟" in human and "总分 99" in human and "王芳" in human
    listed = ok(run("assess", "entries", "--month", "2026-11")).output
    assert "已被" in listed and "核实为一次" in listed
    refused(run("assess", "--month", "2027-02"), "尚未开始")


def test_template_to_stdout_fill_and_import(run, staff, session: Session, tmp_path: Path) -> None:  # noqa: ANN001
    data = ok(run("assess", "template", "--month", "2026-11")).stdout_bytes
    assert load_workbook(io.BytesIO(data))["考核录入"]["A2"].value == "工作人员"
    assert ok(run("assess", "template", "--month", "2026-11", "--csv")).stdout_bytes.startswith(b"\xef\xbb\xbf")
    path = filled(session, [*GOOD, ["王五", "2026-11-03", "一2", 1, ""]], tmp_path)
    output = ok(run("assess", "import", str(path))).output
    assert "新录入 4 条" in output and "第 7 行被拒绝" in output and "王五" in output
    again = json.loads(ok(run("assess", "import", str(path), "--json")).output)
    assert again["added"] == [] and len(again["skipped"]) == 4
    refused(run("assess", "import", str(tmp_path / "nothing.xlsx")), "不存在")


def test_bulletin_files_and_approval(run, staff, tmp_path: Path) -> None:  # noqa: ANN001
    xlsx, html = tmp_path / "简报.xlsx", tmp_path / "简报.html"
    ok(run("assess", "bulletin", "--month", "2026-11", "--xlsx", str(xlsx), "--html", str(html)))
    assert "待审批" in html.read_text(encoding="utf-8")
    assert load_workbook(xlsx)["月度考核"]["A4"].value in {"张伟", "李娜"}
    refused(run("assess", "bulletin", "--month", "2026-11"), "--xlsx")
    refused(run("assess", "approve", "--month", "2026-11", "--approved-by", " "), "审批人")
    approved = ok(run("assess", "approve", "--month", "2026-11", "--approved-by", "王主任")).output
    assert "王主任" in approved
    ok(run("assess", "bulletin", "--month", "2026-11", "--html", str(html)))
    assert "已审批" in html.read_text(encoding="utf-8")


def test_the_year(run, staff, tmp_path: Path) -> None:  # noqa: ANN001
    book = tmp_path / "年度.xlsx"
    output = ok(run("assess", "--year", "2026", "--xlsx", str(book))).output
    assert "优秀服务标兵：名额 0" in output  # 2 staff scored × 25% → 0 places
    assert set(load_workbook(book).sheetnames) == {"年度成绩", "优秀服务标兵", "窗口综合考评"}
    refused(run("assess", "--year", "2027"), "尚未开始")
    refused(run("assess", "--year", "2026", "--month", "2026-11"), "只能选一个")
