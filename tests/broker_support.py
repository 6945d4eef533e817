"""A secured broker for tests: the hub's CA, `python -m hub broker init`, then Mosquitto with the dynamic-security
plugin and a TLS listener (devtools.services), and MQTT clients that log in with an account over TLS."""

from __future__ import annotations

import contextlib
import io
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contract import provisioning
from devtools.services import BrokerSecurity, Service, free_port, start_mosquitto
from hub import cli
from hub.compose import load_config
from hub.core.config import CoreConfig

HUB_CLIENT = "hub.main"


@dataclass
class SecureBroker:
    root: Path
    config_path: Path
    service: Service
    hub_password_file: Path
    http_port: int

    @property
    def port(self) -> int:
        return self.service.port

    @property
    def ca(self) -> Path:
        return self.root / "hub" / "ca" / "ca.crt"

    @property
    def config(self) -> CoreConfig:
        return load_config(self.config_path)

    def cli(self, *args: str) -> tuple[int, str, str]:
        """`python -m hub --config … ARGS` in this process: (exit code, stdout, stderr)."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = cli.main(["--config", str(self.config_path), *args])
        return rc, out.getvalue(), err.getvalue()

    def provision(self, kind: str, device: str, *extra: str) -> provisioning.ProvisioningFile:
        rc, out, err = self.cli("device", "provision", kind, device, *extra)
        assert rc == 0, err
        return provisioning.parse(out)

    def stop(self) -> None:
        self.service.stop()


def write_hub_config(root: Path, mqtt_port: int, http_port: int, client_cert: bool = False) -> Path:
    hub = root / "hub"
    cert = f"  tls_cert_file: {hub}/ca/issued/{HUB_CLIENT}.crt\n  tls_key_file: {hub}/ca/issued/{HUB_CLIENT}.key\n"
    text = f"""data_dir: {hub}
mqtt:
  host: 127.0.0.1
  port: {mqtt_port}
  username: {HUB_CLIENT}
  password_file: {hub}/secrets/{HUB_CLIENT}.password
  client_id: {HUB_CLIENT}
  tls_ca_file: {hub}/ca/ca.crt
{cert if client_cert else ""}broker:
  accounts: dynsec
  dynsec_file: {root}/broker/dynamic-security.json
influx:
  enabled: false
database:
  url: sqlite:///{hub}/hub.db
http:
  port: {http_port}
  secure_cookies: false
ingest:
  state_flush_s: 0.2
districts:
  yen_dinh:
    name: Yên Định
    communes: {{dinh_long: Định Long, dinh_tan: Định Tân}}
"""
    path = root / "hub.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def prepare_secure_broker(
    root: Path, port: int, require_certificate: bool = False
) -> tuple[SecureBroker, Path]:
    """The hub's config, CA, broker certificate and dynamic-security file (its real command line) for a broker
    on `port` that is not started yet; the broker (without its service) and the folder of issued certificates."""
    config_path = write_hub_config(root, port, free_port(), client_cert=require_certificate)
    broker = SecureBroker(root, config_path, None, root / "hub" / "secrets" / f"{HUB_CLIENT}.password", 0)  # type: ignore[arg-type]
    for args in (
        ("ca", "init"),
        ("ca", "issue-server", "--name", "127.0.0.1", "--name", "localhost", "--file-name", "broker"),
        ("broker", "init"),
        *([("ca", "issue-client", "--name", HUB_CLIENT)] if require_certificate else []),
    ):
        rc, _out, err = broker.cli(*args)
        assert rc == 0, err
    return broker, root / "hub" / "ca" / "issued"


def secure_broker_in(root: Path, require_certificate: bool = False) -> SecureBroker:
    port = free_port()
    broker, issued = prepare_secure_broker(root, port, require_certificate)
    sec = BrokerSecurity(
        dynsec_file=root / "broker" / "dynamic-security.json",
        certfile=issued / "broker.crt",
        keyfile=issued / "broker.key",
        cafile=broker.ca,
        require_certificate=require_certificate,
    )
    broker.service = start_mosquitto(root / "broker", port, security=sec)
    broker.http_port = broker.config.http.port
    return broker


@dataclass
class Client:
    """A paho MQTT 5 client over TLS in its own thread, recording what happens to it."""

    port: int
    client_id: str
    username: str | None = None
    password: str | None = None
    ca: Path | None = None
    cert: tuple[Path, Path] | None = None
    refused: str | None = None
    connected: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    disconnect_reason: str | None = None
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    client: Any = None

    def start(self, within: float = 5.0) -> Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        if self.username is not None:
            c.username_pw_set(self.username, self.password)
        if self.ca is not None:
            ctx = ssl.create_default_context(cafile=str(self.ca))
            if self.cert is not None:
                ctx.load_cert_chain(str(self.cert[0]), str(self.cert[1]))
            c.tls_set_context(ctx)
        c.reconnect_delay_set(60, 60)  # a refused client must not come back within a test

        def on_connect(_c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
            if rc.is_failure:
                self.refused = str(rc)
                self.ended.set()
            else:
                self.connected.set()

        def on_disconnect(_c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
            self.disconnect_reason = str(rc)
            self.ended.set()

        c.on_connect = on_connect
        c.on_disconnect = on_disconnect
        c.on_message = lambda _c, _u, m: self.messages.append((m.topic, bytes(m.payload)))
        self.client = c
        try:
            c.connect("127.0.0.1", self.port, keepalive=10)
        except (OSError, ssl.SSLError) as exc:
            self.refused = f"{type(exc).__name__}: {exc}"
            self.ended.set()
            return self
        c.loop_start()
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and not (self.connected.is_set() or self.ended.is_set()):
            time.sleep(0.02)
        return self

    @property
    def up(self) -> bool:
        return self.connected.is_set() and not self.ended.is_set()

    def subscribe(self, topic: str) -> list[int]:
        done = threading.Event()
        codes: list[int] = []

        def on_subscribe(_c: Any, _u: Any, _m: Any, reasons: Any, _p: Any) -> None:
            codes.extend(int(r.value) for r in reasons)
            done.set()

        self.client.on_subscribe = on_subscribe
        self.client.subscribe(topic, qos=1)
        assert done.wait(5), f"no SUBACK for {topic}"
        return codes

    def publish(self, topic: str, payload: bytes = b"x", retain: bool = False) -> int:
        """Publish at QoS 1 and wait for the PUBACK; its reason code (0 accepted, 135 not authorised …)."""
        done = threading.Event()
        code: list[int] = []

        def on_publish(_c: Any, _u: Any, _mid: Any, rc: Any, _p: Any) -> None:
            code.append(int(rc.value))
            done.set()

        self.client.on_publish = on_publish
        self.client.publish(topic, payload, qos=1, retain=retain)
        assert done.wait(5), f"no PUBACK for {topic}"
        return code[0]

    def stop(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.disconnect()
            self.client.loop_stop()


def connect(broker: SecureBroker, p: provisioning.ProvisioningFile | None = None, **kw: Any) -> Client:
    """A client of `broker` over TLS; with a provisioning file, as that device."""
    args: dict[str, Any] = {"port": broker.port, "ca": broker.ca, "client_id": "anonymous"}
    if p is not None:
        args.update(client_id=p.mqtt.client_id, username=p.mqtt.username, password=p.mqtt.password)
    args.update(kw)
    return Client(**args).start()
