"""The capacity benchmark (README "Benchmarks"): what a province — 1,000 halls — needs of one 2-core machine with PostgreSQL
and Redis local, each figure next to a baseline measured in the same run.

| measure | target |
| import  | a 100,000-row monthly ledger into a fresh hall ≤ 10 s, 1,000,000 rows ≤ 60 s, foreign keys on; peak RSS of
|         | all import processes together < 300 MB                 (baseline: a bare csv parse of the same file)
| draw    | the weekly draw of 1,000 halls × 5,000 cases ≤ 60 s through two Celery workers; one hall of 1 M cases
|         | ≤ 3 s                                               (baseline: SELECT count(*) over the same cases)
| dialer  | CALLS_PER_SECOND=10, two Celery workers, the simulator, 2 minutes: ≥ 9.5 calls started a second and never
|         | more than 10 in any 1-second window                           (baseline: the configured rate)
| webhook | the IVR answer webhook under gunicorn at a constant 200 requests/s for 60 s: p99 ≤ 50 ms, no errors; CPU
|         | per request of the app and the database        (baseline: bare Flask + RequestValidator + VoiceResponse
|         |                                                  + one single-row INSERT, the same load)

    .venv/bin/python benchmarks/bench_capacity.py [--only import|draw|dialer|webhook ...] [--quick] [--json FILE]

--quick runs every measure at small sizes (for the test that runs the harness; targets are then not judged).
It needs PostgreSQL and Redis (scripts/ensure-services.sh); it creates and drops its own databases, claims a
Redis database of its own, and exits 0 when every measure ran, whether or not the targets were met.
On the shared development machine, run it under the benchmark lock: flock /tmp/cb-bench.lock … (notes/HELPERS.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from capacity import dialer, draws, imports, webhook  # noqa: E402  (after the path set-up above)
from capacity.figures import Figure, line, load_now, machine  # noqa: E402

MEASURES: dict[str, tuple[str, Callable[[Path, bool], list[Figure]]]] = {
    "import": ("monthly ledger import, fresh hall, foreign keys on", imports.measure),
    "draw": ("weekly draw, 1,000 halls × 5,000 cases, and one hall of 1 M cases", draws.measure),
    "dialer": ("dialer on the simulator, CALLS_PER_SECOND=10, two Celery workers", dialer.measure),
    "webhook": ("IVR answer webhook under gunicorn, constant 200 requests/s", webhook.measure),
}


def run(names: list[str], out_dir: Path, quick: bool) -> list[dict[str, object]]:
    sections = []
    for name in names:
        title, measure = MEASURES[name]
        print(f"\n== {name}: {title}{' (--quick sizes)' if quick else ''}", flush=True)
        load_before, started = load_now(), time.monotonic()
        figures = measure(out_dir, quick)
        for figure in figures:
            print(line(figure), flush=True)
        print(f"  ({time.monotonic() - started:.0f} s; load average {load_before:.2f} before, {load_now():.2f} after)")
        sections.append({"measure": name, "load_before": load_before, "load_after": load_now(),
                         "figures": [f.as_json() for f in figures]})
    return sections


def summary(sections: list[dict[str, object]]) -> None:
    judged = [f for s in sections for f in s["figures"] if f["met"] is not None]  # type: ignore[union-attr]
    if not judged:
        return
    missed = [f["label"].strip() for f in judged if not f["met"]]
    print(f"\ntargets met: {len(judged) - len(missed)} of {len(judged)}"
          + (f"; NOT met: {'; '.join(missed)}" if missed else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=list(MEASURES), help="run this measure (repeatable)")
    parser.add_argument("--quick", action="store_true", help="small sizes, targets not judged")
    parser.add_argument("--out", type=Path, default=HERE.parent / "bench-out", help="generated files (cached)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}", flush=True)
    sections = run(args.only or list(MEASURES), args.out, args.quick)
    summary(sections)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "quick": args.quick, "measures": sections},
                                        ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
