"""The TwiML checker is the simulator's, not production code: outside ``ivr/simulator/`` no module of the product
imports it (tests may; docs/architecture.md §Telephony seam)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PRODUCT = ("callback", "ivr", "survey", "worker")
CHECKER = "ivr.simulator.twiml_spec"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_only_the_simulator_imports_the_twiml_checker() -> None:
    importers = {
        path.relative_to(ROOT).as_posix()
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
        if CHECKER in imported_modules(path)
    }
    assert importers, "the simulator itself should import the checker; the scan found nothing"
    assert all(name.startswith("ivr/simulator/") for name in importers), sorted(importers)
