"""The level of what the receiver sends to the amplifier, measured on the very blocks written to the sink (after
the volume), so that a speaker which played silence or far too quietly says so.

Two windows are kept: the whole airing (reported in its `finished`/`stopped` event) and the time since the last
health report (reported in `health.level_dbfs`). The player thread adds blocks; the event loop reads: a lock
keeps the sums consistent (a few additions per 20 ms block, never contended for long).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from contract.levels import LEVEL_FLOOR_DBFS

SILENCE_DBFS = -60.0  # a block quieter than this counts as silence (speech pauses are ~−45 dBFS and above)
FULL_SCALE = 32768.0


def dbfs(mean_square: float) -> float:
    """RMS level of normalised samples (full scale = 1.0) in dBFS, floored for digital silence."""
    if mean_square <= 0:
        return LEVEL_FLOOR_DBFS
    return max(LEVEL_FLOOR_DBFS, min(0.0, 10.0 * math.log10(mean_square)))


@dataclass(frozen=True, slots=True)
class Level:
    level_dbfs: float
    silent_s: float
    seconds: float


class _Window:
    __slots__ = ("silent", "squares", "samples")

    def __init__(self) -> None:
        self.squares = 0.0
        self.samples = 0
        self.silent = 0

    def level(self, rate: int) -> Level | None:
        if not self.samples:
            return None
        return Level(
            round(dbfs(self.squares / self.samples), 1),
            round(self.silent / rate, 2),
            self.samples / rate,
        )


class LevelMeter:
    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._airing = _Window()
        self._interval = _Window()

    def add(self, block: bytes) -> None:
        """One block of s16le mono as it went to the sink."""
        samples = np.frombuffer(block, dtype="<i2").astype(np.float64) / FULL_SCALE
        n = int(samples.size)
        if not n:
            return
        sq = float(np.dot(samples, samples))
        silent = n if dbfs(sq / n) < SILENCE_DBFS else 0
        with self._lock:
            for w in (self._airing, self._interval):
                w.squares += sq
                w.samples += n
                w.silent += silent

    def airing(self) -> Level | None:
        with self._lock:
            return self._airing.level(self.rate)

    def take_interval(self) -> Level | None:
        """The level since the previous call (the health report's window), and a new window."""
        with self._lock:
            out, self._interval = self._interval.level(self.rate), _Window()
        return out
