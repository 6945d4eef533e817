"""Text-to-speech behind one small interface, so a better engine can replace the offline default.

The engine is espeak-ng with its Vietnamese voices (offline, in Debian): no neural Vietnamese voice could be
installed from the registries this project reaches (docs/BROADCAST.md, "Voices"). `VoiceBook` holds the engines
in order of preference, each voice belonging to one; a preferred engine that fails falls back to the last one
(espeak-ng). Every engine reads the text after `vi_normalise.normalise` has turned numbers, dates, units and
abbreviations into words. The WAV goes through the same processing as a recording (broadcast/content/audio.py),
so TTS content is levelled like the rest.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from broadcast.config import ContentConfig
from broadcast.content.audio_input import AudioError, run_tool
from broadcast.content.vi_normalise import normalise

log = logging.getLogger("broadcast.tts")
ESPEAK = "espeak-ng"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class TtsEngine(Protocol):
    """Turns Vietnamese text into speech. `voices` maps a voice id to its Vietnamese label."""

    name: str
    voices: dict[str, str]

    async def synthesize(self, text: str, voice: str, speed: float) -> bytes:
        """WAV bytes of `text` (cleaned and normalised) spoken with `voice`; `speed` 1.0 is the engine's normal
        rate, 0.8 a fifth slower."""
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
    MIN_WPM, MAX_WPM = 80, 450  # espeak-ng's own limits
    voices = {
        "vi": "Giọng miền Bắc",
        "vi-vn-x-central": "Giọng miền Trung",
        "vi-vn-x-south": "Giọng miền Nam",
    }

    def __init__(self, rate_wpm: int, timeout_s: float) -> None:
        self.rate_wpm = rate_wpm
        self.timeout_s = timeout_s

    def wpm(self, speed: float) -> int:
        return max(self.MIN_WPM, min(self.MAX_WPM, round(self.rate_wpm * speed)))

    async def synthesize(self, text: str, voice: str, speed: float = 1.0) -> bytes:
        if voice not in self.voices:
            raise AudioError("voice", f"Giọng đọc '{voice[:32]}' không có (có: {', '.join(self.voices)})")
        args = [ESPEAK, "-v", voice, "-s", str(self.wpm(speed)), "--stdout", "--stdin"]
        rc, out, err = await run_tool(args, self.timeout_s, "espeak-ng", stdin=text.encode())
        if rc != 0 or len(out) <= 44:
            log.warning("espeak-ng failed (rc %s): %s", rc, err.decode(errors="replace").strip()[-300:])
            raise AudioError("tts_failed", "Không tạo được giọng đọc từ văn bản")
        return out


@dataclass(frozen=True)
class Speech:
    wav: bytes
    voice: str  # the voice that spoke (the fallback's when `fell_back`)
    speed: float
    engine: str
    spoken_text: str  # what the engine read: the text after normalisation
    fell_back: bool


class VoiceBook:
    """The installed engines, preferred first; the last is the fallback (espeak-ng). A voice id names one engine's
    voice; an engine that fails (not a refusal of the text) is replaced by the fallback's default voice."""

    FALLBACK_ERRORS = frozenset({"tts_failed", "timeout"})

    def __init__(self, engines: Sequence[TtsEngine], default_voice: str, default_speed: float = 1.0) -> None:
        if not engines:
            raise ValueError("at least one TTS engine")
        self.engines = list(engines)
        self.owner: dict[str, TtsEngine] = {}
        for engine in self.engines:
            for voice in engine.voices:
                self.owner.setdefault(voice, engine)
        if default_voice not in self.owner:
            raise ValueError(f"default voice {default_voice!r} is not one of {', '.join(self.owner)}")
        self.default_voice = default_voice
        self.default_speed = default_speed

    @property
    def voices(self) -> dict[str, str]:
        return {
            v: label
            for engine in self.engines
            for v, label in engine.voices.items()
            if self.owner[v] is engine
        }

    def resolve(self, voice: str | None) -> str:
        """The voice to use: the default when none is asked for; AudioError for one that is not installed."""
        if not voice:
            return self.default_voice
        if voice not in self.owner:
            raise AudioError("voice", f"Giọng đọc '{voice[:32]}' không có (có: {', '.join(self.owner)})")
        return voice

    def fallback_voice(self) -> str:
        last = self.engines[-1]
        return self.default_voice if self.owner[self.default_voice] is last else next(iter(last.voices))

    async def speak(self, text: str, voice: str | None, speed: float | None = None) -> Speech:
        """`text` already cleaned (`clean_text`); it is normalised here, for every engine alike."""
        chosen, pace = self.resolve(voice), self.default_speed if speed is None else speed
        spoken = await asyncio.to_thread(normalise, text)  # 50,000 characters take a few tenths of a second
        engine = self.owner[chosen]
        try:
            return Speech(
                await engine.synthesize(spoken, chosen, pace), chosen, pace, engine.name, spoken, False
            )
        except AudioError as exc:
            fallback = self.engines[-1]
            if engine is fallback or exc.code not in self.FALLBACK_ERRORS:
                raise
            log.warning(
                "TTS engine %s failed (%s); speaking with %s instead", engine.name, exc.code, fallback.name
            )
        voice2 = self.fallback_voice()
        wav = await fallback.synthesize(spoken, voice2, pace)
        return Speech(wav, voice2, pace, fallback.name, spoken, True)


def make_voices(cfg: ContentConfig) -> VoiceBook:
    if cfg.tts_engine == "espeak-ng":
        return VoiceBook([EspeakEngine(cfg.tts_rate_wpm, cfg.ffmpeg_timeout_s)], cfg.tts_voice, cfg.tts_speed)
    raise ValueError(f"unknown TTS engine {cfg.tts_engine!r}")
