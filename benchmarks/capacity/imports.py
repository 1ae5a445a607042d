"""Measure 1: a monthly ledger file into a fresh hall, foreign keys on, as a user runs it (`callback import-ledger`).

For each size (100,000 and 1,000,000 rows; --quick: 2,000 and 10,000) a fresh PostgreSQL database migrated to head
gets the file through the CLI in a subprocess. Its whole process tree (the CLI and any worker processes it starts)
is sampled every 50 ms and the peak of the summed RSS is reported — shared pages count once per process, so this
is an upper bound. The baseline is a bare `csv.reader` pass over the same file in a fresh Python process,
sampled the same way, run just before each import.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pgdb

from capacity.figures import Figure, judged
from capacity.ledger_files import monthly_ledger
from capacity.processes import BIN, CpuSampler, Sampled, busy_seconds, run_sampled

BARE_PARSE = ("import csv, sys\n"
              "with open(sys.argv[1], encoding='utf-8', newline='') as f:\n"
              "    print(sum(1 for _ in csv.reader(f)) - 1)\n")
SIZES = {False: ((100_000, 10.0), (1_000_000, 60.0)), True: ((2_000, 10.0), (10_000, 60.0))}
MEMORY_LIMIT_MB = 300


def bare_parse(path: Path) -> Sampled:
    """Parsing the file with the csv module alone, in a fresh interpreter."""
    return run_sampled([sys.executable, "-c", BARE_PARSE, str(path)], {})


def import_once(path: Path, rows: int) -> tuple[Sampled, dict, float, float]:
    """Import into a fresh database: the run, sampled; the CLI's --json summary; the CPU seconds its database's
    PostgreSQL backends spent meanwhile; how busy the machine's cores were (every process counted)."""
    name = pgdb.unique_name(f"cb_bench_import_{rows}")
    url = pgdb.create_database(name)
    try:
        command = [str(BIN / "callback"), "import-ledger", str(path), "--hall", f"IMP{rows}", "--json"]
        machine = busy_seconds()
        with CpuSampler({}, name) as cpu:
            run = run_sampled(command, {"DATABASE_URL": url})
        busy = min(1.0, (busy_seconds() - machine) / (run.seconds * (os.cpu_count() or 1)))
    finally:
        pgdb.drop_database(name)
    return run, json.loads(run.stdout), cpu.spent("db"), busy


def _label(rows: int) -> str:
    return f"{rows:,}-row monthly ledger"


def measure(out_dir: Path, quick: bool) -> list[Figure]:
    figures: list[Figure] = []
    for rows, limit in SIZES[quick]:
        path = monthly_ledger(out_dir / f"ledger-{rows}.csv", rows)
        parse = bare_parse(path)
        run, summary, db_cpu, busy = import_once(path, rows)
        ours = (run.cpu_seconds + db_cpu) / (run.seconds * (os.cpu_count() or 1))
        note = (f"{summary['imported']:,} rows imported, {len(summary['rejected']):,} rejected; CPU: import "
                f"process {run.cpu_seconds:.1f} s, PostgreSQL {db_cpu:.1f} s; the cores were {busy:.0%} busy, "
                f"{ours:.0%} by the import")
        figures.append(judged(f"import.{rows}.seconds", f"import {_label(rows)}, fresh hall", run.seconds, "s",
                              target=f"≤ {limit:.0f} s", ok=lambda v, lim=limit: v <= lim, quick=quick,
                              baseline=parse.seconds, baseline_label="bare csv parse of the file", note=note))
        figures.append(judged(f"import.{rows}.peak_rss_mb", "  peak RSS, all import processes summed",
                              run.peak_rss_mb, "MB", target=f"< {MEMORY_LIMIT_MB} MB",
                              ok=lambda v: v < MEMORY_LIMIT_MB, quick=quick, baseline=parse.peak_rss_mb,
                              baseline_label="bare csv parse process",
                              note=f"up to {run.processes} processes; summed PSS (shared pages counted once) "
                                   f"peaked at {run.peak_pss_mb:,.0f} MB"))
    return figures
