"""Watching an upstream during a relay, as pure functions of the chunks the hub cut and their times.

Each chunk (`chunk_s` of audio on the hub's timeline) is `ok`, `silent` (RMS below `silence_dbfs`) or `lost`
(less than half of it arrived). A run of bad chunks becomes a gap once it lasts `gap_after_s` ("beyond a few
seconds"): from then on the gap is logged, alerted and (with a fallback recording) filled, until an `ok` chunk
ends it. The gap's start is the first bad chunk's, so the report says how long the upstream was really away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

ChunkState = Literal["ok", "silent", "lost"]
FLOOR_DBFS = -120.0


def rms_dbfs(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    if not samples.size:
        return FLOOR_DBFS
    ms = float(np.dot(samples, samples)) / samples.size
    return FLOOR_DBFS if ms <= 0 else max(FLOOR_DBFS, 10 * math.log10(ms))


def classify(received: int, expected: int, level_dbfs: float, silence_dbfs: float) -> ChunkState:
    if received * 2 < expected:
        return "lost"
    return "silent" if level_dbfs < silence_dbfs else "ok"


@dataclass
class Gap:
    start: float
    end: float | None
    kind: Literal["lost", "silent"]  # what began it (the worse of the two when both happen: lost)
    fallback: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"start": self.start, "end": self.end, "kind": self.kind, "fallback": self.fallback}


@dataclass
class Watch:
    """The state of one relay's upstream; `step` is called once per chunk with its start time."""

    chunk_s: float
    gap_after_s: float
    relayed_s: float = 0.0
    gap_s: float = 0.0
    fallback_s: float = 0.0
    gaps: list[Gap] = field(default_factory=list)
    bad_since: float | None = None  # first chunk of the current bad run
    bad_kind: Literal["lost", "silent"] = "silent"

    @property
    def open_gap(self) -> Gap | None:
        return self.gaps[-1] if self.gaps and self.gaps[-1].end is None else None

    def step(self, t: float, state: ChunkState, has_fallback: bool) -> tuple[bool, Gap | None, Gap | None]:
        """Account one chunk starting at `t`. Returns (fill this chunk from the fallback?, gap that began now,
        gap that ended now)."""
        if state == "ok":
            self.relayed_s += self.chunk_s
            self.bad_since = None
            gap = self.open_gap
            if gap is not None:
                gap.end = t
                return False, None, gap
            return False, None, None
        if self.bad_since is None:
            self.bad_since, self.bad_kind = t, state
        elif state == "lost":
            self.bad_kind = "lost"
        began = None
        gap = self.open_gap
        if gap is None and t + self.chunk_s - self.bad_since >= self.gap_after_s:
            gap = Gap(self.bad_since, None, self.bad_kind, has_fallback)
            self.gaps.append(gap)
            # the chunks of the run before it became a gap were aired as they came (silence, or nothing)
            self.gap_s += t - self.bad_since
            began = gap
        if gap is None:
            return False, None, None
        if state == "lost":
            gap.kind = "lost"
        self.gap_s += self.chunk_s
        if has_fallback:
            self.fallback_s += self.chunk_s
        return has_fallback, began, None

    def close(self, t: float) -> None:
        gap = self.open_gap
        if gap is not None:
            gap.end = t
