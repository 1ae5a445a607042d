"""The capacity benchmark's harness (benchmarks/bench_capacity.py) runs each measure at --quick sizes
against the real PostgreSQL and Redis, prints every figure next to its baseline, and exits 0.

No timing is asserted (no wall-clock bounds in tests): only that each measure ran what it claims to measure —
every figure present, finite, with its baseline, printed, not judged at quick sizes — and that the work really
happened (rows imported, halls drawn, calls placed, answers saved)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_capacity.py"
FIGURES = {
    "import": {"import.2000.seconds", "import.2000.peak_rss_mb", "import.10000.seconds", "import.10000.peak_rss_mb"},
    "draw": {"draw.all.seconds", "draw.big.seconds", "draw.big_among_province.seconds", "draw.small.seconds"},
    "dialer": {"dialer.calls_per_second", "dialer.most_in_one_second"},
    "webhook": {"webhook.p99_ms", "webhook.p50_ms", "webhook.max_ms", "webhook.errors", "webhook.app_cpu_ms",
                "webhook.db_cpu_ms"},
}
# What shows the work was done, in each measure's notes.
DONE = {
    "import": [r"\b2,000 rows imported", r"\b10,000 rows imported"],
    "draw": [r"\b20 of 20 halls drawn", r"[\d,]+ candidates after exclusions"],
    "dialer": [r"\b[1-9][\d,]* calls in 15 s"],
    "webhook": [r"\b800 requests in [\d.]+ s; 800 answers saved", r"the floor wrote 800 rows of 800"],
}


def run_quick(measure: str, out: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, dict]]:
    figures_file = out / "figures.json"
    command = [sys.executable, str(SCRIPT), "--quick", "--only", measure, "--out", str(out), "--json", str(figures_file)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    (section,) = json.loads(figures_file.read_text(encoding="utf-8"))["measures"]
    assert section["measure"] == measure
    return result, {f["key"]: f for f in section["figures"]}


@pytest.mark.parametrize("measure", sorted(FIGURES))
def test_quick_run_prints_every_figure_with_its_baseline(measure: str, tmp_path: Path) -> None:
    result, figures = run_quick(measure, tmp_path)
    assert set(figures) == FIGURES[measure]
    for figure in figures.values():
        assert math.isfinite(figure["value"]) and figure["value"] >= 0, figure
        assert figure["baseline"] is not None and math.isfinite(figure["baseline"]), figure
        assert figure["met"] is None, "quick sizes are not judged against the targets"
        assert figure["label"] in result.stdout and "baseline" in result.stdout
    notes = " ".join(f["note"] for f in figures.values())
    for pattern in DONE[measure]:
        assert re.search(pattern, notes), (pattern, notes)
    assert re.search(r"load average [\d.]+ before, [\d.]+ after", result.stdout)
    assert "+86" not in result.stdout + result.stderr  # no phone number in what the benchmark prints
