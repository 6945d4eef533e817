"""What the speaker registry tells the rest of the hub: which receivers went silent, and SPEAKER_OFFLINE facts
for the alert engine (never about a receiver still waiting for approval)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from hub.core.facts import Fact, FactKind

if TYPE_CHECKING:
    from broadcast.speakers.live import SpeakerLive

ONLINE, OFFLINE, STALE = "online", "offline", "stale"


def stale_speakers(speakers: Iterable[SpeakerLive], now: float, stale_after_s: float) -> list[SpeakerLive]:
    """Online speakers not heard from for `stale_after_s` (a receiver whose link died without the broker
    noticing yet, or a hub that missed the Last Will)."""
    return [
        s
        for s in speakers
        if s.status == ONLINE and s.last_seen is not None and now - s.last_seen > stale_after_s
    ]


def offline_facts(speakers: Iterable[SpeakerLive], now: float) -> list[Fact]:
    """SPEAKER_OFFLINE for every speaker that is offline or has gone silent, since when it did."""
    out = []
    for s in speakers:
        if s.status not in (OFFLINE, STALE) or s.pending:  # an unapproved receiver is named nowhere
            continue
        summary = "Loa mất kết nối" if s.status == OFFLINE else "Loa không gửi báo cáo"
        out.append(
            Fact(
                kind=FactKind.SPEAKER_OFFLINE,
                district=s.district,
                commune=s.commune,
                device=s.key,
                since=s.status_since or now,
                name=s.name or s.slug,
                summary=summary,
                detail={"status": s.status, "village": s.village},
            )  # fmt: skip
        )
    return out
