"""Edge agent's disk queue on real parts: `python -m edge_agent` → Mosquitto, the broker stopped and restarted
mid-run, and the agent killed with SIGKILL while it queues. Cameras point at a closed local port, so every probe
ends quickly in an offline health message (no video needed to exercise the queue).

The agent reaches the broker through a FaultProxy so the test decides when it may come back: the recorder is
subscribed to the restarted broker first (Mosquitto runs without persistence, so nothing would hold the replay
for a late subscriber). No timing assertions: only what arrives, in which order, with which timestamps.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from contract import CameraHealth
from devtools.services import Service, free_port, start_mosquitto
from tests.edge_support import AgentProcess, FaultProxy, Recorder

DISTRICT, COMMUNE, AGENT = "yen_dinh", "dinh_long", "box-queue"
CAMERAS = ("cam-a", "cam-b")


def write_config(path: Path, port: int, queue_file: str) -> Path:
    closed = free_port()  # nothing listens there: each probe is a quick "connection refused"
    doc = {
        "agent": {"id": AGENT, "district": DISTRICT, "commune": COMMUNE},
        "mqtt": {"host": "127.0.0.1", "port": port, "backoff_min_s": 0.3, "backoff_max_s": 1},
        "probe": {"interval_s": 0.5, "open_timeout_s": 1, "read_timeout_s": 1, "concurrency": 2},
        "outbox": {"path": queue_file},
        "cameras": [{"id": c, "url": f"rtsp://127.0.0.1:{closed}/{c}"} for c in CAMERAS],
    }
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def health_of(recorders: list[Recorder]) -> list[CameraHealth]:
    """Every health message any recorder saw, repeats (at-least-once) removed, in arrival order per recorder."""
    seen: set[tuple[str | None, int]] = set()
    out = []
    for rec in recorders:
        for cam in CAMERAS:
            for h in rec.health(cam):
                if (h.boot, h.seq) not in seen:
                    seen.add((h.boot, h.seq))
                    out.append(h)
    return out


def assert_complete(health: list[CameraHealth], boot: str | None) -> list[CameraHealth]:
    mine = sorted((h for h in health if h.boot == boot), key=lambda h: h.seq)
    assert [h.seq for h in mine] == list(range(len(mine))), "a health message of this boot is missing"
    stamps = [h.ts for h in mine]
    assert stamps == sorted(stamps), "seq and original timestamps disagree"
    return mine


def queued_seqs(queue: Path) -> list[int]:
    """Seqs of the health messages in the agent's queue file, read as another process would (WAL reader)."""
    db = sqlite3.connect(f"file:{queue}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute("SELECT topic, payload FROM message ORDER BY id").fetchall()
    finally:
        db.close()
    return [CameraHealth.model_validate_json(p).seq for t, p in rows if t.endswith("/health")]


def wait(what: str, check: object, timeout: float = 30.0) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def proxy(mosquitto: Service) -> Iterator[FaultProxy]:
    p = FaultProxy(mosquitto.port)
    yield p
    p.close()


def test_broker_restart_mid_run_loses_no_health_and_keeps_true_times(
    mosquitto: Service, proxy: FaultProxy, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "edge.yaml", proxy.port, "queue.sqlite")
    first = Recorder(mosquitto.port)
    agent = AgentProcess(config, tmp_path / "agent.log")
    second: Recorder | None = None
    broker = mosquitto
    try:
        first.wait_for("health before the outage", lambda _: len(first.health("cam-a")) >= 2)
        boot = first.health("cam-a")[0].boot
        outage_start = time.time()
        proxy.cut()
        first.close()
        broker.stop()
        # While the broker is gone the agent keeps probing; its results wait in the queue file.
        wait("messages queued on disk", lambda: len(queued_seqs(tmp_path / "queue.sqlite")) >= 8)
        outage_end = time.time()
        queued = queued_seqs(tmp_path / "queue.sqlite")
        broker = start_mosquitto(mosquitto.workdir, port=mosquitto.port)
        second = Recorder(broker.port)
        proxy.restore()
        second.wait_for(
            "fresh health after the outage",
            lambda _: any(h.ts > outage_end for c in CAMERAS for h in second.health(c)),  # type: ignore[union-attr]
        )
        assert agent.stop() == 0
        assert_complete(health_of([first, second]), boot)
        replayed = {h.seq: h for h in second.health("cam-a") + second.health("cam-b") if h.boot == boot}
        assert set(queued) <= set(replayed), "the backlog was replayed to the restarted broker"
        # With their original timestamps (probed during the outage), not the time of the replay; at most the
        # one or two on the wire when the link broke were probed before it.
        assert all(replayed[q].ts < outage_end for q in queued)
        assert sum(replayed[q].ts > outage_start for q in queued) >= len(queued) - 2
        assert queued_seqs(tmp_path / "queue.sqlite") == []
    finally:
        if agent.proc.poll() is None:
            agent.kill9()
        if second is not None:
            second.close()
        if broker is not mosquitto:
            broker.stop()


def test_agent_killed_while_queueing_sends_the_queue_after_restart(
    mosquitto: Service, proxy: FaultProxy, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "edge.yaml", proxy.port, "queue.sqlite")
    queue = tmp_path / "queue.sqlite"
    rec = Recorder(mosquitto.port)
    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        rec.wait_for("health before the cut", lambda _: len(rec.health("cam-a")) >= 1)
        boot = rec.health("cam-a")[0].boot
        proxy.cut()
        wait("messages queued on disk", lambda: len(queued_seqs(queue)) >= 6)
        agent.kill9()
        waiting = queued_seqs(queue)
        assert len(waiting) >= 6
        proxy.restore()
        agent = AgentProcess(config, tmp_path / "agent2.log")
        rec.wait_for(
            "the queue of the killed agent",
            lambda _: {h.seq for h in health_of([rec]) if h.boot == boot} >= set(waiting),
        )
        rec.wait_for("health of the new boot", lambda _: any(h.boot != boot for h in health_of([rec])))
        assert agent.stop() == 0
        old = assert_complete(health_of([rec]), boot)
        assert old[-1].seq == max(waiting), (
            "nothing of the killed agent beyond its queue, nothing lost before it"
        )
        assert_complete(health_of([rec]), next(h.boot for h in health_of([rec]) if h.boot != boot))
        assert "kept from before, sending them first" in agent.log()
    finally:
        if agent.proc.poll() is None:
            agent.kill9()
        rec.close()
