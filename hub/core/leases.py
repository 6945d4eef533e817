"""Leases held by this hub process, renewed periodically: leader duties (work that must run once among all
hubs) and partitions of the device traffic (hub/core/partitions.py). The rows and their SQL are
hub/core/lease_table.py.

A feature asks for its duty through its `FeatureContext`: `lead = ctx.leases.leader("alerts")`, then runs its
once-only work while `lead.is_leader`, reacts to `lead.on_change(callback)`, and calls `lead.fence(session)` inside
the transaction of every write that only the leader may make (it raises `LeaseLost` once another hub took
over, so that write is rolled back).

Safety of `is_leader`: a renewal that started at monotonic time t0 keeps the lease locally until t0 + ttl, never
longer; the database gives it until (its own now, later than t0) + ttl. A hub that cannot renew (database away,
process paused) stops acting before any other hub may take over. The fence catches what is already running.

The SQL runs in a thread of its own, not the hub's one SQL thread: a long ingest flush must not delay a renewal.
A web-only process (`--role web`) never leads (`can_lead=False`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session

from hub.core import lease_table
from hub.core.db import Database
from hub.core.lease_table import LEADER, Held, LeaseLost

log = logging.getLogger("hub.leases")
T = TypeVar("T")
ChangeCallback = Callable[[bool], Awaitable[None]]

__all__ = ["Lead", "LeaseLost", "Leadership", "Leases", "SoleLeader"]


class Lead(Protocol):
    """What a feature's once-only work asks of its leader lease."""

    @property
    def is_leader(self) -> bool: ...

    @property
    def token(self) -> int | None: ...

    def on_change(self, callback: ChangeCallback) -> None: ...

    def fence(self, s: Session) -> int | None: ...


class SoleLeader:
    """The lead of a process that is alone by construction (a test, a bench, a tool): always leading, nothing
    to fence, no change ever reported. A hub always uses `Leases.leader`, whether alone or not."""

    is_leader = True
    token: int | None = None  # no epochs: everything before this process is "earlier"

    def on_change(self, callback: ChangeCallback) -> None:
        return None

    def fence(self, s: Session) -> int | None:
        return None


@dataclass
class _Hold:
    token: int
    valid_until: float  # monotonic


class Leadership:
    """One duty that runs on one hub at a time (`Leases.leader`)."""

    def __init__(self, leases: Leases, duty: str) -> None:
        self.leases = leases
        self.duty = duty
        self.name = LEADER + duty
        self._callbacks: list[ChangeCallback] = []
        self._lock = asyncio.Lock()
        self._reported = False  # what the callbacks were last told

    @property
    def is_leader(self) -> bool:
        return self.leases.holds(self.name)

    @property
    def token(self) -> int | None:
        return self.leases.token(self.name)

    def on_change(self, callback: ChangeCallback) -> None:
        """`callback(True)` when this hub becomes the leader, `callback(False)` when it stops (in order)."""
        self._callbacks.append(callback)

    def fence(self, s: Session) -> int:
        """Inside a write's transaction: raises LeaseLost unless this hub still leads; returns the token."""
        return self.leases.fence(s, self.name)

    async def _tell(self, leading: bool) -> None:
        async with self._lock:
            if leading == self._reported:
                return
            self._reported = leading
            for cb in self._callbacks:
                try:
                    await cb(leading)
                except Exception:
                    log.exception("leader %s: %s callback failed", self.duty, "gain" if leading else "loss")


class Leases:
    def __init__(
        self,
        db: Database,
        hub_id: str,
        ttl_s: float,
        renew_s: float,
        can_lead: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.hub_id = hub_id
        # Unique per process: two processes started with one hub_id must not share leases.
        self.owner = f"{hub_id}/{uuid.uuid4().hex[:8]}"
        self.ttl_s = ttl_s
        self.renew_s = renew_s
        self.can_lead = can_lead
        self.clock = clock
        self.leaderships: dict[str, Leadership] = {}
        self.on_lost: list[Callable[[str], Awaitable[None]]] = []  # any lease lost (partitions listen)
        self.renewals = 0
        self.failures = 0
        self._held: dict[str, _Hold] = {}
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sql-leases")
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._tick_lock = asyncio.Lock()

    # views ------------------------------------------------------------------------------------------------
    def leader(self, duty: str) -> Leadership:
        """The leader lease of `duty` (one object per duty; the loop tries to take it while this hub may lead)."""
        lead = self.leaderships.get(duty)
        if lead is None:
            lead = self.leaderships[duty] = Leadership(self, duty)
        return lead

    def holds(self, name: str) -> bool:
        h = self._held.get(name)
        return h is not None and self.clock() < h.valid_until

    def token(self, name: str) -> int | None:
        h = self._held.get(name)
        return h.token if h is not None and self.clock() < h.valid_until else None

    def held(self, prefix: str = "") -> dict[str, int]:
        now = self.clock()
        return {n: h.token for n, h in self._held.items() if n.startswith(prefix) and now < h.valid_until}

    def fence(self, s: Session, name: str) -> int:
        token = self.token(name)
        if token is None:
            raise LeaseLost(f"lease {name!r} is not held by {self.owner}")
        lease_table.fence(s, name, self.owner, token)
        return token

    def fence_many(self, s: Session, names: set[str]) -> set[str]:
        """The names among `names` this process still holds, share-locked for the caller's transaction."""
        held = [(n, t) for n in sorted(names) if (t := self.token(n)) is not None]
        return lease_table.fence_many(s, held, self.owner)

    # SQL in the leases' own thread -------------------------------------------------------------------------
    async def run(self, fn: Callable[[Session], T]) -> T:
        def call() -> T:
            with self.db.sessions() as s, s.begin():
                return fn(s)

        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def acquire(self, name: str) -> int | None:
        """Takes (or renews) one lease now; its token, or None when another process holds it."""
        t0 = self.clock()
        got: Held | None = await self.run(lambda s: lease_table.acquire(s, name, self.owner, self.ttl_s))
        if got is None:
            return None
        self._held[name] = _Hold(got.token, t0 + self.ttl_s)
        return got.token

    async def release(self, name: str) -> None:
        h = self._held.pop(name, None)
        if h is None:
            return
        with contextlib.suppress(Exception):
            await self.run(lambda s: lease_table.release(s, name, self.owner, h.token))

    # the loop -----------------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.tick()  # a lone hub leads from its first second
        self._task = asyncio.create_task(self._loop(), name="hub-leases")

    async def step_down(self) -> None:
        """First step of a clean stop: the duties stop and their leases go back at once; partitions stay held
        (and renewed) until the hub has handed them over."""
        self.can_lead = False
        async with self._tick_lock:
            for lead in self.leaderships.values():
                await lead._tell(False)
            for lead in self.leaderships.values():
                await self.release(lead.name)

    async def stop(self) -> None:
        """Tells the duties they stop, then gives every lease back so the other hubs need not wait."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for lead in self.leaderships.values():
            await lead._tell(False)
        for t in list(self._pending):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(t, 10.0)
        for name in sorted(self._held):
            await self.release(name)
        self._pool.shutdown(wait=False)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.renew_s)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                log.warning("lease renewal failed: %r", exc)

    async def tick(self) -> None:
        """Renews what is held (name order), notices what was lost, tries the duties not held."""
        async with self._tick_lock:
            t0 = self.clock()
            names = sorted(self._held)
            holds = {n: self._held[n] for n in names}

            def renew_all(s: Session) -> dict[str, Held | None]:
                return {n: lease_table.renew(s, n, self.owner, h.token, self.ttl_s) for n, h in holds.items()}

            try:
                renewed = await self.run(renew_all) if holds else {}
            except Exception as exc:
                self.failures += 1
                log.warning("lease renewal failed (held until their local expiry): %r", exc)
                renewed = {}
            else:
                self.renewals += 1
            for n, got in renewed.items():
                if got is not None and self._held.get(n) is holds[n]:
                    holds[n].valid_until = t0 + self.ttl_s
                elif got is None:
                    self._drop(n, "taken over or expired")
            now = self.clock()
            for n in [n for n, h in self._held.items() if now >= h.valid_until]:
                self._drop(n, "not renewed in time")
            if self.can_lead:
                for lead in self.leaderships.values():
                    if lead.name not in self._held:
                        with contextlib.suppress(Exception):
                            if await self.acquire(lead.name) is not None:
                                log.info("leader of %s: %s (token %s)", lead.duty, self.owner, lead.token)
            for lead in self.leaderships.values():
                self._spawn(lead._tell(lead.is_leader))

    def _drop(self, name: str, why: str) -> None:
        if self._held.pop(name, None) is None:
            return
        log.warning("lease %s lost (%s)", name, why)
        for cb in self.on_lost:
            self._spawn(cb(name))

    def _spawn(self, coro: Awaitable[None]) -> None:
        # Callbacks (planning, loading state) must not hold up the renewals: they run beside the loop.
        async def run() -> None:
            await coro

        task = asyncio.create_task(run())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
