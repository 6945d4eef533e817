"""Helpers for the edge agent's integration tests (no tests here): an MQTT recorder that validates every message
against the contract, the agent as a real child process, and a TCP proxy that can cut the agent's link."""

from __future__ import annotations

import itertools
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contract import CameraHealth, CommandReply, EdgeStatus, Model, decode, parse
from contract.topics import INBOUND
from devtools.lifeline import die_with_parent
from devtools.services import terminate
from tests.orders_support import signed

REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T")
_ids = itertools.count(1)


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    properties: dict[str, str]
    decoded: Model | bytes

    @property
    def kind_id_channel(self) -> tuple[str, str, str]:
        t = parse(self.topic)
        return t.kind.value, t.id, t.channel.value


class Recorder:
    """Subscribes to everything under ops/v1/ and keeps each device message, decoded by the contract (or fails)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.lock = threading.Lock()
        self.messages: list[Received] = []
        self.invalid: list[str] = []
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"edge-test-{next(_ids)}", protocol=mqtt.MQTTv5
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise RuntimeError("recorder could not connect to mosquitto")

    def _on_connect(self, c: mqtt.Client, u: object, f: object, rc: mqtt.ReasonCode, p: object) -> None:
        c.subscribe("ops/v1/#", qos=1)
        self.connected.set()

    def _on_message(self, c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        props = dict(getattr(msg.properties, "UserProperty", []) or [])
        try:
            topic = parse(msg.topic)
            if (topic.kind, topic.channel) not in INBOUND:
                return  # commands: the tests' own, some invalid on purpose
            decoded = decode(topic, bytes(msg.payload))
        except Exception as exc:  # recorded: the test fails on any invalid message
            with self.lock:
                self.invalid.append(f"{msg.topic}: {exc}")
            return
        with self.lock:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain), props, decoded))

    def snapshot(self) -> list[Received]:
        with self.lock:
            assert not self.invalid, f"messages breaking the contract: {self.invalid}"
            return list(self.messages)

    def wait_for(self, what: str, check: Callable[[list[Received]], T | None], timeout: float = 60.0) -> T:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check(self.snapshot())
            if found is not None and found is not False:
                return found
            time.sleep(0.1)
        summary = [(m.topic.split("/", 4)[-1], _brief(m.decoded)) for m in self.snapshot()[-25:]]
        raise AssertionError(f"timed out waiting for {what}; last messages: {summary}")

    def health(self, camera: str) -> list[CameraHealth]:
        return [
            m.decoded
            for m in self.snapshot()
            if isinstance(m.decoded, CameraHealth) and m.kind_id_channel == ("camera", camera, "health")
        ]

    def statuses(self) -> list[EdgeStatus]:
        return [m.decoded for m in self.snapshot() if isinstance(m.decoded, EdgeStatus)]

    def replies(self) -> dict[str, CommandReply]:
        return {
            m.decoded.transaction: m.decoded for m in self.snapshot() if isinstance(m.decoded, CommandReply)
        }

    def publish(self, topic: str, payload: bytes | str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def command(self, topic: str, transaction: str, action: str, camera: str | None = None) -> CommandReply:
        body: dict[str, Any] = {"transaction": transaction, "action": action, "ts": time.time()}
        if camera is not None:
            body["camera"] = camera
        self.publish(topic, signed(topic, body))
        return self.wait_for(f"reply to {action}", lambda _: self.replies().get(transaction), 90)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _brief(decoded: Model | bytes) -> object:
    if isinstance(decoded, CameraHealth):
        return (decoded.seq, decoded.online, [p.value for p in decoded.problems])
    if isinstance(decoded, bytes):
        return f"{len(decoded)} bytes"
    return decoded.model_dump(exclude_none=True, exclude={"inventory"})


def retained_status(port: int, topic: str, timeout: float = 10.0) -> EdgeStatus:
    """What a newcomer gets for the agent's status topic: the retained message, decoded."""
    got: list[EdgeStatus] = []
    done = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"edge-test-r{next(_ids)}", protocol=mqtt.MQTTv5
    )

    def on_message(c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        decoded = decode(parse(msg.topic), bytes(msg.payload))
        if msg.retain and isinstance(decoded, EdgeStatus):
            got.append(decoded)
            done.set()

    client.on_message = on_message
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        if not done.wait(timeout):
            raise AssertionError(f"no retained status on {topic}")
        return got[0]
    finally:
        client.loop_stop()
        client.disconnect()


class AgentProcess:
    """`python -m edge_agent` as a real child process, its log in a file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log_path = log
        with log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edge_agent", "--config", str(config), "--log-level", "DEBUG"],
                cwd=REPO,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def workers(self) -> list[int]:
        """Process ids of the agent's descendants: the fork server, the probe workers it forked, helpers."""
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
            except OSError:
                children = []
            found.extend(children)
            todo.extend(children)
        return found

    def stop(self, timeout: float = 15.0) -> int:
        if not terminate(self.proc, timeout):
            raise AssertionError(f"agent did not stop on SIGTERM within {timeout} s:\n{self.log()[-3000:]}")
        return self.proc.returncode

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait(5)


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: list[int], limit_s: float = 40.0) -> list[int]:
    """The processes among `pids` still alive after up to limit_s seconds (they exit on their own)."""
    deadline = time.monotonic() + limit_s
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [p for p in pids if pid_alive(p)]


class FaultProxy:
    """TCP forwarder 127.0.0.1:port → 127.0.0.1:target; `cut()` drops every connection and refuses new ones."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.lock = threading.Lock()
        self.conns: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        pair = {a: b, b: a}
        try:
            while True:
                readable, _, _ = select.select([a, b], [], [], 0.5)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        except OSError:
            return
        finally:
            a.close()
            b.close()

    def cut(self) -> None:
        self.up = False
        with self.lock:
            conns, self.conns = self.conns, []
        for sock in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.closed = True
        self.cut()
        self.listener.close()
