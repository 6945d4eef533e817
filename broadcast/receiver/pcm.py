"""Decoding to PCM ahead of air time, and the playlist as a sequence of PCM segments.

The player never decodes while it plays: each item is decoded once (ffmpeg, a subprocess with a time limit) to
raw signed 16-bit mono PCM at the sink's rate, kept in the cache beside its MP3. A playlist (items × repeats with
a gap of silence) is then only a list of segments read in order.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from broadcast.receiver.cache import AudioCache
from broadcast.receiver.download import PrepareError
from contract import FailReason, PreparePlaylist

log = logging.getLogger(__name__)

SAMPLE_BYTES = 2  # s16le mono
DECODE_STDERR_MAX = 400


@dataclass(frozen=True, slots=True)
class Segment:
    """`path` None is silence."""

    path: Path | None
    nbytes: int


@dataclass(frozen=True, slots=True)
class Programme:
    """A prepared playlist: what the player reads, in order."""

    segments: tuple[Segment, ...]
    rate: int

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.segments)

    @property
    def duration_s(self) -> float:
        return self.nbytes / (SAMPLE_BYTES * self.rate)


def decode_command(mp3: Path, out: Path, rate: int) -> list[str]:
    # The demuxer is forced to mp3: whatever the file holds, ffmpeg reads only this file as MP3 (never a
    # playlist that would make it open other files or URLs).
    return [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "mp3", "-i", str(mp3),
        "-vn", "-ac", "1", "-ar", str(rate), "-f", "s16le", "-acodec", "pcm_s16le", str(out),
    ]  # fmt: skip


async def decode_item(cache: AudioCache, sha256: str, rate: int, timeout_s: float) -> Path:
    """The item's PCM in the cache (decoded now unless it already is)."""
    final = cache.pcm_path(sha256, rate)
    if await asyncio.to_thread(cache.has, final):
        return final
    mp3 = cache.mp3_path(sha256)
    tmp = cache.tmp_path(f"{sha256}.{rate}")
    # Decoded PCM is ~6x its MP3 at 48 kHz mono: make room for that much before writing it.
    estimate = (await asyncio.to_thread(lambda: mp3.stat().st_size)) * 8
    try:
        await asyncio.to_thread(cache.make_room, estimate)
    except OSError as exc:
        raise PrepareError(FailReason.DISK, f"Bộ nhớ đệm đầy, không giải mã được: {exc}") from exc
    proc = await asyncio.create_subprocess_exec(
        *decode_command(mp3, tmp, rate),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        await asyncio.to_thread(tmp.unlink, True)
        raise PrepareError(FailReason.DECODE, f"Giải mã quá {timeout_s:.0f} giây") from None
    except BaseException:  # cancelled (stop, replaced, shutdown): leave no ffmpeg and no partial file
        if proc.returncode is None:
            proc.kill()
        tmp.unlink(missing_ok=True)
        raise
    text = err.decode(errors="replace").strip()[-DECODE_STDERR_MAX:]
    size = await asyncio.to_thread(lambda: tmp.stat().st_size if tmp.exists() else 0)
    if proc.returncode != 0 or size < SAMPLE_BYTES:
        await asyncio.to_thread(tmp.unlink, True)
        raise PrepareError(
            FailReason.DECODE, f"Không giải mã được tệp âm thanh: {text or 'không có âm thanh'}"
        )
    await asyncio.to_thread(cache.commit, tmp, final)
    return final


def pcm_bytes_for(seconds: float, rate: int) -> int:
    return round(seconds * rate) * SAMPLE_BYTES


async def build_programme(cache: AudioCache, plan: PreparePlaylist, rate: int, timeout_s: float) -> Programme:
    """Decode every item (once each, even when it repeats) and lay out items × repeats with gaps."""
    pcm: dict[str, tuple[Path, int]] = {}
    for item in plan.items:
        if item.sha256 not in pcm:
            path = await decode_item(cache, item.sha256, rate, timeout_s)
            pcm[item.sha256] = (path, (await asyncio.to_thread(path.stat)).st_size)
    one_pass = [Segment(*pcm[item.sha256]) for item in plan.items]
    gap = pcm_bytes_for(plan.gap_s, rate)
    segments: list[Segment] = []
    for r in range(plan.repeats):
        if r and gap:
            segments.append(Segment(None, gap))
        segments.extend(one_pass)
    return Programme(tuple(segments), rate)
