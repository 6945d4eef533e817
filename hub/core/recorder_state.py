"""The latest report of every recorder (NVR/DVR), in memory: what the alert rules and the pages read.

The recorders feature (hub/recorders) fills it from `recorder/{id}/health` messages and keeps it in SQL; the
alert engine and the camera page read it through the `RECORDER_STATES` service without knowing that feature.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract import RecorderChannel, RecorderHealth
from hub.core.features import ServiceKey


@dataclass(frozen=True, slots=True)
class RecorderView:
    key: str  # district/commune/id
    district: str
    commune: str
    slug: str
    health: RecorderHealth
    received: float  # hub time the report arrived

    @property
    def name(self) -> str:
        return self.health.name or self.slug


class RecorderStates:
    def __init__(self) -> None:
        self.items: dict[str, RecorderView] = {}

    def put(self, view: RecorderView) -> None:
        self.items[view.key] = view

    def of_camera(self, district: str, commune: str, slug: str) -> list[tuple[RecorderView, RecorderChannel]]:
        """The recorder channels that record this camera: a recorder of the same district whose box maps a
        channel to this camera id, in the camera's commune first (a camera id is unique on its box)."""
        found = [
            (r, ch)
            for r in self.items.values()
            if r.district == district
            for ch in r.health.channels
            if ch.camera == slug
        ]
        same = [x for x in found if x[0].commune == commune]
        return same or found


RECORDER_STATES = ServiceKey("recorder-states", RecorderStates)
