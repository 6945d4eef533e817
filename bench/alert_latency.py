"""Alert latency: from a camera's fault to the (fake) Zalo server receiving the group message.

Real parts: the RTSP simulator, edge agents, Mosquitto, the hub (alert engine, notifier, SQL outbox) and the
local fake Zalo server (devtools/alertstack.py). Each camera sits in its own commune, so each fault is its
own alert group and its own message. A fault is a stream stopped at a random moment of its probe cycle.

The edge agent probes a box's other cameras at once when one fails (docs/ALERTS.md), which would make a
second undetected fault on the same box look faster than a lone one. So on each box only one fault is
undetected at a time: faults run as one chain per box, the next stopped once the hub has the previous one,
and the boxes run in parallel.

Two runs: the shipped defaults (probe every 30 s, re-check after 10 s, group_wait 10 s; goal p95 ≤ 60 s) and a
fast setting (probe every 5 s, re-check after 3 s, group_wait 2 s; goal ≤ 20 s). Each prints its figures and
the last line is one JSON object with both, including messages lost (a fault never told) and duplicated (told
more than once). Takes about five minutes.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.alertstack import AlertStack, StackSettings, wait_for  # noqa: E402
from devtools.services import start_mosquitto  # noqa: E402

SEED = 20261123
BOXES = 6
FAULTS_PER_BOX = 3
SETTLE_S = 20.0  # after the last message: a duplicate would arrive within this (group_interval is 60 s…)


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def run(
    name: str, settings: StackSettings, interval_s: float, broker_port: int, work: Path
) -> dict[str, Any]:
    rng = random.Random(f"{SEED}-{name}")
    stack = AlertStack(work / name, broker_port, settings)
    faults: dict[str, float] = {}
    lock = threading.Lock()
    errors: list[str] = []
    try:
        stack.start()
        cams = list(settings.cameras)
        wait_for(
            stack, "every camera ok", lambda: all(stack.camera_status().get(c) == "ok" for c in cams), 180
        )

        def chain(box: int) -> None:
            try:
                for cam in [c for c in cams if stack.agent_of(c) == box]:
                    time.sleep(rng.uniform(0, interval_s))  # a random moment of the camera's probe cycle
                    assert stack.camsim is not None
                    stack.camsim.stop_stream(cam)
                    with lock:
                        faults[cam] = time.time()
                    wait_for(
                        stack, f"{cam} offline", lambda c=cam: stack.camera_status().get(c) == "offline", 180
                    )
            except Exception as exc:  # reported with the figures, the other chains go on
                errors.append(f"box {box}: {exc}"[:500])

        threads = [threading.Thread(target=chain, args=(b,)) for b in range(settings.agents)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        def told() -> dict[str, list[float]]:
            out: dict[str, list[float]] = {c: [] for c in faults}
            for m in stack.messages("oa"):
                if m["text"].startswith("✅"):
                    continue
                for cam in faults:
                    if re.search(rf"(?<![\w-]){re.escape(cam)}(?![\w-])", m["text"]):
                        out[cam].append(float(m["at"]))
            return out

        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and not all(told().values()):
            time.sleep(1)
        time.sleep(SETTLE_S)
        got = told()
    finally:
        stack.stop()
    latencies = [min(ts) - faults[c] for c, ts in got.items() if ts]
    lost = sum(1 for ts in got.values() if not ts)
    dups = sum(len(ts) - 1 for ts in got.values() if len(ts) > 1)
    res: dict[str, Any] = {
        "faults": len(faults),
        "p50_s": round(statistics.median(latencies), 1) if latencies else None,
        "p95_s": round(_pct(latencies, 95), 1) if latencies else None,
        "max_s": round(max(latencies), 1) if latencies else None,
        "min_s": round(min(latencies), 1) if latencies else None,
        "lost": lost,
        "duplicates": dups,
    }
    if errors:
        res["errors"] = errors
    print(f"{name}: {json.dumps(res, ensure_ascii=False)}", flush=True)
    return res


def main() -> int:
    started = time.monotonic()
    n = BOXES * FAULTS_PER_BOX
    cameras = {f"c{i:02d}": f"xa{i:02d}" for i in range(1, n + 1)}  # one commune per camera: one group each
    with tempfile.TemporaryDirectory(prefix="alert-latency-") as tmp:
        work = Path(tmp)
        broker = start_mosquitto(work / "mosquitto")
        try:
            default = run(
                "default",
                StackSettings(cameras=cameras, agents=BOXES, probe_concurrency=2, startup_grace_s=60),
                30.0,
                broker.port,
                work,
            )
            fast = run(
                "fast",
                StackSettings(
                    cameras=cameras,
                    agents=BOXES,
                    probe_concurrency=2,
                    probe_interval_s=5,
                    recheck_s=3,
                    eval_interval_s=1,
                    camera_offline_rule={"group_wait_s": 2},
                    startup_grace_s=60,
                ),
                5.0,
                broker.port,
                work,
            )
        finally:
            broker.stop()
    summary = {
        "bench": "alert_latency",
        "default": default,
        "default_goal_p95_s": 60,
        "default_goal_met": default["p95_s"] is not None and default["p95_s"] <= 60,
        "fast": fast,
        "fast_goal_p95_s": 20,
        "fast_goal_met": fast["p95_s"] is not None and fast["p95_s"] <= 20,
        "lost": default["lost"] + fast["lost"],
        "duplicates": default["duplicates"] + fast["duplicates"],
        "wall_s": round(time.monotonic() - started),
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
