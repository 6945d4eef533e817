"""Broker accounts at scale, against a real Mosquitto with the dynamic-security plugin over TLS: how long it takes
to give devices their accounts (add), rotate and revoke them through the hub's registry; a device's TLS login;
and what the per-device quota check adds to each ingested message.

Runs with no arguments in about a minute; the last line is one JSON object.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import shutil
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.services import BrokerSecurity, free_port, start_mosquitto
from hub import cli
from hub.compose import load_config, open_database
from hub.core.broker_acl import DeviceRef
from hub.core.config_mqtt import QuotaConfig
from hub.core.provisioning import Provisioned, Provisioner, broker_accounts
from hub.core.quotas import Quotas

DEVICES = 200
ROTATE = 50
LOGINS = 20
QUOTA_CALLS = 500_000


def hub_cli(config: Path, *args: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        rc = cli.main(["--config", str(config), *args])
    if rc != 0:
        raise RuntimeError(f"hub {' '.join(args)}: {err.getvalue()}")


def write_config(root: Path, port: int) -> Path:
    hub = root / "hub"
    path = root / "hub.yaml"
    path.write_text(
        f"data_dir: {hub}\n"
        f"mqtt: {{host: 127.0.0.1, port: {port}, username: hub.main, password_file: {hub}/secrets/hub.main.password,"
        f" client_id: hub.main, tls_ca_file: {hub}/ca/ca.crt}}\n"
        f"broker: {{accounts: dynsec, dynsec_file: {root}/broker/dynamic-security.json}}\n"
        f"influx: {{enabled: false}}\ndatabase: {{url: 'sqlite:///{hub}/hub.db'}}\n"
    )
    return path


def tls_login_ms(port: int, ca: Path, p: Provisioned) -> float:
    from contract import provisioning

    f = provisioning.parse(p.text)
    done = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f.mqtt.client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set(f.mqtt.username, f.mqtt.password)
    c.tls_set_context(ssl.create_default_context(cafile=str(ca)))
    c.on_connect = lambda *a: done.set()
    t0 = time.perf_counter()
    c.connect("127.0.0.1", port)
    c.loop_start()
    if not done.wait(10):
        raise RuntimeError("device login timed out")
    ms = (time.perf_counter() - t0) * 1000
    c.disconnect()
    c.loop_stop()
    return ms


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 2)


async def registry(config: Path, port: int, ca: Path) -> dict[str, object]:
    cfg = load_config(config)
    db = open_database(cfg.database.url)
    db.create_all()
    accounts = broker_accounts(cfg)
    assert accounts is not None
    prov = Provisioner(cfg, db, accounts)
    add_ms: list[float] = []
    files: list[Provisioned] = []
    t_all = time.perf_counter()
    for i in range(DEVICES):
        ref = DeviceRef("edge", f"box-{i}", "d1", f"c{i % 20}")
        t0 = time.perf_counter()
        files.append(await prov.add(ref, "bench"))
        add_ms.append((time.perf_counter() - t0) * 1000)
    add_total_s = time.perf_counter() - t_all
    rotate_ms, revoke_ms = [], []
    for p in files[:ROTATE]:
        t0 = time.perf_counter()
        await prov.rotate(p.ref, "bench")
        rotate_ms.append((time.perf_counter() - t0) * 1000)
    for p in files[ROTATE : 2 * ROTATE]:
        t0 = time.perf_counter()
        await prov.revoke(p.ref, "bench")
        revoke_ms.append((time.perf_counter() - t0) * 1000)
    logins = [tls_login_ms(port, ca, p) for p in files[2 * ROTATE : 2 * ROTATE + LOGINS]]
    db.close()
    return {
        "devices": DEVICES,
        "add_ms_p50": pct(add_ms, 0.5),
        "add_ms_p95": pct(add_ms, 0.95),
        "adds_per_s": round(DEVICES / add_total_s, 1),
        "rotate_ms_p50": pct(rotate_ms, 0.5),
        "revoke_ms_p50": pct(revoke_ms, 0.5),
        "tls_login_ms_p50": pct(logins, 0.5),
    }


def quota_ns() -> float:
    q = Quotas(QuotaConfig())
    devices = [f"edge:d/c/box-{i}" for i in range(1000)]
    now = 6000.0
    t0 = time.perf_counter()
    for i in range(QUOTA_CALLS):
        q.message(devices[i % 1000], now, 0)
    return round((time.perf_counter() - t0) / QUOTA_CALLS * 1e9, 1)


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-broker-"))
    port = free_port()
    config = write_config(root, port)
    try:
        for args in (
            ("ca", "init"),
            ("ca", "issue-server", "--name", "127.0.0.1", "--file-name", "broker"),
            ("broker", "init"),
        ):
            hub_cli(config, *args)
        issued = root / "hub" / "ca" / "issued"
        sec = BrokerSecurity(
            root / "broker" / "dynamic-security.json", issued / "broker.crt", issued / "broker.key"
        )
        broker = start_mosquitto(root / "broker", port, security=sec)
        try:
            result = asyncio.run(registry(config, port, root / "hub" / "ca" / "ca.crt"))
        finally:
            broker.stop()
        result["quota_check_ns"] = quota_ns()
        result["dynsec_file_kb"] = round((root / "broker" / "dynamic-security.json").stat().st_size / 1024, 1)
        print(json.dumps({"bench": "broker_accounts", **result}))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
