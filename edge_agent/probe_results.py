"""What the edge agent does with each probe result: a second look before a camera is reported offline (and a
sweep of its healthy siblings), judging against the reference view, the health message and the snapshot."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from contract import MAX_SNAPSHOT_BYTES, SnapshotMeta, encode, topics
from device_runtime.outbox import OutMessage
from device_runtime.publisher import Publisher
from edge_agent.config import CameraConfig, EdgeConfig
from edge_agent.health import (
    CameraState,
    build_health,
    describe_key,
    recheck_first,
    snapshot_properties,
    snapshot_wanted,
    state_key,
)
from edge_agent.judgement import CameraJudge
from edge_agent.probe import ProbeResult
from edge_agent.reference import ReferenceStore
from edge_agent.scheduler import ProbeScheduler

if TYPE_CHECKING:
    from edge_agent.counters import Counters

log = logging.getLogger(__name__)

CLOCK_WRONG = "Đồng hồ hệ thống của hộp sai (chưa đồng bộ NTP): chưa gửi được kết quả"


class ProbeResults:
    """Part of `EdgeAgent` (edge_agent.app): the scheduler's `on_result` and what it sends."""

    config: EdgeConfig
    clock: Callable[[], float]
    boot: str
    seq: int
    counters: Counters
    cameras: dict[str, CameraState]
    judges: dict[str, CameraJudge]
    references: ReferenceStore
    scheduler: ProbeScheduler
    publisher: Publisher
    _rechecking: set[str]
    _swept: set[str]
    _sweep_at: float

    def _clock_ok(self, now: float) -> bool:
        raise NotImplementedError

    async def _on_result(self, cam: CameraConfig, result: ProbeResult, forced: bool) -> dict[str, Any]:
        cfg = self.config
        now = self.clock()
        self.counters.probes += 1
        if not self._clock_ok(now):
            return {"camera": cam.id, "error": CLOCK_WRONG}
        state = self.cameras.setdefault(cam.id, CameraState())
        recheck_s = min(cfg.probe.recheck_s, cfg.probe.interval_s)  # never later than its next regular probe
        confirmed = cam.id in self._rechecking or (cam.id in self._swept and now >= self._sweep_at)
        if recheck_first(state.last_key, result.online, confirmed, forced, recheck_s):
            self._rechecking.add(cam.id)
            self.scheduler.recheck(cam.id, recheck_s)
            self._sweep_siblings(cam.id, recheck_s, now)
            log.info(
                "camera %s: probe failed (%s), looking again in %.0f s", cam.id, result.reason, recheck_s
            )
            return {"camera": cam.id, "online": False, "rechecking": True, "reason": result.reason}
        self._swept.discard(cam.id)
        self._rechecking.discard(cam.id)
        judge = await self._judge_of(cam)
        problems = judge.step(result, cam.expected_fps, cfg.thresholds_of(cam), now)
        await judge.save_learned()
        seq, self.seq = self.seq, self.seq + 1
        health = build_health(cam, result, problems, ts=now, seq=seq, agent=cfg.agent.id, boot=self.boot)
        commune = cfg.commune_of(cam)
        await self.publisher.enqueue(
            OutMessage(str(topics.camera_health(cfg.agent.district, commune, cam.id)), encode(health))
        )
        state = self.cameras.setdefault(cam.id, CameraState())
        state.probes += 1
        key = state_key(result.online, problems)
        if key != state.last_key:
            log.info(
                "camera %s: %s -> %s%s",
                cam.id,
                describe_key(state.last_key),
                describe_key(key),
                f" reason={health.reason}" if health.reason else "",
            )
        log.debug(
            "probe camera=%s seq=%d online=%s problems=%s fps=%s frames=%d probe_ms=%.0f",
            cam.id,
            seq,
            result.online,
            ",".join(p.value for p in problems) or "-",
            health.fps,
            result.frames,
            result.probe_ms,
        )
        sent = False
        if result.snapshot_jpeg is not None and snapshot_wanted(state, key, forced, cfg.probe.snapshot_every):
            sent = await self._publish_snapshot(cam, result, now, seq)
        state.last_key = key
        return {
            "camera": cam.id,
            "online": result.online,
            "problems": [p.value for p in problems],
            "reason": health.reason,
            "seq": seq,
            "snapshot": sent,
        }

    def _sweep_siblings(self, failed: str, delay_s: float, now: float) -> None:
        """Probe this agent's other healthy cameras together with the failed one's second look, so that a
        commune-wide fault reaches the hub within seconds for all of them (one grouped alert) instead of spread
        over a whole probe interval."""
        if now < self._sweep_at + self.config.probe.interval_s:
            return
        self._sweep_at = now + delay_s
        others = [
            cid
            for cid in self.scheduler.camera_ids
            if cid != failed
            and cid not in self._rechecking
            and (s := self.cameras.get(cid))
            and s.last_key
            and s.last_key[0]
        ]
        self._swept = set(others)
        self.scheduler.probe_soon(others, delay_s)

    async def _judge_of(self, cam: CameraConfig) -> CameraJudge:
        judge = self.judges.get(cam.id)
        if judge is not None:
            return judge
        th = self.config.thresholds_of(cam)
        store = self.references
        opened = await asyncio.to_thread(
            CameraJudge.open, cam.id, cam.url, store, self.config.reference.learn_probes, th
        )
        if store is not self.references:
            return opened  # a reload replaced the store meanwhile: the next probe opens from the new one
        return self.judges.setdefault(cam.id, opened)  # a command may have opened it meanwhile

    async def _publish_snapshot(self, cam: CameraConfig, result: ProbeResult, ts: float, seq: int) -> bool:
        jpeg = result.snapshot_jpeg
        if jpeg is None:
            return False
        if len(jpeg) > MAX_SNAPSHOT_BYTES:
            log.error(
                "snapshot of %s is %d bytes, over the contract's limit: lower snapshot_width",
                cam.id,
                len(jpeg),
            )
            return False
        meta = SnapshotMeta(
            ts=ts,
            width=result.snapshot_width,
            height=result.snapshot_height,
            seq=seq,
            agent=self.config.agent.id,
        )
        topic = str(topics.camera_snapshot(self.config.agent.district, self.config.commune_of(cam), cam.id))
        props = snapshot_properties(meta)
        await self.publisher.enqueue(
            OutMessage(topic, jpeg, qos=1, retain=True, user_properties=props, replace_key=topic)
        )
        self.counters.snapshots += 1
        return True
