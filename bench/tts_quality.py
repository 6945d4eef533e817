"""How well each installed Vietnamese voice can be followed, measured by an offline recogniser, and what it costs.

Each installed voice speaks the 50 announcements of bench/tts_sentences.py (normalised first, as the hub does);
the offline Vietnamese recogniser of the `viet-asr` package (its int8 Conformer is embedded in the wheel: nothing
is downloaded) transcribes each, and the word error rate against the normalised text is printed per voice,
with the CPU seconds spent synthesising per minute of speech. The default voice also speaks the raw text (not
normalised), to show what the normaliser is worth. A WER here is the recogniser's and the voice's together:
lower is easier to follow, but it is not a listening test.

No neural Vietnamese voice could be installed from the registries this project reaches (docs/BROADCAST.md,
"Voices"), so the voices are espeak-ng's three. Without `viet-asr` installed the JSON says so and carries the
CPU figures alone. About 4 CPU-minutes (the recogniser most of it). No arguments; the last line is one JSON object.
Figures and a calibration of the recogniser on human speech: docs/BROADCAST.md, "Text to speech".
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import subprocess
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from bench.tts_sentences import SENTENCES
from broadcast.config import ContentConfig
from broadcast.content.tts import EspeakEngine, TtsEngine, make_voices
from broadcast.content.vi_normalise import normalise

ASR_RATE = 16_000


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, for scoring."""
    text = unicodedata.normalize("NFC", text).lower()
    return re.findall(r"[^\W_]+", text)


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1]


def cpu_seconds() -> float:
    """This process and its finished children (espeak-ng runs as one)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def pcm16k(wav: bytes) -> bytes:
    out = subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-f",
            "wav",
            "-i",
            "pipe:0",
            "-f",
            "s16le",
            "-ac",
            "1",
            "-ar",
            "16000",
        ]
        + ["pipe:1"],
        input=wav,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return out.stdout


def wav_seconds(wav: bytes) -> float:
    rate = int.from_bytes(wav[24:28], "little")
    channels = int.from_bytes(wav[22:24], "little")
    bits = int.from_bytes(wav[34:36], "little")
    return (len(wav) - 44) / (rate * channels * bits // 8)


@dataclass
class Run:
    name: str
    cpu_s: float = 0.0
    speech_s: float = 0.0
    errors: int = 0
    ref_words: int = 0
    worst: list[tuple[float, str, str]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "speech_min": round(self.speech_s / 60, 2),
            "cpu_s_per_min_speech": round(self.cpu_s / (self.speech_s / 60), 2) if self.speech_s else None,
        }
        if self.ref_words:
            out["wer"] = round(self.errors / self.ref_words, 3)
        return out


def load_recogniser() -> tuple[Any, str | None]:
    try:
        from importlib.metadata import version

        import vietasr
    except ImportError as exc:
        return None, f"no offline Vietnamese recogniser installed ({exc}); pip install viet-asr"
    pipe = vietasr.Pipeline.new().add("vietasr").build()
    return pipe, f"viet-asr {version('viet-asr')} (embedded int8 streaming Conformer, CTC)"


async def speak_all(engine: TtsEngine, voice: str, run: Run, recogniser: Any, normalised: bool) -> None:
    import numpy as np

    for sentence in SENTENCES:
        spoken = normalise(sentence)
        before = cpu_seconds()
        wav = await engine.synthesize(spoken if normalised else sentence, voice, 1.0)
        run.cpu_s += cpu_seconds() - before
        run.speech_s += wav_seconds(wav)
        if recogniser is None:
            continue
        heard = recogniser.transcribe(np.frombuffer(pcm16k(wav), dtype=np.int16), ASR_RATE).text
        ref, hyp = words(spoken), words(heard)
        errors = edit_distance(ref, hyp)
        run.errors += errors
        run.ref_words += len(ref)
        run.worst.append((errors / max(1, len(ref)), spoken, heard))


async def main() -> dict[str, Any]:
    book = make_voices(ContentConfig())
    recogniser, recogniser_note = load_recogniser()
    runs: list[Run] = []
    started = time.monotonic()
    for voice, label in book.voices.items():
        engine = book.owner[voice]
        run = Run(f"{engine.name}:{voice}")
        await speak_all(engine, voice, run, recogniser, normalised=True)
        runs.append(run)
        print(f"{run.name:28} ({label}): {json.dumps(run.summary())}", flush=True)
    default = book.owner[book.default_voice]
    raw = Run(f"{default.name}:{book.default_voice} raw text")
    await speak_all(default, book.default_voice, raw, recogniser, normalised=False)
    runs.append(raw)
    print(f"{raw.name:28} (not normalised): {json.dumps(raw.summary())}", flush=True)
    if recogniser is not None:
        best = min(runs[:-1], key=lambda r: r.errors / max(1, r.ref_words))
        print(f"\nhardest sentences for {best.name}:")
        for rate, ref, hyp in sorted(best.worst, reverse=True)[:3]:
            print(f"  WER {rate:.2f}\n    said:  {ref}\n    heard: {hyp}")
    return {
        "bench": "tts_quality",
        "sentences": len(SENTENCES),
        "recogniser": recogniser_note if recogniser is not None else None,
        "note": None if recogniser is not None else recogniser_note,
        "neural_voice": "none installable from PyPI/Debian/npm (piper-tts, sherpa-onnx, vieneu, korvatts and "
        "vntts ship no Vietnamese model; theirs download from Hugging Face or GitHub at run time)",
        "voices": {r.name: r.summary() for r in runs},
        "espeak_rate_wpm": EspeakEngine(ContentConfig().tts_rate_wpm, 60).rate_wpm,
        "wall_s": round(time.monotonic() - started, 1),
        "cpu_count": os.cpu_count(),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main()), ensure_ascii=False))
