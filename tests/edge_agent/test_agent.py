"""Edge agent end to end on real parts: GStreamer RTSP simulator → `python -m edge_agent` → Mosquitto → a
subscriber that validates every message against the contract. No timing assertions: only what arrives, in
which order, and what it says."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract import CameraHealth, EdgeStatus, topics
from devtools.camsim_client import CamSim
from devtools.services import Service
from tests.edge_support import AgentProcess, FaultProxy, Recorder, retained_status, wait_gone
from tests.fixtures_camsim import CamSimFactory
from tests.orders_support import PUBLIC_PEM, signed

DISTRICT, COMMUNE, AGENT = "yen_dinh", "dinh_long", "box-test"
STATUS = str(topics.edge_status(DISTRICT, COMMUNE, AGENT))
CMD = str(topics.edge_cmd(DISTRICT, COMMUNE, AGENT))
DOOR_PASSWORD = "s3cret-door"


@pytest.fixture(scope="module")
def sim(camsim_module_factory: CamSimFactory) -> CamSim:
    return camsim_module_factory(
        {
            "gate": "normal",
            "yard": "black",
            "hall": "frozen",
            "lane": "slow",
            "door": {"behaviour": "normal", "auth": f"admin:{DOOR_PASSWORD}"},
            "flaky": "normal",
        },
        fps=25,  # FFmpeg learns a 25 fps stream in ~1 s, a 10 fps one in ~3 s: quicker probes
    )


def write_config(path: Path, mqtt_port: int, cameras: list[dict[str, Any]], **probe: Any) -> Path:
    settings = {
        "interval_s": 2,
        "open_timeout_s": 4,
        "read_timeout_s": 4,
        "frames": 8,
        "analysed_frames": 3,
        "concurrency": 4,
        "snapshot_every": 2,
        **probe,
    }
    doc = {
        "agent": {"id": AGENT, "district": DISTRICT, "commune": COMMUNE, "name": "Hộp thử nghiệm"},
        "hub_public_key": PUBLIC_PEM,
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "backoff_min_s": 0.5, "backoff_max_s": 2},
        "probe": settings,
        "cameras": cameras,
    }
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def recorder(mosquitto: Service) -> Iterator[Recorder]:
    rec = Recorder(mosquitto.port)
    yield rec
    rec.close()


def state(h: CameraHealth) -> tuple[bool, list[str]]:
    return h.online, [p.value for p in h.problems]


def test_agent_judges_every_camera(
    sim: CamSim, mosquitto: Service, recorder: Recorder, tmp_path: Path
) -> None:
    cameras: list[dict[str, Any]] = [
        {"id": "dead", "url": sim.hang_url},  # first in the list: it must not hold up the others
        {"id": "gate", "name": "Cổng UBND xã", "url": sim.url("gate"), "expected_fps": 25},
        {"id": "yard", "url": sim.url("yard"), "expected_fps": 25},
        {"id": "hall", "url": sim.url("hall"), "expected_fps": 25},
        {"id": "lane", "url": sim.url("lane"), "expected_fps": 25, "commune": "dinh_tan"},
        {"id": "door", "url": sim.url("door"), "expected_fps": 25},
        {"id": "door-bad", "url": sim.url("door", "admin:wr0ng-pass")},
        {"id": "shut", "url": sim.refused_url},
    ]
    expected = {
        "dead": (False, ["unreachable"]),
        "gate": (True, []),
        "yard": (True, ["black"]),
        "hall": (True, ["frozen"]),
        "lane": (True, ["low_fps"]),
        "door": (True, []),
        "door-bad": (False, ["auth_failed"]),
        "shut": (False, ["unreachable"]),
    }
    agent = AgentProcess(
        write_config(tmp_path / "edge.yaml", mosquitto.port, cameras), tmp_path / "agent.log"
    )
    try:

        def all_judged(_: object) -> bool:
            return all(any(state(h) == want for h in recorder.health(cid)) for cid, want in expected.items())

        recorder.wait_for("every camera judged as expected", all_judged, 120)
        online = retained_status(mosquitto.port, STATUS)
        messages = recorder.snapshot()
        workers = agent.workers()
    finally:
        rc = agent.stop()
    log = agent.log()
    assert rc == 0, log[-3000:]

    # Birth message: retained, with this boot's id and the inventory (display names included).
    assert online.state == "online" and online.cameras == len(cameras) and online.boot
    inventory = {c.id: c for c in online.inventory or []}
    assert inventory["gate"].name == "Cổng UBND xã" and inventory["lane"].commune == "dinh_tan"

    healths = [m for m in messages if isinstance(m.decoded, CameraHealth)]
    assert {h.topic for h in healths} >= {
        str(topics.camera_health(DISTRICT, "dinh_tan", "lane")),
        str(topics.camera_health(DISTRICT, COMMUNE, "gate")),
    }
    decoded = [m.decoded for m in healths if isinstance(m.decoded, CameraHealth)]
    # One sequence across the agent, +1 per message, no gaps or repeats on a steady connection.
    assert [h.seq for h in decoded] == list(range(len(decoded)))
    assert {(h.agent, h.boot) for h in decoded} == {(AGENT, online.boot)}

    # The hanging camera did not hold up the healthy one listed after it.
    first = {
        cid: next(i for i, h in enumerate(healths) if h.kind_id_channel[1] == cid) for cid in ("dead", "gate")
    }
    assert first["gate"] < first["dead"]

    reasons = {h.kind_id_channel[1]: h.decoded.reason for h in healths if isinstance(h.decoded, CameraHealth)}
    assert reasons["door-bad"] is not None and "Sai tên đăng nhập hoặc mật khẩu" in reasons["door-bad"]
    assert reasons["dead"] is not None and "không trả lời" in reasons["dead"]
    assert reasons["shut"] is not None and "từ chối kết nối" in reasons["shut"]
    gate = [h for h in decoded if h.agent and h.online and h.fps is not None]
    assert gate and all(h.width and h.brightness is not None for h in gate)

    # Snapshots: retained JPEGs with the contract's user properties, tied to a health message by seq.
    snaps = [m for m in messages if m.kind_id_channel == ("camera", "gate", "snapshot")]
    assert snaps and all(isinstance(s.decoded, bytes) for s in snaps)
    gate_seqs = {h.seq for h in recorder.health("gate")}
    for s in snaps:
        assert (
            set(s.properties) == {"ts", "width", "height", "seq", "agent"} and s.properties["agent"] == AGENT
        )
        assert int(s.properties["width"]) == 640 and int(s.properties["seq"]) in gate_seqs
    assert not [m for m in messages if m.kind_id_channel == ("camera", "dead", "snapshot")]

    # Passwords appear nowhere: not on MQTT, not in the log.
    for secret in (DOOR_PASSWORD, "wr0ng-pass"):
        assert all(secret.encode() not in m.payload for m in messages)
        assert secret not in log

    # Clean stop: offline published by the agent itself, same boot; its workers are gone with it.
    offline = retained_status(mosquitto.port, STATUS)
    assert offline.state == "offline" and offline.boot == online.boot
    # Workers, and multiprocessing's resource tracker, leave with the agent.
    assert len(workers) >= 4 and not wait_gone(workers)


def test_commands_stream_loss_and_reload(
    sim: CamSim, mosquitto: Service, recorder: Recorder, tmp_path: Path
) -> None:
    cameras: list[dict[str, Any]] = [
        {"id": "gate", "url": sim.url("gate"), "expected_fps": 25},
        {"id": "hall", "url": sim.url("hall"), "expected_fps": 25},
        {"id": "flaky", "url": sim.url("flaky"), "expected_fps": 25},
    ]
    config = write_config(tmp_path / "edge.yaml", mosquitto.port, cameras, interval_s=3, snapshot_every=0)
    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        recorder.wait_for(
            "first probes", lambda _: all(recorder.health(c) for c in ("gate", "hall", "flaky"))
        )
        # A frozen picture takes two looks: the second shows it unchanged since the first.
        recorder.wait_for(
            "hall seen frozen", lambda _: any(state(h) == (True, ["frozen"]) for h in recorder.health("hall"))
        )

        # snapshot now, one camera: a fresh retained JPEG tied to the probe that took it.
        reply = recorder.command(CMD, "snap-1", "snapshot", "gate")
        assert reply.status == "ok" and reply.data["published"] == 1, reply
        seq = reply.data["cameras"]["gate"]["seq"]
        recorder.wait_for(
            "the commanded snapshot",
            lambda ms: any(
                m.kind_id_channel == ("camera", "gate", "snapshot") and m.properties.get("seq") == str(seq)
                for m in ms
            ),
        )

        # probe now, every camera: one summary each.
        reply = recorder.command(CMD, "probe-all", "probe")
        assert reply.status == "ok" and set(reply.data["cameras"]) == {"gate", "hall", "flaky"}
        assert reply.data["cameras"]["hall"]["problems"] == ["frozen"]

        # Refusals, each answered with the same transaction and a reason.
        unknown = recorder.command(CMD, "unknown-cam", "probe", "cam-99")
        assert unknown.status == "error" and unknown.error and "cam-99" in unknown.error
        relearn = recorder.command(CMD, "relearn-1", "relearn", "gate")
        assert relearn.status == "ok" and relearn.data["cameras"] == ["gate"], relearn
        relearn = recorder.command(CMD, "relearn-2", "relearn", "cam-99")
        assert relearn.status == "error" and relearn.error and "cam-99" in relearn.error
        # Signed by the hub but breaking the contract: answered; not signed at all: never answered.
        recorder.publish(CMD, signed(CMD, {"transaction": "bad-1", "action": "explode", "ts": 1763880000}))
        recorder.publish(CMD, b"\xff not json at all")
        bad = recorder.wait_for("reply to an invalid command", lambda _: recorder.replies().get("bad-1"))
        assert bad.status == "error" and bad.error and "invalid" in bad.error and "action" in bad.error

        # The stream goes away: offline with the camera's own answer as reason; a snapshot cannot be had.
        sim.stop_stream("flaky")
        try:
            recorder.wait_for(
                "flaky offline", lambda _: any(not h.online for h in recorder.health("flaky")[-1:])
            )
            down = recorder.health("flaky")[-1]
            assert down.problems and down.problems[0].value in ("unreachable", "no_frames"), down
            nosnap = recorder.command(CMD, "snap-down", "snapshot", "flaky")
            assert nosnap.status == "error" and nosnap.error and "flaky" in nosnap.error
        finally:
            sim.resume_stream("flaky")
        recorder.wait_for("flaky back", lambda _: state(recorder.health("flaky")[-1]) == (True, []))

        # A broken config is refused and the running one stays.
        good_text = config.read_text(encoding="utf-8")
        config.write_text(good_text.replace("interval_s: 3", "interval_s: -1"), encoding="utf-8")
        refused = recorder.command(CMD, "reload-bad", "reload")
        assert refused.status == "error" and refused.error and "probe.interval_s" in refused.error
        assert recorder.command(CMD, "still-alive", "probe", "gate").status == "ok"

        # A good one applies: hall leaves, yard joins, the birth message carries the new inventory.
        boot = recorder.statuses()[-1].boot
        write_config(
            config,
            mosquitto.port,
            [cameras[0], cameras[2], {"id": "yard", "url": sim.url("yard")}],
            interval_s=3,
            snapshot_every=0,
        )
        applied = recorder.command(CMD, "reload-good", "reload")
        assert applied.status == "ok", applied
        assert applied.data["added"] == ["yard"] and applied.data["removed"] == ["hall"]
        status = recorder.wait_for(
            "status with the new inventory",
            lambda _: next(
                (
                    s
                    for s in reversed(recorder.statuses())
                    if s.cameras == 3 and s.inventory and "yard" in {c.id for c in s.inventory}
                ),
                None,
            ),
        )
        assert status.boot == boot and status.state == "online"
        recorder.wait_for(
            "yard judged", lambda _: any(state(h) == (True, ["black"]) for h in recorder.health("yard"))
        )
        hall_count, gate_count = len(recorder.health("hall")), len(recorder.health("gate"))
        recorder.wait_for("two more rounds", lambda _: len(recorder.health("gate")) >= gate_count + 2)
        assert len(recorder.health("hall")) == hall_count  # removed: no more reports
    finally:
        rc = agent.stop()
    log = agent.log()
    assert rc == 0
    assert "order refused (invalid)" in log and "reload refused" in log


def test_backlog_survives_a_broken_link_and_kill9_leaves_the_will(
    sim: CamSim, mosquitto: Service, recorder: Recorder, tmp_path: Path
) -> None:
    proxy = FaultProxy(mosquitto.port)
    config = write_config(
        tmp_path / "edge.yaml", proxy.port, [{"id": "gate", "url": sim.url("gate")}], interval_s=1
    )
    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        recorder.wait_for("two health messages", lambda _: len(recorder.health("gate")) >= 2)
        proxy.cut()
        cut_log = len(agent.log())

        def probed_while_down() -> list[int]:
            return [int(s) for s in re.findall(r"probe camera=gate seq=(\d+)", agent.log()[cut_log:])]

        recorder.wait_for("two probes while the link is down", lambda _: len(probed_while_down()) >= 2)
        assert "lost the broker" in agent.log()
        last_seq = probed_while_down()[-1]
        proxy.restore()
        recorder.wait_for(
            "the backlog", lambda _: {h.seq for h in recorder.health("gate")} >= set(range(last_seq + 1))
        )
        seqs = [h.seq for h in recorder.health("gate")]
        # Everything arrives, oldest first; a message on the wire when the link broke may come twice.
        assert sorted(set(seqs)) == list(range(max(seqs) + 1))
        assert list(dict.fromkeys(seqs)) == sorted(set(seqs))
        onlines = [s for s in recorder.statuses() if s.state == "online"]
        assert len(onlines) >= 2 and len({s.boot for s in onlines}) == 1
        # The cut looked like a dead box to the broker: it published the Will in between.
        assert [s.state for s in recorder.statuses()].count("offline") >= 1
        assert onlines[-1].queue is not None and onlines[-1].queue >= 2  # backlog size, told at reconnect

        workers = agent.workers()
        assert workers, "probe workers expected"
        boot = onlines[-1].boot
        seen = len(recorder.statuses())  # the cut link already made the broker send the Will once
        agent.kill9()
        will = recorder.wait_for(
            "the Last Will",
            lambda _: next((s for s in recorder.statuses()[seen:] if s.state == "offline"), None),
        )
        assert will.boot == boot
        assert retained_status(mosquitto.port, STATUS).state == "offline"
        # Orphaned workers notice the closed pipe and exit (after the probe in hand, at most its cap).
        assert not wait_gone(workers), "probe workers outlived their agent"
    finally:
        if agent.proc.poll() is None:
            agent.stop()
        proxy.close()
    assert isinstance(will, EdgeStatus)
