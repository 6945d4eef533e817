"""Helpers for the receiver tests (no tests here): MP3s made by ffmpeg, a local aiohttp file server in a thread,
the receiver as a real child process, and commands/events over the real broker."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from aiohttp import web

from contract import SpeakerEvent, SpeakerHealth, SpeakerStatus
from devtools.lifeline import die_with_parent
from devtools.services import free_port, terminate
from tests.edge_support import REPO, Recorder
from tests.orders_support import PUBLIC_PEM, signed

DISTRICT, COMMUNE = "yen_dinh", "dinh_long"


def make_mp3(path: Path, seconds: float, freq: int = 440) -> dict[str, Any]:
    """A sine tone MP3; its playlist item fields (url filled in by the server)."""
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"sine=frequency={freq}:duration={seconds}:sample_rate=48000",
            "-ac", "1", "-c:a", "libmp3lame", "-b:a", "64k", str(path),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    data = path.read_bytes()
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "duration_s": seconds}


class FileServer:
    """aiohttp serving a folder under /media/ on a free loopback port, in its own thread and loop."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.requests: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("file server did not start")

    def base(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/media/"

    def url(self, name: str, host: str = "127.0.0.1") -> str:
        return self.base(host) + name

    async def _file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.requests.append(name)
        path = self.root / name
        if "/" in name or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/media/{name}", self._file)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self._ready.set()
        self._loop.run_forever()

    def close(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def write_config(
    path: Path, receiver: str, mqtt_port: int, allowed: list[str], sink: dict[str, Any], **extra: Any
) -> Path:
    doc: dict[str, Any] = {
        "receiver": {
            "id": receiver,
            "district": DISTRICT,
            "commune": COMMUNE,
            "name": "Cụm loa thử",
            "village": "thon-1",
        },
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "backoff_min_s": 0.2, "backoff_max_s": 1},
        "hub": {"allowed_urls": allowed, "retries": 1, "retry_backoff_s": 0.2},
        "cache": {"dir": "cache", "max_mb": 100},
        "sink": sink,
        "health": {"interval_s": 1},
        "hub_public_key": PUBLIC_PEM,  # the tests' key (tests/orders_support.py); a hub's own when given
        **extra,
    }
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


class ReceiverProcess:
    def __init__(self, config: Path, log: Path) -> None:
        self.log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "broadcast.receiver", "--config", str(config), "--log-level", "DEBUG"],
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
        )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 20.0) -> int:
        terminate(self.proc, timeout)
        self._log.close()
        return int(self.proc.returncode)


class Speaker:
    """The hub's side of one receiver, over the real broker."""

    def __init__(self, recorder: Recorder, receiver: str) -> None:
        self.rec = recorder
        self.base = f"ops/v1/{DISTRICT}/{COMMUNE}/speaker/{receiver}"
        self._tx = 0

    def send(self, action: str, data: dict[str, Any] | None = None) -> str:
        self._tx += 1
        tx = f"t{self._tx}-{action}"
        doc: dict[str, Any] = {"transaction": tx, "ts": time.time(), "action": action}
        if data is not None:
            doc["data"] = data
        self.rec.publish(f"{self.base}/cmd", signed(f"{self.base}/cmd", doc))
        return tx

    def events(self) -> list[SpeakerEvent]:
        return [
            m.decoded
            for m in self.rec.snapshot()
            if m.topic == f"{self.base}/event" and isinstance(m.decoded, SpeakerEvent)
        ]

    def event(self, airing: str | None, kind: str, timeout: float = 30.0) -> SpeakerEvent:
        def find(_: object) -> SpeakerEvent | None:
            return next((e for e in self.events() if e.airing == airing and e.event == kind), None)

        return self.rec.wait_for(f"{kind} of {airing}", find, timeout)

    def answer(self, transaction: str, timeout: float = 30.0) -> SpeakerEvent:
        def find(_: object) -> SpeakerEvent | None:
            return next((e for e in self.events() if e.transaction == transaction), None)

        return self.rec.wait_for(f"answer to {transaction}", find, timeout)

    def end_of(self, airing: str, timeout: float = 30.0) -> SpeakerEvent:
        """The event that closes an airing: finished, failed or stopped."""

        def find(_: object) -> SpeakerEvent | None:
            ends = ("finished", "failed", "stopped")
            return next((e for e in self.events() if e.airing == airing and e.event in ends), None)

        return self.rec.wait_for(f"end of {airing}", find, timeout)

    def health(self) -> list[SpeakerHealth]:
        return [m.decoded for m in self.rec.snapshot() if isinstance(m.decoded, SpeakerHealth)]

    def statuses(self) -> list[SpeakerStatus]:
        return [m.decoded for m in self.rec.snapshot() if isinstance(m.decoded, SpeakerStatus)]


def plan(airing: str, items: list[dict[str, Any]], start_in: float, **extra: Any) -> dict[str, Any]:
    return {
        "airing": airing,
        "start_at": time.time() + start_in,
        "priority": "normal",
        "items": items,
        **extra,
    }


def wav_levels(path: Path) -> tuple[int, float, float]:
    """Sample rate, duration in seconds and RMS (0–1) of a mono 16-bit WAV."""
    with wave.open(str(path), "rb") as w:
        rate, frames = w.getframerate(), w.getnframes()
        samples = np.frombuffer(w.readframes(frames), dtype="<i2").astype(np.float64) / 32768
    rms = float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0
    return rate, frames / rate, rms
