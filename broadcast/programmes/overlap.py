"""Conflicts between programmes on the same loudspeakers at overlapping times (PURE).

A programme occupies its speakers from each occurrence for its length: the items' durations played `repeats`
times with `gap_s` of silence between plays. Two slots conflict when the times overlap and they share a
speaker — or both target the whole commune (so conflicts are found even before any speaker has reported).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from broadcast.orders import Priority

PRIORITY_RANK = {Priority.NORMAL: 0, Priority.PRIORITY: 1, Priority.EMERGENCY: 2}
MIN_SLOT_S = 1.0  # a programme with unknown/zero durations still occupies its speakers


def programme_length_s(durations: Iterable[float], repeats: int, gap_s: float) -> float:
    one = sum(max(0.0, d) for d in durations)
    return max(MIN_SLOT_S, one * repeats + gap_s * max(0, repeats - 1))


@dataclass(frozen=True)
class Slot:
    programme_id: int | None  # None: the programme being saved, not stored yet
    title: str
    priority: Priority
    state: str
    start: datetime  # aware UTC
    end: datetime
    speakers: frozenset[str]  # speaker slugs in the commune
    whole_commune: bool


@dataclass(frozen=True)
class Conflict:
    occurrence_at: datetime  # of the programme being saved
    other_id: int
    other_title: str
    other_priority: Priority
    other_state: str
    other_start: datetime
    other_end: datetime
    speakers: tuple[str, ...]  # shared speakers ("" for all of the commune when neither resolved any)
    suggestion: str  # "after" (play after the other) or "replace" (take its place on those speakers)

    def to_json(self) -> dict[str, Any]:
        return {
            "occurrence_at": _z(self.occurrence_at),
            "other_id": self.other_id,
            "other_title": self.other_title,
            "other_priority": str(self.other_priority),
            "other_state": self.other_state,
            "other_start": _z(self.other_start),
            "other_end": _z(self.other_end),
            "speakers": list(self.speakers),
            "suggestion": self.suggestion,
        }


def _z(dt: datetime) -> str:
    """UTC ISO 8601 with Z, like every time in the API."""
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def slots_for(
    programme_id: int | None,
    title: str,
    priority: Priority,
    state: str,
    starts: Sequence[datetime],
    length_s: float,
    speakers: frozenset[str],
    whole_commune: bool,
) -> list[Slot]:
    span = timedelta(seconds=length_s)
    return [Slot(programme_id, title, priority, state, t, t + span, speakers, whole_commune) for t in starts]


def _shared(a: Slot, b: Slot) -> tuple[str, ...] | None:
    common = a.speakers & b.speakers
    if common:
        return tuple(sorted(common))
    if a.whole_commune and b.whole_commune:
        return ("",)
    return None


def suggestion(mine: Priority, other: Priority) -> str:
    """A higher priority takes the other's place; equal or lower plays after it."""
    return "replace" if PRIORITY_RANK[mine] > PRIORITY_RANK[other] else "after"


def find_conflicts(candidate: Sequence[Slot], others: Sequence[Slot]) -> list[Conflict]:
    """Every (candidate occurrence, other occurrence) pair that overlaps in time on a shared speaker."""
    out: list[Conflict] = []
    by_start = sorted(others, key=lambda o: o.start)
    for c in candidate:
        for o in by_start:
            if o.start >= c.end:
                break
            if o.end <= c.start or o.programme_id is None:
                continue
            shared = _shared(c, o)
            if shared is None:
                continue
            out.append(
                Conflict(
                    c.start,
                    o.programme_id,
                    o.title,
                    o.priority,
                    o.state,
                    o.start,
                    o.end,
                    shared,
                    suggestion(c.priority, o.priority),
                )
            )
    return sorted(out, key=lambda x: (x.occurrence_at, x.other_start))


def play_after_delta(conflicts: Sequence[Conflict]) -> timedelta:
    """How much later the programme must start to follow everything it collides with (same shift for every
    occurrence, so a daily programme keeps one time of day)."""
    if not conflicts:
        return timedelta(0)
    return max(c.other_end - c.occurrence_at for c in conflicts)
