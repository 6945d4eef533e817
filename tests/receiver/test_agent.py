"""The receiver on real parts: `python -m broadcast.receiver` ↔ Mosquitto, audio from a local aiohttp server,
played into the file sink. No timing assertions beyond "reported and under a second"."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.services import Service
from tests.edge_support import Recorder
from tests.orders_support import signed
from tests.receiver_support import (
    FileServer,
    ReceiverProcess,
    Speaker,
    make_mp3,
    plan,
    wav_levels,
    write_config,
)

RECEIVER = "loa-thu"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("media")
    items = {}
    for name, seconds, freq in (("tone", 1.5, 440), ("alarm", 2.0, 880), ("long", 8.0, 330)):
        meta = make_mp3(root / "src.mp3", seconds, freq)
        (root / "src.mp3").rename(root / f"{meta['sha256']}.mp3")
        items[name] = meta
    return root, items


@pytest.fixture
def server(media: tuple[Path, dict[str, dict[str, Any]]]) -> Iterator[FileServer]:
    srv = FileServer(media[0])
    yield srv
    srv.close()


def item(server: FileServer, meta: dict[str, Any], host: str = "127.0.0.1") -> dict[str, Any]:
    return {**meta, "url": server.url(f"{meta['sha256']}.mp3", host)}


@pytest.fixture
def running(
    mosquitto: Service, server: FileServer, tmp_path: Path
) -> Iterator[tuple[Speaker, ReceiverProcess, Path]]:
    rec = Recorder(mosquitto.port)
    (tmp_path / "clock-offset.txt").write_text("-37.5\n")  # what a chrony hook would write
    config = write_config(
        tmp_path / "receiver.yaml",
        RECEIVER,
        mosquitto.port,
        [server.base()],
        {"type": "file", "path": "played/{airing}.wav"},
        health={"interval_s": 1, "clock_offset_file": "clock-offset.txt"},
    )
    proc = ReceiverProcess(config, tmp_path / "receiver.log")
    speaker = Speaker(rec, RECEIVER)
    try:
        rec.wait_for("online status", lambda _: any(s.state == "online" for s in speaker.statuses()), 30)
        yield speaker, proc, tmp_path
    finally:
        if proc.proc.poll() is None:
            proc.stop()
        rec.close()


def test_prepare_ready_start_finish_into_the_file_sink(
    running: tuple[Speaker, ReceiverProcess, Path], server: FileServer, media: Any
) -> None:
    speaker, proc, tmp = running
    tone = media[1]["tone"]
    p = plan("a-normal", [item(server, tone)], start_in=3.0, repeats=2, gap_s=0.5)
    tx = speaker.send("prepare", p)
    ready = speaker.event("a-normal", "ready")
    assert ready.transaction == tx and ready.data.downloaded_bytes == tone["size"]
    started = speaker.event("a-normal", "started")
    assert started.data.first_sample_at is not None and started.data.offset_ms is not None
    assert abs(started.data.offset_ms) < 1000
    assert started.data.first_sample_at == pytest.approx(p["start_at"], abs=1.0)
    finished = speaker.event("a-normal", "finished")
    assert finished.data.played_s == pytest.approx(2 * 1.5 + 0.5, abs=0.1)
    rate, seconds, rms = wav_levels(tmp / "played" / "a-normal.wav")
    assert rate == 48000 and seconds == pytest.approx(3.5, abs=0.1)
    # lavfi's sine has amplitude 1/8; volume 80 is a gain of 0.64; 3 s of tone in 3.5 s: the sound, at that volume.
    assert rms == pytest.approx(0.125 / 2**0.5 * 0.64 * (3 / 3.5) ** 0.5, rel=0.1)
    # The receiver measured the same level on what it sent, and the 0.5 s gap as silence.
    assert finished.data.level_dbfs == pytest.approx(20 * math.log10(rms), abs=0.5)
    assert finished.data.silent_s == pytest.approx(0.5, abs=0.05)
    # Health while it played carried the interval's level; every report carries the clock offset.
    levels = [h.level_dbfs for h in speaker.health() if h.level_dbfs is not None]
    assert levels and all(-40 < v < -15 for v in levels[:-1])
    assert speaker.health()[-1].clock_offset_ms == -37.5

    status = speaker.statuses()[-1]
    assert status.state == "online" and status.name == "Cụm loa thử" and status.village == "thon-1"
    health = speaker.health()[-1]
    assert health.volume == 80 and health.cache_mb is not None and health.cache_mb > 0

    # The same file again: served from the cache, not downloaded.
    before = len(server.requests)
    speaker.send("prepare", plan("a-again", [item(server, tone)], start_in=2.0))
    assert speaker.event("a-again", "ready").data.downloaded_bytes == 0
    assert len(server.requests) == before

    # Volume: answered, kept, reported in health.
    vtx = speaker.send("volume", {"volume": 35})
    reply = speaker.answer(vtx)
    assert reply.event == "reply" and reply.data.volume == 35
    speaker.rec.wait_for(
        "health with the new volume", lambda _: any(h.volume == 35 for h in speaker.health())
    )
    assert speaker.end_of("a-again").event == "finished"
    assert proc.stop() == 0
    assert "commands_rejected=0" in proc.log()


def test_refusals_checksum_host_and_bad_commands(
    running: tuple[Speaker, ReceiverProcess, Path], server: FileServer, media: Any
) -> None:
    speaker, proc, _ = running
    tone = media[1]["tone"]
    wrong = {**item(server, tone), "sha256": "0" * 64}
    wrong["url"] = server.url(f"{tone['sha256']}.mp3")  # the real file under a different declared hash
    speaker.send("prepare", plan("a-sum", [wrong], start_in=5.0))
    failed = speaker.end_of("a-sum")
    assert failed.event == "failed" and failed.data.reason == "checksum" and failed.error

    served = len(server.requests)
    speaker.send("prepare", plan("a-host", [item(server, tone, host="localhost")], start_in=5.0))
    failed = speaker.end_of("a-host")
    assert failed.event == "failed" and failed.data.reason == "host_not_allowed"
    assert len(server.requests) == served  # refused before any request

    # A command that breaks the contract: answered (its transaction is readable), counted, logged.
    bad = {
        "transaction": "t-bad",
        "ts": time.time(),
        "action": "prepare",
        "data": {"airing": "a-bad", "priority": "loud"},
    }
    speaker.rec.publish(f"{speaker.base}/cmd", signed(f"{speaker.base}/cmd", bad))
    speaker.rec.publish(f"{speaker.base}/cmd", b"not json at all")
    failed = speaker.end_of("a-bad")
    assert (
        failed.transaction == "t-bad"
        and failed.data.reason == "invalid"
        and "priority" in (failed.error or "")
    )
    # Still alive and serving after the refusals.
    vtx = speaker.send("volume", {"volume": 50})
    speaker.answer(vtx)
    assert proc.stop() == 0
    log = proc.log()
    assert "commands_rejected=2" in log and "command rejected" in log


def test_emergency_preempts_a_playing_airing_and_stop(
    running: tuple[Speaker, ReceiverProcess, Path], server: FileServer, media: Any
) -> None:
    speaker, proc, tmp = running
    speaker.send("prepare", plan("a-long", [item(server, media[1]["long"])], start_in=2.0))
    speaker.event("a-long", "started")
    sent = time.time()
    speaker.send(
        "prepare", plan("a-flood", [item(server, media[1]["alarm"])], start_in=0.0, priority="emergency")
    )
    stopped = speaker.end_of("a-long")
    assert stopped.event == "stopped" and stopped.data.reason == "preempted" and stopped.data.by == "a-flood"
    assert stopped.data.played_s is not None and 0 < stopped.data.played_s < 8
    started = speaker.event("a-flood", "started")
    assert started.data.first_sample_at is not None and started.data.first_sample_at - sent < 3.0
    assert started.ts >= stopped.ts
    assert speaker.end_of("a-flood").event == "finished"
    _, seconds, _ = wav_levels(tmp / "played" / "a-long.wav")
    assert seconds == pytest.approx(stopped.data.played_s, abs=0.05)  # the file holds what was heard

    # stop: of a playing airing (answers with the stop's transaction), and of one only prepared.
    speaker.send("prepare", plan("a-later", [item(server, media[1]["tone"])], start_in=60.0))
    speaker.event("a-later", "ready")
    speaker.send("prepare", plan("a-now", [item(server, media[1]["long"])], start_in=1.0))
    speaker.event("a-now", "started")
    stx = speaker.send("stop", {})
    stopped = speaker.end_of("a-now")
    assert stopped.event == "stopped" and stopped.data.reason == "command" and stopped.transaction == stx
    speaker.send("stop", {"airing": "a-later"})
    stopped = speaker.end_of("a-later")
    assert stopped.event == "stopped" and stopped.data.played_s == 0
    assert proc.stop() == 0
