"""What the hub knows of one loudspeaker receiver right now (the registry keeps one per speaker)."""

from __future__ import annotations

from dataclasses import dataclass

ONLINE, OFFLINE, STALE, UNKNOWN = "online", "offline", "stale", "unknown"


@dataclass
class SpeakerLive:
    key: str
    district: str
    commune: str
    slug: str
    name: str | None = None
    village: str | None = None
    status: str = UNKNOWN
    status_since: float | None = None
    version: str | None = None
    volume: int | None = None
    amplifier: str | None = None
    signal_dbm: float | None = None
    disk_free_mb: float | None = None
    playing: str | None = None
    # Level sent to the amplifier, latest measurement: a health interval while playing or a whole airing.
    level_dbfs: float | None = None
    level_at: float | None = None
    level_airing: str | None = None
    clock_offset_ms: float | None = None  # the receiver's own clock against NTP
    last_seen: float | None = None
    in_db: bool = False
    pending: bool = False
    series: str | None = None  # line-protocol series key of its speaker_health points

    @property
    def online(self) -> bool:
        return self.status == ONLINE
