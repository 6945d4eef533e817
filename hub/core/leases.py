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

Renewals run in a thread of their own (one UPDATE for every lease held), not in the event loop and not in the
hub's one SQL thread: a busy loop or a long ingest flush must not delay them past the ttl. A web-only process
(`--role web`) never leads (`can_lead=False`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
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
        self._reported: int | None = None  # the token the callbacks were last told they lead with

    @property
    def is_leader(self) -> bool:
        return self.leases.can_lead and self.leases.holds(self.name)

    @property
    def token(self) -> int | None:
        return self.leases.token(self.name) if self.leases.can_lead else None

    def on_change(self, callback: ChangeCallback) -> None:
        """`callback(True)` when this hub becomes the leader, `callback(False)` when it stops (in order)."""
        self._callbacks.append(callback)

    def fence(self, s: Session) -> int:
        """Inside a write's transaction: raises LeaseLost unless this hub still leads; returns the token."""
        return self.leases.fence(s, self.name)

    async def _tell(self, leading: bool) -> None:
        async with self._lock:
            token = self.token if leading else None
            if token == self._reported:
                return
            # Lost and taken again between two reports: another hub may have led meanwhile, so the duty stops and
            # starts again (reloading what that hub wrote).
            steps = [False, True] if self._reported is not None and token is not None else [token is not None]
            self._reported = token
            for step in steps:
                for cb in self._callbacks:
                    try:
                        await cb(step)
                    except Exception:
                        log.exception("leader %s: %s callback failed", self.duty, "gain" if step else "loss")


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
        self._lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sql-leases")
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[asyncio.Task[None]] = set()

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
        with self._lock:
            items = list(self._held.items())
        return {n: h.token for n, h in items if n.startswith(prefix) and now < h.valid_until}

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
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._in_session, fn)

    def _in_session(self, fn: Callable[[Session], T]) -> T:
        with self.db.sessions() as s, s.begin():
            return fn(s)

    def _acquire_now(self, name: str) -> int | None:
        t0 = self.clock()
        got: Held | None = self._in_session(lambda s: lease_table.acquire(s, name, self.owner, self.ttl_s))
        if got is None:
            return None
        with self._lock:
            self._held[name] = _Hold(got.token, t0 + self.ttl_s)
        return got.token

    async def acquire(self, name: str) -> int | None:
        """Takes (or renews) one lease now; its token, or None when another process holds it."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._acquire_now, name)

    async def release(self, name: str) -> None:
        with self._lock:
            h = self._held.pop(name, None)
        if h is None:
            return
        with contextlib.suppress(Exception):
            await self.run(lambda s: lease_table.release(s, name, self.owner, h.token))

    # renewals ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.tick()  # a lone hub leads from its first second
        self._thread = threading.Thread(target=self._renew_forever, name="hub-leases", daemon=True)
        self._thread.start()

    def freeze(self) -> None:
        """Stops renewing without giving anything back, as a hung process would (tests)."""
        self._stopping.set()

    async def step_down(self) -> None:
        """First step of a clean stop: the duties stop and their leases go back at once; partitions stay held
        (and renewed) until the hub has handed them over."""
        self.can_lead = False
        for lead in self.leaderships.values():
            await lead._tell(False)
        for lead in self.leaderships.values():
            await self.release(lead.name)

    async def stop(self) -> None:
        """Tells the duties they stop, then gives every lease back so the other hubs need not wait."""
        self._stopping.set()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 10.0)
            self._thread = None
        for lead in self.leaderships.values():
            await lead._tell(False)
        for t in list(self._pending):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(t, 10.0)
        for name in sorted(self._held):
            await self.release(name)
        self._pool.shutdown(wait=False)

    def _renew_forever(self) -> None:
        # A thread of its own, not an asyncio task: a busy event loop (a backlog being ingested) must not delay
        # renewals past the ttl. What the duties must hear goes to the loop afterwards.
        while not self._stopping.wait(self.renew_s):
            try:
                lost, gained = self._tick_now()
            except Exception as exc:
                self.failures += 1
                log.warning("lease renewal failed: %r", exc)
                continue
            loop = self._loop
            if loop is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._tell_all, lost, gained)

    async def tick(self) -> None:
        """One renewal round now (from the event loop)."""
        lost, gained = await asyncio.get_running_loop().run_in_executor(self._pool, self._tick_now)
        self._tell_all(lost, gained)

    def _tick_now(self) -> tuple[list[str], list[str]]:
        """Renews what is held in one statement, notices what was lost, tries the duties not held. Returns the
        names lost and the duties gained."""
        t0 = self.clock()
        with self._lock:
            holds = dict(self._held)
        lost: list[str] = []
        if holds:
            try:
                kept = self._in_session(
                    lambda s: lease_table.renew_many(
                        s, self.owner, {n: h.token for n, h in holds.items()}, self.ttl_s
                    )
                )
            except Exception as exc:  # still held until their local expiry
                self.failures += 1
                log.warning("lease renewal failed: %r", exc)
                kept = None
            else:
                self.renewals += 1
            with self._lock:
                for n, h in holds.items():
                    if self._held.get(n) is not h:
                        continue  # released or re-taken meanwhile
                    if kept is not None and n in kept:
                        h.valid_until = t0 + self.ttl_s
                    elif kept is not None or self.clock() >= h.valid_until:
                        del self._held[n]
                        lost.append(n)
        for n in lost:
            log.warning("lease %s lost (taken over, or expired before its renewal)", n)
        gained: list[str] = []
        if self.can_lead:
            for lead in list(self.leaderships.values()):
                if lead.name not in self._held:
                    with contextlib.suppress(Exception):
                        if self._acquire_now(lead.name) is not None:
                            log.info("leader of %s: %s (token %s)", lead.duty, self.owner, lead.token)
                            gained.append(lead.duty)
        return lost, gained

    def _tell_all(self, lost: list[str], gained: list[str]) -> None:
        """On the event loop: the partitions hear what was lost, every duty whether it leads now."""
        for name in lost:
            for cb in self.on_lost:
                self._spawn(cb(name))
        for lead in self.leaderships.values():
            self._spawn(lead._tell(lead.is_leader))

    def _spawn(self, coro: Awaitable[None]) -> None:
        # Callbacks (planning, loading state) must not hold up anything: they run beside the loop.
        async def run() -> None:
            await coro

        task = asyncio.create_task(run())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
