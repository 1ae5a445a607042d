"""Ledger import benchmark: `callback import-ledger` into PostgreSQL vs a bare csv parse of the same file.

Generates an N-row ledger CSV (default 1,000,000), then in one run measures:
  - rows/s of a bare `csv.reader` pass over the file (the baseline),
  - rows/s of `callback import-ledger` into a fresh PostgreSQL database (a subprocess, as a user runs it),
  - their ratio, and the import's peak RSS (max resident set size of the child processes),
  - rows/s of importing the same file again (every row unchanged), and the machine's load average, since the
    figures only compare within one run on a shared machine.
Target: ratio >= 1/30, peak RSS < 300 MB.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
HEADER = ["受理编号", "事项名称", "办件类型", "申请人", "联系电话", "受理窗口", "经办人", "受理时间", "承诺办结时间", "办结时间"]
WINDOWS = ["市场监管窗口", "不动产登记窗口", "社保医保窗口", "公安户政窗口", "税务窗口", "综合受理窗口"]


def generate(path: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(rows):
            r = rng.random()
            if r < 0.85:
                phone = f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
            elif r < 0.93:
                phone = f"+86 13{rng.randrange(10)} {rng.randrange(10**4):04d} {rng.randrange(10**4):04d}"
            elif r < 0.98:
                phone = f"0536-{rng.randrange(2000000, 9000000)}"
            else:
                phone = "12345"
            day = 1 + i % 28
            w.writerow([f"BJ{i:09d}", "个体工商户设立登记", "即办件", "张三", phone, WINDOWS[i % 6], f"员工{i % 40}",
                        f"2026-11-{day:02d} {9 + i % 8:02d}:{i % 60:02d}", f"2026-11-{day:02d}", ""])


def bare_parse(path: Path) -> float:
    start = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as f:
        n = sum(1 for _ in csv.reader(f)) - 1
    return n / (time.perf_counter() - start)


def import_into_fresh_db(path: Path, rows: int) -> tuple[float, float, float]:
    name = f"bench_import_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    env = {**os.environ, "DATABASE_URL": url}
    exe = str(Path(sys.executable).with_name("callback"))
    try:
        subprocess.run([exe, "init-db"], env=env, check=True, capture_output=True)
        start = time.perf_counter()
        subprocess.run([exe, "import-ledger", str(path), "--json"], env=env, check=True, stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        start = time.perf_counter()  # the same file again: every row unchanged
        subprocess.run([exe, "import-ledger", str(path), "--json"], env=env, check=True, stdout=subprocess.DEVNULL)
        again = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return rows / elapsed, rows / again, peak_mb


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()
    args.out.mkdir(exist_ok=True)
    path = args.out / f"ledger-{args.rows}.csv"
    if not path.exists():
        generate(path, args.rows)
    load_before = os.getloadavg()
    baseline = bare_parse(path)
    rate, again, peak_mb = import_into_fresh_db(path, args.rows)
    baseline_after = bare_parse(path)
    ratio = rate / baseline
    print(f"machine                   {os.cpu_count()} CPUs, load average {load_before[0]:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after (1 min)")
    print(f"rows                      {args.rows:,}")
    print(f"bare csv parse            {baseline:,.0f} rows/s  (baseline; {baseline_after:,.0f} rows/s after the imports)")
    print(f"import-ledger → PostgreSQL {rate:,.0f} rows/s  (fresh database: every row inserted)")
    print(f"re-import, all unchanged  {again:,.0f} rows/s  (ratio 1/{baseline / again:.1f})")
    print(f"ratio                     1/{1 / ratio:.1f}  (target ≥ 1/30: {'met' if ratio >= 1 / 30 else 'NOT met'})")
    print(f"peak RSS                  {peak_mb:,.0f} MB  (target < 300 MB: {'met' if peak_mb < 300 else 'NOT met'})")


if __name__ == "__main__":
    main()
