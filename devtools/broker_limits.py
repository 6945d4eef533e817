"""Mosquitto's queue limits for the hub's session, derived from the fleet and the outage it must survive.

While the hub is away (restart, upgrade, crash), the broker queues every QoS 1 message of its persistent session;
beyond `max_queued_messages` or `max_queued_bytes` (payload bytes, per client) it silently drops new ones. So the
limits must hold the whole outage's traffic, and no more than the broker's memory can carry (the queue lives in
RAM, and in the persistence file at each autosave). docs/OPERATIONS.md "Broker limits" shows the arithmetic.

    python -m devtools.broker_limits --cameras 1000 --boxes 40 --speakers 250 --outage-h 1

prints the mosquitto.conf lines; docker/mosquitto/mosquitto.conf holds them for the reference district below
(tests/devtools/test_broker_limits.py keeps the two equal).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

# What each device sends (defaults of edge_agent/config.py, edge_agent/app.py, broadcast/receiver/config.py) and
# typical payload sizes (a health message with every metric; a status message with a 25-camera inventory;
# a 640-pixel JPEG of a real scene at quality 75).
HEALTH_PER_H = 3600 / 30  # probe.interval_s
SNAPSHOT_PER_H = HEALTH_PER_H / 10  # probe.snapshot_every
EDGE_STATUS_PER_H = 3600 / 60  # STATUS_EVERY_S
SPEAKER_HEALTH_PER_H = 3600 / 30  # health.interval_s
HEALTH_BYTES = 300
SNAPSHOT_BYTES = 40_000
EDGE_STATUS_BYTES = 2_500
SPEAKER_HEALTH_BYTES = 250
MARGIN = 1.25  # bursts (rechecks, commands, status changes) and growth of the fleet
# Catch-up after the outage: the hub drains at ~5k msg/s (bench/ingest.py); the broker must keep that many
# messages per round trip in flight. 100 covers a 20 ms WAN round trip.
INFLIGHT = 100


@dataclass(frozen=True)
class Fleet:
    cameras: int
    boxes: int
    speakers: int
    outage_h: float


# The reference district of docker-compose.yml: Yên Định-sized, with room to grow.
DISTRICT = Fleet(cameras=1000, boxes=40, speakers=250, outage_h=1.0)


@dataclass(frozen=True)
class Limits:
    messages: int  # max_queued_messages
    bytes: int  # max_queued_bytes
    inflight: int  # max_inflight_messages
    raw_messages: float  # the outage's traffic before the margin
    raw_bytes: float


def _round_up(n: float, unit: int) -> int:
    return int(math.ceil(n / unit) * unit)


def limits(f: Fleet) -> Limits:
    rates = (
        (f.cameras * HEALTH_PER_H, HEALTH_BYTES),
        (f.cameras * SNAPSHOT_PER_H, SNAPSHOT_BYTES),
        (f.boxes * EDGE_STATUS_PER_H, EDGE_STATUS_BYTES),
        (f.speakers * SPEAKER_HEALTH_PER_H, SPEAKER_HEALTH_BYTES),
    )
    msgs = sum(n for n, _ in rates) * f.outage_h
    size = sum(n * b for n, b in rates) * f.outage_h
    return Limits(
        messages=_round_up(msgs * MARGIN, 10_000),
        bytes=_round_up(size * MARGIN, 1 << 26),  # 64 MiB steps
        inflight=INFLIGHT,
        raw_messages=msgs,
        raw_bytes=size,
    )


def conf_lines(lim: Limits) -> list[str]:
    return [
        f"max_queued_messages {lim.messages}",
        f"max_queued_bytes {lim.bytes}",
        f"max_inflight_messages {lim.inflight}",
    ]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cameras", type=int, default=DISTRICT.cameras)
    p.add_argument("--boxes", type=int, default=DISTRICT.boxes)
    p.add_argument("--speakers", type=int, default=DISTRICT.speakers)
    p.add_argument("--outage-h", type=float, default=DISTRICT.outage_h)
    a = p.parse_args(argv)
    lim = limits(Fleet(a.cameras, a.boxes, a.speakers, a.outage_h))
    print(f"# {lim.raw_messages:,.0f} messages, {lim.raw_bytes / 1e6:,.0f} MB in {a.outage_h:g} h, plus 25 %")
    print("\n".join(conf_lines(lim)))


if __name__ == "__main__":
    main()
