"""A loudspeaker receiver for a drill: `python -m broadcast.receiver` (null sink) beside the edge box in its
namespace, the hub's media served on the box's side of the uplink, and the hub's own signing key to send it a
`prepare` as the hub's dispatcher does; a recorder of what the receiver reports over MQTT."""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import subprocess
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from paho.mqtt.enums import CallbackAPIVersion

from contract import PlaylistItem, PreparePlaylist, SpeakerCommand
from contract.orders import sign_order
from contract.topics import Channel, speaker_topic
from devtools.drills.stack import COMMUNE, DISTRICT, HOST, Stack

SPEAKER = "loa-drill"


def make_tone(path: Path, seconds: float) -> dict[str, Any]:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", f"sine=frequency=440:duration={seconds}:sample_rate=48000", "-ac", "1", "-c:a", "libmp3lame",
         "-b:a", "64k", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    data = path.read_bytes()
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "duration_s": seconds}


def skewed(seconds: float) -> dict[str, str]:
    """The environment that runs a process on a wall clock `seconds` off (libfaketime, Debian's faketime);
    the monotonic clock stays true, as with a real clock error."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:
        raise RuntimeError("libfaketime is missing: run `make bootstrap` (Debian package faketime)")
    return {"LD_PRELOAD": found[0], "FAKETIME": f"{seconds:+g}", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


class Events:
    """Every event the receiver reports, with the time it reached the broker's side (arrival)."""

    def __init__(self, port: int) -> None:
        self.got: list[tuple[float, dict[str, Any]]] = []
        self.lock = threading.Lock()
        topic = str(speaker_topic(DISTRICT, COMMUNE, SPEAKER, Channel.EVENT))
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="drills-events", protocol=mqtt.MQTTv5
        )
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_message = self._on_message
        self.client.connect(HOST, port)
        self.client.loop_start()

    def _on_message(self, c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.got.append((time.time(), json.loads(msg.payload)))

    def of(self, event: str) -> list[tuple[float, dict[str, Any]]]:
        with self.lock:
            return [(t, e) for t, e in self.got if e.get("event") == event]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Receiver:
    def __init__(self, stack: Stack, clock_skew_s: float = 0.0) -> None:
        assert stack.net is not None
        self.stack = stack
        self.dir = stack.workdir / "speaker"
        media = self.dir / "media"
        media.mkdir(parents=True, exist_ok=True)
        self.tone = make_tone(media / "tone.mp3", 2.0)
        handler = functools.partial(SimpleHTTPRequestHandler, directory=str(media))
        self.http = ThreadingHTTPServer((stack.net.wan_host, 0), handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.base = f"http://{stack.net.wan_host}:{self.http.server_address[1]}/"
        (self.dir / "receiver.yaml").write_text(
            json.dumps(
                {
                    "receiver": {"id": SPEAKER, "district": DISTRICT, "commune": COMMUNE},
                    "mqtt": {
                        "host": stack.net.wan_host,
                        "port": stack.mqtt_port,
                        "keepalive": stack.opts.keepalive_s,
                        "backoff_min_s": 0.5,
                        "backoff_max_s": 2,
                    },
                    "hub": {"allowed_urls": [self.base]},
                    "cache": {"dir": str(self.dir / "cache")},
                    "sink": {"type": "null"},
                    "health": {"interval_s": 2},
                    "outbox": {"path": str(self.dir / "queue.sqlite")},
                    "hub_public_key": str(stack.workdir / "hub" / "keys" / "orders_ed25519.pub"),
                }
            )
        )  # fmt: skip  (JSON is YAML)
        self.proc = stack._spawn(
            ["-m", "broadcast.receiver", "--config", str(self.dir / "receiver.yaml"), "--log-level", "DEBUG"],
            "receiver.log",
            stack.net.exec_prefix(),
            skewed(clock_skew_s) if clock_skew_s else None,
        )

    def prepare(self, airing: str, start_at: float) -> None:
        key_pem = (self.stack.workdir / "hub" / "keys" / "orders_ed25519.pem").read_bytes()
        key = load_pem_private_key(key_pem, password=None)
        plan = PreparePlaylist(
            airing=airing,
            start_at=start_at,
            priority="normal",
            items=[PlaylistItem(url=self.base + "tone.mp3", **self.tone)],
        )
        order = SpeakerCommand(transaction=f"t-{airing}", action="prepare", ts=time.time(), data=plan)
        topic = speaker_topic(DISTRICT, COMMUNE, SPEAKER, Channel.CMD)
        payload = sign_order(key, order, topic, int(time.time() * 1e6), round(time.time() + 300, 3))  # type: ignore[arg-type]
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="drills-dispatch", protocol=mqtt.MQTTv5)
        pub.connect(HOST, self.stack.mqtt_port)
        pub.loop_start()
        try:
            pub.publish(str(topic), payload, qos=1).wait_for_publish(10)
        finally:
            pub.loop_stop()
            pub.disconnect()

    def stop(self) -> None:
        from devtools.services import terminate

        terminate(self.proc, 15)
        self.http.shutdown()
