"""The core's side of several hubs on one PostgreSQL (cluster.enabled): partitions held by this hub and their
MQTT sessions (hub/core/partitions.py), the mirror of the state other hubs own, and fenced SQL flushes.

- Taking a partition: its cameras and agents are read from SQL (what the last owner flushed) and become this
  hub's to change; then its session starts and resumes where the last owner stopped.
- Mirror: every `cluster.mirror_s` the cameras and agents of the other partitions are re-read from SQL (in a
  thread of their own, not the hub's SQL thread), so the alert engine — which runs on one hub — sees them all.
  Nothing is derived from the mirror: stale marking and transitions belong to each partition's owner.
- Fenced flush: in the flush's own transaction every partition it writes is fenced (hub/core/lease_table.py);
  rows of a partition taken over meanwhile are dropped, never written over the new owner's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from contract.topics import hub_subscriptions
from hub.core.db import Agent, Camera
from hub.core.lease_table import PARTITION
from hub.core.mqtt_bridge import AckHandle, MqttBridge
from hub.core.partitions import PartitionManager
from hub.core.persist import FlushBatch, agent_state, camera_state, write_batch
from hub.core.state import AgentState, CameraState

if TYPE_CHECKING:
    from hub.core.config import CoreConfig
    from hub.core.runtime import HubCore

log = logging.getLogger("hub.cluster")


def load_area(
    s: Session, districts: tuple[str, ...] | None, exclude: set[str] | None = None
) -> tuple[list[CameraState], list[AgentState]]:
    """Cameras and agents of `districts` (all when None), less those of `exclude`."""
    cq, aq = select(Camera), select(Agent)
    if districts is not None:
        cq, aq = cq.where(Camera.district.in_(districts)), aq.where(Agent.district.in_(districts))
    if exclude:
        cq, aq = cq.where(Camera.district.not_in(exclude)), aq.where(Agent.district.not_in(exclude))
    return [camera_state(r) for r in s.scalars(cq)], [agent_state(r) for r in s.scalars(aq)]


def batch_districts(b: FlushBatch) -> set[str]:
    found = {r["district"] for r in (*b.cameras, *b.agents, *b.transitions)}
    found.update(m[-1].split("/", 1)[0] for m in b.metrics)
    found.update(r.camera_key.split("/", 1)[0] for r in b.snapshots)
    return found


def keep_only(b: FlushBatch, allowed: set[str]) -> int:
    """Drops the rows of districts not in `allowed`; returns how many rows went."""
    before = len(b)

    def ok(key: str) -> bool:
        return key.split("/", 1)[0] in allowed

    b.cameras = [r for r in b.cameras if r["district"] in allowed]
    b.agents = [r for r in b.agents if r["district"] in allowed]
    b.transitions = [r for r in b.transitions if r["district"] in allowed]
    b.metrics = [m for m in b.metrics if ok(m[-1])]
    b.snapshots = [r for r in b.snapshots if ok(r.camera_key)]
    b.camera_keys = [k for k in b.camera_keys if ok(k)]
    b.agent_keys = [k for k in b.agent_keys if ok(k)]
    return before - len(b)


def acknowledge(acks: list[AckHandle]) -> None:
    """Hands each partition session its messages whose effects are committed (its network thread acks them)."""
    by_bridge: dict[int, tuple[MqttBridge, list[AckHandle]]] = {}
    for h in acks:
        by_bridge.setdefault(id(h[0]), (h[0], []))[1].append(h)
    for bridge, handles in by_bridge.values():
        bridge.queue_acks(handles)


class ClusterIngest:
    """Implements hub/core/partitions.py `PartitionHost` for the core."""

    def __init__(self, core: HubCore, config: CoreConfig, mapping: dict[str, tuple[str, ...]]) -> None:
        self.core = core
        self.config = config
        self.mapping = mapping
        self.partition_of = {d: p for p, ds in mapping.items() for d in ds}
        self.manager = PartitionManager(core.leases, mapping, self, config.cluster.lease_renew_s)
        self.fenced_rows = 0  # rows not written because their partition had moved on
        self.mirror_loads = 0
        self._loading: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        core.store.owned = set()
        core.stats.gauges.update(
            partitions_held=lambda: len(self.manager.held),
            partition_moves=lambda: self.manager.moves,
            fenced_rows=lambda: self.fenced_rows,
            leases_held=lambda: len(core.leases.held()),
            lease_failures=lambda: core.leases.failures,
        )

    # lifecycle ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.manager.start()
        self._task = asyncio.create_task(self._mirror_loop(), name="hub-mirror")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.manager.stop()

    # PartitionHost ----------------------------------------------------------------------------------------
    def make_bridge(self, partition: str, districts: tuple[str, ...]) -> MqttBridge:
        core, cfg = self.core, self.config
        return MqttBridge(
            cfg.mqtt,
            core.stats,
            core.ingest.drain,
            queue_max=cfg.ingest.queue_max,
            session_expiry_s=cfg.mqtt.session_expiry_s,
            client_id=f"{cfg.mqtt.client_id}-p-{partition}",
            filters=[f for d in districts for f in hub_subscriptions(d)],
            manual_ack=True,
            receive_max=cfg.cluster.receive_max,
            inbox=core.ingest.inbox,
            name=f"mqtt-p-{partition}",
            main=False,
        )

    async def load_area(self, districts: tuple[str, ...]) -> None:
        store = self.core.store
        self._loading.update(districts)
        try:
            cams, agents = await self.core.db.run(lambda s: load_area(s, districts))
            wanted = set(districts)
            store.replace_where(lambda d: d in wanted, cams, agents)
            assert store.owned is not None
            store.owned |= wanted
        finally:
            self._loading.difference_update(districts)

    async def drain_and_flush(self) -> None:
        ingest = self.core.ingest
        while ingest.inbox:
            ingest.drain()
        await self.core.flush()
        await self.core.settle_acks(5.0)  # points written or spilled: acknowledged before the hand-over

    def disown(self, districts: tuple[str, ...], bridge: MqttBridge) -> None:
        store = self.core.store
        assert store.owned is not None
        store.owned.difference_update(districts)
        # Messages of this session still waiting are the next owner's now (unacknowledged, it receives them).
        # Network threads append meanwhile: take everything out one by one, put the rest back in front.
        inbox, kept = self.core.ingest.inbox, []
        while True:
            try:
                m = inbox.popleft()
            except IndexError:
                break
            if m[5] is None or m[5][0] is not bridge:
                kept.append(m)
        inbox.extendleft(reversed(kept))

    # fenced flush (SQL thread) --------------------------------------------------------------------------
    def write_fenced(self, s: Session, batch: FlushBatch) -> None:
        parts = {p for d in batch_districts(batch) if (p := self.partition_of.get(d)) is not None}
        held = self.core.leases.fence_many(s, {PARTITION + p for p in parts})
        allowed = {d for p in parts if PARTITION + p in held for d in self.mapping[p]}
        dropped = keep_only(batch, allowed)
        if dropped:
            self.fenced_rows += dropped
            log.warning("%d rows of partitions no longer held by this hub not written", dropped)
        write_batch(s, batch)

    # mirror -----------------------------------------------------------------------------------------------
    async def _mirror_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.cluster.mirror_s)
            try:
                await self.refresh_mirror()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("reading the other partitions' state failed: %r", exc)

    async def refresh_mirror(self) -> None:
        store = self.core.store
        assert store.owned is not None
        skip = store.owned | self._loading

        def read() -> tuple[list[CameraState], list[AgentState]]:
            with self.core.db.sessions() as s:
                return load_area(s, None, skip)

        cams, agents = await asyncio.to_thread(read)
        owned, loading = store.owned, self._loading
        store.replace_where(lambda d: d not in owned and d not in loading and d not in skip, cams, agents)
        self.mirror_loads += 1
        await self.follow_registry()

    async def follow_registry(self) -> None:
        """Administrators may rename, remove or import cameras on any hub (the web writes SQL): the partitions
        held here follow the registry columns, so this hub's next flush does not write the old values back."""
        store = self.core.store
        assert store.owned is not None
        mine = set(store.owned)
        written = {k for k, c in store.cameras.items() if c.in_db and c.district in mine}  # before the read

        def read() -> dict[str, tuple[str | None, str | None]]:
            q = select(Camera.key, Camera.name, Camera.agent_key).where(Camera.district.in_(mine))
            with self.core.db.sessions() as s:
                return {k: (n, a) for k, n, a in s.execute(q)}

        rows = await asyncio.to_thread(read) if mine else {}
        for key in written - rows.keys():  # removed elsewhere (it had been written, and is gone)
            cam = store.cameras.pop(key, None)
            if cam is not None and cam.agent_key:
                store.cameras_of(cam.agent_key).discard(key)
        for key, (name, agent) in rows.items():
            cam = store.cameras.get(key)
            if cam is None:  # imported elsewhere
                d, c, slug = key.split("/")
                store.load([CameraState(key, d, c, slug, name, agent, in_db=True)], [])
            elif key not in store.changes.cameras and cam.name != name:
                cam.name = name
                store.announce.cameras.add(key)
