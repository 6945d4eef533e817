"""One module per kind of fault; each lists its scenarios in `SCENARIOS`, in the order they run."""

from __future__ import annotations

from devtools.drills.scenarios import broker
from devtools.drills.scenarios.common import Scenario

ALL: list[Scenario] = [*broker.SCENARIOS]
BY_NAME = {s.name: s for s in ALL}
