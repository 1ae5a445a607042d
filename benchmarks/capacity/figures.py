"""A measured figure, its baseline from the same run, its target, and how they are printed."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Figure:
    """One line of the report. ``met`` is None when there is no target or the run used --quick sizes."""

    key: str  # stable machine name, e.g. "import.100k.seconds"
    label: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    target: str = ""  # e.g. "≤ 10 s"
    met: bool | None = None
    note: str = ""

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def judged(key: str, label: str, value: float, unit: str, *, target: str, ok: Callable[[float], bool],
           quick: bool, **extra: object) -> Figure:
    """A figure with a target; with --quick sizes the target is printed but not judged."""
    return Figure(key, label, value, unit, target=target, met=None if quick else ok(value), **extra)  # type: ignore[arg-type]


def _number(value: float, unit: str) -> str:
    if unit in ("rows", "calls", "requests", "errors", "halls", "cases", "processes"):
        return f"{value:,.0f} {unit}"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:,.3g} {unit}" if abs(value) < 1 else f"{value:,.2f} {unit}"


def line(f: Figure) -> str:
    text = f"  {f.label:<52} {_number(f.value, f.unit):>16}"
    if f.baseline is not None:
        text += f"   baseline {_number(f.baseline, f.unit)} ({f.baseline_label})"
    if f.target:
        verdict = {True: "met", False: "NOT met", None: "not judged at --quick sizes"}[f.met]
        text += f"   target {f.target}: {verdict}"
    if f.note:
        text += f"   [{f.note}]"
    return text


def machine() -> str:
    load = os.getloadavg()
    return (f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python "
            f"{platform.python_version()}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min)")


def load_now() -> float:
    return os.getloadavg()[0]
