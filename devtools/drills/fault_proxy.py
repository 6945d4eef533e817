"""A small TCP fault proxy for what `tc tbf` cannot do on this kernel (no netem): latency, stalls that stand in
for loss (TCP turns a lost segment into a pause), and disconnects. One thread per direction of a connection.

Written here rather than taken from a library: toxiproxy is not packaged for Debian and the only need is these
three faults on a loopback/namespace link.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from dataclasses import dataclass


@dataclass
class Faults:
    latency_s: float = 0.0  # added to every chunk, each way
    stall_p: float = 0.0  # chance that a chunk waits `stall_s` first (a lost segment being resent)
    stall_s: float = 1.0
    disconnect_every_s: float = 0.0  # every connection is dropped after about this long (0: never)


class FaultProxy:
    def __init__(self, listen_host: str, target: tuple[str, int], faults: Faults, seed: int = 14) -> None:
        self.target = target
        self.faults = faults
        self.rng = random.Random(seed)
        self.server = socket.create_server((listen_host, 0))
        self.port = int(self.server.getsockname()[1])
        self.disconnects = 0
        self.stalls = 0
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True, name="fault-proxy").start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()
            if self.faults.disconnect_every_s:
                life = self.faults.disconnect_every_s * self.rng.uniform(0.5, 1.5)
                threading.Timer(life, self._drop, args=(client, upstream)).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        f = self.faults
        try:
            while chunk := src.recv(16384):
                delay = f.latency_s
                if f.stall_p and self.rng.random() < f.stall_p:
                    delay += f.stall_s
                    self.stalls += 1
                if delay:
                    time.sleep(delay)
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            self._close(src, dst)

    def _drop(self, a: socket.socket, b: socket.socket) -> None:
        if a.fileno() != -1:
            self.disconnects += 1
        self._close(a, b)

    @staticmethod
    def _close(*socks: socket.socket) -> None:
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self._stop.set()
        self.server.close()
        self._close(*self._conns)
