"""The content processing queue: a few ffmpeg jobs at once, emergencies first, a cap per person.

Processing is CPU bound (several ffmpeg passes per file), so only `max_parallel_jobs` run at once and the rest
wait. Waiting is not first come, first served: a job for an emergency broadcast goes before every normal one
(a flood warning must not wait behind a pile of announcements), and one person may have at most
`max_jobs_per_user` jobs waiting or running, so nobody can fill the queue for everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections import Counter
from collections.abc import AsyncIterator

URGENT, NORMAL = 0, 1


class QueueFull(Exception):
    """This person already has their share of jobs waiting or running."""


class JobQueue:
    def __init__(self, slots: int, per_user: int) -> None:
        self.slots = slots
        self.per_user = per_user
        self.running = 0
        self.by_user: Counter[str] = Counter()
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self.urgent_first = 0  # times an urgent job was started ahead of normal ones waiting

    @property
    def waiting(self) -> int:
        return sum(1 for *_, f in self._waiting if not f.done())

    @contextlib.asynccontextmanager
    async def slot(self, user: str, urgent: bool = False) -> AsyncIterator[None]:
        """Holds one processing slot for the body; raises QueueFull at once when `user` has too many jobs."""
        if self.by_user[user] >= self.per_user:
            raise QueueFull(user)
        self.by_user[user] += 1
        try:
            if self._waiting and all(f.done() for *_, f in self._waiting):
                self._waiting.clear()  # only waiters that gave up
            if self.running < self.slots and not self._waiting:
                self.running += 1
            else:
                fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                heapq.heappush(self._waiting, (URGENT if urgent else NORMAL, next(self._order), fut))
                try:
                    await fut  # the slot is handed over already counted in `running`
                except asyncio.CancelledError:
                    if fut.done() and not fut.cancelled():
                        self._release()  # handed a slot just as the caller gave up: pass it on
                    raise
            try:
                yield
            finally:
                self._release()
        finally:
            self.by_user[user] -= 1
            if not self.by_user[user]:
                del self.by_user[user]

    def _release(self) -> None:
        while self._waiting:
            prio, _, fut = heapq.heappop(self._waiting)
            if fut.done():  # cancelled while waiting
                continue
            if prio == URGENT and any(p == NORMAL and not f.done() for p, _, f in self._waiting):
                self.urgent_first += 1
            fut.set_result(None)  # the slot moves to this waiter: `running` stays
            return
        self.running -= 1
