"""The broker's accounts and rules, from the hub's registry, against a real Mosquitto with the dynamic-security
plugin over TLS: who may connect, under which client id, to which topics, and what revoke and rotate do."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from contract.provisioning import ProvisioningFile
from hub.core import ca
from hub.core.db import utcnow
from tests.broker_support import HUB_CLIENT, SecureBroker, connect, secure_broker_in
from tests.fixtures_hub import started_hub, wait_for

NOT_AUTHORISED = 135
BOX1 = "yen_dinh/dinh_long/box1"
BOX2 = "yen_dinh/dinh_tan/box2"
SPEAKER = "yen_dinh/dinh_long/loa1"


def topic(device: str, kind: str, channel: str) -> str:
    return f"ops/v1/{device.rsplit('/', 1)[0]}/{kind}/{device.rsplit('/', 1)[1]}/{channel}"


def hub_login(broker: SecureBroker) -> dict[str, object]:
    password = broker.hub_password_file.read_text().strip()
    return {"client_id": HUB_CLIENT, "username": HUB_CLIENT, "password": password}


def test_anonymous_and_wrong_passwords_are_refused(secure_broker: SecureBroker) -> None:
    p = secure_broker.provision("edge", BOX1)
    assert connect(secure_broker).refused == "Not authorized"
    wrong = connect(secure_broker, p, password="not-the-password-at-all")
    assert wrong.refused == "Not authorized"
    ok = connect(secure_broker, p)
    assert ok.up
    ok.stop()


def test_a_box_writes_only_its_own_topics_and_reads_nobody_elses(secure_broker: SecureBroker) -> None:
    b = secure_broker
    box1 = connect(b, b.provision("edge", BOX1))
    box2 = connect(b, b.provision("edge", BOX2))
    speaker = connect(b, b.provision("speaker", SPEAKER))
    hub = connect(b, **hub_login(b))
    assert box1.up and box2.up and speaker.up and hub.up
    assert hub.subscribe("ops/v1/#") == [1]

    # What a box may send: its status and replies, and its communes' cameras; the hub receives it.
    allowed = [
        topic(BOX1, "edge", "status"),
        topic(BOX1, "edge", "reply"),
        "ops/v1/yen_dinh/dinh_long/camera/cam-9/health",
        "ops/v1/yen_dinh/dinh_long/camera/cam-9/snapshot",
    ]
    for t in allowed:
        assert box1.publish(t) != NOT_AUTHORISED, t
    # What it may not: another box's topics, cameras of another commune or district, any command, speakers.
    refused = [
        topic(BOX2, "edge", "status"),
        topic(BOX1, "edge", "cmd"),
        topic(BOX2, "edge", "cmd"),
        "ops/v1/yen_dinh/dinh_tan/camera/cam-9/health",
        "ops/v1/other/dinh_long/camera/cam-9/health",
        topic(SPEAKER, "speaker", "cmd"),
        topic(SPEAKER, "speaker", "status"),
        "$CONTROL/dynamic-security/v1",
    ]
    for t in refused:
        assert box1.publish(t) == NOT_AUTHORISED, t
    # A receiver: its own status/health/events, nothing of boxes, not its own commands.
    assert speaker.publish(topic(SPEAKER, "speaker", "event")) != NOT_AUTHORISED
    for t in (topic(SPEAKER, "speaker", "cmd"), topic(BOX1, "edge", "status"), allowed[2]):
        assert speaker.publish(t) == NOT_AUTHORISED, t
    # Reading: a box subscribes to its own commands only.
    assert box1.subscribe(topic(BOX1, "edge", "cmd")) == [1]
    for t in ("ops/v1/#", topic(BOX2, "edge", "status"), topic(BOX2, "edge", "cmd"), "$SYS/#", "#"):
        assert box1.subscribe(t) == [NOT_AUTHORISED], t
    # Box 2 gets what box 2 is sent, box 1 never sees it.
    assert box2.subscribe(topic(BOX2, "edge", "cmd")) == [1]
    assert hub.publish(topic(BOX2, "edge", "cmd"), b"order") == 0
    wait_until(lambda: box2.messages)
    assert box1.messages == [] and box2.messages == [(topic(BOX2, "edge", "cmd"), b"order")]
    # The hub heard exactly what was allowed (its own command to box 2 included), nothing refused.
    heard = {*allowed, topic(SPEAKER, "speaker", "event"), topic(BOX2, "edge", "cmd")}
    wait_until(lambda: len(hub.messages) >= len(heard))
    assert sorted(t for t, _ in hub.messages) == sorted(heard)
    for c in (box1, box2, speaker, hub):
        c.stop()


def test_a_stolen_client_id_is_refused_and_the_hub_keeps_its_session(secure_broker: SecureBroker) -> None:
    b = secure_broker
    box1_file = b.provision("edge", BOX1)
    box2_file = b.provision("edge", BOX2)
    asyncio.run(_steal_ids(b, box1_file, box2_file))


async def _steal_ids(b: SecureBroker, box1_file: ProvisioningFile, box2_file: ProvisioningFile) -> None:
    async with started_hub(b.config) as hub:
        assert await hub.bridge.wait_subscribed(10)
        box1 = connect(b, box1_file)
        assert box1.up
        # Another account, or nobody, with the hub's client id or box 1's: refused at CONNECT.
        for thief in (
            connect(b, box2_file, client_id=HUB_CLIENT),
            connect(b, client_id=HUB_CLIENT),
            connect(b, box2_file, client_id=box1_file.mqtt.client_id),
            connect(b, box1_file, client_id=box2_file.mqtt.client_id),
        ):
            assert thief.refused == "Not authorized", thief.client_id
        await asyncio.sleep(0.5)
        assert hub.stats.mqtt_connected and hub.stats.mqtt_disconnects == 0
        assert box1.up, "box 1 was pushed off by someone using its client id"
        # The hub still receives what box 1 sends.
        status = json.dumps({"state": "online", "ts": time.time(), "version": "t"}).encode()
        assert box1.publish(topic(BOX1, "edge", "status"), status, retain=True) == 0
        await wait_for(lambda: BOX1 in hub.store.agents, 10, "box 1 registered by the hub")
        box1.stop()


def test_revoke_disconnects_a_connected_device_at_once(secure_broker: SecureBroker) -> None:
    b = secure_broker
    p = b.provision("speaker", SPEAKER)
    rx = connect(b, p)
    assert rx.up
    rc, out, err = b.cli("device", "revoke", "speaker", SPEAKER)
    assert rc == 0, err
    assert rx.ended.wait(5), "the revoked receiver is still connected"
    assert rx.disconnect_reason == "Administrative action"
    assert connect(b, p).refused == "Not authorized"
    rc, out, _ = b.cli("device", "list", "--pending")
    assert f"speaker  {SPEAKER}" in out
    rx.stop()


def test_rotate_invalidates_the_old_password(secure_broker: SecureBroker) -> None:
    b = secure_broker
    old = b.provision("edge", BOX1)
    box = connect(b, old)
    assert box.up
    rc, out, err = b.cli("device", "rotate", "edge", BOX1)
    assert rc == 0, err
    assert box.ended.wait(5), "a session on the old password survived the rotation"
    from contract import provisioning

    new = provisioning.parse(out)
    assert new.mqtt.password != old.mqtt.password
    assert connect(b, old).refused == "Not authorized"
    fresh = connect(b, new)
    assert fresh.up
    fresh.stop()
    box.stop()


def test_a_broker_certificate_from_another_ca_is_refused(secure_broker: SecureBroker, tmp_path: Path) -> None:
    other = tmp_path / "other-ca"
    ca.init_ca(other, utcnow())
    p = secure_broker.provision("edge", BOX1)
    c = connect(secure_broker, p, ca=other / "ca.crt")
    assert c.refused is not None and "CERTIFICATE_VERIFY_FAILED" in c.refused
    plain = connect(secure_broker, p, ca=None)  # no TLS at all on the TLS port
    assert not plain.up


def test_mutual_tls_requires_a_client_certificate_from_the_ca(tmp_path: Path) -> None:
    b = secure_broker_in(tmp_path, require_certificate=True)
    try:
        p = b.provision("edge", BOX1)
        assert not connect(b, p).up
        rc, _out, err = b.cli("ca", "issue-client", "--name", p.mqtt.username)
        assert rc == 0, err
        issued = tmp_path / "hub" / "ca" / "issued"
        cert = (issued / f"{p.mqtt.username}.crt", issued / f"{p.mqtt.username}.key")
        assert oct(cert[1].stat().st_mode & 0o777) == "0o600"
        c = connect(b, p, cert=cert)
        assert c.up
        c.stop()
    finally:
        b.stop()


def wait_until(cond: object, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if callable(cond) and cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
