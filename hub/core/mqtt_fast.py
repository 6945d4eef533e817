"""Fewer system calls per MQTT message for paho 2.x, used only by the hub's own network thread.

paho reads each packet with three `recv` calls (type byte, length byte(s), body), and in its threaded modes it
also writes a byte to a wake-up socketpair for every PUBACK, which the next `select` then has to read. Every one
of those calls releases and re-takes the GIL; with the event-loop thread busy ingesting, each hand-over costs
context switches. Measured in the hub: ~150 µs CPU per message in the network thread against ~65 µs for a bare
paho subscriber.

Here `recv` is served from a 256 KiB buffer (`pending()` tells paho's loop not to wait in `select` while bytes
are buffered, the same hook it uses for TLS); writes (PUBACKs mostly) are collected and sent once per loop
step; and the hub's loop calls `Client._loop` directly without creating the wake-up socketpair (its publishes
come from the same thread, see hub/core/mqtt_bridge.py).

Also, paho builds two lookup tables per MQTT 5 packet to parse its properties (FastProperties avoids that).

These hooks are paho internals (pinned `paho-mqtt>=2.1,<3`): `FAST_PATH` is False when they are missing, and
the bridge then uses the plain client and the public `loop()`.
"""

from __future__ import annotations

import ssl
from typing import Any

import paho.mqtt._packet as paho_packet
import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

READ_SIZE = 256 * 1024
MAX_BUFFERED = 1000
WRITE_FLUSH = 64 * 1024

FAST_PATH = (
    callable(getattr(mqtt.Client, "_loop", None))
    and callable(getattr(mqtt.Client, "_create_socket", None))
    and getattr(paho_packet, "Properties", None) is Properties
)

_PRIVATE = ("packetType", "types", "names", "properties")
_TABLES = {k: Properties(PacketTypes.PUBLISH).__dict__[k] for k in _PRIVATE}


class FastProperties(Properties):
    """paho's MQTT 5 Properties, without rebuilding its lookup tables for every packet and without clearing a
    fresh object attribute by attribute: ~35 % of a bare subscriber's CPU per message went there. The tables
    are shared read-only; everything else is paho's own code."""

    def __init__(self, packetType: int) -> None:
        d = self.__dict__
        d.update(_TABLES)
        d["packetType"] = packetType

    def clear(self) -> None:
        d = self.__dict__
        if len(d) > len(_PRIVATE):
            for k in [k for k in d if k not in _PRIVATE]:
                del d[k]


def install() -> None:
    """Makes paho decode incoming packets with FastProperties (process-wide; same behaviour, less CPU)."""
    if FAST_PATH:
        paho_packet.Properties = FastProperties  # type: ignore[misc]


class BufferedSocket:
    """Wraps the connected socket: reads in large chunks, hands them out in the small pieces paho asks for."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0
        self._out = bytearray()

    def recv(self, n: int) -> bytes:
        avail = len(self._buf) - self._pos
        if avail <= 0:
            data = self._sock.recv(max(n, READ_SIZE))  # BlockingIOError propagates: paho handles it
            if len(data) <= n:
                return bytes(data)
            self._buf, self._pos = data, 0
            avail = len(data)
        pos = self._pos
        end = pos + min(n, avail)
        self._pos = end
        return self._buf[pos:end]

    def pending(self) -> int:
        inner = self._sock.pending() if hasattr(self._sock, "pending") else 0
        return len(self._buf) - self._pos + inner

    def send(self, data: bytes | bytearray | memoryview) -> int:
        """Queues the bytes (PUBACKs, mostly); `flush` sends them with one system call per loop step."""
        self._out += data
        if len(self._out) >= WRITE_FLUSH:
            self.flush()
        return len(data)

    def flush(self) -> None:
        out = self._out
        while out:
            try:
                n = self._sock.send(out)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return  # socket buffer full: the rest goes with the next step
            except OSError:
                out.clear()  # connection broken: paho sees it on its next read
                return
            del out[:n]

    def fileno(self) -> int:
        return int(self._sock.fileno())

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def close(self) -> None:
        # paho closes the socket right after writing DISCONNECT: what is still buffered (PUBACKs of a partition
        # handed over, the DISCONNECT itself) goes out first.
        self.flush()
        self._buf, self._pos = b"", 0
        self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class FastClient(mqtt.Client):
    """paho Client with a buffered socket; drive it with `run_once` from one thread only."""

    def _create_socket(self) -> Any:
        return BufferedSocket(super()._create_socket())

    def run_once(self, timeout: float) -> MQTTErrorCode:
        """One network-loop step, like `loop()` but without the wake-up socketpair; then the packets already
        buffered are handled without a `select` each (at most MAX_BUFFERED per step, so keepalive and the
        outbox still get their turn)."""
        sock = self._sock
        if isinstance(sock, BufferedSocket):
            sock.flush()
        rc: MQTTErrorCode = self._loop(timeout)
        sock = self._sock
        n = 0
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and n < MAX_BUFFERED and isinstance(sock, BufferedSocket):
            if sock.pending() <= 0:
                break
            rc = self.loop_read()
            n += 1
            sock = self._sock
        if isinstance(sock, BufferedSocket):
            sock.flush()
        return rc


def make_client(**kwargs: Any) -> mqtt.Client:
    if not FAST_PATH:
        return mqtt.Client(**kwargs)
    install()
    return FastClient(**kwargs)


def step(client: mqtt.Client, timeout: float) -> MQTTErrorCode:
    if isinstance(client, FastClient):
        return client.run_once(timeout)
    return client.loop(timeout)
