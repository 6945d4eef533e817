"""Per-device quotas, counted by the hub over one-minute windows (ingest calls this for every message).

The broker stops a device from writing where it must not; it cannot stop a device that floods its own topics.
The hub does: a device over its message rate, an edge box over its snapshot bytes, or a box reporting more
cameras than it may have, gets the extra messages dropped, each counted in the stats (`rejected`, by reason)
and logged once per device and window. A camera's messages count for the box it belongs to; a camera whose box
is not known yet counts on its own.

Windows are fixed minutes of the receive time (`now // 60`); the state is two dictionaries cleared at each new
minute, so the cost per message is a couple of dictionary updates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.core.config_mqtt import QuotaConfig

WINDOW_S = 60.0
MESSAGES = "quota_messages"
SNAPSHOT_BYTES = "quota_snapshot_bytes"
CAMERAS = "quota_cameras"


@dataclass
class Quotas:
    cfg: QuotaConfig
    window: int = -1
    messages: dict[str, int] = field(default_factory=dict)
    snapshot_bytes: dict[str, int] = field(default_factory=dict)
    over: set[tuple[str, str]] = field(default_factory=set)  # (device, reason) already logged this window

    def _roll(self, now: float) -> None:
        w = int(now // WINDOW_S)
        if w != self.window:
            self.window = w
            self.messages.clear()
            self.snapshot_bytes.clear()
            self.over.clear()

    def message(self, device: str, now: float, snapshot_bytes: int = 0) -> str | None:
        """Counts one message of `device`; the reason it must be dropped, or None when within its quota."""
        self._roll(now)
        limit = self.cfg.messages_per_min
        n = self.messages.get(device, 0) + 1
        self.messages[device] = n
        if limit and n > limit:
            return MESSAGES
        if snapshot_bytes:
            limit = self.cfg.snapshot_bytes_per_min
            total = self.snapshot_bytes.get(device, 0) + snapshot_bytes
            if limit and total > limit:
                return SNAPSHOT_BYTES
            self.snapshot_bytes[device] = total
        return None

    def cameras_allowed(self, known: int, adding: int) -> int:
        """Of `adding` new cameras for a box that has `known`, how many it may still get."""
        limit = self.cfg.cameras_per_box
        if not limit:
            return adding
        return max(0, min(adding, limit - known))

    def first_time(self, device: str, reason: str) -> bool:
        """True the first time in this window that `device` goes over for `reason` (log it then, once)."""
        if (device, reason) in self.over:
            return False
        self.over.add((device, reason))
        return True
