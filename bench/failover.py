"""Failover of several hubs: `.venv/bin/python bench/failover.py` (no arguments; about a minute; last line JSON).

Starts its own Mosquitto and PostgreSQL and three real hub processes (`python -m hub run`, cluster.enabled,
lease_ttl_s = 3 s, six partitions = six districts, InfluxDB off), sends steady device traffic (60 cameras, one
health message each per second, every message a status change, so every message must become exactly one
transition row), then SIGKILLs the hub holding the most partitions (its leader duties too, when it has them).

Measured:
- `failover_s`: from the SIGKILL until every partition and every leader duty is held again by a live hub
  (leases polled every 50 ms, database clock). Goal: ≤ lease_ttl_s + 5 s.
- `resumed_s`: from the SIGKILL until a message sent after it to a moved partition is in SQL.
- `lost` and `duplicated`: messages sent (acknowledged by the broker) without their transition row, and
  transition rows recorded twice, counted after the traffic stopped. Goal: 0 and 0.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devtools.hubcluster import (  # noqa: E402
    HubProcess,
    Traffic,
    compare,
    fresh_database,
    holdings,
    hub_yaml,
    start_postgres,
    transitions,
)
from devtools.services import start_mosquitto  # noqa: E402

TTL_S = 3.0
HUBS = 3
DISTRICTS = 6
PER_DISTRICT = 10
PERIOD_S = 1.0
WARM_S = 8.0
AFTER_S = 8.0


def wait(cond, within: float, what: str, step: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {within:.0f} s")
        time.sleep(step)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-failover-"))
    mq = start_mosquitto(work / "mosquitto")
    pg = start_postgres()
    hubs: list[HubProcess] = []
    traffic: Traffic | None = None
    try:
        db = fresh_database(pg.url)
        for i in range(1, HUBS + 1):
            cfg, port = hub_yaml(work, f"h{i}", db, mq.port, DISTRICTS, TTL_S)
            hubs.append(HubProcess(f"h{i}", cfg, port, work / f"h{i}.log"))
        for h in hubs:
            h.start()
        for h in hubs:
            h.wait_http(60)
        wait(lambda: len(holdings(db).partitions) == DISTRICTS and len(holdings(db).leaders) == 3, 60,
             "every partition and duty held")  # fmt: skip
        wait(lambda: max(len(holdings(db).of(h.hub_id)) for h in hubs) <= DISTRICTS // HUBS, 30, "fair share")
        cams = [(f"d{d}", "x", f"cam-{j:02d}") for d in range(1, DISTRICTS + 1) for j in range(PER_DISTRICT)]
        traffic = Traffic(mq.port, cams, PERIOD_S)
        traffic.start()
        time.sleep(WARM_S)

        before = holdings(db)
        victim = max(hubs, key=lambda h: (len(before.of(h.hub_id)), h.hub_id in before.leaders.values()))
        moved = before.of(victim.hub_id)
        duties = sorted(d for d, h in before.leaders.items() if h == victim.hub_id)
        victim.kill()
        killed, killed_wall = time.monotonic(), time.time()

        def all_held() -> bool:
            x = holdings(db)
            owners = {*x.partitions.values(), *x.leaders.values()}
            return len(x.partitions) == DISTRICTS and len(x.leaders) == 3 and victim.hub_id not in owners

        wait(all_held, TTL_S + 30, "failover")
        failover_s = time.monotonic() - killed
        moved_cams = {f"{d}/x/cam-{j:02d}" for d in moved for j in range(PER_DISTRICT)}

        def resumed() -> bool:
            rec = transitions(db)
            return any(t > killed_wall + 0.5 for k in moved_cams for t in rec.get(k, []))

        wait(resumed, 30, "ingest of a moved partition")
        resumed_s = time.monotonic() - killed
        time.sleep(AFTER_S)
        traffic.finish()
        sent = traffic.total

        def settled() -> tuple[int, int] | None:
            r = compare(traffic.sent, transitions(db)) if traffic is not None else (0, 0)
            return r if r[0] == 0 else None

        try:
            lost, duplicated = wait(settled, 30, "every message in SQL", step=0.5)
        except TimeoutError:
            lost, duplicated = compare(traffic.sent, transitions(db))
        result = {
            "bench": "failover",
            "hubs": HUBS,
            "partitions": DISTRICTS,
            "cameras": len(cams),
            "msgs_per_s": round(len(cams) / PERIOD_S),
            "lease_ttl_s": TTL_S,
            "killed_partitions": len(moved),
            "killed_duties": duties,
            "failover_s": round(failover_s, 2),
            "goal_failover_s": TTL_S + 5,
            "resumed_s": round(resumed_s, 2),
            "messages_sent": sent,
            "lost": lost,
            "duplicated": duplicated,
            "ok": failover_s <= TTL_S + 5 and lost == 0 and duplicated == 0,
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }
        print(
            f"killed {victim.hub_id} ({len(moved)} partitions, duties {duties or 'none'}): everything held again "
            f"after {failover_s:.2f} s (goal ≤ {TTL_S + 5:g} s), moved partition ingesting after {resumed_s:.2f} s; "
            f"{sent} messages, {lost} lost, {duplicated} duplicated"
        )
        print(json.dumps(result))
        return 0 if result["ok"] else 1
    finally:
        if traffic is not None and traffic.is_alive():
            traffic.finish()
        for h in hubs:
            h.stop()
        pg.remove()
        mq.stop()


if __name__ == "__main__":
    sys.exit(main())
