"""Text-to-speech behind one small interface, so a better engine can replace the offline default.

The default is espeak-ng with its Vietnamese voices (offline, in Debian). Its output is a WAV that goes
through the same processing as a recording (broadcast/content/audio.py), so TTS content is levelled like the rest.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Protocol

from broadcast.config import ContentConfig
from broadcast.content.audio_input import AudioError, run_tool

log = logging.getLogger("broadcast.tts")
ESPEAK = "espeak-ng"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class TtsEngine(Protocol):
    """Turns Vietnamese text into speech. `voices` maps a voice id to its Vietnamese label."""

    name: str
    voices: dict[str, str]

    async def synthesize(self, text: str, voice: str) -> bytes:
        """WAV bytes of `text` (already cleaned by `clean_text`) spoken with `voice`."""
        ...


def clean_text(text: str, max_chars: int) -> str:
    """NFC, no control characters, tidy whitespace; refuses empty, wordless or over-long text."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _BLANK_LINES.sub("\n\n", "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n")))
    text = text.strip()
    if not text:
        raise AudioError("text_empty", "Hãy nhập nội dung cần đọc")
    if len(text) > max_chars:
        raise AudioError("text_too_long", f"Văn bản dài {len(text)} ký tự, vượt giới hạn {max_chars} ký tự")
    if not any(ch.isalnum() for ch in text):
        raise AudioError("text_empty", "Văn bản không có chữ nào để đọc")
    return text


class EspeakEngine:
    """espeak-ng, Vietnamese voices (northern, central, southern). Text goes in on stdin, never as an argument,
    and without -m, so nothing in it is read as an option or markup."""

    name = "espeak-ng"
    voices = {
        "vi": "Giọng miền Bắc",
        "vi-vn-x-central": "Giọng miền Trung",
        "vi-vn-x-south": "Giọng miền Nam",
    }

    def __init__(self, rate_wpm: int, timeout_s: float) -> None:
        self.rate_wpm = rate_wpm
        self.timeout_s = timeout_s

    async def synthesize(self, text: str, voice: str) -> bytes:
        if voice not in self.voices:
            raise AudioError("voice", f"Giọng đọc '{voice[:32]}' không có (có: {', '.join(self.voices)})")
        args = [ESPEAK, "-v", voice, "-s", str(self.rate_wpm), "--stdout", "--stdin"]
        rc, out, err = await run_tool(args, self.timeout_s, "espeak-ng", stdin=text.encode())
        if rc != 0 or len(out) <= 44:
            log.warning("espeak-ng failed (rc %s): %s", rc, err.decode(errors="replace").strip()[-300:])
            raise AudioError("tts_failed", "Không tạo được giọng đọc từ văn bản")
        return out


def make_engine(cfg: ContentConfig) -> TtsEngine:
    if cfg.tts_engine == "espeak-ng":
        return EspeakEngine(cfg.tts_rate_wpm, cfg.ffmpeg_timeout_s)
    raise ValueError(f"unknown TTS engine {cfg.tts_engine!r}")
