"""A 4G-like uplink: the box's WAN throttled with `tc tbf`, and latency, stalls and disconnects from the fault
proxy between the box and the broker. Health keeps flowing within the bandwidth, ahead of snapshots."""

from __future__ import annotations

import time
from pathlib import Path

from devtools.drills import ledger
from devtools.drills.fault_proxy import FaultProxy, Faults
from devtools.drills.report import Outcome
from devtools.drills.scenarios.common import Scenario, books_outcome, running, steady
from devtools.drills.stack import HOST, StackOptions

EXPECTED = "no health lost over a 256 kbit/s link with latency, stalls and drops; health lag stays low"


def link_4g(workdir: Path, short: bool) -> Outcome:
    run_s = 20.0 if short else 40.0
    with running(workdir, StackOptions(netns=True, snapshot_every=1)) as stack:
        assert stack.net is not None
        steady(stack)
        proxy = FaultProxy(
            stack.net.wan_host,
            (HOST, stack.mqtt_port),
            Faults(latency_s=0.15, stall_p=0.05, stall_s=1.0, disconnect_every_s=8.0),
        )
        try:
            stack.net.throttle(256)
            stack.stop_agent()
            stack.write_configs()
            edge = stack.workdir / "edge.yaml"
            edge.write_text(edge.read_text().replace(f"port: {stack.mqtt_port}", f"port: {proxy.port}"))
            stack.start_agent()
            lags: list[float] = []
            t0 = time.monotonic()
            while time.monotonic() - t0 < run_s:
                time.sleep(1)
                rows = stack.sql("SELECT last_seen, last_ts FROM cameras WHERE last_ts IS NOT NULL")
                lags += [ledger.epoch(a) - ledger.epoch(b) for a, b in rows]
            snapshots = stack.sql("SELECT count(*) FROM snapshots")[0][0] if stack.sql("SELECT 1") else 0
            healed = time.monotonic()
            out = books_outcome("link_4g", EXPECTED, stack, healed, within=40 if short else 90)
            lags.sort()
            p95 = lags[int(len(lags) * 0.95)] if lags else float("nan")
            out.observed += (
                f"; health lag p95 {p95:.1f} s; {proxy.disconnects} drops, {proxy.stalls} stalls; "
                f"{snapshots} cameras with a snapshot"
            )
            return out
        finally:
            proxy.close()


SCENARIOS = [Scenario("link_4g", EXPECTED, link_4g)]
