"""Generated ledger CSV files (the columns of a 受理台账 export, Chinese headers)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

HEADER = ["受理编号", "事项名称", "办件类型", "申请人", "联系电话", "受理窗口", "经办人", "受理时间", "承诺办结时间",
          "办结时间"]
WINDOWS = ["市场监管窗口", "不动产登记窗口", "社保医保窗口", "公安户政窗口", "税务窗口", "综合受理窗口"]
ITEMS = [("个体工商户设立登记", "即办件"), ("不动产转移登记", "承诺件"), ("社保卡补换", "即办件"),
         ("居住证办理", "承诺件"), ("发票领用", "即办件")]


def _mixed_phone(rng: random.Random) -> str:
    """What a real month holds: mostly mobiles, some written +86 with spaces, landlines, the odd broken one."""
    r = rng.random()
    if r < 0.85:
        return f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
    if r < 0.93:
        return f"+86 13{rng.randrange(10)} {rng.randrange(10**4):04d} {rng.randrange(10**4):04d}"
    if r < 0.98:
        return f"0536-{rng.randrange(2000000, 9000000)}"
    return "12345"


def monthly_ledger(path: Path, rows: int, seed: int = 1) -> Path:
    """A month's ledger (November 2026) of ``rows`` cases across six windows and 40 staff. Cached by name."""
    if path.exists():
        return path
    rng = random.Random(seed)
    partial = path.with_suffix(".part")
    with partial.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for i in range(rows):
            day = 1 + i % 28
            name, kind = ITEMS[i % len(ITEMS)]
            out.writerow([f"BJ{i:09d}", name, kind, "张三", _mixed_phone(rng), WINDOWS[i % 6], f"员工{i % 40}",
                          f"2026-11-{day:02d} {9 + i % 8:02d}:{i % 60:02d}", f"2026-11-{day:02d}", ""])
    partial.replace(path)
    return path


def callable_ledger(path: Path, rows: int, accepted: str) -> Path:
    """``rows`` cases, each with its own mobile number, all accepted at ``accepted`` (local "YYYY-MM-DD HH:MM"):
    a week's ledger for the dialer and webhook measures, where every case may be drawn and called."""
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for i in range(rows):
            name, kind = ITEMS[i % len(ITEMS)]
            out.writerow([f"CB{i:09d}", name, kind, "李四", f"139{i:08d}", WINDOWS[i % 6], f"员工{i % 40}",
                          accepted, "", ""])
    return path
