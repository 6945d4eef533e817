"""Confirmation with hysteresis: a problem is reported after it held for N probes, cleared after M without.

Pure: the state is what was seen, the step takes one probe's raw findings. One glitch (a truck filling the
picture, a frame smeared by the network) neither raises nor clears anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from contract import Problem


@dataclass
class Confirmation:
    raise_after: int
    clear_after: int
    reported: set[Problem] = field(default_factory=set)
    seen: dict[Problem, int] = field(default_factory=dict)  # consecutive probes a problem was found
    missed: dict[Problem, int] = field(default_factory=dict)  # consecutive probes a reported one was not

    def __post_init__(self) -> None:
        if self.raise_after < 1 or self.clear_after < 1:
            raise ValueError("raise_after and clear_after must be at least 1")

    def step(self, found: Iterable[Problem]) -> list[Problem]:
        """Feed one probe's raw problems; the problems to report now, in the contract's order."""
        now = set(found)
        for p in now:
            self.seen[p] = self.seen.get(p, 0) + 1
            self.missed.pop(p, None)
            if self.seen[p] >= self.raise_after:
                self.reported.add(p)
        for p in set(self.seen) - now:
            del self.seen[p]
        for p in self.reported - now:
            self.missed[p] = self.missed.get(p, 0) + 1
            if self.missed[p] >= self.clear_after:
                self.reported.discard(p)
                del self.missed[p]
        return self.current()

    def current(self) -> list[Problem]:
        return [p for p in Problem if p in self.reported]

    def reset(self) -> None:
        self.reported.clear()
        self.seen.clear()
        self.missed.clear()
