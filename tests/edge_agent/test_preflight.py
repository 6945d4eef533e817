"""Edge agent: the RTSP/HTTP diagnosis against small real servers on loopback (refused, silent, 401, 404, ...).

The camera server below speaks just enough RTSP/HTTP to answer DESCRIBE/GET the way cameras do, and checks
Digest and Basic credentials itself, so a wrong Digest computation in the agent fails these tests.
"""

from __future__ import annotations

import base64
import hashlib
import re
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from contract import Problem
from edge_agent.preflight import authorization, preflight

USER, PASSWORD, REALM, NONCE = "admin", "Pa55:wörd", "IP Camera", "4f2c9a1b"


def _md5(s: str) -> str:
    return hashlib.md5(s.encode(), usedforsecurity=False).hexdigest()


def digest_ok(header: str, method: str) -> bool:
    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', header.removeprefix("Digest ")))
    ha1 = _md5(f"{fields.get('username')}:{REALM}:{PASSWORD}")
    ha2 = _md5(f"{method}:{fields.get('uri')}")
    if fields.get("qop") == "auth":
        expected = _md5(f"{ha1}:{NONCE}:{fields['nc']}:{fields['cnonce']}:auth:{ha2}")
    else:
        expected = _md5(f"{ha1}:{NONCE}:{ha2}")
    return fields.get("username") == USER and fields.get("response") == expected


class CameraHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                chunk = self.request.recv(4096)
                if not chunk:
                    return
                buf += chunk
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode("utf-8", "replace").split("\r\n")
            method, target, proto = lines[0].split(" ")
            headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
            status, extra, close = self.answer(method, target, headers)
            proto_name = proto.split("/")[0]
            cseq = f"CSeq: {headers.get('cseq', '0')}\r\n" if proto_name == "RTSP" else ""
            body = b"<html>no</html>" if status >= 400 else b""
            reply = f"{proto} {status} X\r\n{cseq}{extra}Content-Length: {len(body)}\r\n"
            if close:
                reply += "Connection: close\r\n"
            self.request.sendall(reply.encode() + b"\r\n" + body)
            if close:
                return

    def answer(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, str, bool]:
        path = "/" + target.split("/", 3)[-1] if target.startswith("rtsp") else target
        auth = headers.get("authorization", "")
        http = not target.startswith("rtsp")
        if path.startswith("/ok"):
            return 200, "", http
        if path.startswith("/missing"):
            return 404, "", http
        if path.startswith("/forbidden"):
            return 403, "", http
        if path.startswith("/busy"):
            return 503, "", http
        if path.startswith("/digest"):
            if auth.startswith("Digest ") and digest_ok(auth, method):
                return 200, "", http
            qop = ', qop="auth"' if "qop" in path else ""
            challenge = f'WWW-Authenticate: Digest realm="{REALM}", nonce="{NONCE}"{qop}\r\n'
            return 401, challenge, http
        if path.startswith("/basic"):
            good = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if auth == good:
                return 200, "", http
            return 401, f'WWW-Authenticate: Basic realm="{REALM}"\r\n', http
        return 500, "", True


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@dataclass
class Endpoints:
    camera: int
    silent: int
    refused: int
    garbage: int


def _garbage_server(sock: socket.socket, stop: threading.Event) -> None:
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = sock.accept()
        except TimeoutError:
            continue
        with conn:
            conn.recv(4096)
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")


@pytest.fixture(scope="module")
def endpoints() -> Iterator[Endpoints]:
    server = Server(("127.0.0.1", 0), CameraHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nobody ever answers
    gone = socket.socket()
    gone.bind(("127.0.0.1", 0))
    refused_port = gone.getsockname()[1]
    gone.close()
    garbage = socket.socket()
    garbage.bind(("127.0.0.1", 0))
    garbage.listen(8)
    stop = threading.Event()
    threading.Thread(target=_garbage_server, args=(garbage, stop), daemon=True).start()
    yield Endpoints(server.server_address[1], silent.getsockname()[1], refused_port, garbage.getsockname()[1])
    stop.set()
    server.shutdown()
    server.server_close()
    silent.close()
    garbage.close()


CREDS = "admin:Pa55%3Aw%C3%B6rd"  # percent-encoded in the URL, as cameras' passwords with ':' must be


@pytest.mark.parametrize("scheme", ["rtsp", "http"])
def test_answers_are_classified(endpoints: Endpoints, scheme: str) -> None:
    base = f"{scheme}://127.0.0.1:{endpoints.camera}"
    assert preflight(f"{base}/ok", 2).ok
    r = preflight(f"{base}/missing", 2)
    assert (r.ok, r.problem, r.status) == (False, Problem.UNREACHABLE, 404)
    assert r.reason is not None and "/missing" in r.reason and "404" in r.reason
    r = preflight(f"{base}/forbidden", 2)
    assert r.problem == Problem.AUTH_FAILED and r.status == 403
    r = preflight(f"{base}/busy", 2)
    assert r.problem == Problem.UNREACHABLE and r.reason is not None and "503" in r.reason


@pytest.mark.parametrize("scheme", ["rtsp", "http"])
@pytest.mark.parametrize("path", ["/digest", "/digest-qop", "/basic"])
def test_credentials_are_checked_properly(endpoints: Endpoints, scheme: str, path: str) -> None:
    base = f"{scheme}://127.0.0.1:{endpoints.camera}"
    good = preflight(f"{scheme}://{CREDS}@127.0.0.1:{endpoints.camera}{path}", 2)
    assert good.ok, good.reason
    wrong = preflight(f"{scheme}://admin:nope@127.0.0.1:{endpoints.camera}{path}", 2)
    assert (wrong.ok, wrong.problem, wrong.status) == (False, Problem.AUTH_FAILED, 401)
    assert wrong.reason is not None and "Sai tên đăng nhập hoặc mật khẩu" in wrong.reason
    anonymous = preflight(f"{base}{path}", 2)
    assert anonymous.problem == Problem.AUTH_FAILED
    assert anonymous.reason is not None and "không có tài khoản" in anonymous.reason
    for r in (good, wrong, anonymous):
        assert "nope" not in (r.reason or "") and "Pa55" not in (r.reason or "")


def test_refused_silent_and_foreign_services(endpoints: Endpoints) -> None:
    r = preflight(f"rtsp://127.0.0.1:{endpoints.refused}/x", 2)
    assert r.problem == Problem.UNREACHABLE and r.reason is not None and "từ chối kết nối" in r.reason
    r = preflight(f"rtsp://127.0.0.1:{endpoints.silent}/x", 0.5)
    assert r.problem == Problem.UNREACHABLE and r.reason is not None and "không trả lời RTSP" in r.reason
    r = preflight(f"rtsp://127.0.0.1:{endpoints.garbage}/x", 2)
    assert (
        r.problem == Problem.UNREACHABLE
        and r.reason is not None
        and "không trả lời theo giao thức" in r.reason
    )


def test_authorization_header_forms() -> None:
    digest = authorization(
        [f'Digest realm="{REALM}", nonce="{NONCE}", opaque="xyz"'], "DESCRIBE", "rtsp://h/x", USER, PASSWORD
    )
    assert digest is not None and digest.startswith("Digest ") and 'opaque="xyz"' in digest
    assert digest_ok(digest, "DESCRIBE")
    # Digest is preferred when a camera offers both.
    both = authorization(
        ['Basic realm="x"', f'Digest realm="{REALM}", nonce="{NONCE}"'], "GET", "/", USER, "p"
    )
    assert both is not None and both.startswith("Digest ")
    assert authorization(['Basic realm="x"'], "GET", "/", "u", "p") == "Basic dTpw"
    assert authorization(['Bearer realm="x"'], "GET", "/", "u", "p") is None
    assert authorization(['Digest realm="x", nonce="n", algorithm=SHA-512'], "GET", "/", "u", "p") is None
