"""What the scheduler hands to the dispatcher: one airing of a programme on a set of speakers at an absolute
time. broadcast/scheduling/scheduler.py produces `AiringOrder`s; broadcast/airings/dispatcher.py sends them to receivers and
tracks what each speaker did."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Priority(StrEnum):
    NORMAL = "normal"  # thông thường
    PRIORITY = "priority"  # ưu tiên
    EMERGENCY = "emergency"  # khẩn cấp: airs at once, interrupting what plays


@dataclass(frozen=True, slots=True)
class PlayItem:
    content_id: int
    sha256: str  # of the processed MP3 the receiver downloads and verifies
    size: int  # bytes
    duration_s: float
    title: str


@dataclass(frozen=True, slots=True)
class RelaySpec:
    """A relay airing: the hub re-streams this allow-listed upstream (broadcast/relays) for `duration_s`."""

    upstream_id: int
    name: str
    url: str
    duration_s: float
    fallback: PlayItem | None = None  # played while the upstream is lost or silent
    chunk_s: float = 2.0  # the re-stream's chunks (broadcast.relay, set when it is dispatched)
    rate_hz: int = 16000
    token: str = ""  # names its chunks on the hub: /relay/{token}/{seq}.pcm


@dataclass(frozen=True, slots=True)
class AiringOrder:
    airing_id: str  # slug, unique per programme occurrence: the same occurrence always gets the same id
    programme_id: int
    title: str
    district: str
    commune: str
    speakers: tuple[str, ...]  # speaker ids (slugs) in the commune, or keys (`speaker_key_in`)
    items: tuple[PlayItem, ...]
    repeats: int  # 1–10 plays of the whole item list
    gap_s: float  # silence between repeats
    start_at: float  # absolute start, epoch seconds UTC
    priority: Priority
    relay: RelaySpec | None = None  # a relay plays no items: the receivers play the hub's re-stream


def speaker_key_in(district: str, commune: str, speaker: str) -> str:
    """The registry key (its topics' district/commune/id) of a speaker an order names: a slug for a speaker whose
    key is in the order's commune, the whole key for one that came in when its commune was merged into this one
    (it keeps its old topics: hub/core/area_merge.py)."""
    return speaker if "/" in speaker else f"{district}/{commune}/{speaker}"


class Dispatcher(Protocol):
    async def dispatch(self, order: AiringOrder) -> None:
        """Sends the playlist ahead of `start_at` (or at once for an emergency) and starts tracking it."""
        ...

    async def cancel(self, airing_id: str, reason: str) -> None:
        """Stops an airing that is prepared or playing (programme cancelled or replaced)."""
        ...
