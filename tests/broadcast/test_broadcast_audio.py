"""Audio processing with the real ffmpeg: every phone format comes out as a levelled mono MP3 (measured here
with ffmpeg's ebur128, not with the code under test), and every kind of bad input is refused — including
playlists that point at a real audio file, which ffmpeg would happily have followed."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from broadcast.config import ContentConfig
from broadcast.content import audio
from broadcast.content.audio_input import AudioError, sniff_container
from broadcast.content.tts import EspeakEngine, clean_text

FORMATS = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "128k"],
    "m4a": ["-c:a", "aac", "-b:a", "96k"],
    "wav": ["-c:a", "pcm_s16le"],
    "ogg": ["-c:a", "libopus", "-b:a", "48k"],
    "webm": ["-c:a", "libopus", "-b:a", "48k"],
}


def make_clip(path: Path, seconds: float = 2.0, volume: float = 0.3, stereo: bool = True) -> Path:
    """A tone with noise on top, like a voice on a phone in a quiet room."""
    ext = path.suffix.lstrip(".")
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
        + ["-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}"]
        + ["-f", "lavfi", "-i", f"anoisesrc=d={seconds}:a=0.05:c=pink"]
        + ["-filter_complex", f"[0][1]amix=inputs=2,volume={volume}", "-ac", "2" if stereo else "1"]
        + FORMATS.get(ext, [])
        + [str(path)],
        check=True,
        timeout=60,
    )
    return path


def ebur128(path: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) measured by ffmpeg's ebur128 filter."""
    run = subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostats",
            "-i",
            str(path),
            "-af",
            "ebur128=peak=true",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    summary = run.stderr[run.stderr.rindex("Summary:") :]
    integrated = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))  # type: ignore[union-attr]
    peak = float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary).group(1))  # type: ignore[union-attr]
    return integrated, peak


def ffprobe(path: Path) -> Any:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", str(path)],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    return json.loads(out)


@pytest.fixture
def cfg() -> ContentConfig:
    return ContentConfig(ffmpeg_timeout_s=60)


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_every_phone_format_becomes_levelled_mono_mp3(tmp_path: Path, cfg: ContentConfig, ext: str) -> None:
    src = make_clip(tmp_path / f"in.{ext}")
    out = tmp_path / "out.mp3"
    result = asyncio.run(audio.process(src, out, cfg))

    info = ffprobe(out)
    stream = info["streams"][0]
    assert info["format"]["format_name"] == "mp3"
    assert stream["codec_name"] == "mp3" and stream["channels"] == 1
    assert int(stream["sample_rate"]) == cfg.sample_rate_hz
    integrated, peak = ebur128(out)
    assert abs(integrated - cfg.target_lufs) <= 1.0, integrated
    assert peak <= -1.0, peak
    # what the code stored is what an independent measurement finds
    assert abs(result.loudness.integrated_lufs - integrated) <= 0.5
    assert 1.9 <= result.duration_s <= 2.2
    assert result.source.demuxer == {"m4a": "mov", "webm": "matroska"}.get(ext, ext)
    assert result.input_loudness.integrated_lufs < -20  # the input really was quieter: it was levelled up


def _refusal(path: Path, cfg: ContentConfig) -> AudioError:
    with pytest.raises(AudioError) as err:
        asyncio.run(audio.process(path, path.with_name("out.mp3"), cfg))
    assert not path.with_name("out.mp3").exists() or err.value.code in ("silent",)
    return err.value


def test_playlists_pointing_at_real_audio_are_refused(tmp_path: Path, cfg: ContentConfig) -> None:
    real = make_clip(tmp_path / "real.mp3")
    hls = tmp_path / "up1"
    hls.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:3,\nfile://{real}\n#EXTINF:3,\n/etc/passwd\n")
    assert _refusal(hls, cfg).code == "playlist"
    concat = tmp_path / "up2"
    concat.write_text(f"ffconcat version 1.0\nfile '{real}'\nfile '/etc/passwd'\n")
    assert _refusal(concat, cfg).code == "playlist"
    url = tmp_path / "up3"
    url.write_text("http://127.0.0.1:9/x.mp3\n")
    assert _refusal(url, cfg).code == "playlist"
    # a playlist dressed as MP3 (ID3 header) is read as MP3 and found broken, never followed
    disguised = tmp_path / "up4"
    disguised.write_bytes(
        b"ID3\x04\x00\x00\x00\x00\x00\x00" + f"#EXTM3U\n#EXTINF:3,\nfile://{real}\n".encode()
    )
    assert _refusal(disguised, cfg).code == "corrupt"


def test_bad_inputs_are_refused_with_vietnamese_reasons(tmp_path: Path, cfg: ContentConfig) -> None:
    text = tmp_path / "a"
    text.write_text("Đây là văn bản, không phải âm thanh.\n")
    err = _refusal(text, cfg)
    assert err.code == "not_audio" and "không phải âm thanh" in err.message

    good = make_clip(tmp_path / "good.m4a")
    broken = tmp_path / "b"
    broken.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 3])
    assert _refusal(broken, cfg).code == "corrupt"

    silent = tmp_path / "silent.wav"
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=44100:cl=mono",
            "-t",
            "2",
            str(silent),
        ],
        check=True,
        timeout=30,
    )
    err = _refusal(silent, cfg)
    assert err.code == "silent" and "không có tiếng" in err.message

    video = tmp_path / "video.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=d=1:s=64x48",
            "-c:v",
            "libx264",
            str(video),
        ],
        check=True,
        timeout=30,
    )
    assert _refusal(video, cfg).code == "no_audio"

    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert _refusal(empty, cfg).code == "empty"

    long_cfg = cfg.model_copy(update={"max_duration_s": 2.0, "min_duration_s": 0.5})
    err = _refusal(make_clip(tmp_path / "long.wav", seconds=2.5), long_cfg)
    assert err.code == "too_long" and "dài quá" in err.message


def test_container_recognised_from_its_own_bytes() -> None:
    assert sniff_container(b"ID3\x03") == "mp3"
    assert sniff_container(b"\xff\xfb\x90\x00") == "mp3"
    assert sniff_container(b"\xff\xf1\x50\x80") == "aac"
    assert sniff_container(b"RIFF\x00\x00\x00\x00WAVEfmt ") == "wav"
    assert sniff_container(b"OggS\x00\x02") == "ogg"
    assert sniff_container(b"\x1a\x45\xdf\xa3\x01") == "matroska"
    assert sniff_container(b"\x00\x00\x00\x20ftypM4A ") == "mov"
    for playlist in (b"#EXTM3U\n", b"\xef\xbb\xbf#EXTM3U", b"ffconcat version 1.0", b"  file '/etc/passwd'"):
        with pytest.raises(AudioError) as err:
            sniff_container(playlist)
        assert err.value.code == "playlist"


def test_tts_speaks_vietnamese_and_checks_text(tmp_path: Path, cfg: ContentConfig) -> None:
    engine = EspeakEngine(cfg.tts_rate_wpm, 30)
    text = clean_text("  Thông báo:\tngày mai\x07 lúc 7 giờ   họp thôn.\r\n\r\n\r\n\r\nXin cảm ơn.  ", 500)
    assert text == "Thông báo: ngày mai lúc 7 giờ họp thôn.\n\nXin cảm ơn."
    src = tmp_path / "tts.wav"
    src.write_bytes(asyncio.run(engine.synthesize(text, "vi")))
    result = asyncio.run(audio.process(src, tmp_path / "tts.mp3", cfg))
    assert result.duration_s > 1.5
    # espeak speech has peaks ~20 dB over its loudness: loudnorm alone would fall back to its dynamic mode
    # and land LUs short; gain into the limiter first gets it to the target
    integrated, peak = ebur128(tmp_path / "tts.mp3")
    assert abs(integrated - cfg.target_lufs) <= 1.0, integrated
    assert peak <= -1.0, peak

    for bad, code in (("   ", "text_empty"), ("!!! ...", "text_empty"), ("a" * 501, "text_too_long")):
        with pytest.raises(AudioError) as err:
            clean_text(bad, 500)
        assert err.value.code == code
    with pytest.raises(AudioError) as err:
        asyncio.run(engine.synthesize("xin chào", "--help"))
    assert err.value.code == "voice"
