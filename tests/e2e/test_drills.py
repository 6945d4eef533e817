"""The fault drills (devtools/drills), short form: each scenario on the real stack, each well under a minute.

The full form with real durations and figures is bench/drills.py. Scenarios with a network namespace or `tc`
need root, as CI runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.drills.__main__ import run_one
from devtools.drills.scenarios import ALL, Scenario


@pytest.mark.parametrize("scenario", ALL, ids=[s.name for s in ALL])
def test_drill_short_form_passes(scenario: Scenario, tmp_path: Path) -> None:
    outcome = run_one(scenario, short=True, base=tmp_path)
    assert outcome.passed, f"{outcome.scenario}: expected {outcome.expected}; observed {outcome.observed}"
