"""Relay: what each receiver pulling the upstream itself would cost in sync (the design the hub's re-stream
replaces, broadcast/relays/streamer.py).

A live MP3 upstream (one ffmpeg, a 30 ms beep every second, paced with -re) is fanned out over HTTP by a small
aiohttp server that behaves as Icecast does for a new listener (a burst of the last 64 KiB, then live). N ffmpeg
readers, as N receivers pulling the stream, are started at the same instant and each would play its first decoded
sample the moment it has it; the same beep then sounds at a different time on each. Printed: the spread of those
times across the readers per beep (p50/p95/max, ms) and the readers' first-sample latency spread. The re-stream
plays chunk k at start_at + k·chunk_s on every receiver, so its spread is the timed start's
(bench/broadcast_sync.py), whatever each receiver's link latency, which is what this spread comes from.

Runs with no arguments in about 30 s; prints one line of JSON.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from devtools.services import free_port

READERS = 6
SECONDS = 20
RATE = 16000
BURST = 65536
BEEP = "aevalsrc='if(lt(mod(t\\,1)\\,0.03)\\,0.5*sin(2*PI*1000*t)\\,0)':s=44100:d=600"


class FanOut:
    def __init__(self) -> None:
        self.clients: list[asyncio.Queue[bytes]] = []
        self.recent = bytearray()

    async def pump(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            "ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i", BEEP, "-ac", "1",
            "-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3", "pipe:1",
            stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            while data := await proc.stdout.read(4096):
                self.recent += data
                del self.recent[: max(0, len(self.recent) - BURST)]
                for q in self.clients:
                    q.put_nowait(data)
        finally:
            proc.kill()
            await proc.wait()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
        await resp.prepare(request)
        q: asyncio.Queue[bytes] = asyncio.Queue()
        self.clients.append(q)
        try:
            await resp.write(bytes(self.recent))
            while True:
                await resp.write(await q.get())
        except ConnectionError:  # the reader went away (aiohttp's reset error is one)
            return resp
        finally:
            self.clients.remove(q)


async def reader(url: str, out: list[tuple[float, bytes]], until: float) -> None:
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-loglevel", "error", "-i", url, "-ac", "1", "-ar", str(RATE), "-f", "s16le", "pipe:1",
        stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        while time.time() < until:
            data = await asyncio.wait_for(proc.stdout.read(4096), 5)
            if not data:
                break
            out.append((time.time(), data))
    finally:
        proc.kill()
        await proc.wait()


def beep_times(chunks: list[tuple[float, bytes]]) -> tuple[float, list[float]]:
    """Wall times at which a receiver that plays from its first sample on would sound each beep's onset."""
    first = chunks[0][0]
    x = np.abs(np.frombuffer(b"".join(c for _, c in chunks), dtype="<i2").astype(np.float64)) / 32768
    loud = np.flatnonzero(x > 0.2)
    onsets = [int(loud[0])] + [int(b) for a, b in zip(loud[:-1], loud[1:], strict=False) if b - a > RATE // 4]
    return first, [first + i / RATE for i in onsets]


async def main() -> None:
    fan = FanOut()
    app = web.Application()
    app.router.add_get("/live.mp3", fan.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    pump = asyncio.create_task(fan.pump())
    await asyncio.sleep(4)  # the "station" has been on air a while
    outs: list[list[tuple[float, bytes]]] = [[] for _ in range(READERS)]
    until = time.time() + SECONDS
    await asyncio.gather(*(reader(f"http://127.0.0.1:{port}/live.mp3", o, until) for o in outs))
    await runner.cleanup()  # while the pump still writes: every handler sees its reader gone and ends
    pump.cancel()
    await asyncio.gather(pump, return_exceptions=True)
    firsts, beeps = zip(*(beep_times(o) for o in outs), strict=True)
    ref = beeps[0]
    spreads = []
    for t in ref[2:-2]:  # each beep of reader 0, matched to the nearest beep of every other reader
        times = [t] + [min(b, key=lambda x: abs(x - t)) for b in beeps[1:]]
        spreads.append((max(times) - min(times)) * 1000)
    spreads.sort()
    print(json.dumps({
        "bench": "relay_sync", "readers": READERS, "beeps": len(spreads),
        "pull_skew_ms_p50": round(statistics.median(spreads), 1),
        "pull_skew_ms_p95": round(spreads[int(0.95 * (len(spreads) - 1))], 1),
        "pull_skew_ms_max": round(spreads[-1], 1),
        "first_sample_spread_ms": round((max(firsts) - min(firsts)) * 1000, 1),
        "restream": "chunk k at start_at + k*chunk_s on every receiver: skew = timed start (bench/broadcast_sync.py)",
    }))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
