"""When a live session ends: the officer stops it, the phone stops sending for longer than the grace, or the
time limit is reached. Pure rules: every decision takes `now` (epoch seconds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class EndReason(StrEnum):
    STOPPED = "stopped"  # the officer pressed stop
    DROPPED = "dropped"  # no audio from the phone for longer than the grace
    TIME_LIMIT = "time_limit"
    PREEMPTED = "preempted"  # an airing of higher priority took the speakers


@dataclass(frozen=True, slots=True)
class LiveLimits:
    grace_s: float = 10.0  # a phone on 4G may stall a few seconds; longer means the officer is gone
    max_duration_s: float = 1800.0


@dataclass(slots=True)
class LiveSession:
    session_id: str
    started_at: float
    limits: LiveLimits
    last_audio_at: float = field(init=False)
    bytes_in: int = 0
    chunks: int = 0
    ended: EndReason | None = None
    ended_at: float | None = None

    def __post_init__(self) -> None:
        # the grace runs from the start too: a phone that never sends anything is dropped
        self.last_audio_at = self.started_at

    def audio(self, size: int, now: float) -> None:
        self.bytes_in += size
        self.chunks += 1
        self.last_audio_at = now

    def due_end(self, now: float) -> EndReason | None:
        """The reason the session must end at `now`, or None while it may go on."""
        if self.ended is not None:
            return self.ended
        if now - self.started_at >= self.limits.max_duration_s:
            return EndReason.TIME_LIMIT
        if now - self.last_audio_at > self.limits.grace_s:
            return EndReason.DROPPED
        return None

    def end(self, reason: EndReason, now: float) -> bool:
        """Marks the end once; False when it had already ended (a stop racing a drop)."""
        if self.ended is not None:
            return False
        self.ended, self.ended_at = reason, now
        return True

    def next_check_in(self, now: float) -> float:
        """Seconds until `due_end` could change without new audio."""
        to_limit = self.started_at + self.limits.max_duration_s - now
        to_grace = self.last_audio_at + self.limits.grace_s - now
        return max(0.05, min(to_limit, to_grace) + 0.01)
