"""Edge agent probe cost: `.venv/bin/python bench/edge_probe.py` (about a minute; the last line is JSON).

Starts the GStreamer RTSP simulator with 8 healthy 640x360 cameras at 25 fps and probes them through the
agent's own worker pool (4 worker processes, the default probe settings), then measures:

1. Cost: wall time per probe and the worker processes' CPU per probe (utime + stime from /proc), from which
   `cameras_per_core_per_30s` follows (30 s of one core divided by the CPU of one probe).
2. Isolation: the same healthy probes while 2 of the 4 workers are busy with cameras that accept TCP and never
   answer; the healthy probes' median wall time should stay the same (with threads it would not: OpenCV opens
   FFmpeg streams under one process-wide lock).

Wall times depend on the machine's load (reported as `load_avg_1m`); CPU per probe much less.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.camsim_client import CamSim, start_camsim
from edge_agent.config import ProbeSection, Thresholds
from edge_agent.probe import ProbeResult
from edge_agent.workers import WorkerPool, probe_in_pool

CAMERAS = 8
ROUNDS = 4
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLK_TCK


async def timed(pool: WorkerPool, url: str, settings: ProbeSection) -> tuple[float, ProbeResult]:
    started = time.monotonic()
    result = await probe_in_pool(pool, url, settings, Thresholds().black_luma)
    return time.monotonic() - started, result


async def measure(sim: CamSim) -> dict[str, object]:
    settings = ProbeSection()
    pool = WorkerPool(4)
    pool.start()
    urls = [sim.url(f"cam{i}") for i in range(CAMERAS)]
    try:
        await asyncio.gather(*(timed(pool, u, settings) for u in urls[:4]))  # warm the workers up
        cpu_before = cpu_seconds(pool.pids)
        walls: list[float] = []
        opens: list[float] = []
        bad = 0
        for _ in range(ROUNDS):
            for wall, result in await asyncio.gather(*(timed(pool, u, settings) for u in urls)):
                walls.append(wall)
                opens.append(result.open_ms or 0.0)
                bad += 0 if result.online and not result.problem else 1
        cpu = cpu_seconds(pool.pids) - cpu_before
        probes = len(walls)

        # Two workers stuck on silent cameras while the other two keep probing healthy ones.
        hang = [f"rtsp://127.0.0.1:{sim.hang_port}/a", f"rtsp://127.0.0.1:{sim.hang_port}/b"]
        stuck = [asyncio.create_task(timed(pool, u, settings)) for u in hang]
        await asyncio.sleep(0.2)
        beside: list[float] = []
        for _ in range(2):
            for wall, result in await asyncio.gather(*(timed(pool, u, settings) for u in urls[:2])):
                beside.append(wall)
                bad += 0 if result.online else 1
        hung = await asyncio.gather(*stuck)
    finally:
        await pool.close()
    cpu_ms = cpu / probes * 1000
    return {
        "bench": "edge_probe",
        "cameras": CAMERAS,
        "workers": 4,
        "probes": probes,
        "frames_per_probe": settings.frames,
        "analysed_per_probe": settings.analysed_frames,
        "stream": "640x360 H.264 25 fps (camsim)",
        "failed_probes": bad,
        "probe_wall_ms_p50": round(statistics.median(walls) * 1000),
        "probe_wall_ms_max": round(max(walls) * 1000),
        "open_ms_p50": round(statistics.median(opens)),
        "worker_cpu_ms_per_probe": round(cpu_ms, 1),
        "cameras_per_core_per_30s": round(30_000 / cpu_ms) if cpu_ms else None,
        "healthy_wall_ms_p50_beside_2_hanging": round(statistics.median(beside) * 1000),
        "hanging_probe_wall_ms": [round(w * 1000) for w, _ in hung],
        "hanging_reason": hung[0][1].reason,
        "load_avg_1m": round(os.getloadavg()[0], 1),
    }


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as tmp:
        sim = start_camsim(Path(tmp), {f"cam{i}": "normal" for i in range(CAMERAS)}, fps=25, verbose=False)
        try:
            result = asyncio.run(measure(sim))
            if result["failed_probes"]:
                print(f"camsim alive={sim.alive()}; its log:\n{sim.log_tail()}", file=sys.stderr)
        finally:
            sim.stop()
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result["failed_probes"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
