"""Sequence numbers of InfluxDB points, so that MQTT messages are acknowledged only once their points are safe.

Every point added to the writer's buffer gets the next number (`added` counts them). `mark()` is the lowest
number not yet written to InfluxDB, spilled to disk, refused as bad data or dropped (counted): every point
numbered below it is settled. Ingest notes `added` after each message; the hub acknowledges the message once
`mark()` has reached that note (and its SQL effects are committed).

The buffer is a run `head`..`added` at its back, behind batches put back after a failed write (`front`: [lowest
number, lines left]); `out` counts the lowest number of each batch on its way to InfluxDB or the spill file.
Numbers of a put-back batch are not kept one by one: its lowest stands for all of them until the last of its
lines is taken again, which can only hold an acknowledgement back, never send one early.
"""

from __future__ import annotations

from collections import Counter, deque


class SeqMarks:
    def __init__(self) -> None:
        self.added = 0
        self.head = 0
        self.front: deque[list[int]] = deque()
        self.out: Counter[int] = Counter()

    def mark(self) -> int:
        low = self.head if self.head < self.added else self.added
        for first, _n in self.front:
            low = min(low, first)
        if self.out:
            low = min(low, min(self.out))
        return low

    def consume(self, n: int) -> int:
        """`n` lines left the front of the buffer; returns the lowest number among them."""
        low: int | None = None
        front = self.front
        while n and front:
            seg = front[0]
            low = seg[0] if low is None else min(low, seg[0])
            k = min(n, seg[1])
            seg[1] -= k
            n -= k
            if not seg[1]:
                front.popleft()
        if n:
            low = self.head if low is None else min(low, self.head)
            self.head += n
        return self.added if low is None else low

    def taken(self, n: int) -> int:
        """`n` lines left the buffer as one batch, still on their way; its lowest number (`settled` later)."""
        low = self.consume(n)
        self.out[low] += 1
        return low

    def settled(self, low: int) -> None:
        self.out[low] -= 1
        if self.out[low] <= 0:
            del self.out[low]

    def put_back(self, low: int, n: int) -> None:
        """A batch returned to the front of the buffer (`n` of its lines; the rest were dropped)."""
        if n:
            self.front.appendleft([low, n])
        self.settled(low)
