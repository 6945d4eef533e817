"""Camera simulator side services: the JSON control API and the two broken endpoints (hang, refused).

Stdlib only (runs under Debian's python3 next to GStreamer). The simulator itself is reached through a callable
that runs work on its GLib main loop, so this module never touches GStreamer objects from its own threads.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from devtools.camsim_spec import BEHAVIOURS, UnknownCamera

log = logging.getLogger("camsim.control")
T = TypeVar("T")
MAX_BODY = 4096
ACTIONS = ("stop", "resume", "behaviour")


class Sim(Protocol):
    rtsp_port: int
    cameras: dict[str, Any]

    def camera(self, name: str) -> Any: ...
    def describe(self, cam: Any) -> dict[str, Any]: ...
    def set_behaviour(self, name: str, behaviour: str) -> dict[str, Any]: ...
    def stop_stream(self, name: str) -> dict[str, Any]: ...
    def resume_stream(self, name: str) -> dict[str, Any]: ...


class Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ControlServer:
    """`GET /health`, `GET /cameras[/<name>]`, `POST /cameras/<name>/{stop,resume,behaviour}`; JSON both ways."""

    def __init__(
        self,
        host: str,
        port: int,
        sim: Sim,
        on_main: Callable[[Callable[[], Any]], Any],
        hang_port: int,
        refused_port: int,
    ) -> None:
        self.sim = sim
        self.on_main = on_main
        self.info = {"hang_port": hang_port, "refused_port": refused_port}
        self.rejected = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer((host, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.control = self  # type: ignore[attr-defined]
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="camsim-control", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reject(self, status: int, message: str, request: str) -> dict[str, Any]:
        with self._lock:
            self.rejected += 1
        log.warning("control: rejected %s (%d): %s", request, status, message)
        return {"error": message}

    def route(self, method: str, path: str, body: bytes | None) -> tuple[int, dict[str, Any]]:
        parts = [unquote(p) for p in urlsplit(path).path.split("/") if p]
        if len(parts) == 3 and parts[0] == "cameras" and parts[2] in ACTIONS:
            if method != "POST":
                raise Rejected(405, f"{parts[2]} takes POST")
            return 200, self.on_main(self._action(parts[1], parts[2], body))
        call: Callable[[], dict[str, Any]]
        if parts == ["health"]:
            call = self._health
        elif parts == ["cameras"]:
            call = self._list
        elif len(parts) == 2 and parts[0] == "cameras":
            call = partial(self._one, parts[1])
        else:
            raise Rejected(404, f"no such resource {path!r}")
        if method != "GET":
            raise Rejected(405, f"{path} takes GET")
        return 200, self.on_main(call)

    def _action(self, name: str, action: str, body: bytes | None) -> Callable[[], dict[str, Any]]:
        if action == "stop":
            return partial(self.sim.stop_stream, name)
        if action == "resume":
            return partial(self.sim.resume_stream, name)
        return partial(self.sim.set_behaviour, name, parse_behaviour(body))

    def _list(self) -> dict[str, Any]:
        return {"cameras": [self.sim.describe(c) for c in self.sim.cameras.values()]}

    def _one(self, name: str) -> dict[str, Any]:
        return self.sim.describe(self.sim.camera(name))

    def _health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "rtsp_port": self.sim.rtsp_port,
            "control_port": self.port,
            **self.info,
            "cameras": len(self.sim.cameras),
            "rejected_requests": self.rejected,
            "uptime_s": round(time.monotonic() - self.started, 1),
        }


def parse_behaviour(body: bytes | None) -> str:
    if not body:
        raise Rejected(400, 'body must be JSON like {"behaviour": "black"}')
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Rejected(400, f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or set(data) != {"behaviour"}:
        raise Rejected(400, 'body must be a JSON object with exactly one key, "behaviour"')
    behaviour = data["behaviour"]
    if behaviour not in BEHAVIOURS:
        raise Rejected(400, f"unknown behaviour {behaviour!r}; one of: {', '.join(BEHAVIOURS)}")
    return str(behaviour)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "camsim"

    def _serve(self, method: str) -> None:
        control: ControlServer = self.server.control  # type: ignore[attr-defined]
        request = f"{method} {self.path}"
        try:
            body = self._body() if method == "POST" else None
            status, reply = control.route(method, self.path, body)
        except Rejected as exc:
            status, reply = exc.status, control.reject(exc.status, str(exc), request)
        except UnknownCamera as exc:
            status, reply = 404, control.reject(404, str(exc), request)
        except ValueError as exc:
            # The simulator refused the change, e.g. a behaviour this camera was not built to show.
            status, reply = 409, control.reject(409, str(exc), request)
        except TimeoutError as exc:
            status, reply = 503, control.reject(503, str(exc), request)
        data = json.dumps(reply, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as exc:
            raise Rejected(400, "Content-Length is not a number") from exc
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            raise Rejected(413, f"body must be at most {MAX_BODY} bytes")
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("control: %s", format % args)


class HangPort:
    """A TCP port that accepts connections and never says a word: clients must give up on their own timeout."""

    def __init__(self, host: str, port: int, keep: int = 256) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.sock.settimeout(0.25)
        self.port = int(self.sock.getsockname()[1])
        self.keep = keep
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="camsim-hang", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.held.append(conn)
            if len(self.held) > self.keep:  # bound what a careless client loop can pile up
                self.held.pop(0).close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        for conn in self.held:
            conn.close()


class RefusedPort:
    """A port bound but not listening: connections are refused, and no other program can take the port."""

    def __init__(self, host: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.port = int(self.sock.getsockname()[1])

    def close(self) -> None:
        self.sock.close()
