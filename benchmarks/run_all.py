"""`make bench`: the capacity benchmark (benchmarks/bench_capacity.py), every measure at full size;
arguments pass through (e.g. `--only draw`, `--quick`, `--json FILE`). On the shared development machine, run
it under the benchmark lock: flock /tmp/cb-bench.lock .venv/bin/python benchmarks/run_all.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    return subprocess.call([sys.executable, str(HERE / "bench_capacity.py"), *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
