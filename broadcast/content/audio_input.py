"""Untrusted audio input, recognised before anything decodes it: the container from its first bytes, then one
ffprobe run forced to that demuxer; and the subprocess runner every ffmpeg/ffprobe/espeak-ng call uses.

Untrusted files never choose how ffmpeg reads them: the container is recognised from its first bytes here,
ffprobe and ffmpeg are then forced to that one demuxer (`-f`) with `-protocol_whitelist file`, and the input is
always our own temp path — so a playlist (HLS, ffconcat) or a reference to another file or URL has nothing to
be opened with. Every run is a subprocess with a timeout, awaited without blocking the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broadcast.config import ContentConfig

log = logging.getLogger("broadcast.audio")

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
SNIFF_BYTES = 64

# Demuxers we accept, by the name ffprobe reports → the name forced with -f, and the file extension kept.
DEMUXERS: dict[str, tuple[str, str]] = {
    "mp3": ("mp3", "mp3"),
    "mov": ("mov", "m4a"),
    "wav": ("wav", "wav"),
    "ogg": ("ogg", "ogg"),
    "matroska": ("matroska", "webm"),
    "aac": ("aac", "aac"),
    "flac": ("flac", "flac"),
    "amr": ("amr", "amr"),
}
AUDIO_CODECS = frozenset(
    {
        "mp3",
        "mp2",
        "aac",
        "opus",
        "vorbis",
        "flac",
        "alac",
        "amr_nb",
        "amr_wb",
        "pcm_s16le",
        "pcm_s24le",
        "pcm_s32le",
        "pcm_f32le",
        "pcm_u8",
        "pcm_mulaw",
        "pcm_alaw",
    }
)


class AudioError(Exception):
    """A refused input: `code` for counters and the API, `message` in Vietnamese for the person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Probe:
    demuxer: str  # forced with -f for every later run
    extension: str
    codec: str
    channels: int
    sample_rate: int
    duration_s: float | None  # None when the container does not say (MediaRecorder WebM)


def sniff_container(head: bytes) -> str:
    """The demuxer for a file from its first bytes; raises AudioError for anything else (text playlists too)."""
    if head[:3] == b"ID3":
        return "mp3"
    if head[:4] == b"RIFF" and head[8:12] in (b"WAVE", b"RF64"):
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[4:8] == b"ftyp":
        return "mov"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:5] == b"#!AMR":
        return "amr"
    if len(head) >= 2 and head[0] == 0xFF:
        if head[1] & 0xF6 == 0xF0:  # ADTS: sync, layer 00
            return "aac"
        if head[1] & 0xE0 == 0xE0 and (head[1] >> 1) & 0x03:  # MPEG audio frame sync, layer I–III
            return "mp3"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith((b"#EXTM3U", b"#EXT", b"ffconcat", b"file ", b"[playlist]")) or b"://" in head:
        raise AudioError(
            "playlist", "Tệp là danh sách phát hoặc tham chiếu tới tệp/địa chỉ khác, không phải âm thanh"
        )
    if not head:
        raise AudioError("empty", "Tệp rỗng")
    raise AudioError(
        "not_audio", "Tệp không phải âm thanh ở định dạng được hỗ trợ (mp3, m4a/aac, wav, ogg/opus, webm)"
    )


async def run_tool(
    args: list[str], timeout_s: float, what: str, stdin: bytes | None = None
) -> tuple[int, bytes, bytes]:
    """Run ffmpeg/ffprobe/espeak-ng; kill it after `timeout_s`. Returns (rc, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        log.warning("%s timed out after %.0f s", what, timeout_s)
        raise AudioError(
            "timeout", f"Xử lý âm thanh quá lâu (quá {timeout_s:.0f} giây); hãy thử tệp ngắn hơn"
        ) from None
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out, err


def input_args(demuxer: str, path: Path) -> list[str]:
    return ["-f", demuxer, "-protocol_whitelist", "file", "-i", f"file:{path}"]


async def probe(path: Path, cfg: ContentConfig) -> Probe:
    """Recognise and check an untrusted file: one of our containers, an audio stream we decode, sane length."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    demuxer = sniff_container(head)
    rc, out, err = await run_tool(
        [FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
        + input_args(demuxer, path),
        cfg.ffmpeg_timeout_s,
        "ffprobe",
    )
    if rc != 0:
        log.info("ffprobe refused %s: %s", path.name, err.decode(errors="replace").strip()[-300:])
        raise AudioError("corrupt", "Tệp âm thanh bị hỏng hoặc không đọc được")
    try:
        info: dict[str, Any] = json.loads(out)
    except ValueError:
        raise AudioError("corrupt", "Tệp âm thanh bị hỏng hoặc không đọc được") from None
    fmt = str(info.get("format", {}).get("format_name", ""))
    if demuxer not in fmt.split(","):
        raise AudioError("not_audio", "Định dạng tệp không khớp với nội dung")
    audio = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    if not audio:
        raise AudioError("no_audio", "Tệp không có tiếng (không có luồng âm thanh)")
    stream = audio[0]
    codec = str(stream.get("codec_name", ""))
    if codec not in AUDIO_CODECS:
        raise AudioError("codec", f"Bộ mã âm thanh '{codec[:30] or '?'}' không được hỗ trợ")
    duration = _float(stream.get("duration")) or _float(info["format"].get("duration"))
    if duration is not None and duration > cfg.max_duration_s:
        raise AudioError("too_long", too_long_message(cfg.max_duration_s))
    return Probe(
        demuxer=demuxer,
        extension=DEMUXERS[demuxer][1],
        codec=codec,
        channels=int(stream.get("channels") or 0),
        sample_rate=int(stream.get("sample_rate") or 0),
        duration_s=duration,
    )


def too_long_message(max_s: float) -> str:
    return f"Âm thanh dài quá giới hạn {max_s / 60:g} phút"


def _float(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
