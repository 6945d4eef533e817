"""The simulator's cameras as it keeps them: each camera's spec, behaviour and running pipelines (devtools/camsim.py
drives them from the GLib main loop and GStreamer's threads)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from devtools.camsim_pipeline import Scene
from devtools.camsim_spec import HEALTHY, CameraSpec


@dataclass
class LiveMedia:
    """One running pipeline of a camera (one per mount: the media is shared by its clients)."""

    media: Any
    scene: Scene | None
    kept: bool = False  # holds a prepare count of ours: the pipeline outlives its clients (see _keep)
    released: bool = False  # let go by _release: never kept again


@dataclass
class Camera:
    spec: CameraSpec
    look: int
    behaviour: str
    streaming: bool = True
    factory: Any = None
    roles: list[str] = field(default_factory=list)  # RTSP auth roles admitted (empty: no auth on the server)
    media: list[LiveMedia] = field(default_factory=list)
    idle_since: float | None = None  # monotonic time the last session left
    frozen_label_at: float | None = None  # a stuck encoder's one picture, also in pipelines started later

    def label_time(self) -> float:
        if self.behaviour != "frozen":
            return time.time()
        if self.frozen_label_at is None:
            self.frozen_label_at = time.time()
        return self.frozen_label_at

    @property
    def path(self) -> str:
        return f"/{self.spec.name}"

    def can(self, behaviour: str) -> str | None:
        """Why this camera cannot show `behaviour`, or None when it can."""
        if self.spec.clip and behaviour not in HEALTHY:
            return "a clip camera plays its file as it is: only stop and resume apply"
        if behaviour == "blurred" and not self.spec.blur:
            return "behaviour 'blurred' needs the camera to be started with blur enabled (it costs CPU)"
        return None
