"""Per-camera probe schedules with a bound on probes running at once.

Every camera has its own next-due time. At most `concurrency` probes run at once (one per worker process); a
camera whose probe is still running is never started again (an overrun skips slots instead of stacking up).
The runner guarantees an answer by the probe's hard cap (edge_agent.workers), so a hung camera holds one worker
for at most that long and never delays the reports of the others.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from edge_agent.config import CameraConfig, ProbeSection, Thresholds
from edge_agent.probe import ProbeResult

log = logging.getLogger(__name__)

# (url, probe settings, black luma threshold) -> result, by the hard cap at the latest
Runner = Callable[[str, ProbeSection, float], Awaitable[ProbeResult]]
# (camera, result, snapshot forced by a command) -> summary handed to whoever asked for this probe
ResultHandler = Callable[[CameraConfig, ProbeResult, bool], Awaitable[dict[str, Any]]]


def next_due(last_start: float, interval: float, now: float) -> float:
    """The first slot `last_start + k * interval` (k >= 1) not in the past: overruns skip slots, never stack."""
    due = last_start + interval
    if due >= now:
        return due
    return due + math.ceil((now - due) / interval) * interval


def first_due(index: int, count: int, interval: float, now: float) -> float:
    """Spread the first probes over one interval so cameras do not all start in the same second."""
    return now + interval * index / max(count, 1)


@dataclass
class CameraSlot:
    cfg: CameraConfig
    due: float
    running: bool = False
    snapshot_requested: bool = False
    retired: bool = False
    recheck_at: float | None = None  # a failed probe asked for another look at this time
    waiters: list[asyncio.Future[dict[str, Any]]] = field(default_factory=list)


class ProbeScheduler:
    def __init__(
        self,
        cameras: Iterable[CameraConfig],
        settings: ProbeSection,
        thresholds: Thresholds,
        runner: Runner,
        handle: ResultHandler,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.thresholds = thresholds
        self._runner = runner
        self._handle = handle
        self._clock = clock
        self._slots: dict[str, CameraSlot] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self.running = 0
        cams = list(cameras)
        now = clock()
        for i, cam in enumerate(cams):
            self._slots[cam.id] = CameraSlot(cam, first_due(i, len(cams), settings.interval_s, now))

    @property
    def camera_ids(self) -> list[str]:
        return list(self._slots)

    async def run(self) -> None:
        while not self._stopping:
            now = self._clock()
            self._launch_due(now)
            idle = [s.due for s in self._slots.values() if not s.running]
            wait = (min(idle) - now) if idle else self.settings.interval_s
            if self.running >= self.settings.concurrency:
                wait = self.settings.interval_s  # a finishing probe wakes us
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, wait))
            except TimeoutError:
                pass
            self._wake.clear()

    def _launch_due(self, now: float) -> None:
        free = self.settings.concurrency - self.running
        if free <= 0:
            return
        due = sorted((s for s in self._slots.values() if not s.running and s.due <= now), key=lambda s: s.due)
        for slot in due[:free]:
            slot.running = True
            self.running += 1
            task = asyncio.create_task(self._run_one(slot, now), name=f"probe-{slot.cfg.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run_one(self, slot: CameraSlot, started: float) -> None:
        try:
            result = await self._runner(slot.cfg.url, self.settings, self.thresholds.black_luma)
            await self._deliver(slot, result)
        finally:
            self.running -= 1
            slot.running = False
            if slot.recheck_at is not None:
                slot.due, slot.recheck_at = slot.recheck_at, None
            else:
                slot.due = next_due(started, self.settings.interval_s, self._clock())
            self._wake.set()

    async def _deliver(self, slot: CameraSlot, result: ProbeResult) -> None:
        waiters, slot.waiters = slot.waiters, []
        forced, slot.snapshot_requested = slot.snapshot_requested, False
        if slot.retired or self._stopping:
            summary: dict[str, Any] = {
                "camera": slot.cfg.id,
                "error": "Camera đã bị gỡ khỏi cấu hình hoặc agent đang dừng",
            }
        else:
            try:
                summary = await self._handle(slot.cfg, result, forced)
            except Exception as exc:
                log.exception("handling the probe result failed camera=%s", slot.cfg.id)
                summary = {"camera": slot.cfg.id, "error": f"Lỗi nội bộ: {type(exc).__name__}"}
        for w in waiters:
            if not w.done():
                w.set_result(summary)

    def request(self, camera_ids: Iterable[str], snapshot: bool) -> list[asyncio.Future[dict[str, Any]]]:
        """Probe these cameras as soon as possible; each future gets the summary of that probe.

        A camera being probed right now answers with the probe in progress (it is at most one probe old).
        """
        loop = asyncio.get_running_loop()
        futures = []
        now = self._clock()
        for cid in camera_ids:
            slot = self._slots[cid]
            fut: asyncio.Future[dict[str, Any]] = loop.create_future()
            slot.waiters.append(fut)
            slot.snapshot_requested |= snapshot
            if not slot.running:
                slot.due = min(slot.due, now)
            futures.append(fut)
        self._wake.set()
        return futures

    def recheck(self, camera_id: str, delay_s: float) -> None:
        """Probe this camera again `delay_s` from now instead of at its next slot (called while its result is
        being handled)."""
        slot = self._slots.get(camera_id)
        if slot is not None:
            slot.recheck_at = self._clock() + delay_s

    def probe_soon(self, camera_ids: Iterable[str], delay_s: float) -> None:
        """Bring these cameras' next probes forward to `delay_s` from now (never later than planned)."""
        at = self._clock() + delay_s
        for cid in camera_ids:
            slot = self._slots.get(cid)
            if slot is None:
                continue
            if slot.running:
                slot.recheck_at = at if slot.recheck_at is None else min(slot.recheck_at, at)
            else:
                slot.due = min(slot.due, at)
        self._wake.set()

    def update(self, cameras: Iterable[CameraConfig], settings: ProbeSection, thresholds: Thresholds) -> None:
        """Apply a reloaded config: new cameras start within one interval, removed ones stop, others update."""
        now = self._clock()
        self.settings, self.thresholds = settings, thresholds
        cams = list(cameras)
        wanted = {c.id for c in cams}
        for cid in [c for c in self._slots if c not in wanted]:
            gone = self._slots.pop(cid)
            gone.retired = True
            for w in gone.waiters:
                if not w.done():
                    w.set_result({"camera": cid, "error": "Camera đã bị gỡ khỏi cấu hình"})
        for i, cam in enumerate(cams):
            slot = self._slots.get(cam.id)
            if slot is None:
                self._slots[cam.id] = CameraSlot(cam, first_due(i, len(cams), settings.interval_s, now))
            else:
                slot.cfg = cam
                slot.due = min(slot.due, now + settings.interval_s)
        self._wake.set()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for slot in self._slots.values():
            for w in slot.waiters:
                if not w.done():
                    w.set_result({"camera": slot.cfg.id, "error": "Agent đang dừng"})
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
