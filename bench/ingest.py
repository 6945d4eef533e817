"""Hub ingest benchmark: `.venv/bin/python bench/ingest.py` (no arguments; a few minutes; last line is JSON).

Starts its own Mosquitto and InfluxDB, and runs the hub as a child process (a real hub process, as deployed).

0. Warm-up: one health message per camera, hub running, so the 20,000 cameras are registered in SQL and their
   InfluxDB series exist (as on every day but the first).
1. Burst: 100,000 QoS 1 health messages for 20,000 simulated cameras (1,000 agents) are published while the
   hub's persistent session is disconnected, so the broker queues them (as after a hub restart). The hub then
   connects and drains the backlog: the rate is messages ÷ (first received → all points acknowledged by
   InfluxDB), and the points are counted back from InfluxDB. Queuing first keeps the publishers' CPU out of
   the measurement on this 2-core machine.
2. Baseline: a bare paho subscriber that only counts drains the same 100,000 messages from its own session,
   same broker, same QoS: its rate is the ceiling of a Python MQTT consumer here.
3. Lag: a paced publisher sends 1,000 msg/s (each camera once, `ts` = publish time) to the running hub; the
   bench polls the hub's SQLite database (what the API reads) and records publish → visible per message.

4. PostgreSQL, one and two hub processes (bench/ingest_cluster.py, `postgresql` in the result): the same burst
   queued in the partitions' sessions, drained by one hub holding all four partitions, then by two hubs holding
   two each; beside the bare subscriber's rate above.

Goals: ≥ 5,000 msg/s per hub process, ≥ 50 % of the bare rate, nothing lost, lag p99 < 2 s. Wall-clock rates
on a shared 2-core machine move with whatever else runs (`loadavg_*` in the result); CPU µs per message (hub
process, all threads; bare subscriber) does not, hence `hub_one_core_msgs_per_s` and `cpu_ratio_bare_to_hub`.
Child roles (`--role hub|bare|publish|steady`) are this same file run by the bench itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ingest_harness import (  # noqa: E402
    HubProcess,
    child,
    influx_count,
    last_json,
    measure_lag,
    percentile,
    threads_cpu,
    wait,
)
from bench.ingest_workload import (  # noqa: E402
    CAMERAS,
    PER_AGENT,
    PER_CAMERA,
    camera_topic,
    health_payload,
    slot_of,
)

PUBLISHERS = 2
STEADY_RATE = 1_000
STEADY_SECONDS = 20
HUB_ID = "bench-hub"
BARE_ID = "bench-bare"
SESSION_S = 3600


# child roles ------------------------------------------------------------------------------------------------
def role_hub(args: argparse.Namespace) -> None:
    import logging

    from hub.compose import Hub, HubConfig

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    cfg = HubConfig.model_validate(json.loads(args.config))

    async def main() -> None:
        hub = Hub(cfg)
        first: list[float] = []
        deliver = hub.bridge._on_messages

        def note_first() -> None:  # receive time of the very first message (stamped by the MQTT thread)
            if not first and hub.bridge.inbox:
                first.append(hub.bridge.inbox[0][3])
            deliver()

        if hub.cluster is None:  # several hubs: messages come through the partitions' sessions instead
            hub.bridge._on_messages = note_first
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await hub.start()
        subscribed = await hub.bridge.wait_subscribed(10)
        print(json.dumps({"event": "started", "subscribed": subscribed}), flush=True)
        while not stop.is_set():
            snap = hub.stats.snapshot()
            line = {"t": time.time(), "first": first[0] if first else None, "threads_cpu_s": threads_cpu()}
            print(json.dumps({**line, **snap}), flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
        await hub.stop()
        print(json.dumps({"event": "stopped", **hub.stats.snapshot()}), flush=True)

    asyncio.run(main())


def _client(client_id: str, clean: bool) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)


def _connect_props() -> Any:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    p = Properties(PacketTypes.CONNECT)
    p.SessionExpiryInterval = SESSION_S
    return p


def role_bare(args: argparse.Namespace) -> None:
    """A paho subscriber that only counts (loop_forever, the fastest paho receive loop measured here)."""
    from contract.topics import hub_subscriptions

    c = _client(BARE_ID, clean=False)
    state = {"n": 0, "first": 0.0, "last": 0.0}
    want = args.count

    def on_connect(client: Any, *_: Any) -> None:
        client.subscribe([(f, 1) for f in hub_subscriptions()])

    def on_subscribe(client: Any, *_: Any) -> None:
        if want == 0:
            client.disconnect()

    def on_message(client: Any, _u: Any, _m: Any) -> None:
        now = time.time()
        state["n"] += 1
        if state["n"] == 1:
            state["first"] = now
            state["cpu0"] = time.process_time()
        state["last"] = now
        if state["n"] >= want:
            client.disconnect()

    c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
    c.connect("127.0.0.1", args.port, 60, clean_start=False, properties=_connect_props())
    timer = threading.Timer(args.timeout, c.disconnect)
    timer.start()
    c.loop_forever()
    timer.cancel()
    state["cpu"] = time.process_time() - state.get("cpu0", 0.0)
    print(json.dumps(state), flush=True)


def role_publish(args: argparse.Namespace) -> None:
    """Publishes cameras [start, start+count) × `rounds` at QoS 1 as fast as the broker acknowledges. Round -1
    is the warm-up (older ts, lower seq than the burst's rounds 0…)."""
    c = _client(f"bench-pub-{args.start}", clean=True)
    c.max_inflight_messages_set(500)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", args.port, 60)
    base = time.time() - 3600
    infos = []
    n = 0
    for rnd in range(args.first_round, args.first_round + args.rounds):
        for i in range(args.start, args.start + args.count):
            seq = (rnd + 1) * PER_AGENT + slot_of(i)  # per agent, increasing
            infos.append(
                c.publish(camera_topic(i), health_payload(i, seq, base + rnd * 30 + i * 1e-3), qos=1)
            )
            n += 1
            if n % 200 == 0:
                c.loop(0)
    deadline = time.time() + 120
    while not all(i.is_published() for i in infos[-1000:]) and time.time() < deadline:
        c.loop(0.05)
    while not all(i.is_published() for i in infos) and time.time() < deadline:
        c.loop(0.05)
    c.disconnect()
    print(json.dumps({"published": sum(1 for i in infos if i.is_published())}), flush=True)


def role_steady(args: argparse.Namespace) -> None:
    """Paced publisher: `rate` msg/s for `seconds`, each camera at most once, ts = time of publishing."""
    c = _client("bench-steady", clean=True)
    c.max_inflight_messages_set(500)
    c.connect("127.0.0.1", args.port, 60)
    total = args.rate * args.seconds
    t0 = time.time()
    for k in range(total):
        target = t0 + k / args.rate
        while True:
            delay = target - time.time()
            if delay <= 0:
                break
            c.loop(min(delay, 0.01))
        i = k % CAMERAS
        seq = (PER_CAMERA + 1 + k // CAMERAS) * PER_AGENT + slot_of(i)
        c.publish(camera_topic(i), health_payload(i, seq, time.time()), qos=1)
    for _ in range(100):
        c.loop(0.02)
    c.disconnect()
    print(json.dumps({"published": total, "seconds": round(time.time() - t0, 2)}), flush=True)


def main() -> int:
    from devtools.lifeline import exit_on_sigterm
    from devtools.services import free_port, influx_create_db, start_influxd, start_mosquitto

    exit_on_sigterm()  # a CI timeout's SIGTERM still runs the `finally` that stops the services

    total = CAMERAS * PER_CAMERA
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    mosq = start_mosquitto(work / "mosquitto")
    influx = start_influxd(work / "influxd")
    influx_create_db(influx.port, "bench")
    db_path = work / "hub.db"
    config = {
        "data_dir": str(work / "hub"),
        "mqtt": {"port": mosq.port, "client_id": HUB_ID},
        "influx": {"url": influx.url, "database": "bench", "batch_size": 5000, "flush_interval_s": 1.0},
        "database": {"url": f"sqlite:///{db_path}"},
        "http": {"port": free_port()},
        "ingest": {"state_flush_s": 1.0, "legacy_reports": True},  # its reports name boxes it never announces
    }
    result: dict[str, Any] = {"bench": "ingest", "cameras": CAMERAS, "messages": total}
    # Shared 2-core machine: the load beside the bench explains wall-clock rates; CPU per message does not move.
    result["loadavg_start"] = round(os.getloadavg()[0], 1)
    hub: HubProcess | None = None
    try:
        # Warm-up, hub running: one message per camera registers the 20,000 cameras in SQL and creates their
        # InfluxDB series, as on any day but the first. The burst then measures a hub restarting with a backlog.
        step = CAMERAS // PUBLISHERS
        hub = HubProcess(config)
        warm = [
            child(
                "publish",
                "--port",
                str(mosq.port),
                "--start",
                str(k * step),
                "--count",
                str(step),
                "--first-round",
                "-1",
                "--rounds",
                "1",
            )
            for k in range(PUBLISHERS)
        ]
        for p in warm:
            last_json(p, 300)
        wait(lambda: hub is not None and hub.latest().get("influx_written", 0) >= CAMERAS, 180)
        # Acknowledged (durable) before the hub stops, or its session hands the warm-up to the burst's hub again.
        wait(lambda: hub is not None and hub.latest().get("mqtt_unacked", 0) == 0, 120)
        result["warmup_written"] = hub.latest().get("influx_written")
        hub.stop()

        # The bare subscriber's session now, so the broker queues the burst for both consumers.
        last_json(child("bare", "--port", str(mosq.port), "--count", "0"), 30)
        t0 = time.time()
        pubs = [
            child("publish", "--port", str(mosq.port), "--start", str(k * step), "--count", str(step))
            for k in range(PUBLISHERS)
        ]
        published = sum(last_json(p, 300).get("published", 0) for p in pubs)
        result["published"] = published
        result["publish_s"] = round(time.time() - t0, 1)

        bare = last_json(
            child("bare", "--port", str(mosq.port), "--count", str(total), "--timeout", "180"), 200
        )
        bare_rate = (bare["n"] - 1) / (bare["last"] - bare["first"]) if bare.get("n", 0) > 1 else 0.0
        result["bare_received"] = bare.get("n", 0)
        result["bare_msgs_per_s"] = round(bare_rate)
        result["bare_cpu_us_per_msg"] = round(bare.get("cpu", 0) / max(1, bare.get("n", 1)) * 1e6, 1)

        t_start = time.time()
        hub = HubProcess(config)
        cpu0 = hub.cpu_s()
        # Times from the hub's own 0.1 s stats lines: applied to state (accepted) and acknowledged by InfluxDB
        # (HTTP 204: in its WAL). Polling InfluxDB with count() meanwhile would load it; it is counted once after.
        wait(lambda: hub is not None and hub.latest().get("influx_written", 0) >= total, 240)
        cpu1 = hub.cpu_s()
        t_ingested = next((ln["t"] for ln in hub.lines if ln.get("accepted", 0) >= total), time.time())
        t_influx = next((ln["t"] for ln in hub.lines if ln.get("influx_written", 0) >= total), time.time())
        threads0 = next((ln for ln in hub.lines if "threads_cpu_s" in ln), {}).get("threads_cpu_s", {})
        threads1 = hub.latest().get("threads_cpu_s", {})
        result["hub_threads_cpu_us_per_msg"] = {
            k: round((v - threads0.get(k, 0.0)) / total * 1e6, 1) for k, v in threads1.items()
        }
        # The last stats line before anything arrived: at most 0.1 s early, which only lowers the rates.
        first = max(
            (ln["t"] for ln in hub.lines if "received" in ln and ln["received"] == 0), default=t_start
        )
        points = -1
        for _ in range(50):  # InfluxDB may still be indexing the last batch: count until stable
            points = influx_count(influx.port, "bench") - CAMERAS  # less the warm-up's points
            if points >= total:
                break
            time.sleep(0.2)
        snap = hub.latest()
        result.update(
            hub_received=snap.get("received"),
            hub_accepted=snap.get("accepted"),
            influx_points=points,
            lost=total - points,
            hub_msgs_per_s=round(total / (t_influx - first)),
            hub_ingest_msgs_per_s=round(total / (t_ingested - first)),
            hub_cpu_us_per_msg=round((cpu1 - cpu0) / total * 1e6, 1),
            rejected=snap.get("rejected_total"),
            backpressure_waits=snap.get("backpressure_waits"),
            sql_flush_ms_max=snap.get("sql_flush_ms_max"),
        )
        result["ratio_to_bare"] = round(result["hub_msgs_per_s"] / bare_rate, 2) if bare_rate else None
        # CPU per message does not depend on what else runs on the machine; wall-clock rates do.
        hub_cpu = result["hub_cpu_us_per_msg"]
        result["hub_one_core_msgs_per_s"] = round(1e6 / hub_cpu) if hub_cpu else None
        bare_cpu = result.get("bare_cpu_us_per_msg")
        result["cpu_ratio_bare_to_hub"] = round(bare_cpu / hub_cpu, 2) if hub_cpu and bare_cpu else None

        # Lag at a steady 1,000 msg/s.
        steady_start = time.time()
        steady = child(
            "steady", "--port", str(mosq.port), "--rate", str(STEADY_RATE), "--seconds", str(STEADY_SECONDS)
        )
        lags = measure_lag(
            db_path, steady_start - 1, STEADY_RATE * STEADY_SECONDS, steady_start + STEADY_SECONDS + 15
        )
        last_json(steady, 60)
        result.update(
            lag_messages=STEADY_RATE * STEADY_SECONDS,
            lag_seen=len(lags),
            lag_p50_s=round(percentile(lags, 0.5), 3),
            lag_p99_s=round(percentile(lags, 0.99), 3),
            lag_max_s=round(max(lags), 3) if lags else None,
        )
        final = hub.stop()
        hub = None
        result["hub_influx_dropped"] = final.get("influx_dropped")
    except Exception as exc:  # the JSON line still comes out, saying what broke
        result["error"] = repr(exc)
    finally:
        if hub is not None:
            hub.stop()
    try:  # the same burst through one and two hub processes on one PostgreSQL (bench/ingest_cluster.py)
        from bench.ingest_cluster import run_pg_modes

        result["postgresql"] = run_pg_modes(mosq.port, influx, work, bare_rate=result.get("bare_msgs_per_s"))
    except Exception as exc:
        result["postgresql"] = {"error": repr(exc)}
    finally:
        mosq.stop()
        influx.stop()
    result["loadavg_end"] = round(os.getloadavg()[0], 1)
    result["goals"] = {
        "msgs_per_s_ge_5000": result.get("hub_msgs_per_s", 0) >= 5000,
        "ge_50pct_of_bare": (result.get("ratio_to_bare") or 0) >= 0.5,
        "nothing_lost": result.get("lost") == 0 and result.get("lag_seen") == result.get("lag_messages"),
        "lag_p99_lt_2s": (result.get("lag_p99_s") or 99) < 2.0,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--role")
    ap.add_argument("--config")
    ap.add_argument("--port", type=int)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--first-round", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=PER_CAMERA)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--rate", type=int, default=STEADY_RATE)
    ap.add_argument("--seconds", type=int, default=STEADY_SECONDS)
    a = ap.parse_args()
    roles = {"hub": role_hub, "bare": role_bare, "publish": role_publish, "steady": role_steady}
    if a.role:
        roles[a.role](a)
        sys.exit(0)
    sys.exit(main())
