"""Edge agent: the probe worker pool (real spawned processes): a probe past its hard cap ends on time with its
worker killed and replaced; a worker that dies mid-probe is reported and replaced; the pool closes cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Iterator

import pytest

from contract import Problem
from edge_agent.config import ProbeSection, Thresholds
from edge_agent.workers import WorkerPool, probe_in_pool
from tests.test_edge_support import pid_alive


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts TCP (the kernel completes the handshake) and never answers: a hung camera."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


async def test_hard_cap_kills_and_replaces_the_worker(silent_port: int) -> None:
    # FFmpeg would wait 5 s for the stream to open; the cap is 1 s.
    settings = ProbeSection(open_timeout_s=5, read_timeout_s=5, max_probe_s=1)
    pool = WorkerPool(2)
    pool.start()
    try:
        before = set(pool.pids)
        result = await probe_in_pool(
            pool, f"rtsp://127.0.0.1:{silent_port}/x", settings, Thresholds().black_luma
        )
        assert not result.online and result.problem == Problem.NO_FRAMES
        assert result.reason is not None and "vượt quá giới hạn 1 s" in result.reason
        assert pool.killed == 1 and len(pool.pids) == 2
        gone = before - set(pool.pids)
        assert len(gone) == 1 and not pid_alive(gone.pop())
    finally:
        await pool.close()


async def test_a_worker_that_dies_is_reported_and_replaced(silent_port: int) -> None:
    settings = ProbeSection(open_timeout_s=10, read_timeout_s=5)
    pool = WorkerPool(1)
    pool.start()
    try:
        (pid,) = pool.pids
        probe = asyncio.create_task(
            probe_in_pool(pool, f"rtsp://127.0.0.1:{silent_port}/x", settings, Thresholds().black_luma)
        )
        await asyncio.sleep(0.5)  # let the worker take the task (any moment during the probe will do)
        os.kill(pid, signal.SIGKILL)
        result = await asyncio.wait_for(probe, 30)
        assert not result.online and result.problem == Problem.DECODE_ERROR
        assert pool.killed == 1 and len(pool.pids) == 1 and pool.pids != [pid]
    finally:
        await pool.close()
    assert not pool.pids


async def test_close_stops_idle_and_busy_workers(silent_port: int) -> None:
    settings = ProbeSection(open_timeout_s=20, read_timeout_s=5)
    pool = WorkerPool(2)
    pool.start()
    pids = pool.pids
    busy = asyncio.create_task(
        probe_in_pool(pool, f"rtsp://127.0.0.1:{silent_port}/x", settings, Thresholds().black_luma)
    )
    await asyncio.sleep(0.3)
    await pool.close()
    busy.cancel()
    await asyncio.gather(busy, return_exceptions=True)
    assert not [p for p in pids if pid_alive(p)]
