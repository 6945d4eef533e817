"""Live from the phone: `.venv/bin/python bench/live_latency.py` (no arguments, ~1 min on 2 cores).

A simulated phone (tests/live_support.py: the WebM/Opus stream MediaRecorder makes, from a 440 Hz sine with a
2 kHz marker tone every 2 s, cut into 250 ms chunks sent at the pace of speech) feeds the hub's live engine
(broadcast/live/engine.py: ffmpeg → snapserver) to 20 receivers' players (broadcast/receiver/live_player.py:
snapclient, file player, separate processes) on this machine.

- Mouth-to-speaker latency of a marker: the wall time its first sample reaches a receiver's output minus the time
  the phone's microphone heard it (the phone's recording start + the marker's offset; the phone sends a chunk
  once it is complete, as MediaRecorder does). A receiver's output file grows in real time: polling its size every
  few ms, the time of sample 0 is the least (poll time − samples written / rate), and a sample's time follows.
- Start skew: per marker, max − min of that time over the receivers (all on this machine's clock).
- Gaps: runs of ≥ 10 ms of silence inside the phone's continuous tone, per receiver-minute.

Scenario "loopback": receivers on 127.0.0.1. Scenario "tbf": the receivers in a network namespace behind a veth
whose hub-side end is shaped with `tc tbf` (4G-like: 1 Mbit/s, 32 kB burst, 200 ms queue), run only as root with
`ip netns` available. The last line is JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from broadcast.live.engine import EngineSettings, LiveEngine
from broadcast.receiver.live_player import LivePlayer, LiveTarget
from devtools.services import free_port
from tests.live_support import RATE, chunks, read_s16_stereo, send_paced

RECEIVERS = 20
SECONDS = 30.0
CHUNK_S = 0.25
MARK_EVERY_S = 2.0
MARK_HZ, BASE_HZ = 2000, 440
BUFFER_MS = 1000
POLL_S = 0.002
NS, HUB_IF, RX_IF, HUB_IP, RX_IP = "livebench", "lb-hub", "lb-rx", "10.203.0.1", "10.203.0.2"


def phone_stream(path: Path) -> bytes:
    marks = [MARK_EVERY_S * k for k in range(1, int(SECONDS / MARK_EVERY_S))]
    on = "+".join(f"between(t\\,{m}\\,{m + 0.2})" for m in marks)
    expr = f"0.3*sin(2*PI*{BASE_HZ}*t)+0.5*sin(2*PI*{MARK_HZ}*t)*({on})"
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"aevalsrc={expr}:s={RATE}:d={SECONDS}",
            "-ac", "1", "-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20",
            "-cluster_time_limit", "250", "-live", "1", "-f", "webm", str(path),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip
    return path.read_bytes()


def marker_onsets(pcm: np.ndarray) -> list[int]:
    """Sample indexes where the 2 kHz marker starts (5 ms windows, single-bin power)."""
    win = 240
    n = len(pcm) // win
    if n == 0:
        return []
    blocks = pcm[: n * win].reshape(n, win)
    t = np.arange(win) / RATE
    power = np.abs(blocks @ np.exp(-2j * np.pi * MARK_HZ * t)) / win
    on = power > 0.1
    onsets = [i for i in range(1, n) if on[i] and not on[i - 1]]
    out: list[int] = []
    for i in onsets:
        if not out or i * win - out[-1] > RATE:  # one onset per marker
            out.append(i * win)
    return out


def gaps(pcm: np.ndarray, start: int, end: int) -> int:
    win = RATE // 100
    seg = pcm[start:end]
    n = len(seg) // win
    if n == 0:
        return 0
    rms = np.sqrt((seg[: n * win].reshape(n, win) ** 2).mean(axis=1))
    silent = rms < 0.01
    return int(sum(1 for i in range(n) if silent[i] and (i == 0 or not silent[i - 1])))


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


def netns_up() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("tc") is None:
        return False
    netns_down()
    try:
        sh("ip", "netns", "add", NS)
        sh("ip", "link", "add", HUB_IF, "type", "veth", "peer", "name", RX_IF)
        sh("ip", "link", "set", RX_IF, "netns", NS)
        sh("ip", "addr", "add", f"{HUB_IP}/30", "dev", HUB_IF)
        sh("ip", "link", "set", HUB_IF, "up")
        sh("ip", "netns", "exec", NS, "ip", "addr", "add", f"{RX_IP}/30", "dev", RX_IF)
        sh("ip", "netns", "exec", NS, "ip", "link", "set", RX_IF, "up")
        sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up")
        # 4G-like downlink towards the receivers: all 20 share it, as a cell's receivers share a tower
        sh(
            "tc",
            "qdisc",
            "add",
            "dev",
            HUB_IF,
            "root",
            "tbf",
            "rate",
            "8mbit",
            "burst",
            "32kb",
            "latency",
            "200ms",
        )
    except subprocess.CalledProcessError as exc:
        print(f"netns setup failed: {exc.stderr.decode(errors='replace')}", file=sys.stderr)
        netns_down()
        return False
    return True


def netns_down() -> None:
    subprocess.run(["ip", "link", "del", HUB_IF], capture_output=True, timeout=30)
    subprocess.run(["ip", "netns", "del", NS], capture_output=True, timeout=30)


class NsPlayer(LivePlayer):
    """snapclient run inside the receivers' namespace."""

    async def start(self) -> None:
        from broadcast.receiver.live_player import snapclient_cmd

        binary = shutil.which("snapclient") or "snapclient"
        self._proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", NS, *snapclient_cmd(binary, self.target, self.instance),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self._watch = asyncio.create_task(self._read_log(self._proc))


async def scenario(work: Path, data: bytes, shaped: bool) -> dict[str, Any]:
    bind, host = (HUB_IP, HUB_IP) if shaped else ("127.0.0.1", "127.0.0.1")
    engine = LiveEngine(
        work / "hub", EngineSettings(free_port(), free_port(), bind=bind, buffer_ms=BUFFER_MS)
    )
    await engine.start()
    outs = [work / f"rx{i}.raw" for i in range(RECEIVERS)]
    cls = NsPlayer if shaped else LivePlayer
    players = [
        cls(LiveTarget(host, engine.settings.stream_port, f"loa-{i:02d}", f"file:filename={p}"), i + 1)
        for i, p in enumerate(outs)
    ]
    zero: dict[int, float] = {}
    polling = True

    async def poll() -> None:
        while polling:
            now = time.time()
            for i, p in enumerate(outs):
                try:
                    frames = p.stat().st_size // 4
                except FileNotFoundError:
                    continue
                if frames:
                    t0 = now - frames / RATE
                    zero[i] = min(zero.get(i, t0), t0)
            await asyncio.sleep(POLL_S)

    try:
        for p in players:
            await p.start()
        for _ in range(200):
            if sum(c["connected"] for c in await engine.clients()) == RECEIVERS:
                break
            await asyncio.sleep(0.1)
        connected = sum(c["connected"] for c in await engine.clients())
        poller = asyncio.create_task(poll())
        await asyncio.sleep(1.0)
        await engine.begin_session(work / f"rec-{int(shaped)}.webm")
        mouth0 = time.time()
        await send_paced(chunks(data, SECONDS, CHUNK_S), CHUNK_S, engine.feed)
        await engine.end_session()
        await asyncio.sleep(BUFFER_MS / 1000 + 2.0)
        polling = False
        await poller
    finally:
        for p in players:
            await p.stop()
        await engine.stop()
    marks = [MARK_EVERY_S * k for k in range(1, int(SECONDS / MARK_EVERY_S))]
    latencies: list[float] = []
    skews: list[float] = []
    per_mark: dict[int, list[float]] = {}
    gap_count, minutes = 0, 0.0
    for i, p in enumerate(outs):
        if i not in zero:
            continue
        pcm = read_s16_stereo(p)
        onsets = marker_onsets(pcm)
        if len(onsets) < 2:
            continue
        first = onsets[0] - int(marks[0] * RATE)
        for k, m in enumerate(marks):
            # match each marker to the onset nearest where it should be from the first one
            want = first + int(m * RATE)
            near = min(onsets, key=lambda o, w=want: abs(o - w))
            if abs(near - want) > RATE // 2:
                continue
            played = zero[i] + near / RATE
            latencies.append(played - (mouth0 + m))
            per_mark.setdefault(k, []).append(played)
        # from 0.1 s in (the Opus encoder's priming fades the first samples in) to 0.5 s before the end
        gap_count += gaps(pcm, max(0, first + RATE // 10), first + int((SECONDS - 0.5) * RATE))
        minutes += (SECONDS - 0.6) / 60
    for times in per_mark.values():
        if len(times) > 1:
            skews.append((max(times) - min(times)) * 1000)
    q = lambda xs, p: round(float(np.percentile(xs, p)), 3) if xs else None  # noqa: E731
    behind = sum(p.behind_events for p in players)
    return {
        "connected": connected,
        "latency_s_p50": q(latencies, 50),
        "latency_s_p95": q(latencies, 95),
        "skew_ms_p50": q(skews, 50),
        "skew_ms_p95": q(skews, 95),
        "gaps_per_min": round(gap_count / minutes, 2) if minutes else None,
        "receivers_measured": len(zero),
        "markers": len(latencies),
        "behind_events": behind,
    }


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="live-bench-"))
    try:
        data = phone_stream(work / "phone.webm")
        result: dict[str, Any] = {
            "bench": "live_latency",
            "engine": "snapcast "
            + subprocess.run(["snapserver", "-v"], capture_output=True, text=True)
            .stdout.split("\n")[0]
            .split()[-1],
            "receivers": RECEIVERS,
            "seconds": SECONDS,
            "chunk_s": CHUNK_S,
            "buffer_ms": BUFFER_MS,
            "loopback": asyncio.run(scenario(work / "lo", data, shaped=False)),
        }
        if netns_up():
            try:
                result["tbf"] = asyncio.run(scenario(work / "tbf", data, shaped=True))
            finally:
                netns_down()
        else:
            result["tbf"] = "skipped: needs root, ip netns and tc"
        print(json.dumps(result))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
