"""Provisioning: the file `python -m hub device add` writes lets a real edge agent and a real loudspeaker
receiver connect over TLS with their own accounts and report to the hub; the file serves one device only; no
secret reaches a command line, a log or a world-readable file."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from contract import provisioning
from contract.configfile import ConfigError
from edge_agent.config import load_config as load_edge_config
from hub.core.speaker_models import Speaker
from tests.broker_support import SecureBroker
from tests.edge_support import AgentProcess
from tests.fixtures_hub import started_hub, wait_for
from tests.receiver_support import ReceiverProcess, write_config

BOX = "yen_dinh/dinh_long/box1"
RX = "yen_dinh/dinh_long/loa1"


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


def edge_config(folder: Path, provisioning_file: str) -> Path:
    doc = {
        "agent": {"id": "box1", "district": "yen_dinh", "commune": "dinh_long", "name": "Hộp thử"},
        "mqtt": {"provisioning": provisioning_file, "backoff_min_s": 0.2, "backoff_max_s": 1},
        "outbox": {"path": str(folder / "outbox.sqlite")},
        "cameras": [],
    }
    path = folder / "edge.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def test_provisioned_agent_and_receiver_connect_over_tls_and_report(
    secure_broker: SecureBroker, tmp_path: Path
) -> None:
    b = secure_broker
    edge_dir, rx_dir = tmp_path / "edge", tmp_path / "rx"
    edge_dir.mkdir()
    rx_dir.mkdir()
    rc, out, err = b.cli("device", "add", "edge", BOX, "--out", str(edge_dir / "provisioning.yaml"))
    assert rc == 0 and out == "", err  # the file, not the terminal, holds the password
    rc, _, err = b.cli(
        "device", "add", "speaker", RX, "--name", "Cụm loa chợ",
        "--out", str(rx_dir / "provisioning.yaml"), "--qr", str(rx_dir / "provisioning.png"),
    )  # fmt: skip
    assert rc == 0, err
    assert mode(edge_dir / "provisioning.yaml") == "0o600"
    assert (rx_dir / "provisioning.png").read_bytes().startswith(b"\x89PNG")
    passwords = [
        provisioning.parse((d / "provisioning.yaml").read_text()).mqtt.password for d in (edge_dir, rx_dir)
    ]
    cfg = edge_config(edge_dir, "provisioning.yaml")
    assert load_edge_config(cfg).mqtt.tls, "the provisioning file turns TLS on"
    rx_cfg = write_config(
        rx_dir / "receiver.yaml", "loa1", b.port, ["http://127.0.0.1:9/media/"], {"type": "null"}
    )
    doc = yaml.safe_load(rx_cfg.read_text())
    doc["receiver"]["commune"] = "dinh_long"
    doc["receiver"]["district"] = "yen_dinh"
    doc["mqtt"] = {"provisioning": "provisioning.yaml", "backoff_min_s": 0.2, "backoff_max_s": 1}
    rx_cfg.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")

    agent = AgentProcess(cfg, tmp_path / "edge.log")
    receiver = ReceiverProcess(rx_cfg, tmp_path / "rx.log")
    try:
        asyncio.run(_hub_sees_them(b))
        for proc in (agent.proc, receiver.proc):
            cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode()
            assert not any(p in cmdline for p in passwords)
    finally:
        agent.stop()
        receiver.stop()
    logs = agent.log() + receiver.log() + b.service.log_tail(500)
    assert "cannot connect" not in agent.log() + receiver.log()
    assert not any(p in logs for p in passwords), "a password reached a log"


async def _hub_sees_them(b: SecureBroker) -> None:
    async with started_hub(b.config) as hub:

        def speaker_online() -> bool:
            with hub.db.session() as s:
                sp = s.scalars(select(Speaker).where(Speaker.key == RX)).first()
                return sp is not None and sp.status == "online"

        await wait_for(
            lambda: (a := hub.store.agents.get(BOX)) and a.state == "online", 30, "the agent online"
        )
        await wait_for(speaker_online, 30, "the receiver online")


def test_a_provisioning_file_serves_only_its_own_device(secure_broker: SecureBroker, tmp_path: Path) -> None:
    rc, out, err = secure_broker.cli("device", "add", "speaker", RX)
    assert rc == 0, err
    (tmp_path / "provisioning.yaml").write_text(out)
    with pytest.raises(ConfigError, match="issued for speaker yen_dinh/dinh_long/loa1"):
        load_edge_config(edge_config(tmp_path, "provisioning.yaml"))
    # Adding twice is refused; `provision` gives a fresh account instead.
    rc, _, err = secure_broker.cli("device", "add", "speaker", RX)
    assert rc == 1 and "đã có tài khoản" in err


def test_secrets_stay_in_private_files_and_out_of_logs(
    secure_broker: SecureBroker, caplog: pytest.LogCaptureFixture
) -> None:
    b = secure_broker
    hub = b.root / "hub"
    for private in (
        hub / "ca" / "ca.key",
        hub / "ca" / "issued" / "broker.key",
        hub / "secrets" / "broker-admin.password",
        b.hub_password_file,
        b.root / "broker" / "dynamic-security.json",
    ):
        assert mode(private) == "0o600", private
    assert mode(hub / "ca" / "ca.crt") != "0o600"  # handed to every device
    dynsec = (b.root / "broker" / "dynamic-security.json").read_text()
    admin_password = (hub / "secrets" / "broker-admin.password").read_text().strip()
    assert admin_password not in dynsec and b.hub_password_file.read_text().strip() not in dynsec
    with caplog.at_level(logging.DEBUG):
        p = b.provision("edge", BOX)
        rc, out, _ = b.cli("device", "rotate", "edge", BOX)
        assert rc == 0
    rotated = provisioning.parse(out).mqtt.password
    text = caplog.text + b.service.log_tail(500)
    for secret in (p.mqtt.password, rotated, admin_password):
        assert secret not in text
    # The hub's MQTT password is read from its file, never from the environment or the config itself.
    assert "password:" not in b.config_path.read_text()
    assert not any(admin_password in v for v in os.environ.values())
