"""The receiver's pure parts and its config: allow-list, start decisions, PCM layout, volume, cache eviction,
WAV output, the command contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any

import pytest

from broadcast.receiver.cache import AudioCache, CacheFull
from broadcast.receiver.commands import BadCommand, admit_command
from broadcast.receiver.config import ReceiverConfig, load_config
from broadcast.receiver.download import url_allowed
from broadcast.receiver.pcm import Programme, Segment
from broadcast.receiver.player import Player, apply_gain, blocks_of, silence_frames, volume_gain
from broadcast.receiver.sinks import FileSink
from broadcast.receiver.timing import overlaps, planned_duration, resumable, start_decision
from contract import PreparePlaylist, SpeakerCommand
from contract.configfile import ConfigError, parse_text
from contract.topics import parse
from device_runtime.orders import OrderGate
from tests.edge_support import REPO
from tests.orders_support import TEST_KEY, signed

SHA = "ab" * 32
TS = 1_800_000_000.0
BASES = ["http://hub.local:8080/media/", "https://10.0.0.2/media"]


def plan(
    start: float = TS, priority: str = "normal", durations: tuple[float, ...] = (10.0,), **kw: object
) -> PreparePlaylist:
    items = [
        {"url": f"http://hub.local:8080/media/{SHA}.mp3", "sha256": SHA, "size": 100, "duration_s": d}
        for d in durations
    ]
    return PreparePlaylist.model_validate(
        {"airing": "a1", "start_at": start, "priority": priority, "items": items, **kw}
    )


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        (f"http://hub.local:8080/media/{SHA}.mp3", True),
        (f"http://HUB.local:8080/media/{SHA}.mp3", True),
        (f"https://10.0.0.2/media/{SHA}.mp3", True),
        (f"https://10.0.0.2:443/media/{SHA}.mp3", True),
        (f"http://hub.local:8081/media/{SHA}.mp3", False),  # other port
        (f"https://hub.local:8080/media/{SHA}.mp3", False),  # other scheme
        (f"http://evil.example:8080/media/{SHA}.mp3", False),
        (f"http://hub.local:8080/other/{SHA}.mp3", False),
        ("http://hub.local:8080/media/../etc/passwd", False),
        ("http://hub.local:8080/media/%2e%2e/secret", False),
        (f"http://user:pw@hub.local:8080/media/{SHA}.mp3", False),
        (f"http://10.0.0.2/media/{SHA}.mp3", False),
        (f"https://10.0.0.2/mediafake/{SHA}.mp3", False),
    ],
)
def test_download_allow_list(url: str, ok: bool) -> None:
    assert url_allowed(url, BASES) is ok


def test_start_decisions_take_now() -> None:
    p = plan()
    assert start_decision(TS - 5, p, 2.0) == "wait"
    assert start_decision(TS + 1.9, p, 2.0) == "now"
    assert start_decision(TS + 2.5, p, 2.0) == "late"
    assert start_decision(TS + 300, plan(priority="emergency"), 2.0) == "now"
    assert start_decision(TS + 2.5, plan(priority="priority"), 2.0) == "late"


def test_durations_overlaps_and_resume() -> None:
    p = plan(durations=(10.0, 5.0), repeats=3, gap_s=2.0)
    assert planned_duration(p) == pytest.approx(15 * 3 + 2 * 2)
    assert overlaps(plan(TS), plan(TS + 9))
    assert not overlaps(plan(TS), plan(TS + 10))
    assert resumable(TS + 9, plan()) and not resumable(TS + 10, plan())


def test_blocks_cover_items_repeats_and_gaps(tmp_path: Path) -> None:
    a, b = tmp_path / "a.s16", tmp_path / "b.s16"
    a.write_bytes(b"\x01\x00" * 7)
    b.write_bytes(b"\x02\x00" * 5)
    prog = Programme(
        (Segment(a, 14), Segment(b, 10), Segment(None, 6), Segment(a, 14), Segment(b, 10)), rate=8000
    )
    blocks = list(blocks_of(prog, 8))
    joined = b"".join(blocks)
    assert joined == a.read_bytes() + b.read_bytes() + bytes(6) + a.read_bytes() + b.read_bytes()
    assert all(len(x) == 8 for x in blocks[:-1]) and len(joined) == prog.nbytes
    assert prog.duration_s == pytest.approx(54 / 2 / 8000)


def test_volume_gain_scales_samples() -> None:
    assert volume_gain(100) == 1.0 and volume_gain(0) == 0.0 and volume_gain(50) == pytest.approx(0.25)
    block = (1000).to_bytes(2, "little", signed=True) + (-32768).to_bytes(2, "little", signed=True)
    out = apply_gain(block, 0.5)
    assert int.from_bytes(out[:2], "little", signed=True) == 500
    assert int.from_bytes(out[2:], "little", signed=True) == -16384
    assert apply_gain(block, 1.0) == block


def test_player_writes_the_whole_programme_to_a_wav(tmp_path: Path) -> None:
    pcm = tmp_path / "x.s16"
    pcm.write_bytes(b"\x10\x00" * 800)  # 0.1 s at 8 kHz
    prog = Programme((Segment(pcm, 1600), Segment(None, 400), Segment(pcm, 1600)), rate=8000)
    starts: list[float] = []  # the clock stands still past start_at: it plays at once
    player = Player(
        prog,
        FileSink(tmp_path / "out.wav", 8000),
        TS - 1,
        block_ms=20,
        spin_ms=0,
        realtime_priority=0,
        gain=lambda: 1.0,
        on_started=lambda first, _preroll: starts.append(first),
        clock=lambda: TS,
    )
    outcome = player.run()
    assert outcome.state == "finished" and outcome.first_sample_at == TS and starts == [TS]
    assert outcome.played_s == pytest.approx(0.225)
    with wave.open(str(tmp_path / "out.wav")) as w:
        assert w.getframerate() == 8000 and w.getnframes() == 1800


class RecordingSink:
    paced = True

    def __init__(self) -> None:
        self.silent = 0
        self.audio = bytearray()

    def open(self) -> None:
        pass

    def silence(self, nbytes: int) -> None:
        assert not self.audio, "pre-roll comes before the programme"
        self.silent += nbytes

    def write(self, block: bytes) -> None:
        self.audio += block

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def test_silence_frames_place_the_first_sample_on_the_start() -> None:
    assert silence_frames(TS + 0.25, TS, 8000) == 2000
    assert silence_frames(TS + 0.25, TS + 0.0501, 8000) == 1599  # 1599.2 frames: the nearest sample
    assert silence_frames(TS, TS + 0.01, 8000) == 0  # woke after the start: nothing to pre-roll


def test_player_preroll_puts_the_programme_at_a_sample_accurate_position(tmp_path: Path) -> None:
    pcm = tmp_path / "x.s16"
    pcm.write_bytes(b"\x10\x00" * 800)
    prog = Programme((Segment(pcm, 1600),), rate=8000)
    ticks = iter(range(10**9))
    # a clock that moves 0.37 ms per read: the wake-up lands at an arbitrary instant before the pre-roll
    clock = lambda: TS + next(ticks) * 0.00037  # noqa: E731
    sink = RecordingSink()
    starts: list[float] = []
    start_at = TS + 0.25
    player = Player(
        prog, sink, start_at, block_ms=20, spin_ms=1000, realtime_priority=0, gain=lambda: 1.0,
        on_started=lambda first, _preroll: starts.append(first), clock=clock, preroll_ms=200, buffer_ms=50,
    )  # fmt: skip
    outcome = player.run()
    assert outcome.state == "finished" and bytes(sink.audio) == pcm.read_bytes()
    assert 1500 <= sink.silent // 2 <= 1600  # ~0.2 s of silence, to the frame the wake-up instant needs
    assert outcome.first_sample_at == starts[0] == pytest.approx(start_at, abs=0.5 / 8000)
    assert outcome.played_s == pytest.approx(0.1)
    assert player.silence_s == sink.silent // 2 / 8000


def test_cache_evicts_least_recently_used_but_never_pinned(tmp_path: Path) -> None:
    cache = AudioCache(tmp_path / "c", max_bytes=3000)
    names = [c * 64 for c in "abc"]
    for i, sha in enumerate(names):
        tmp = cache.tmp_path(sha)
        tmp.write_bytes(bytes(1000))
        cache.commit(tmp, cache.mp3_path(sha))
        os.utime(cache.mp3_path(sha), (TS + i, TS + i))
    cache.pin([names[0]])  # oldest, but prepared
    cache.make_room(1000)
    assert cache.mp3_path(names[0]).exists() and not cache.mp3_path(names[1]).exists()
    assert cache.mp3_path(names[2]).exists() and cache.evicted == 1
    cache.pin([names[2]])
    with pytest.raises(CacheFull):
        cache.make_room(2500)
    cache.unpin([names[0], names[2]])
    cache.make_room(2500)
    assert cache.size_bytes == 0
    (cache.tmp_dir / "left.part").write_bytes(b"x")
    assert not any(AudioCache(tmp_path / "c", 3000).tmp_dir.iterdir())  # crash leftovers go at start


def test_command_contract_typed_by_action(tmp_path: Path) -> None:
    topic = "ops/v1/d/c/speaker/s/cmd"
    gate = OrderGate(TEST_KEY.public_key(), parse(topic), tmp_path / "orders.json")

    def admit(order: dict[str, Any] | bytes, to: str = topic) -> SpeakerCommand | BadCommand:
        payload = order if isinstance(order, bytes) else signed(topic, order)
        return admit_command(gate, to, payload, time.time())

    data: dict[str, Any] = plan().model_dump(mode="json")
    good: dict[str, Any] = {"transaction": "t", "ts": TS, "action": "prepare", "data": data}
    cmd = admit(good)
    assert isinstance(cmd, SpeakerCommand) and isinstance(cmd.data, PreparePlaylist)
    bad = {**good, "data": {**data, "repeats": 11}}
    out = admit(bad)
    assert (
        isinstance(out, BadCommand)
        and out.transaction == "t"
        and out.airing == "a1"
        and "repeats" in out.error
    )
    wrong_sha = {**good, "data": {**data, "items": [{**data["items"][0], "sha256": "XYZ"}]}}
    assert isinstance(admit(wrong_sha), BadCommand)
    assert isinstance(admit(b"\xff"), BadCommand)
    vol = admit({"transaction": "v", "ts": TS, "action": "volume"})
    assert isinstance(vol, BadCommand) and vol.transaction == "v"
    assert isinstance(admit(good, "ops/v1/d/c/speaker/other/cmd"), BadCommand)
    # Unsigned: refused and never answered (no transaction read from it).
    unsigned = admit(json.dumps(good).encode())
    assert isinstance(unsigned, BadCommand) and unsigned.reason == "unsigned" and unsigned.transaction is None
    assert gate.refused["invalid"] == 4 and gate.refused["misaddressed"] == 1 and gate.accepted == 1


def test_example_config_is_valid_and_checked_by_the_cli() -> None:
    cfg = load_config(REPO / "config" / "receiver.example.yaml")
    assert isinstance(cfg, ReceiverConfig) and cfg.sink.type == "alsa" and cfg.playback.late_grace_s == 2
    out = subprocess.run(
        [sys.executable, "-m", "broadcast.receiver", "--config", "config/receiver.example.yaml", "--check"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0 and "config OK" in out.stdout


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"sink": {"type": "file"}}, "sink.path is required"),
        ({"sink": {"type": "null", "path": "x.wav"}}, "only applies to the file sink"),
        ({"hub": {"allowed_urls": ["ftp://hub/media/"]}}, "http:// or https://"),
        ({"hub": {"allowed_urls": ["http://u:p@hub/media/"]}}, "no query, fragment or credentials"),
        ({"receiver": {"id": "Loa 1", "district": "d", "commune": "c"}}, "receiver.id"),
        ({"playback": {"volume": 101}}, "playback.volume"),
        ({"sink": {"type": "pulse"}}, "sink.type"),
        ({"extra": 1}, "extra"),
    ],
)
def test_config_errors_name_the_key(patch: dict[str, object], needle: str) -> None:
    doc: dict[str, object] = {
        "receiver": {"id": "loa-1", "district": "d", "commune": "c"},
        "hub": {"allowed_urls": ["http://127.0.0.1:8080/media/"]},
        "cache": {"dir": "cache"},
        "sink": {"type": "null"},
    }
    doc.update(patch)
    with pytest.raises(ConfigError) as err:
        parse_text(ReceiverConfig, json.dumps(doc), "r.yaml")
    assert needle in str(err.value)
