"""Run every benchmark in turn (`make bench`); each prints its own figures and its baseline from the same run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = ("bench_import.py", "bench_draw.py", "bench_ivr.py")


def main() -> int:
    failed = 0
    for name in BENCHMARKS:
        print(f"\n===== {name} =====", flush=True)
        failed += subprocess.call([sys.executable, str(HERE / name), *sys.argv[1:]]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
