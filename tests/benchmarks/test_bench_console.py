"""The console benchmark's harness (benchmarks/bench_console.py) runs at --quick sizes against the real PostgreSQL,
prints every page's figures next to the baseline, and exits 0.

No timing is asserted (no wall-clock bounds in tests): only that it measured what it claims to measure — every
page's p50 and p95 present, finite, with its baseline, printed, not judged at quick sizes — and that the pages
really showed the generated year (the list's count is every callback made, the dashboard has overdue cases and a
scored trend), with the SQL statements each page ran counted."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_console.py"
PAGES = ("week", "week_past", "callbacks", "callbacks_all", "callbacks_window", "callbacks_rating",
         "callbacks_integrity", "callbacks_complaint", "callbacks_suggestion")
FIGURES = {"console.login.p50_ms", "console.login.p95_ms"} | {
    f"console.{page}.{stat}_ms" for page in PAGES for stat in ("p50", "p95")}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict]:
    figures_file = tmp_path_factory.mktemp("bench_console") / "figures.json"
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--repeat", "2", "--json", str(figures_file)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    (section,) = json.loads(figures_file.read_text(encoding="utf-8"))["measures"]
    assert section["measure"] == "console"
    return result, section


def test_quick_run_prints_every_figure_with_its_baseline(run: tuple[subprocess.CompletedProcess[str], dict]) -> None:
    result, section = run
    figures = {f["key"]: f for f in section["figures"]}
    assert set(figures) == FIGURES
    for figure in figures.values():
        assert math.isfinite(figure["value"]) and figure["value"] > 0, figure
        assert figure["baseline"] is not None and math.isfinite(figure["baseline"]), figure
        assert figure["met"] is None, "quick sizes are not judged against the target"
        assert figure["label"] in result.stdout and "baseline" in result.stdout
    for page in PAGES:
        assert figures[f"console.{page}.p95_ms"]["target"] == "< 200 ms"
        assert figures[f"console.{page}.p95_ms"]["baseline_label"] == "login page p95"
    assert re.search(r"load average [\d.]+ before, [\d.]+ after", result.stdout)
    assert "+86" not in result.stdout + result.stderr  # no phone number in what the benchmark prints


def test_the_pages_showed_the_generated_year(run: tuple[subprocess.CompletedProcess[str], dict]) -> None:
    _result, section = run
    notes = {f["key"].split(".")[1]: f["note"] for f in section["figures"] if f["key"].endswith("p50_ms")}
    made = section["data"]["callbacks"]
    assert section["weeks"] == 3 and made > 0 and section["data"]["cases"] == 20_000
    assert f"{made:,} callbacks listed, page 1 of " in notes["callbacks_all"]  # every callback made, all weeks
    for page in PAGES:
        assert re.search(r"\b[1-9]\d* SQL statements", notes[page]), (page, notes[page])
    for page in ("week", "week_past"):
        overdue, scored = map(int, re.search(r"(\d+) overdue cases, (\d+) scored weeks", notes[page]).groups())
        assert overdue > 0 and scored > 0, notes[page]
    for page in ("callbacks", "callbacks_window"):  # made by construction; rating and flags are random
        assert re.search(r"\b[1-9]\d* callbacks listed", notes[page]), (page, notes[page])
