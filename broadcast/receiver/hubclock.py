"""The hub's time as a receiver can tell it, so that a receiver whose clock is off still starts on time.

Every order carries the hub's clock at sending (`SpeakerCommand.ts`). The receiver's clock at arrival minus that
is its offset plus the order's time in transit, which is never negative: the smallest of the last few samples
is the best estimate (a command held by the broker while the receiver was away only gives a larger one). Below
`THRESHOLD_S` the offset is not trusted (it may be transit alone) and nothing is corrected; above it the
receiver plans and reports its airings in hub time, and says so in its health (`clock_offset_ms`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

THRESHOLD_S = 0.5
SAMPLES = 8


class HubClock:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.samples: deque[float] = deque(maxlen=SAMPLES)
        self.offset_s = 0.0  # receiver − hub, applied

    def observe(self, hub_ts: float, now: float) -> None:
        """An order stamped `hub_ts` by the hub arrived at `now` on this receiver's clock."""
        self.samples.append(now - hub_ts)
        estimate = min(self.samples)
        self.offset_s = estimate if abs(estimate) >= THRESHOLD_S else 0.0

    @property
    def offset_ms(self) -> float | None:
        """For the health report: None while no correction applies."""
        return round(self.offset_s * 1000, 1) if self.offset_s else None

    def __call__(self) -> float:
        return self.clock() - self.offset_s
