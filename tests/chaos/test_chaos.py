"""The chaos run (tests/chaos/harness.py; docs/architecture.md §Source of truth): a week on real processes
survives a worker killed mid-call, beat killed, Redis restarted and flushed, every database backend terminated
and a flood of duplicate and out-of-order webhooks — recovering on its own, each fault within the bound
worker/recovery.py states.

`make test` runs the short version (three halls); `make chaos` the full one (CHAOS_FULL=1: five halls of
twenty, calling hours that close for a minute on the way). Both print the table of faults and invariants."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chaos.harness import ChaosConfig, run_chaos

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


def test_the_week_recovers_on_its_own_from_every_fault(tmp_path: Path) -> None:
    config = ChaosConfig.full() if os.environ.get("CHAOS_FULL") else ChaosConfig.short()

    result = run_chaos(config, tmp_path)

    assert result.held, result.table()
