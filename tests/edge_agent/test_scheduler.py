"""Edge agent: schedule arithmetic, per-camera schedules, the concurrency bound, overruns, on-demand probes and reloads.

The runner stands in for the worker pool (the real pool is exercised by tests/edge_agent/test_agent.py); here it
is a coroutine the test controls, so every assertion is about order and counts, never about durations.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from contract import Problem
from edge_agent.config import CameraConfig, ProbeSection, Thresholds
from edge_agent.probe import ProbeResult
from edge_agent.scheduler import ProbeScheduler, first_due, next_due


def cams(*ids: str) -> list[CameraConfig]:
    return [CameraConfig(id=i, url=f"rtsp://127.0.0.1/{i}") for i in ids]


class Harness:
    def __init__(self, concurrency: int, interval_s: float = 0.05) -> None:
        # Unvalidated on purpose: the config refuses intervals under 0.5 s (a real camera needs that).
        self.settings = ProbeSection.model_construct(interval_s=interval_s, concurrency=concurrency)
        self.started: Counter[str] = Counter()
        self.handled: list[tuple[str, bool]] = []
        self.active = 0
        self.max_active = 0
        self.running_per_camera: Counter[str] = Counter()
        self.stacked = False
        self.gates: dict[str, asyncio.Event] = {}

    async def runner(self, url: str, settings: ProbeSection, black_luma: float) -> ProbeResult:
        cid = url.rsplit("/", 1)[1]
        self.started[cid] += 1
        self.running_per_camera[cid] += 1
        self.stacked |= self.running_per_camera[cid] > 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if cid in self.gates:
                await self.gates[cid].wait()
            else:
                await asyncio.sleep(0.01)
        finally:
            self.active -= 1
            self.running_per_camera[cid] -= 1
        return ProbeResult(False, Problem.UNREACHABLE, f"test {cid}")

    async def handle(self, cam: CameraConfig, result: ProbeResult, forced: bool) -> dict[str, Any]:
        self.handled.append((cam.id, forced))
        return {"camera": cam.id, "snapshot": forced, "reason": result.reason}

    def scheduler(self, cameras: list[CameraConfig]) -> ProbeScheduler:
        return ProbeScheduler(cameras, self.settings, Thresholds(), self.runner, self.handle)


async def until(check: Any, limit: int = 2000) -> None:
    for _ in range(limit):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


async def test_concurrency_bound_and_every_camera_probed() -> None:
    h = Harness(concurrency=2)
    sched = h.scheduler(cams(*(f"c{i}" for i in range(6))))
    task = asyncio.create_task(sched.run())
    await until(lambda: all(h.started[f"c{i}"] >= 3 for i in range(6)))
    await sched.stop()
    task.cancel()
    assert h.max_active == 2
    assert not h.stacked


async def test_a_hung_camera_neither_stacks_nor_delays_the_others() -> None:
    h = Harness(concurrency=2)
    h.gates["hung"] = asyncio.Event()
    sched = h.scheduler(cams("hung", "a", "b"))
    task = asyncio.create_task(sched.run())
    # While "hung" holds one slot far past its interval, the others keep their own schedules in the other.
    await until(lambda: h.started["a"] >= 5 and h.started["b"] >= 5)
    assert h.started["hung"] == 1
    h.gates["hung"].set()
    await until(lambda: h.started["hung"] >= 2)
    await sched.stop()
    task.cancel()
    assert not h.stacked and h.max_active <= 2


async def test_requested_probe_runs_now_and_answers_its_waiter() -> None:
    h = Harness(concurrency=1, interval_s=3600)
    sched = h.scheduler(cams("a", "b"))
    task = asyncio.create_task(sched.run())
    await until(lambda: h.started["a"] == 1)  # b is due only after half an hour
    (fut,) = sched.request(["b"], snapshot=True)
    summary = await asyncio.wait_for(fut, 5)
    assert summary == {"camera": "b", "snapshot": True, "reason": "test b"}
    assert ("b", True) in h.handled
    (plain,) = sched.request(["a"], snapshot=False)
    assert (await asyncio.wait_for(plain, 5))["snapshot"] is False
    await sched.stop()
    task.cancel()


async def test_reload_adds_removes_and_answers_waiters_of_removed_cameras() -> None:
    h = Harness(concurrency=2)
    h.gates["old"] = asyncio.Event()
    sched = h.scheduler(cams("old", "kept"))
    task = asyncio.create_task(sched.run())
    await until(lambda: h.started["old"] == 1)
    (waiter,) = sched.request(["old"], snapshot=False)
    sched.update(cams("kept", "new"), h.settings, Thresholds())
    assert (await asyncio.wait_for(waiter, 5))["error"] == "Camera đã bị gỡ khỏi cấu hình"
    await until(lambda: h.started["new"] >= 2)
    h.gates["old"].set()
    await until(lambda: h.running_per_camera["old"] == 0)
    kept = h.started["kept"]
    await until(lambda: h.started["kept"] >= kept + 2)  # the scheduler went on past the late result
    await sched.stop()
    task.cancel()
    assert sched.camera_ids == ["kept", "new"]
    assert "old" not in [cid for cid, _ in h.handled]  # its late result is not published
    assert h.started["old"] == 1


async def test_stop_answers_pending_waiters() -> None:
    h = Harness(concurrency=1)
    h.gates["a"] = asyncio.Event()
    sched = h.scheduler(cams("a"))
    task = asyncio.create_task(sched.run())
    await until(lambda: h.started["a"] == 1)
    (waiter,) = sched.request(["a"], snapshot=True)
    await sched.stop()
    task.cancel()
    assert waiter.result() == {"camera": "a", "error": "Agent đang dừng"}


def test_next_due_skips_missed_slots_instead_of_stacking() -> None:
    assert next_due(100.0, 30.0, now=102.0) == 130.0
    assert next_due(100.0, 30.0, now=130.0) == 130.0
    # A probe that took 70 s: the slots at 130 and 160 are gone, the next is 190, not "now" twice.
    assert next_due(100.0, 30.0, now=170.0) == 190.0


def test_first_probes_are_spread_over_one_interval() -> None:
    dues = [first_due(i, 4, 30.0, now=1000.0) for i in range(4)]
    assert dues == [1000.0, 1007.5, 1015.0, 1022.5]
    assert first_due(0, 0, 30.0, now=5.0) == 5.0
