"""Store-and-forward on real parts: a receiver that lost the broker after preparing still plays at the planned
time, and its events reach the hub after the broker is back, with the times they happened. A receiver restarted
before air time plays what it had prepared."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contract import SpeakerEvent
from devtools.services import Service, start_mosquitto
from tests.edge_support import FaultProxy, Recorder
from tests.receiver_support import (
    FileServer,
    ReceiverProcess,
    Speaker,
    make_mp3,
    plan,
    wav_levels,
    write_config,
)

RECEIVER = "loa-mat-mang"


@pytest.fixture
def tone(tmp_path: Path) -> Iterator[tuple[FileServer, dict[str, Any]]]:
    media = tmp_path / "media"
    media.mkdir()
    meta = make_mp3(media / "src.mp3", 1.0)
    (media / "src.mp3").rename(media / f"{meta['sha256']}.mp3")
    server = FileServer(media)
    yield server, {**meta, "url": server.url(f"{meta['sha256']}.mp3")}
    server.close()


def queued_events(outbox: Path) -> list[SpeakerEvent]:
    """Events waiting in the receiver's disk outbox, read as another process would."""
    if not outbox.exists():
        return []
    db = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute("SELECT topic, payload FROM message ORDER BY id").fetchall()
    finally:
        db.close()
    return [SpeakerEvent.model_validate_json(p) for t, p in rows if t.endswith("/event")]


def wait(what: str, check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_link_lost_after_prepare_still_plays_and_reports_later(
    mosquitto: Service, tone: tuple[FileServer, dict[str, Any]], tmp_path: Path
) -> None:
    server, item = tone
    proxy = FaultProxy(mosquitto.port)
    config = write_config(
        tmp_path / "r.yaml",
        RECEIVER,
        proxy.port,
        [server.base()],
        {"type": "file", "path": "played/{airing}.wav"},
    )
    first = Recorder(mosquitto.port)
    proc = ReceiverProcess(config, tmp_path / "r.log")
    broker, second = mosquitto, None
    try:
        speaker = Speaker(first, RECEIVER)
        first.wait_for("online", lambda _: speaker.statuses() or None)
        p = plan("a-offline", [item], start_in=4.0)
        speaker.send("prepare", p)
        speaker.event("a-offline", "ready")
        cut_at = time.time()
        proxy.cut()
        first.close()
        broker.stop()
        # Air time passes with no broker: it plays from its cache, the events wait on disk.
        outbox = tmp_path / "cache" / "outbox.sqlite3"
        wait("finished queued on disk", lambda: any(e.event == "finished" for e in queued_events(outbox)))
        _, seconds, rms = wav_levels(tmp_path / "played" / "a-offline.wav")
        assert seconds == pytest.approx(1.0, abs=0.05) and rms > 0.01
        broker = start_mosquitto(mosquitto.workdir, port=mosquitto.port)
        second = Recorder(broker.port)
        back = Speaker(second, RECEIVER)
        restored_at = time.time()
        proxy.restore()
        started = back.event("a-offline", "started")
        finished = back.event("a-offline", "finished")
        # Their own times (during the outage), not the time of the replay.
        assert cut_at < started.ts < restored_at and started.ts <= finished.ts < restored_at
        assert started.data.offset_ms is not None and abs(started.data.offset_ms) < 1000
        assert started.data.first_sample_at == pytest.approx(p["start_at"], abs=1.0)
        assert proc.stop() == 0
        assert queued_events(outbox) == []
    finally:
        if proc.proc.poll() is None:
            proc.stop()
        if second is not None:
            second.close()
        if broker is not mosquitto:
            broker.stop()
        proxy.close()


def test_prepared_airing_survives_a_receiver_restart(
    mosquitto: Service, tone: tuple[FileServer, dict[str, Any]], tmp_path: Path
) -> None:
    server, item = tone
    config = write_config(
        tmp_path / "r.yaml",
        RECEIVER,
        mosquitto.port,
        [server.base()],
        {"type": "file", "path": "{airing}.wav"},
    )
    rec = Recorder(mosquitto.port)
    proc = ReceiverProcess(config, tmp_path / "r1.log")
    try:
        speaker = Speaker(rec, RECEIVER)
        rec.wait_for("online", lambda _: speaker.statuses() or None)
        speaker.send("prepare", plan("a-kept", [item], start_in=10.0))
        speaker.event("a-kept", "ready")
        assert proc.stop() == 0  # e.g. a power blip; the airing is kept in the cache dir
        requests = len(server.requests)
        proc = ReceiverProcess(config, tmp_path / "r2.log")
        assert speaker.event("a-kept", "finished").data.played_s == pytest.approx(1.0, abs=0.05)
        assert len(server.requests) == requests  # played from the cache
        assert "resumed after a restart" in proc.log()
    finally:
        if proc.proc.poll() is None:
            proc.stop()
        rec.close()
