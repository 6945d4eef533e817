"""Audio processing for outdoor horns with ffmpeg: clean, level, encode, measure (the input is recognised and
checked first by audio_input.py, which also runs the tools).
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

from broadcast.config import ContentConfig
from broadcast.content.audio_input import (
    FFMPEG,
    AudioError,
    Probe,
    input_args,
    probe,
    run_tool,
    too_long_message,
)

log = logging.getLogger("broadcast.audio")

# Lossy encoding adds overshoot above the levelled true peak; level this much lower, then verify the MP3.
CODEC_MARGIN_DB = 0.5
SHAPING_HEADROOM_DB = 1.0
SHAPING_ROUNDS = 3
SHAPING_MAX_EXTRA_DB = 6.0  # gain beyond (target - measured) the shaping may add
SHAPING_MIN_GAIN_LU = 0.5  # a shaping round that brings less than this ends the rounds
MIN_CORRECTION_DB = 0.2  # smaller corrections are not worth another encode
SHAPING_OVERSHOOT = 1.6  # later rounds add this times what was missing (loudnorm only lowers an excess)
ENCODE_ATTEMPTS = 3
LOUDNESS_TOLERANCE_LU = 0.5  # a finished MP3 further than this from the target is encoded again


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float  # -inf for digital silence
    true_peak_dbtp: float
    lra_lu: float
    threshold_lufs: float


@dataclass(frozen=True)
class Processed:
    """The MP3 as measured after encoding (what receivers will play)."""

    path: Path
    source: Probe  # the original as uploaded
    probe: Probe  # the MP3
    duration_s: float
    loudness: Loudness
    input_loudness: Loudness


_LOUDNORM_JSON = re.compile(rb"\{[^{}]*\"input_i\"[^{}]*\}", re.S)
_OUT_TIME = re.compile(rb"out_time_us=(\d+)")


def parse_loudnorm(stderr: bytes) -> Loudness:
    """The JSON block loudnorm prints (print_format=json) at the end of a run."""
    blocks = _LOUDNORM_JSON.findall(stderr)
    if not blocks:
        raise AudioError("corrupt", "Không đo được độ lớn âm thanh; tệp có thể bị hỏng")
    data = json.loads(blocks[-1])

    def num(key: str) -> float:
        v = str(data.get(key, "")).strip()
        if v in ("-inf", "inf", "nan", ""):
            return -math.inf
        return float(v)

    return Loudness(num("input_i"), num("input_tp"), max(num("input_lra"), 0.0), num("input_thresh"))


def clean_chain(cfg: ContentConfig) -> str:
    """Mono, band-limited for horns, denoised: the same chain in the measuring and the applying pass."""
    parts = [
        "aformat=channel_layouts=mono",
        f"highpass=f={cfg.highpass_hz}",
        f"lowpass=f={cfg.lowpass_hz}",
    ]
    if cfg.denoise:
        parts.append("afftdn=nr=12:nf=-40")
    return ",".join(parts)


def loudnorm_apply(cfg: ContentConfig, measured: Loudness, extra_gain_db: float = 0.0) -> str:
    tp = cfg.true_peak_dbtp - CODEC_MARGIN_DB
    chain = (
        f"loudnorm=I={cfg.target_lufs}:TP={tp}:LRA={cfg.loudness_range_lu}"
        f":measured_I={measured.integrated_lufs:.2f}:measured_TP={measured.true_peak_dbtp:.2f}"
        f":measured_LRA={measured.lra_lu:.2f}:measured_thresh={measured.threshold_lufs:.2f}"
        f":linear=true:print_format=summary"
    )
    # loudnorm works at 192 kHz; resample to the delivery rate (soxr is not in every build).
    chain += f",aresample={cfg.sample_rate_hz}"
    if extra_gain_db:
        chain += f",volume={extra_gain_db:.2f}dB"
    return chain


async def measure(
    path: Path, demuxer: str, cfg: ContentConfig, pre: str = "", limit_s: float | None = None
) -> tuple[Loudness, float]:
    """(loudness, decoded duration in s) of a file, after the optional filter chain `pre`."""
    analyse = (
        f"loudnorm=I={cfg.target_lufs}:TP={cfg.true_peak_dbtp}:LRA={cfg.loudness_range_lu}:print_format=json"
    )
    chain = f"{pre},{analyse}" if pre else analyse
    args = [
        FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-progress",
        "pipe:1",
        *input_args(demuxer, path),
    ]
    if limit_s is not None:
        args += ["-t", f"{limit_s:.3f}"]
    args += ["-map", "0:a:0", "-af", chain, "-f", "null", "-"]
    rc, out, err = await run_tool(args, cfg.ffmpeg_timeout_s, "ffmpeg measure")
    if rc != 0:
        log.info("ffmpeg could not decode %s: %s", path.name, err.decode(errors="replace").strip()[-300:])
        raise AudioError("corrupt", "Tệp âm thanh bị hỏng hoặc không giải mã được")
    times = _OUT_TIME.findall(out)
    duration = int(times[-1]) / 1e6 if times else 0.0
    return parse_loudnorm(err), duration


def needs_shaping(cfg: ContentConfig, clean: Loudness) -> bool:
    """Peaks too far above the loudness for loudnorm's linear mode (it would fall back to its dynamic mode,
    which misses the target by whole LUs on speech)."""
    ceiling = cfg.true_peak_dbtp - CODEC_MARGIN_DB
    return clean.true_peak_dbtp - clean.integrated_lufs > ceiling - cfg.target_lufs


def shaping_chain(cfg: ContentConfig, gain_db: float) -> str:
    """Gain and a look-ahead limiter 1 dB under the ceiling: loudnorm then makes up the rest linearly."""
    limit = 10 ** ((cfg.true_peak_dbtp - CODEC_MARGIN_DB - SHAPING_HEADROOM_DB) / 20)
    return f"volume={gain_db:.2f}dB,alimiter=limit={limit:.4f}:attack=5:release=60:level=false:latency=true"


async def shape(
    src: Path, demuxer: str, cfg: ContentConfig, clean: str, first: Loudness
) -> tuple[str, Loudness]:
    """Raise gain into the limiter until what is left for loudnorm fits its linear mode (limiting takes some
    loudness away, so the gain grows by what was lost; two rounds usually suffice for speech).

    Content whose loudness is held down by its peaks themselves (short loud bursts in silence) gains nothing
    from more gain but a louder noise floor: the extra gain is capped, and rounds stop once one brings less
    than SHAPING_MIN_GAIN_LU. Such content ends up as loud as the ceiling allows, below the target.
    """
    base = cfg.target_lufs - first.integrated_lufs
    gain = base
    best: tuple[str, Loudness] | None = None
    for _round in range(SHAPING_ROUNDS):
        chain = f"{clean},{shaping_chain(cfg, gain)}"
        measured, _ = await measure(src, demuxer, cfg, chain)
        if best is not None and measured.integrated_lufs < best[1].integrated_lufs + SHAPING_MIN_GAIN_LU:
            break  # peak-limited: keep the round with less gain (less noise)
        best = (chain, measured)
        short = cfg.target_lufs - measured.integrated_lufs
        if (
            short < SHAPING_HEADROOM_DB - 0.1
            or not math.isfinite(short)
            or gain >= base + SHAPING_MAX_EXTRA_DB
        ):
            break
        # limiting takes more as the gain grows; overshooting is harmless (loudnorm then lowers linearly)
        gain = min(gain + short * SHAPING_OVERSHOOT, base + SHAPING_MAX_EXTRA_DB)
    assert best is not None
    return best


async def encode(
    src: Path, demuxer: str, dest: Path, cfg: ContentConfig, pre: str, measured: Loudness, gain_db: float
) -> None:
    chain = f"{pre},{loudnorm_apply(cfg, measured, gain_db)}"
    args = [FFMPEG, "-hide_banner", "-nostdin", "-nostats", "-y", *input_args(demuxer, src)]
    args += ["-map", "0:a:0", "-map_metadata", "-1", "-af", chain, "-ac", "1", "-ar", str(cfg.sample_rate_hz)]
    args += [
        "-c:a",
        "libmp3lame",
        "-b:a",
        f"{cfg.mp3_bitrate_kbps}k",
        "-write_xing",
        "1",
        "-f",
        "mp3",
        str(dest),
    ]
    rc, _, err = await run_tool(args, cfg.ffmpeg_timeout_s, "ffmpeg encode")
    if rc != 0:
        log.warning("ffmpeg encode failed for %s: %s", src.name, err.decode(errors="replace").strip()[-300:])
        raise AudioError("corrupt", "Không xử lý được tệp âm thanh")


def correction_db(cfg: ContentConfig, out: Loudness) -> float:
    """Gain change for another encode: down by any true-peak excess; up when clearly under the target and
    the peaks leave room; 0 when the MP3 is within tolerance."""
    if not (math.isfinite(out.true_peak_dbtp) and math.isfinite(out.integrated_lufs)):
        return 0.0
    excess = out.true_peak_dbtp - cfg.true_peak_dbtp
    if excess > 0:
        return -(excess + 0.1)
    short = cfg.target_lufs - out.integrated_lufs
    if abs(short) > LOUDNESS_TOLERANCE_LU:
        # encoding adds a little true peak on top of a gain increase: leave it some room
        step = min(short, -excess - 0.3) if short > 0 else short
        return step if abs(step) >= MIN_CORRECTION_DB else 0.0
    return 0.0


async def process(src: Path, dest: Path, cfg: ContentConfig) -> Processed:
    """Validate `src` (our temp copy of an untrusted file) and write the levelled MP3 to `dest`.

    Pass 1 measures the cleaned signal (mono, band-limited, denoised); speech with a high peak-to-loudness ratio
    is gained and limited and measured again; the last pass applies loudnorm linearly with the measured values
    and encodes. The MP3 itself is then measured: if encoding pushed the true peak over the ceiling, the gain
    is lowered by the excess and it is encoded again.
    """
    info = await probe(src, cfg)
    # Decoded only a little past the limit, whatever length the container states (it can lie: a header saying
    # 10 s in front of hours of audio would otherwise keep ffmpeg busy until its timeout).
    limit = cfg.max_duration_s + 1
    pre = clean_chain(cfg)
    first, decoded_s = await measure(src, info.demuxer, cfg, pre, limit)
    if decoded_s > cfg.max_duration_s:
        raise AudioError("too_long", too_long_message(cfg.max_duration_s))
    if decoded_s < cfg.min_duration_s:
        raise AudioError("too_short", f"Âm thanh quá ngắn (dưới {cfg.min_duration_s:g} giây)")
    if not first.integrated_lufs > cfg.silence_lufs:
        raise AudioError(
            "silent", "Bản ghi không có tiếng (im lặng hoặc quá nhỏ); hãy kiểm tra micro và ghi lại"
        )
    measured = first
    if needs_shaping(cfg, first):
        pre, measured = await shape(src, info.demuxer, cfg, pre, first)
    gain = 0.0
    for _attempt in range(ENCODE_ATTEMPTS):
        await encode(src, info.demuxer, dest, cfg, pre, measured, gain)
        out_probe = await probe(dest, cfg)
        out, out_s = await measure(dest, "mp3", cfg)
        if (step := correction_db(cfg, out)) == 0.0:
            break
        gain += step
        log.info(
            "MP3 measured %.2f LUFS %.2f dBTP; encoding again %+.2f dB",
            out.integrated_lufs,
            out.true_peak_dbtp,
            step,
        )
    return Processed(dest, info, out_probe, out_probe.duration_s or out_s, out, first)
