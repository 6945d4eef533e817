"""Orders that the hub did not sign, or signed for another time, device or place in its sequence, sent to a real
receiver process and a real edge agent process over a real Mosquitto (what a stolen account or a broker
compromise can do): nothing plays, nothing runs, and each refusal is counted in the device's own reports."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract import CommandReply
from devtools.services import Service
from tests.edge_support import AgentProcess, Recorder
from tests.orders_support import PUBLIC_PEM, signed
from tests.receiver_support import (
    COMMUNE,
    DISTRICT,
    FileServer,
    ReceiverProcess,
    Speaker,
    make_mp3,
    plan,
    write_config,
)

RX, BOX = "loa-an-toan", "hop-an-toan"
ATTACKER = Ed25519PrivateKey.generate()  # what a broker compromise can sign with: not the hub's key


@pytest.fixture
def tone(tmp_path: Path) -> Iterator[tuple[FileServer, dict[str, Any]]]:
    root = tmp_path / "media"
    root.mkdir()
    meta = make_mp3(root / "src.mp3", 1.0)
    (root / "src.mp3").rename(root / f"{meta['sha256']}.mp3")
    srv = FileServer(root)
    yield srv, {**meta, "url": srv.url(f"{meta['sha256']}.mp3")}
    srv.close()


def _receiver(tmp_path: Path, port: int, server: FileServer) -> ReceiverProcess:
    sink = {"type": "file", "path": "played/{airing}.wav"}
    config = write_config(tmp_path / "receiver.yaml", RX, port, [server.base()], sink)
    return ReceiverProcess(config, tmp_path / f"receiver-{time.monotonic_ns()}.log")


def _refused(speaker: Speaker, want: dict[str, int]) -> Any:
    return speaker.rec.wait_for(
        f"health reporting refusals {want}",
        lambda _: next((h for h in reversed(speaker.health()) if h.orders_refused == want), None),
        30,
    )


def test_a_receiver_obeys_only_the_hubs_fresh_orders_for_itself(
    mosquitto: Service, tmp_path: Path, tone: tuple[FileServer, dict[str, Any]]
) -> None:
    server, item = tone
    rec = Recorder(mosquitto.port)
    speaker = Speaker(rec, RX)
    cmd = f"{speaker.base}/cmd"
    proc = _receiver(tmp_path, mosquitto.port, server)
    try:
        rec.wait_for("online", lambda _: any(s.state == "online" for s in speaker.statuses()), 30)
        time.sleep(0.5)

        def prepare(airing: str) -> dict[str, Any]:
            return {"transaction": f"t-{airing}", "ts": time.time(), "action": "prepare",
                    "data": plan(airing, [item], start_in=1.0, priority="emergency")}  # fmt: skip

        rec.publish(cmd, json.dumps(prepare("a-unsigned")))  # what anyone on the broker could send
        rec.publish(cmd, signed(cmd, prepare("a-forged"), key=ATTACKER))  # a broker compromise signing
        rec.publish(cmd, signed(cmd, prepare("a-expired"), expires=time.time() - 1))
        other = f"ops/v1/{DISTRICT}/{COMMUNE}/speaker/loa-khac/cmd"
        rec.publish(cmd, signed(other, prepare("a-misaddressed")))  # another speaker's order, replayed here
        env = json.loads(signed(cmd, prepare("a-swapped")))
        env["order"]["data"]["items"][0]["sha256"] = "0" * 64  # the file changed in transit
        rec.publish(cmd, json.dumps(env))
        volume = {"transaction": "t-vol", "ts": time.time(), "action": "volume", "data": {"volume": 30}}
        good = signed(cmd, volume)
        rec.publish(cmd, good)
        assert speaker.answer("t-vol").data.volume == 30
        rec.publish(cmd, good)  # the same order again
        later = signed(cmd, {**volume, "transaction": "t-vol2", "data": {"volume": 40}})
        rec.publish(cmd, later)
        assert speaker.answer("t-vol2").data.volume == 40
        health = _refused(
            speaker, {"unsigned": 1, "bad_signature": 2, "expired": 1, "misaddressed": 1, "replayed": 1}
        )
        assert health.volume == 40
        time.sleep(1.5)  # past every start_at: had anything been obeyed it would have played by now
        assert not [e for e in speaker.events() if (e.airing or "").startswith("a-")]
        assert server.requests == [] and not (tmp_path / "played").exists()
    finally:
        assert proc.stop() == 0
    # After a restart the last sequence is still known: the older order stays refused.
    proc = _receiver(tmp_path, mosquitto.port, server)
    try:
        rec.wait_for("online again", lambda _: sum(s.state == "online" for s in speaker.statuses()) >= 2, 30)
        time.sleep(2.0)  # its subscription follows its birth message (by up to a second here)
        rec.publish(cmd, later)
        health = _refused(speaker, {"replayed": 1})
        assert health.volume == 40
    finally:
        assert proc.stop() == 0
        rec.close()


def _edge_config(path: Path, port: int) -> Path:
    doc = {
        "agent": {"id": BOX, "district": DISTRICT, "commune": COMMUNE},
        "hub_public_key": PUBLIC_PEM,
        "mqtt": {"host": "127.0.0.1", "port": port, "backoff_min_s": 0.5, "backoff_max_s": 2},
        "outbox": {"path": "queue.sqlite"},
        "cameras": [],
    }
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def test_an_edge_box_runs_only_the_hubs_fresh_orders_for_itself(mosquitto: Service, tmp_path: Path) -> None:
    rec = Recorder(mosquitto.port)
    cmd = f"ops/v1/{DISTRICT}/{COMMUNE}/edge/{BOX}/cmd"
    config = _edge_config(tmp_path / "edge.yaml", mosquitto.port)
    agent = AgentProcess(config, tmp_path / "edge.log")

    def order(tx: str, action: str = "relearn") -> dict[str, Any]:
        return {"transaction": tx, "action": action, "ts": time.time()}

    try:
        rec.wait_for("box online", lambda _: rec.statuses() and rec.statuses()[-1].state == "online", 30)
        time.sleep(2.0)  # its subscription follows its birth message (by up to a second here)
        rec.publish(cmd, json.dumps(order("unsigned")))
        rec.publish(cmd, signed(cmd, order("forged"), key=ATTACKER))
        rec.publish(cmd, signed(cmd, order("expired"), expires=time.time() - 1))
        rec.publish(cmd, signed(f"ops/v1/{DISTRICT}/{COMMUNE}/edge/hop-khac/cmd", order("misaddressed")))
        good = signed(cmd, order("good", "probe"))
        rec.publish(cmd, good)
        assert rec.wait_for("reply to the good order", lambda _: rec.replies().get("good"), 30).status == "ok"
        rec.publish(cmd, good)
        replayed = rec.wait_for(
            "answer to the replay",
            lambda _: (r := rec.replies().get("good")) is not None and r.status == "error" and r,
            30,
        )
        assert "replayed" in (replayed.error or "")
        # A signed order out of its time or place is answered with why; an unsigned or forged one is not.
        replies = rec.replies()
        assert "expired" in (replies["expired"].error or "") and "misaddressed" in (
            replies["misaddressed"].error or ""
        )
        assert "unsigned" not in replies and "forged" not in replies
    finally:
        assert agent.stop() == 0
    log = agent.log()
    for counter in ("orders_accepted=1", "orders_refused_unsigned=1", "orders_refused_bad_signature=1",
                    "orders_refused_expired=1", "orders_refused_misaddressed=1", "orders_refused_replayed=1"):  # fmt: skip
        assert counter in log, counter
    assert "reference views to relearn" not in log  # no relearn ran
    # Restarted, the box still knows the last sequence it accepted.
    agent = AgentProcess(config, tmp_path / "edge2.log")
    try:
        rec.wait_for(
            "box online again", lambda _: len([s for s in rec.statuses() if s.state == "online"]) >= 2, 30
        )
        rec.publish(cmd, good)
        rec.wait_for("the replay answered again", lambda _: _answers(rec, "good") == 3, 30)
    finally:
        assert agent.stop() == 0
        rec.close()
    log = agent.log()
    assert "orders_accepted=0" in log and "orders_refused_replayed=1" in log


def _answers(rec: Recorder, transaction: str) -> int:
    return sum(
        1
        for m in rec.snapshot()
        if isinstance(m.decoded, CommandReply) and m.decoded.transaction == transaction
    )
