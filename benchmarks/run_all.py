"""`make bench`: the capacity benchmark (benchmarks/bench_capacity.py), every measure at full size, then the console
benchmark (benchmarks/bench_console.py). Arguments pass through to the capacity benchmark (e.g. `--only draw`,
`--out DIR`); `--only console` names the console benchmark (alone, or beside capacity measures); `--quick` goes
to both; `--json FILE` writes both benchmarks' measures into one file. On the shared development machine, run it
under the benchmark lock: flock /tmp/cb-bench.lock .venv/bin/python benchmarks/run_all.py."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
CONSOLE = "console"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    capacity_only = [name for name in args.only if name != CONSOLE]
    quick = ["--quick"] if args.quick else []
    runs: list[tuple[list[str], Path]] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        if not args.only or capacity_only:
            runs.append(([str(HERE / "bench_capacity.py"), *rest, *quick,
                          *(f"--only={name}" for name in capacity_only)], Path(tmp, "capacity.json")))
        if not args.only or CONSOLE in args.only:
            runs.append(([str(HERE / "bench_console.py"), *quick], Path(tmp, "console.json")))
        status = 0
        for command, figures in runs:
            status = subprocess.call([sys.executable, *command, "--json", str(figures)]) or status
        if args.json:
            merge([figures for _command, figures in runs if figures.exists()], args.json)
    return status


def merge(files: list[Path], out: Path) -> None:
    """One JSON of every benchmark's measures (each file: {"machine", "quick", "measures": […]})."""
    parts = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    if parts:
        merged = {**parts[0], "measures": [m for part in parts for m in part["measures"]]}
        out.write_text(json.dumps(merged, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
