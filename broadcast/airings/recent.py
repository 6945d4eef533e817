"""Airings that finished badly, remembered by the dispatcher for the alert facts (BROADCAST_FAILED,
BROADCAST_PARTIAL) while they are within `dispatch.failure_facts_h`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC

from broadcast.airings.models import AIRING_FAILED, AIRING_PARTIAL, Airing
from hub.core.facts import Fact, FactKind


@dataclass(frozen=True)
class FinishedAiring:
    """What the alert facts need of an airing that finished badly (kept in memory by the dispatcher)."""

    airing_id: str
    district: str
    commune: str
    title: str
    status: str
    targeted: int
    played: int
    finished_at: float  # epoch s


def airing_facts(items: Iterable[FinishedAiring], now: float, window_s: float) -> list[Fact]:
    """BROADCAST_FAILED (no speaker played) and BROADCAST_PARTIAL (some did not) for airings that finished
    within `window_s`; a late report that completes the airing removes its fact."""
    out = []
    for a in items:
        if now - a.finished_at > window_s:
            continue
        if a.status == AIRING_FAILED:
            kind, summary = FactKind.BROADCAST_FAILED, f"Không loa nào phát được ({a.targeted} loa)"
        elif a.status == AIRING_PARTIAL:
            kind = FactKind.BROADCAST_PARTIAL
            summary = f"Chỉ {a.played}/{a.targeted} loa phát được"
        else:
            continue
        out.append(
            Fact(
                kind=kind,
                district=a.district,
                commune=a.commune,
                device=a.airing_id,
                since=a.finished_at,
                name=a.title,
                summary=summary,
                detail={"targeted": a.targeted, "played": a.played},
            )  # fmt: skip
        )
    return out


class RecentAirings:
    """The finished airings of the facts' window, by airing id."""

    def __init__(self) -> None:
        self.items: dict[str, FinishedAiring] = {}

    def remember(self, a: Airing, now: float, window_s: float) -> None:
        if a.finished_at is None:
            return
        finished = a.finished_at.replace(tzinfo=UTC).timestamp()
        self.items[a.id] = FinishedAiring(
            a.id, a.district, a.commune, a.title, a.status, a.targeted, a.played, finished
        )
        horizon = now - window_s
        for k in [k for k, v in self.items.items() if v.finished_at < horizon]:
            del self.items[k]

    def facts(self, now: float, window_s: float) -> list[Fact]:
        return airing_facts(self.items.values(), now, window_s)
