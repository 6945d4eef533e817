"""Partitions of the device traffic among several hubs: each partition (an area group: one district, or the
districts configured together) is held by one hub at a time through a lease (hub/core/lease_table.py), and read
through its own persistent MQTT session with a stable client id (`{mqtt.client_id}-p-{partition}`), so the next
owner resumes the dead owner's session and receives what was queued or left unacknowledged in it.

Fair share: every ingest hub holds a `member:{hub_id}` lease; with members sorted by name, member i's target is
⌊n/h⌋, plus one for the first n mod h members. A hub above its target gives partitions up gracefully (stops
taking messages from that session, applies and flushes what it took, acknowledges it, disconnects without
removing the session, releases the lease); a hub below it takes free or expired partitions. A camera lives in
one district, hence one partition: its messages stay in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from hub.core import lease_table
from hub.core.lease_table import MEMBER, PARTITION, LeaseInfo
from hub.core.leases import Leases
from hub.core.mqtt_bridge import MqttBridge

log = logging.getLogger("hub.partitions")


def fair_targets(members: Sequence[str], n: int) -> dict[str, int]:
    """How many of `n` partitions each member should hold (sorted by name; the first n mod h get one more)."""
    ordered = sorted(members)
    if not ordered:
        return {}
    base, extra = divmod(n, len(ordered))
    return {m: base + (1 if i < extra else 0) for i, m in enumerate(ordered)}


@dataclass(frozen=True)
class Plan:
    acquire: tuple[str, ...] = ()
    release: tuple[str, ...] = ()


def plan_partitions(me: str, owner: str, partitions: Sequence[str], leases: Sequence[LeaseInfo]) -> Plan:
    """What hub `me` (process `owner`) should take or give up, from the leases as the database sees them."""
    members = sorted(i.name[len(MEMBER) :] for i in leases if i.name.startswith(MEMBER) and i.live)
    if me not in members:
        return Plan()  # not counted yet: taking partitions now would only make others give them back
    target = fair_targets(members, len(partitions))[me]
    state = {i.name[len(PARTITION) :]: i for i in leases if i.name.startswith(PARTITION)}
    ordered = sorted(partitions)
    mine = [p for p in ordered if (i := state.get(p)) is not None and i.live and i.owner == owner]
    if len(mine) > target:
        return Plan(release=tuple(mine[target:]))
    free = [p for p in ordered if (i := state.get(p)) is None or not i.live]
    if not free or len(mine) >= target:
        return Plan()
    # Hubs start looking at different places, so they rarely race for the same free partition.
    k = (members.index(me) * len(free)) // len(members)
    free = free[k:] + free[:k]
    return Plan(acquire=tuple(free[: target - len(mine)]))


class PartitionHost(Protocol):
    """What the partition manager needs of the hub core (hub/core/cluster.py)."""

    def make_bridge(self, partition: str, districts: tuple[str, ...]) -> MqttBridge: ...

    async def load_area(self, districts: tuple[str, ...]) -> None:
        """Reads their state from SQL; this hub owns them from now on."""

    async def drain_and_flush(self) -> None:
        """Applies what waits in the inbox, flushes SQL, acknowledges."""

    def disown(self, districts: tuple[str, ...], bridge: MqttBridge) -> None:
        """Forgets ownership, and the bridge's messages still waiting."""


class PartitionManager:
    def __init__(
        self,
        leases: Leases,
        mapping: Mapping[str, tuple[str, ...]],
        host: PartitionHost,
        period_s: float,
    ) -> None:
        self.leases = leases
        self.mapping = dict(mapping)
        self.host = host
        self.period_s = period_s
        self.bridges: dict[str, MqttBridge] = {}
        self.member = MEMBER + leases.hub_id
        self.moves = 0  # partitions taken or given up by this hub
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        leases.on_lost.append(self._lost)

    @property
    def held(self) -> list[str]:
        return sorted(self.bridges)

    def owner_of(self, district: str) -> str | None:
        for name, districts in self.mapping.items():
            if district in districts:
                return name
        return None

    async def start(self) -> None:
        # Counted as a member first; partitions come one period later, once the hubs started at the same time
        # see each other (otherwise the first would take them all and hand half over a moment later).
        if await self.leases.acquire(self.member) is None:
            log.error("another process runs as hub %s: this one takes no partitions", self.leases.hub_id)
        self._task = asyncio.create_task(self._loop(), name="hub-partitions")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        async with self._lock:
            for p in sorted(self.bridges):
                await self._release(p, graceful=True)
        await self.leases.release(self.member)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.period_s)
            try:
                await self.rebalance()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("partition rebalancing failed")

    async def rebalance(self) -> None:
        async with self._lock:
            if not self.leases.holds(self.member) and await self.leases.acquire(self.member) is None:
                log.error("another process runs as hub %s: this one takes no partitions", self.leases.hub_id)
                return
            infos = await self.leases.run(lambda s: lease_table.list_leases(s, [MEMBER, PARTITION]))
            plan = plan_partitions(self.leases.hub_id, self.leases.owner, list(self.mapping), infos)
            for p in plan.release:
                await self._release(p, graceful=True)
            for p in plan.acquire:
                await self._acquire(p)
            # A partition whose lease expired under us (database away) is dropped by _lost; one whose session
            # we still run but no longer hold is stopped here as well.
            for p in [p for p in self.bridges if not self.leases.holds(PARTITION + p)]:
                await self._release(p, graceful=False)

    async def _acquire(self, p: str) -> None:
        name = PARTITION + p
        token = await self.leases.acquire(name)
        if token is None:
            return  # another hub took it first
        districts = self.mapping[p]
        try:
            await self.host.load_area(districts)
        except Exception:
            log.exception("loading the state of partition %s failed; giving it back", p)
            await self.leases.release(name)
            return
        bridge = self.host.make_bridge(p, districts)
        bridge.may_connect = lambda: self.leases.holds(name)
        bridge.start()
        self.bridges[p] = bridge
        self.moves += 1
        log.info("partition %s taken (token %d): %s", p, token, ", ".join(districts))

    async def _release(self, p: str, graceful: bool) -> None:
        bridge = self.bridges.pop(p, None)
        if bridge is None:
            return
        districts = self.mapping[p]
        bridge.closing = True  # what arrives from now on stays unacknowledged, for the next owner
        if graceful:
            try:
                await self.host.drain_and_flush()
            except Exception:
                log.exception("flushing before giving partition %s up failed", p)
        await bridge.stop()
        self.host.disown(districts, bridge)
        if graceful:
            await self.leases.release(PARTITION + p)
        self.moves += 1
        log.info("partition %s %s", p, "given up" if graceful else "lost")

    async def _lost(self, name: str) -> None:
        if name.startswith(PARTITION):
            async with self._lock:
                await self._release(name[len(PARTITION) :], graceful=False)
