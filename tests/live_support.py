"""A simulated phone for the live tests and bench: the WebM/Opus stream Chrome's MediaRecorder produces, made by
ffmpeg from a sine with a marker tone, cut into chunks and sent at the pace of the audio."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np

RATE = 48000


def phone_webm(
    path: Path, seconds: float, base_hz: int = 440, marker_hz: int = 2000, marker_at: float = 1.0
) -> bytes:
    """A WebM/Opus recording: `base_hz` throughout, `marker_hz` added for 0.2 s at `marker_at`."""
    expr = (
        f"0.3*sin(2*PI*{base_hz}*t)+0.5*sin(2*PI*{marker_hz}*t)*between(t\\,{marker_at}\\,{marker_at + 0.2})"
    )
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"aevalsrc={expr}:s={RATE}:d={seconds}",
            "-ac", "1", "-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20",
            # MediaRecorder writes a live WebM: clusters as they come, no cues, no seeking back
            "-cluster_time_limit", "250", "-live", "1", "-f", "webm", str(path),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return path.read_bytes()


def chunks(data: bytes, seconds: float, chunk_s: float = 0.25) -> list[bytes]:
    n = max(1, round(seconds / chunk_s))
    step = -(-len(data) // n)
    return [data[i : i + step] for i in range(0, len(data), step)]


async def send_paced(
    parts: list[bytes], chunk_s: float, send: Callable[[bytes], Awaitable[None]]
) -> list[float]:
    """Sends each chunk when the phone would have it (one every `chunk_s`); returns the send times."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    sent: list[float] = []
    for i, part in enumerate(parts):
        await asyncio.sleep(max(0.0, t0 + (i + 1) * chunk_s - loop.time()))
        await send(part)
        sent.append(loop.time())
    return sent


def tone_power(pcm: np.ndarray, hz: int, rate: int = RATE) -> float:
    """Relative power of `hz` in a mono float block (Goertzel-like single bin)."""
    if len(pcm) == 0:
        return 0.0
    t = np.arange(len(pcm)) / rate
    return float(abs(np.dot(pcm, np.exp(-2j * np.pi * hz * t))) / len(pcm))


def read_s16_stereo(path: Path) -> np.ndarray:
    raw = np.frombuffer(path.read_bytes(), dtype="<i2")
    raw = raw[: len(raw) // 2 * 2]
    return raw.reshape(-1, 2)[:, 0].astype(np.float32) / 32768.0
