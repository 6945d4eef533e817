"""The simulated province of bench/province_steady.py: its areas, topics and payloads, and the paced publisher
(child role `publish`)."""

from __future__ import annotations

import argparse
import json
import random
import time

DISTRICTS, COMMUNES = 25, 24  # 600 communes (the pre-2025 count; a merged province has fewer, larger ones)
CAMERAS, SPEAKERS = 20_000, 5_000
INTERVAL_S = 30.0  # camera health and speaker health, each endpoint once per interval
FLIP_SHARE = 0.001  # cameras whose status changes per round: 20 every 30 s, 40 status changes a minute


def area(i: int, n: int) -> tuple[str, str]:
    a = i * DISTRICTS * COMMUNES // n
    d, c = divmod(a, COMMUNES)
    return f"h{d:02d}", f"x{d:02d}-{c:02d}"


def camera_topic(i: int) -> str:
    d, c = area(i, CAMERAS)
    return f"ops/v1/{d}/{c}/camera/cam{i:05d}/health"


def speaker_topic(i: int) -> str:
    d, c = area(i, SPEAKERS)
    return f"ops/v1/{d}/{c}/speaker/loa{i:04d}/health"


def camera_payload(i: int, seq: int, ts: float, broken: bool) -> bytes:
    box = "b" + area(i, CAMERAS)[1]  # one box per commune: a box reports only for cameras of its own commune
    if i % 37 == 0:  # a camera that never answers
        return (
            f'{{"ts":{ts:.3f},"seq":{seq},"online":false,"agent":"{box}","boot":"b1",'
            f'"problems":["unreachable"],"reason":"timeout"}}'
        ).encode()
    problems = '["frozen"]' if broken or i % 23 == 0 else "[]"
    return (
        f'{{"ts":{ts:.3f},"seq":{seq},"online":true,"agent":"{box}","boot":"b1",'
        f'"problems":{problems},"fps":14.8,"expected_fps":15,"width":640,"height":360,"open_ms":812.0,'
        f'"probe_ms":2140.0,"brightness":96.1,"contrast":41.7,"sharpness":311.2,"motion":1.5}}'
    ).encode()


def speaker_payload(seq: int, ts: float) -> bytes:
    return (
        f'{{"ts":{ts:.3f},"seq":{seq},"volume":70,"amplifier":"on","signal_dbm":-61.0,"disk_free_mb":812.0,'
        f'"cache_mb":40.5,"queue":0}}'
    ).encode()


def role_publish(args: argparse.Namespace) -> None:
    """Every camera and speaker once per `interval` s, evenly spread, for `seconds` (0: one round as fast as
    the broker acknowledges: the warm-up). Prints how many the broker acknowledged."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{args.round}", protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", args.port, 60)
    rng = random.Random(7)
    broken: set[int] = set()
    endpoints = [("c", i) for i in range(CAMERAS)] + [("s", i) for i in range(SPEAKERS)]
    rng.shuffle(endpoints)  # cameras and speakers interleaved, communes mixed, as real reports arrive
    rounds = 1 if args.seconds == 0 else max(1, round(args.seconds / args.interval))
    step = 0.0 if args.seconds == 0 else args.interval / len(endpoints)
    infos = []
    t0 = time.time()
    k = 0
    for rnd in range(rounds):
        flips = set(rng.sample(range(CAMERAS), int(CAMERAS * FLIP_SHARE))) if args.seconds else set()
        broken ^= flips
        seq = args.round + rnd + 1
        for kind, i in endpoints:
            target = t0 + k * step
            while step:
                delay = target - time.time()
                if delay <= 0:
                    break
                c.loop(min(delay, 0.01))
            now = time.time()
            if kind == "c":
                infos.append(c.publish(camera_topic(i), camera_payload(i, seq, now, i in broken), qos=1))
            else:
                infos.append(c.publish(speaker_topic(i), speaker_payload(seq, now), qos=1))
            k += 1
            if not step and k % 200 == 0:
                c.loop(0)
    deadline = time.time() + 120
    while not all(i.is_published() for i in infos) and time.time() < deadline:
        c.loop(0.05)
    c.disconnect()
    cams = sum(
        1 for i, (kind, _) in zip(infos, endpoints * rounds, strict=True) if kind == "c" and i.is_published()
    )
    acked = sum(1 for i in infos if i.is_published())
    print(json.dumps({"published": acked, "cameras": cams, "speakers": acked - cams}), flush=True)
