"""One module per kind of fault; each lists its scenarios in `SCENARIOS`, in the order they run."""

from __future__ import annotations

from devtools.drills.scenarios import broker, edge, hub, killed_run, link, speaker, uplink
from devtools.drills.scenarios.common import Scenario

ALL: list[Scenario] = [
    *uplink.SCENARIOS,
    *link.SCENARIOS,
    *broker.SCENARIOS,
    *edge.SCENARIOS,
    *speaker.SCENARIOS,
    *hub.SCENARIOS,
    *killed_run.SCENARIOS,
]
BY_NAME = {s.name: s for s in ALL}
